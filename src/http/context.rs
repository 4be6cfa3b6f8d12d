//! What the HTTP router needs: who may connect (origins, authentication), where the WebSocket is
//! served, whether the game's files are, the WebSocket context it hands upgrades to, and what
//! `/healthz`, `/rooms`, `/metrics` and `/admin` read. Must never: carry a session rule.

use std::sync::Arc;

use super::auth::{Authenticator, OriginPolicy};
use crate::admin::AdminContext;
use crate::cluster::ClusterDirectory;
use crate::runtime::PoolStats;
use crate::session::RoomDirectory;
use crate::transport::caps::ConnectionCaps;
use crate::transport::polling::PollingContext;
use crate::transport::websocket::WebSocketContext;

/// What every HTTP connection shares.
pub struct HttpContext {
    /// Handed to each upgraded connection.
    pub websocket: Arc<WebSocketContext>,
    /// Long-polling sessions are opened and served through it.
    pub polling: Arc<PollingContext>,
    pub authenticator: Option<Arc<dyn Authenticator>>,
    pub origins: OriginPolicy,
    /// Where the WebSocket is served.
    pub path: String,
    /// Whether the bundled game is served at `/`.
    pub serve_client: bool,
    /// The rooms: listed by `/rooms`, read by `/healthz` and `/metrics`.
    pub rooms: Arc<RoomDirectory>,
    /// The cluster's directory on a cluster node: `/rooms` lists the cluster's rooms, and
    /// pages served by the cluster's nodes may open a WebSocket here.
    pub cluster: Option<Arc<ClusterDirectory>>,
    /// The tick threads' counters, and how many there are, for `/metrics`.
    pub pool: Arc<PoolStats>,
    pub tick_threads: usize,
    pub caps: Arc<ConnectionCaps>,
    /// The operator's page, with `--admin-token` (`None`: `/admin` is 404).
    pub admin: Option<Arc<AdminContext>>,
}
