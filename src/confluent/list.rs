//! The list-plugins request, one page at a time or across pages.

use std::collections::HashSet;

use futures::stream::{self, BoxStream};
use futures::{StreamExt as _, TryStreamExt as _};

use super::{Cloud, Environment, Plugin, PluginPage, next_page_token, validate};
use crate::error::{Error, Result, Service};
use crate::response::Response;

/// The operation, as errors name it.
const LIST_PLUGINS: &str = "list_ccpm_v1_custom_connect_plugins";

/// A list-plugins request: one page with [`send`](Self::send), or every page with
/// [`stream`](Self::stream), [`pages`](Self::pages) or [`all`](Self::all).
///
/// The streams follow `metadata.next` until it is absent, `null` or empty. A next link without a
/// `page_token`, or with a token already used, ends the stream with an
/// [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) error instead of looping.
#[derive(Debug, Clone)]
#[must_use = "a list request does nothing until sent or streamed"]
pub struct ListPlugins {
    env: Environment,
    cloud: Option<Cloud>,
    page_size: Option<u32>,
    page_token: Option<String>,
}

impl ListPlugins {
    pub(crate) fn new(env: Environment) -> Self {
        ListPlugins {
            env,
            cloud: None,
            page_size: None,
            page_token: None,
        }
    }

    /// Only lists plugins stored in this cloud (`spec.cloud`). Sent with every page.
    pub fn cloud(mut self, cloud: Cloud) -> Self {
        self.cloud = Some(cloud);
        self
    }

    /// Sets the number of plugins per page, 1 to 100 (server default 10). Sent with every page,
    /// as Confluent's own CLI does.
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }

    /// Starts from the page this token names (from [`PluginPage::next_page_token`]).
    pub fn page_token(mut self, token: impl Into<String>) -> Self {
        self.page_token = Some(token.into());
        self
    }

    /// Fetches one page.
    pub async fn send(self) -> Result<Response<PluginPage>> {
        self.validate()?;
        self.fetch(self.page_token.as_deref()).await
    }

    /// Every page, fetched lazily, each with its response metadata.
    pub fn pages(self) -> BoxStream<'static, Result<Response<PluginPage>>> {
        let state = PagingState {
            first_token: self.page_token.clone(),
            lister: self,
            next: Next::First,
            seen: HashSet::new(),
            pages: 0,
        };
        stream::try_unfold(state, PagingState::advance).boxed()
    }

    /// Every plugin of every page, fetched lazily.
    pub fn stream(self) -> BoxStream<'static, Result<Plugin>> {
        self.pages()
            .map_ok(|page| stream::iter(page.into_inner().data.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    /// Every plugin of every page, collected.
    pub async fn all(self) -> Result<Vec<Plugin>> {
        self.stream().try_collect().await
    }

    fn validate(&self) -> Result<()> {
        self.env.validate()?;
        if let Some(size) = self.page_size {
            validate::page_size(size)?;
        }
        if let Some(token) = &self.page_token {
            validate::page_token(token)?;
        }
        if let Some(cloud) = &self.cloud {
            cloud.validate("spec.cloud")?;
        }
        Ok(())
    }

    async fn fetch(&self, page_token: Option<&str>) -> Result<Response<PluginPage>> {
        let client = self.env.client();
        client
            .transport()
            .call(|| {
                client.api().list_ccpm_v1_custom_connect_plugins(
                    self.env.id(),
                    self.page_size.map(i64::from),
                    page_token,
                    self.cloud.as_ref().map(Cloud::as_str),
                )
            })
            .await
    }
}

/// What the paging stream does on its next step.
enum Next {
    /// Fetch the first page (with the caller's page size and token).
    First,
    /// Fetch the page this token names.
    Token(String),
    /// Report a protocol error found after the previous page was yielded.
    Fail(Error),
    /// The last page was yielded.
    Done,
}

struct PagingState {
    lister: ListPlugins,
    first_token: Option<String>,
    next: Next,
    seen: HashSet<String>,
    pages: u64,
}

impl PagingState {
    async fn advance(mut self) -> Result<Option<(Response<PluginPage>, Self)>> {
        let page = match std::mem::replace(&mut self.next, Next::Done) {
            Next::Done => return Ok(None),
            Next::Fail(err) => return Err(err),
            Next::First => {
                self.lister.validate()?;
                if let Some(token) = &self.first_token {
                    self.seen.insert(token.clone());
                }
                self.lister.fetch(self.first_token.as_deref()).await?
            }
            // The page size goes on every request, as Confluent's own CLI sends it: a server
            // whose token does not carry the size would otherwise fall back to its default.
            Next::Token(token) => self.lister.fetch(Some(&token)).await?,
        };
        self.pages += 1;
        self.next = self.after(&page);
        Ok(Some((page, self)))
    }

    /// Decides the next step from a page's `metadata.next`.
    fn after(&mut self, page: &PluginPage) -> Next {
        let Some(link) = page.metadata.next.as_deref().map(str::trim) else {
            return Next::Done;
        };
        if link.is_empty() {
            return Next::Done;
        }
        let Some(token) = next_page_token(link) else {
            return Next::Fail(Error::protocol(
                Service::Confluent,
                LIST_PLUGINS,
                format!(
                    "page {} links a next page without a page_token: {}",
                    self.pages,
                    crate::error::one_line(link, 200)
                ),
            ));
        };
        if !self.seen.insert(token.clone()) {
            return Next::Fail(Error::protocol(
                Service::Confluent,
                LIST_PLUGINS,
                format!(
                    "page {} links a next page whose page_token was already used; \
                     stopping instead of reading the same pages again",
                    self.pages
                ),
            ));
        }
        Next::Token(token)
    }
}
