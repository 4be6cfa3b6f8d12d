//! What reaches a room from its players' sessions: joins, resumes, inputs, aways and leaves, in
//! one ordered stream (the room's lock-free queue). Plain data; must never carry a socket.

use crate::protocol::{PlayerId, PlayerInput, ResumeToken};

/// Something that happened on a connection, for the room to apply at its next tick.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomEvent {
    /// A player passed the handshake; `name` is already validated.
    Join {
        id: PlayerId,
        name: String,
        request_id: u32,
        resume_token: ResumeToken,
        /// Serial number of the connection, unique in the server's life.
        connection: u64,
        /// The join carried a resume token that gave no player back: why, for the `Welcome`.
        resume_failed: Option<&'static str>,
    },
    /// A reconnecting client presented the resume token of player `id`. If the player is
    /// still in the world it is handed back; if its grace ran out meanwhile, it joins anew.
    Resume {
        id: PlayerId,
        name: String,
        request_id: u32,
        resume_token: ResumeToken,
        connection: u64,
    },
    Input {
        id: PlayerId,
        input: PlayerInput,
    },
    /// The connection dropped without a goodbye: the player stays, frozen and flagged away,
    /// for the resume grace, then leaves.
    /// Ignored if `connection` is no longer the player's (it was resumed meanwhile).
    Away {
        id: PlayerId,
        connection: u64,
    },
    /// The player is gone for good (it said goodbye, was kicked, or broke the rules).
    /// Ignored, like `Away`, if a newer connection has taken the player over.
    Leave {
        id: PlayerId,
        connection: u64,
    },
}
