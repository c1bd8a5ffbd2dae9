//! The plugins of an environment, and the paged list-plugins operation.

use std::collections::HashSet;

use futures::stream::{self, BoxStream};
use futures::{StreamExt as _, TryStreamExt as _};

use super::model::{Cloud, NewPlugin, Plugin, PluginId, PluginUpdate};
use super::page::{Page, next_page_token};
use super::{Environment, op, validate, wire};
use crate::error::not_found_as_none;
use crate::error::{Error, Result, Service};
use crate::response::Response;

/// The page size [`Plugins::find_by_name`] asks for (the API's largest).
const FIND_PAGE_SIZE: u32 = validate::MAX_PAGE_SIZE;

/// The plugins of one environment.
#[derive(Debug, Clone)]
pub struct Plugins {
    env: Environment,
}

impl Plugins {
    pub(crate) fn new(env: Environment) -> Self {
        Plugins { env }
    }

    /// Lists plugins: call [`ListPlugins::send`] for one page, or [`ListPlugins::stream`],
    /// [`ListPlugins::pages`] or [`ListPlugins::all`] to follow every page.
    pub fn list(&self) -> ListPlugins {
        ListPlugins {
            env: self.env.clone(),
            cloud: None,
            page_size: None,
            page_token: None,
        }
    }

    /// Creates a plugin (the server answers 202 Accepted). It holds no archive yet: upload one
    /// and create a version.
    pub async fn create(&self, plugin: &NewPlugin) -> Result<Response<Plugin>> {
        self.env.validate()?;
        plugin.validate()?;
        let body = wire::CreatePluginBody::new(self.env.id(), plugin);
        let client = self.env.client();
        client
            .transport()
            .call(&op::CREATE_PLUGIN, || {
                client.api().create_ccpm_v1_custom_connect_plugin(&body)
            })
            .await
    }

    /// Gets a plugin.
    pub async fn get(&self, id: impl Into<PluginId>) -> Result<Response<Plugin>> {
        let id = id.into();
        self.env.validate()?;
        id.validate()?;
        let client = self.env.client();
        client
            .transport()
            .call(&op::GET_PLUGIN, || {
                client
                    .api()
                    .get_ccpm_v1_custom_connect_plugin(id.as_str(), self.env.id().as_str())
            })
            .await
    }

    /// Gets a plugin, with `None` for a 404.
    pub async fn get_opt(&self, id: impl Into<PluginId>) -> Result<Option<Response<Plugin>>> {
        not_found_as_none(self.get(id).await)
    }

    /// Changes a plugin's display name or description and returns the updated plugin.
    pub async fn update(
        &self,
        id: impl Into<PluginId>,
        update: &PluginUpdate,
    ) -> Result<Response<Plugin>> {
        let id = id.into();
        self.env.validate()?;
        id.validate()?;
        update.validate()?;
        let body = wire::UpdatePluginBody::new(self.env.id(), update);
        let client = self.env.client();
        client
            .transport()
            .call(&op::UPDATE_PLUGIN, || {
                client
                    .api()
                    .update_ccpm_v1_custom_connect_plugin(id.as_str(), &body)
            })
            .await
    }

    /// Deletes a plugin (the server refuses while the plugin still has versions).
    pub async fn delete(&self, id: impl Into<PluginId>) -> Result<Response<()>> {
        let id = id.into();
        self.env.validate()?;
        id.validate()?;
        let client = self.env.client();
        client
            .transport()
            .call(&op::DELETE_PLUGIN, || {
                client
                    .api()
                    .delete_ccpm_v1_custom_connect_plugin(id.as_str(), self.env.id().as_str())
            })
            .await
    }

    /// Deletes a plugin, treating one that is already gone (404) as done. Returns `true` when
    /// this call deleted it, `false` when it did not exist.
    pub async fn delete_if_exists(&self, id: impl Into<PluginId>) -> Result<bool> {
        Ok(not_found_as_none(self.delete(id).await)?.is_some())
    }

    /// Finds the first plugin whose display name is exactly `display_name`, reading pages until
    /// it is found or the list ends.
    pub async fn find_by_name(&self, display_name: &str) -> Result<Option<Plugin>> {
        if display_name.is_empty() {
            return Err(Error::invalid("display_name", "must not be empty"));
        }
        let mut plugins = self.list().page_size(FIND_PAGE_SIZE).stream();
        while let Some(plugin) = plugins.try_next().await? {
            if plugin.spec.display_name == display_name {
                return Ok(Some(plugin));
            }
        }
        Ok(None)
    }
}

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

    /// Starts from the page this token names (from [`Page::next_page_token`]).
    pub fn page_token(mut self, token: impl Into<String>) -> Self {
        self.page_token = Some(token.into());
        self
    }

    /// Fetches one page.
    pub async fn send(self) -> Result<Response<Page<Plugin>>> {
        self.validate()?;
        self.fetch(self.page_size, self.page_token.as_deref()).await
    }

    /// Every page, fetched lazily, each with its response metadata.
    pub fn pages(self) -> BoxStream<'static, Result<Response<Page<Plugin>>>> {
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
            .map_ok(|page| stream::iter(page.into_inner().items.into_iter().map(Ok)))
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
            cloud.validate_open("spec.cloud")?;
        }
        Ok(())
    }

    async fn fetch(
        &self,
        page_size: Option<u32>,
        page_token: Option<&str>,
    ) -> Result<Response<Page<Plugin>>> {
        let client = self.env.client();
        client
            .transport()
            .call(&op::LIST_PLUGINS, || {
                client.api().list_ccpm_v1_custom_connect_plugins(
                    self.env.id().as_str(),
                    page_size.map(i64::from),
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
    async fn advance(mut self) -> Result<Option<(Response<Page<Plugin>>, Self)>> {
        let page = match std::mem::replace(&mut self.next, Next::Done) {
            Next::Done => return Ok(None),
            Next::Fail(err) => return Err(err),
            Next::First => {
                self.lister.validate()?;
                if let Some(token) = &self.first_token {
                    self.seen.insert(token.clone());
                }
                self.lister
                    .fetch(self.lister.page_size, self.first_token.as_deref())
                    .await?
            }
            // The page size goes on every request, as Confluent's own CLI sends it: a server
            // whose token does not carry the size would otherwise fall back to its default.
            Next::Token(token) => {
                self.lister
                    .fetch(self.lister.page_size, Some(&token))
                    .await?
            }
        };
        self.pages += 1;
        self.next = self.after(&page);
        Ok(Some((page, self)))
    }

    /// Decides the next step from a page's `metadata.next`.
    fn after(&mut self, page: &Page<Plugin>) -> Next {
        let Some(link) = page.links.next.as_deref().map(str::trim) else {
            return Next::Done;
        };
        if link.is_empty() {
            return Next::Done;
        }
        let Some(token) = next_page_token(link) else {
            return Next::Fail(Error::protocol(
                Service::Confluent,
                op::LIST_PLUGINS.id,
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
                op::LIST_PLUGINS.id,
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
