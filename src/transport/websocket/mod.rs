//! The WebSocket transport: one reader task and one writer task per player
//! ([`connection`]), and whether the client still reads, told by its TCP socket ([`progress`]).

pub mod connection;
pub mod progress;
