//! HTTP long polling: the second transport, for networks that break WebSocket. The same
//! messages and the same session as a WebSocket's (docs/PROTOCOL.md, "Long polling"): a session
//! opened by `POST /poll`, one long GET at a time that a newer one supersedes, numbered
//! messages both ways so that a lost request or answer costs nothing, the newest snapshot only.
//!
//! - [`wire`]: the bodies as bytes (pure).
//! - [`session`]: one session as its requests and its task share it.
//! - [`task`]: a session's life, its pump and the shared context.
//!
//! The HTTP side (admission, routing, refusals) is `http/polling.rs`'s.

pub mod session;
pub mod task;
pub mod wire;

pub use session::{Backlog, PollSession, Posted};
pub use task::{PollRefusal, PollingContext, PollingLimits, PollingStats};
