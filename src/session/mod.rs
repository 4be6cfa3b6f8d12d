//! Players' sessions, apart from the transport that carries them: the registry through which a
//! room reaches its players ([`registry`]: each player's latest-wins snapshot slot, bounded
//! reliable queue and kick), and lifecycle callbacks for library users ([`hooks`]).

pub mod hooks;
pub mod registry;

pub use hooks::{NoHooks, SessionHooks, SessionInfo};
pub use registry::{Kick, SessionHandle, Sessions, SlotGuard, SnapshotFrame, SnapshotSlot};
