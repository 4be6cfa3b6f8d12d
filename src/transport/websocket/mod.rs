//! The WebSocket transport: per player, a connection task that runs the session
//! ([`connection`]) over what its socket's reader hands it (on plain TCP a tick thread reads the
//! socket, [`watched`]; under TLS the task reads it, [`reader`], which also holds what is done
//! with each frame) and a writer task ([`writer`]); client frames read and checked
//! ([`incoming`]), close payloads and reassembly ([`frames`]); the control frames the reader
//! asks the writer for ([`control`]); the upgrade request's checks
//! ([`handshake`]); whether the client still reads, told by its TCP socket ([`progress`]); the
//! handles a connection task gets ([`context`]).

pub mod attach;
pub mod connection;
pub mod context;
pub mod control;
pub mod frames;
pub mod handshake;
pub mod incoming;
pub mod progress;
pub mod reader;
pub mod sink;
pub mod socket;
pub mod watched;
pub mod writer;

pub use context::{WebSocketContext, WebSocketLimits};
