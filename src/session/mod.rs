//! Players' sessions, apart from the transport that carries them: the registry through which a
//! room reaches its players ([`registry`]: each player's latest-wins snapshot slot, bounded
//! reliable queue and kick), lifecycle callbacks for library users ([`hooks`]), why a session
//! ended ([`ended`]), its rate limits ([`limits`]) and heartbeat state ([`heartbeat`]).

pub mod ended;
pub mod heartbeat;
pub mod hooks;
pub mod limits;
pub mod registry;

pub use hooks::{NoHooks, SessionHooks, SessionInfo};
pub use registry::{Kick, SessionHandle, Sessions, SlotGuard, SnapshotFrame, SnapshotSlot};
