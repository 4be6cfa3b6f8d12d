//! What a room is to its players: its id, mode, size and, for a private room, its code, told in
//! every [`Welcome`](crate::protocol::Welcome) as a [`RoomInfo`]. Must never: decide who may
//! enter (that is the lobby's and the session's job).

use crate::protocol::RoomInfo;
use crate::protocol::rooms::{RoomCode, RoomId};

/// A room's identity, fixed for the room's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomIdentity {
    /// Its id in this process.
    pub id: RoomId,
    /// The kind of game it plays (a `validate_mode` label).
    pub mode: String,
    /// Players it holds at most, as told to clients.
    pub max_players: u16,
    /// A private room's code, for its players to share; `None` for a public room.
    pub code: Option<RoomCode>,
}

impl RoomIdentity {
    /// The id of the one room of a process without a lobby.
    pub const DEFAULT_ID: RoomId = RoomId(1);
    /// The mode of the bundled game.
    pub const DEFAULT_MODE: &'static str = "arena";

    /// The one public room of a process without a lobby, holding up to `max_players` (more than
    /// `u16::MAX` is told as `u16::MAX`).
    pub fn single(max_players: u32) -> RoomIdentity {
        RoomIdentity {
            id: RoomIdentity::DEFAULT_ID,
            mode: RoomIdentity::DEFAULT_MODE.to_owned(),
            max_players: u16::try_from(max_players).unwrap_or(u16::MAX),
            code: None,
        }
    }

    /// The identity as a `Welcome` carries it.
    pub fn info(&self) -> RoomInfo {
        RoomInfo {
            id: self.id.0,
            mode: self.mode.clone(),
            max_players: self.max_players,
            code: self.code.as_ref().map(|code| code.as_str().to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_single_room_is_room_one_of_the_arena() {
        let room = RoomIdentity::single(100_000);
        assert_eq!(
            room.info(),
            RoomInfo {
                id: 1,
                mode: "arena".into(),
                max_players: u16::MAX,
                code: None,
            }
        );
        assert_eq!(RoomIdentity::single(64).max_players, 64);
    }
}
