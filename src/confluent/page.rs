//! One page of a list response, and the paging token carried in its `metadata.next` link.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One page of a list response.
///
/// The links are opaque; [`Page::next_page_token`] extracts the token that fetches the next page.
/// Missing, `null` or malformed `metadata` never fails the response: the page then simply has no
/// links and no total.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// The number of items across all pages, when the server reports it.
    pub total_size: Option<u64>,
    /// Links to other pages.
    pub links: PageLinks,
}

/// The paging links of a [`Page`] (`metadata.first`, `last`, `prev`, `next`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct PageLinks {
    /// The first page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    /// The last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    /// The previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
    /// The next page; `None` (or empty) on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page holding `items`, without links or total.
    pub fn new(items: Vec<T>) -> Self {
        Page {
            items,
            total_size: None,
            links: PageLinks::default(),
        }
    }

    /// The token of the next page, taken from the `page_token` query value of `metadata.next`;
    /// `None` on the last page.
    pub fn next_page_token(&self) -> Option<String> {
        self.links.next.as_deref().and_then(next_page_token)
    }

    /// `true` when the server linked no next page (`next` absent, `null` or empty).
    pub fn is_last(&self) -> bool {
        self.links
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

impl<'de, T: DeserializeOwned> Deserialize<'de> for Page<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(bound = "T: DeserializeOwned")]
        struct Raw<T> {
            #[serde(default = "Vec::new", deserialize_with = "super::model::nullable")]
            data: Vec<T>,
            #[serde(default)]
            metadata: serde_json::Value,
        }
        let raw = Raw::<T>::deserialize(deserializer)?;
        let link = |name: &str| {
            raw.metadata
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        Ok(Page {
            total_size: raw
                .metadata
                .get("total_size")
                .and_then(serde_json::Value::as_u64),
            links: PageLinks {
                first: link("first"),
                last: link("last"),
                prev: link("prev"),
                next: link("next"),
            },
            items: raw.data,
        })
    }
}

impl<T: Serialize> Serialize for Page<T> {
    /// Writes the list envelope: `{"metadata": {..links, total_size}, "data": [..]}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Meta<'a> {
            #[serde(flatten)]
            links: &'a PageLinks,
            #[serde(skip_serializing_if = "Option::is_none")]
            total_size: Option<u64>,
        }
        #[derive(Serialize)]
        struct Raw<'a, T> {
            metadata: Meta<'a>,
            data: &'a [T],
        }
        Raw {
            metadata: Meta {
                links: &self.links,
                total_size: self.total_size,
            },
            data: &self.items,
        }
        .serialize(serializer)
    }
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

    #[test]
    fn tolerant_envelope() {
        let page: Page<u32> = serde_json::from_str(r#"{"data":[1,2]}"#).unwrap();
        assert_eq!(page.items, vec![1, 2]);
        assert!(page.is_last());
        let page: Page<u32> =
            serde_json::from_str(r#"{"data":null,"metadata":null,"kind":"X"}"#).unwrap();
        assert!(page.items.is_empty());
        let page: Page<u32> = serde_json::from_str(
            r#"{"data":[],"metadata":{"next":7,"total_size":-1,"first":"https://f"}}"#,
        )
        .unwrap();
        assert_eq!(page.links.next, None);
        assert_eq!(page.total_size, None);
        assert_eq!(page.links.first.as_deref(), Some("https://f"));
        let page: Page<u32> = serde_json::from_str(r#"{"data":[],"metadata":"oops"}"#).unwrap();
        assert!(page.is_last());
    }

    #[test]
    fn envelope_round_trips() {
        let mut page = Page::new(vec![1u32]);
        page.total_size = Some(3);
        page.links.next = Some("https://h/p?page_token=n".into());
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"metadata": {"next": "https://h/p?page_token=n", "total_size": 3}, "data": [1]})
        );
        let back: Page<u32> = serde_json::from_value(json).unwrap();
        assert_eq!(back, page);
        assert_eq!(back.next_page_token().as_deref(), Some("n"));
    }
}
