//! Players' sessions, apart from the transport that carries them. A session's life
//! ([`lifecycle`]: join, play, leave) with its admission ([`admission`]), chat ([`chat`]), way
//! into its room ([`room_link`]) and message budget ([`budget`]); the seam a transport plugs
//! into ([`transport`]); what a session shares with its room and transport ([`handle`], its
//! [`stage`], [`heartbeat`] and [`reliable_queue`]); the process's rooms as sessions find them ([`directory`]:
//! placement through the lobby, each room's registry and queue, resume tokens, rooms opened,
//! disposed of and failed); where a joiner plays, here or through a cluster ([`placement`]),
//! why it was refused ([`refusals`]) and what the directory keeps for a cluster's heartbeat
//! ([`cluster_state`]); the registry through which a room reaches its players
//! ([`registry`]) and the copy of it a room publishes from ([`recipients`]); lifecycle callbacks for library users ([`hooks`]); why a session ended
//! ([`ended`]); the pure rate limits ([`limits`]); the handles a session task gets
//! ([`context`]); sessions with no transport, for benches and tests ([`detached`]).

pub mod admission;
pub mod budget;
pub mod chat;
pub mod cluster_state;
pub mod context;
pub mod detached;
pub mod directory;
pub mod ended;
pub mod handle;
pub mod heartbeat;
pub mod hooks;
pub mod lifecycle;
pub mod limits;
pub mod operator;
pub mod placement;
pub mod recipients;
pub mod refusals;
pub mod registry;
pub mod reliable_queue;
pub mod room_link;
pub mod stage;
pub mod transport;

pub use context::{SessionContext, SessionLimits};
pub use directory::{NewRoom, OpenRoom, RoomDirectory, RoomHost};
pub use handle::{Kick, SessionHandle, SnapshotFrame, SnapshotSlot};
pub use hooks::{NoHooks, SessionHooks, SessionInfo};
pub use lifecycle::Session;
pub use operator::{Operator, OperatorError};
pub use registry::Sessions;
pub use room_link::RoomLink;
pub use stage::SessionStage;
pub use transport::{InputRoute, MessageSource};
