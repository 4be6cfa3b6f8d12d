//! Which room the swarm's bots ask for, as its flags say it: quick play (optionally of a mode, in
//! a region) by default, one room by id, or a private room by code. The flags are checked by the
//! protocol's own rules (`protocol::rooms`), so a bad code or label is refused before a single bot
//! connects, with the flag and the rule it breaks. Must never: send a request the server would
//! refuse as malformed, or combine two ways in.

use crate::protocol::RoomRequest;
use crate::protocol::rooms::{ModeError, RoomCodeError, RoomRequestError, ValidRoomRequest};

/// The swarm's room flags as given (`None` for a flag left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomFlags {
    /// `--room ID`: every bot joins this room by its id.
    pub room: Option<u32>,
    /// `--room-code CODE`: every bot joins this private room.
    pub room_code: Option<String>,
    /// `--mode MODE`: quick play in this mode only.
    pub mode: Option<String>,
    /// `--region REGION`: quick play in this region only.
    pub region: Option<String>,
}

/// Why the room flags cannot make a request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoomFlagsError {
    #[error("--room and --room-code are two ways into a room; give one")]
    RoomAndCode,
    #[error("--mode and --region choose a room for quick play; they do not go with {0}")]
    FilterWithoutQuickPlay(&'static str),
    #[error("--room-code: {0}")]
    Code(RoomCodeError),
    #[error("--mode: {0}")]
    Mode(ModeError),
    #[error("--region follows the mode rules: {0}")]
    Region(ModeError),
}

impl RoomFlags {
    /// The request every bot sends in its `Join`, checked by the protocol's rules. A code is sent
    /// as the rules normalise it (trimmed, in capitals).
    pub fn room_request(&self) -> Result<RoomRequest, RoomFlagsError> {
        let request = self.unchecked_request()?;
        Ok(match request.validate().map_err(name_the_flag)? {
            ValidRoomRequest::Code(code) => RoomRequest::Code(code.as_str().to_owned()),
            _ => request,
        })
    }

    /// The request the flags ask for, before its code or labels are checked.
    fn unchecked_request(&self) -> Result<RoomRequest, RoomFlagsError> {
        let filtered = self.mode.is_some() || self.region.is_some();
        match (self.room, &self.room_code) {
            (Some(_), Some(_)) => Err(RoomFlagsError::RoomAndCode),
            (Some(_), None) if filtered => Err(RoomFlagsError::FilterWithoutQuickPlay("--room")),
            (None, Some(_)) if filtered => {
                Err(RoomFlagsError::FilterWithoutQuickPlay("--room-code"))
            }
            (Some(id), None) => Ok(RoomRequest::Id(id)),
            (None, Some(code)) => Ok(RoomRequest::Code(code.clone())),
            (None, None) => Ok(RoomRequest::QuickPlay {
                mode: self.mode.clone().unwrap_or_default(),
                region: self.region.clone().unwrap_or_default(),
            }),
        }
    }
}

fn name_the_flag(error: RoomRequestError) -> RoomFlagsError {
    match error {
        RoomRequestError::Code(error) => RoomFlagsError::Code(error),
        RoomRequestError::Mode(error) => RoomFlagsError::Mode(error),
        RoomRequestError::Region(error) => RoomFlagsError::Region(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> RoomFlags {
        RoomFlags::default()
    }

    #[test]
    fn no_flag_is_quick_play_in_the_default_mode_anywhere() {
        assert_eq!(flags().room_request(), Ok(RoomRequest::default()));
    }

    #[test]
    fn quick_play_takes_a_mode_and_a_region() {
        let filtered = RoomFlags {
            mode: Some("duel".into()),
            region: Some("eu-west".into()),
            ..flags()
        };
        assert_eq!(
            filtered.room_request(),
            Ok(RoomRequest::QuickPlay {
                mode: "duel".into(),
                region: "eu-west".into()
            })
        );
    }

    #[test]
    fn a_room_is_joined_by_id_or_by_its_code_normalised() {
        let by_id = RoomFlags {
            room: Some(7),
            ..flags()
        };
        assert_eq!(by_id.room_request(), Ok(RoomRequest::Id(7)));
        let by_code = RoomFlags {
            room_code: Some(" 0z0z789abc ".into()),
            ..flags()
        };
        assert_eq!(
            by_code.room_request(),
            Ok(RoomRequest::Code("0Z0Z789ABC".into()))
        );
    }

    #[test]
    fn bad_flags_say_which_flag_breaks_which_rule() {
        let code = |code: &str| RoomFlags {
            room_code: Some(code.into()),
            ..flags()
        };
        assert_eq!(
            code("0Z0Z").room_request(),
            Err(RoomFlagsError::Code(RoomCodeError::WrongLength))
        );
        assert_eq!(
            code("0Z0Z789ABI").room_request(),
            Err(RoomFlagsError::Code(RoomCodeError::BadCharacter('I')))
        );
        let mode = RoomFlags {
            mode: Some("Duel".into()),
            ..flags()
        };
        assert_eq!(
            mode.room_request(),
            Err(RoomFlagsError::Mode(ModeError::BadCharacter('D')))
        );
        let region = RoomFlags {
            region: Some("x".repeat(17)),
            ..flags()
        };
        assert_eq!(
            region.room_request(),
            Err(RoomFlagsError::Region(ModeError::TooLong))
        );
        assert!(
            region
                .room_request()
                .unwrap_err()
                .to_string()
                .starts_with("--region ")
        );
    }

    #[test]
    fn two_ways_in_are_refused() {
        let both = RoomFlags {
            room: Some(1),
            room_code: Some("0Z0Z789ABC".into()),
            ..flags()
        };
        assert_eq!(both.room_request(), Err(RoomFlagsError::RoomAndCode));
        let filtered_id = RoomFlags {
            room: Some(1),
            mode: Some("duel".into()),
            ..flags()
        };
        assert_eq!(
            filtered_id.room_request(),
            Err(RoomFlagsError::FilterWithoutQuickPlay("--room"))
        );
        let filtered_code = RoomFlags {
            room_code: Some("0Z0Z789ABC".into()),
            region: Some("local".into()),
            ..flags()
        };
        assert_eq!(
            filtered_code.room_request(),
            Err(RoomFlagsError::FilterWithoutQuickPlay("--room-code"))
        );
    }
}
