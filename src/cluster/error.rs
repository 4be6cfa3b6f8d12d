//! Why the cluster's directory did not answer or refused. Must never: carry anything about a
//! room the asker may not know of (a private room's id, another address's rooms).

/// A failed question to the directory.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Redis did not answer (down, partitioned, too slow): the node plays on, but seats cannot
    /// be reserved until it is back.
    #[error("the cluster directory at {url} is unreachable: {detail}")]
    Unavailable { url: String, detail: String },
    /// The directory answered something this build does not understand (another version's
    /// scripts, a key written by hand).
    #[error("the cluster directory answered {0:?}")]
    BadReply(String),
    /// The directory refused the request, for a reason the joiner may be told.
    #[error("{0}")]
    Refused(Refusal),
}

/// Why the directory gave no seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such room")]
    NoSuchRoom,
    #[error("room is full")]
    RoomFull,
    /// No live node plays the mode (in the region asked for) with room for a player and a room.
    #[error("no node in the cluster has room for another game of that mode here")]
    NoNode,
    #[error("too many private rooms opened from your address")]
    TooManyPrivateRooms,
    #[error("the reserved seat expired")]
    SeatExpired,
    #[error("the seat ticket is for another node")]
    WrongNode,
    /// A fresh private code was taken by chance (the caller draws another).
    #[error("room code taken")]
    CodeTaken,
}

impl Refusal {
    /// The refusal a script's error word stands for.
    pub fn from_word(word: &str) -> Option<Refusal> {
        Some(match word {
            "no_such_room" => Refusal::NoSuchRoom,
            "room_full" => Refusal::RoomFull,
            "no_node" => Refusal::NoNode,
            "too_many_private" => Refusal::TooManyPrivateRooms,
            "seat_expired" => Refusal::SeatExpired,
            "wrong_node" => Refusal::WrongNode,
            "code_taken" => Refusal::CodeTaken,
            _ => return None,
        })
    }
}
