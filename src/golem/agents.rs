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
        self.switch_plugin(true, plugin_priority).await
    }

    /// Deactivates, for this agent, the plugin installed with priority `plugin_priority` in the
    /// agent's current component revision.
    pub async fn deactivate_plugin(&self, plugin_priority: i32) -> Result<Response<()>> {
        self.switch_plugin(false, plugin_priority).await
    }

    async fn switch_plugin(&self, activate: bool, plugin_priority: i32) -> Result<Response<()>> {
        crate::path_segment::check("agent_name", &self.name)?;
        let (api, component_id, name) = (&self.client.api, &self.component_id, &*self.name);
        let transport = self.client.transport();
        // Both answers are an empty object; nothing of them is kept.
        if activate {
            let answer = transport
                .call(|| api.activate_plugin(component_id, name, plugin_priority))
                .await?;
            Ok(answer.map(drop))
        } else {
            let answer = transport
                .call(|| api.deactivate_plugin(component_id, name, plugin_priority))
                .await?;
            Ok(answer.map(drop))
        }
    }
}
