//! The WebSocket transport: per player, a reader task that runs the session
//! ([`connection`]) and a writer task ([`writer`]); RFC 6455 checks and reassembly
//! ([`frames`]); the upgrade request's checks ([`handshake`]); whether the client still reads,
//! told by its TCP socket ([`progress`]).

pub mod connection;
pub mod frames;
pub mod handshake;
pub mod progress;
pub mod writer;
