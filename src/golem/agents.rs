//! One agent of a component: switching its installed plugins on and off.

use super::{ComponentId, GolemClient};
use crate::error::Result;
use crate::response::Response;

/// One agent of a component, addressed by its name.
///
/// The name goes into the request path as one segment: reserved characters are percent-encoded,
/// and names that would address another path (empty, `.`, `..`, or containing `\`) are refused
/// before anything is sent, with [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)
/// naming `agent_name`.
#[derive(Debug, Clone)]
pub struct Agent {
    client: GolemClient,
    component_id: ComponentId,
    name: String,
}

impl Agent {
    pub(super) fn new(client: GolemClient, component_id: ComponentId, name: String) -> Self {
        Agent {
            client,
            component_id,
            name,
        }
    }

    /// The id of the agent's component.
    pub fn component_id(&self) -> ComponentId {
        self.component_id
    }

    /// The agent's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Activates, for this agent, the plugin installed with priority `plugin_priority` in the
    /// agent's current component revision.
    pub async fn activate_plugin(&self, plugin_priority: i32) -> Result<Response<()>> {
        crate::path_segment::check("agent_name", &self.name)?;
        let answer = self
            .client
            .transport()
            .call(|| {
                self.client
                    .api
                    .activate_plugin(&self.component_id, &self.name, plugin_priority)
            })
            .await?;
        Ok(answer.map(|_| ()))
    }

    /// Deactivates, for this agent, the plugin installed with priority `plugin_priority` in the
    /// agent's current component revision.
    pub async fn deactivate_plugin(&self, plugin_priority: i32) -> Result<Response<()>> {
        crate::path_segment::check("agent_name", &self.name)?;
        let answer = self
            .client
            .transport()
            .call(|| {
                self.client
                    .api
                    .deactivate_plugin(&self.component_id, &self.name, plugin_priority)
            })
            .await?;
        Ok(answer.map(|_| ()))
    }
}
