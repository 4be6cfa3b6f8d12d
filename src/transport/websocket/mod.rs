//! The WebSocket transport: per player, a reader task that runs the session over the socket
//! ([`connection`], [`reader`]) and a writer task ([`writer`]); client frames read and checked
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
pub mod writer;

pub use context::{WebSocketContext, WebSocketLimits};
