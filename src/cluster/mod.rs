//! The cluster: nodes of one game sharing one room directory in Redis. Each node holds a lease
//! renewed by its heartbeat ([`directory::ClusterDirectory::heartbeat`]) with every room it
//! runs; quick play, a room's code and a resume token are looked up cluster-wide, and a seat on
//! another node is reserved atomically and handed to the client as a one-time ticket with that
//! node's public URL. Without `--redis-url` there is no cluster: the process's own lobby is the
//! directory (the embedded default).
//!
//! - [`config`]: the node's identity and the directory's timings (pure).
//! - [`records`]: what nodes tell the directory and what it answers, parsed from the scripts'
//!   replies (pure).
//! - [`scripts`]: the Lua scripts that make each step atomic, and the keys they keep.
//! - [`directory`]: the connection to Redis and one method per question.
//! - [`bus`]: the nodes' messages to each other (an operator's announcement or kick) on a Redis
//!   stream, checked like a player's chat.
//!
//! Must never: block a room (nothing here runs on a tick thread), hold a lock across a call to
//! Redis, or hand out a seat past a room's `max_players`.

pub mod bus;
pub mod config;
pub mod directory;
pub mod error;
pub mod records;
pub mod scripts;

pub use config::{ClusterConfig, NodeId, NodeIdError};
pub use directory::ClusterDirectory;
pub use error::ClusterError;
pub use records::{
    ClusterRoom, HeartbeatAnswer, LiveNode, NodeReport, Placed, RoomReport, TokenChange, TokenHome,
};
