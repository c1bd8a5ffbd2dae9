//! Paging of list responses: the token carried in a page's `metadata.next` link.

use super::PluginPage;

impl PluginPage {
    /// The token of the next page, taken from the `page_token` query value of `metadata.next`;
    /// `None` on the last page.
    pub fn next_page_token(&self) -> Option<String> {
        self.metadata.next.as_deref().and_then(next_page_token)
    }

    /// `true` when the server linked no next page (`next` absent, `null` or empty).
    pub fn is_last(&self) -> bool {
        self.metadata
            .next
            .as_deref()
            .is_none_or(|next| next.trim().is_empty())
    }
}

/// Extracts the `page_token` query value of a `metadata.next` link.
///
/// The link may be absolute or relative. Returns `None` when the link is empty, cannot be parsed,
/// has no `page_token`, or has an empty one. The token is returned percent-decoded and otherwise
/// untouched: it is opaque.
///
/// ```
/// use cloud_plugin_sdk::confluent::next_page_token;
///
/// let next = "https://api.confluent.cloud/ccpm/v1/plugins?environment=env-1&page_token=UvmDWOB1iwfAIBPj6EYb";
/// assert_eq!(next_page_token(next).as_deref(), Some("UvmDWOB1iwfAIBPj6EYb"));
/// assert_eq!(next_page_token(""), None);
/// ```
pub fn next_page_token(next_url: &str) -> Option<String> {
    let link = next_url.trim();
    if link.is_empty() {
        return None;
    }
    let url = match url::Url::parse(link) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            url::Url::parse("https://relative.invalid/")
                .ok()?
                .join(link)
                .ok()?
        }
        Err(_) => return None,
    };
    url.query_pairs()
        .find(|(name, _)| name == "page_token")
        .map(|(_, value)| value.into_owned())
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `next_page_token` fuzz target: URL parsing follows the URL standard, which
    /// drops ASCII tabs and newlines anywhere in the input, so they cannot hide the parameter.
    #[test]
    fn tabs_and_newlines_in_links_are_dropped_as_the_url_standard_says() {
        let link =
            "https://api.confluent.cloud/ccpm/v1/plugins?environment=env-1&pa&page_to\tken=Uvm\nDW";
        assert_eq!(next_page_token(link).as_deref(), Some("UvmDW"));
    }

    #[test]
    fn tokens_from_links() {
        let t = |s| next_page_token(s);
        assert_eq!(
            t("https://api.confluent.cloud/ccpm/v1/plugins?page_size=10&page_token=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            t("/ccpm/v1/plugins?page_token=a%2Fb%3D%3D").as_deref(),
            Some("a/b==")
        );
        assert_eq!(t("?page_token=xyz").as_deref(), Some("xyz"));
        assert_eq!(t("  https://h/p?page_token=x  ").as_deref(), Some("x"));
        assert_eq!(t("https://h/p?page_token=").as_deref(), None);
        assert_eq!(t("https://h/p?other=1"), None);
        assert_eq!(t(""), None);
        assert_eq!(t("   "), None);
        assert_eq!(t("http://[::1"), None);
        assert_eq!(
            t("https://h/p?page_token=1&page_token=2").as_deref(),
            Some("1")
        );
    }
}
