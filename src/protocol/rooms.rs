//! How a client names a room: a public room's id, a private room's code, a mode label. The rules
//! are the contract (the server enforces them, clients check them first to say what is wrong),
//! like names'. Pure. Must never: accept a code or label that could be confused with another or
//! carry anything but its own characters.

use std::fmt;

use super::messages::{RoomRequest, SeatTicket};

/// A room's id in this process: listed for public rooms, never shown for private ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(transparent)]
pub struct RoomId(pub u32);

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Characters of a private room's code: Crockford's base 32 (digits and capitals without I, L,
/// O and U), so a code read aloud or copied by hand is not mistaken for another.
pub const ROOM_CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Length of a private room's code: 10 characters of 5 bits, 2^50 codes, so guessing one at the
/// rate limits allow is hopeless.
pub const ROOM_CODE_CHARS: usize = 10;

/// A private room's code, as validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomCode(String);

impl RoomCode {
    /// A code from [`ROOM_CODE_CHARS`] random values (each taken modulo 32).
    pub fn from_random(values: [u8; ROOM_CODE_CHARS]) -> RoomCode {
        let code = values
            .iter()
            .map(|&v| char::from(ROOM_CODE_ALPHABET[usize::from(v % 32)]))
            .collect();
        RoomCode(code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoomCodeError {
    #[error("room code must be {ROOM_CODE_CHARS} characters")]
    WrongLength,
    #[error("room code contains {0:?}; codes use digits and capital letters except I, L, O, U")]
    BadCharacter(char),
}

/// Checks a room code as typed or linked: surrounding whitespace trimmed, letters taken in
/// either case, then exactly [`ROOM_CODE_CHARS`] characters of [`ROOM_CODE_ALPHABET`].
pub fn validate_room_code(raw: &str) -> Result<RoomCode, RoomCodeError> {
    let code = raw.trim().to_ascii_uppercase();
    if let Some(bad) = code
        .chars()
        .find(|c| !c.is_ascii() || !ROOM_CODE_ALPHABET.contains(&(*c as u8)))
    {
        return Err(RoomCodeError::BadCharacter(bad));
    }
    if code.len() != ROOM_CODE_CHARS {
        return Err(RoomCodeError::WrongLength);
    }
    Ok(RoomCode(code))
}

/// Longest mode label, in characters.
pub const MAX_MODE_CHARS: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModeError {
    #[error("mode is empty")]
    Empty,
    #[error("mode is longer than {MAX_MODE_CHARS} characters")]
    TooLong,
    #[error("mode contains {0:?}; modes use lowercase letters, digits and '-'")]
    BadCharacter(char),
}

/// Checks a mode (or region) label: 1 to [`MAX_MODE_CHARS`] of `a-z`, `0-9` and `-`.
pub fn validate_mode(raw: &str) -> Result<&str, ModeError> {
    if raw.is_empty() {
        return Err(ModeError::Empty);
    }
    if raw.chars().count() > MAX_MODE_CHARS {
        return Err(ModeError::TooLong);
    }
    if let Some(bad) = raw
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(ModeError::BadCharacter(bad));
    }
    Ok(raw)
}

/// A [`RoomRequest`] that follows the rules: codes and labels checked, empty labels as `None`
/// ("the default mode", "any region"). What the lobby places a joiner with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidRoomRequest {
    QuickPlay {
        mode: Option<String>,
        region: Option<String>,
    },
    Id(RoomId),
    Code(RoomCode),
    CreatePrivate {
        mode: Option<String>,
    },
    /// A seat a cluster node reserved (checked against the directory, not here).
    Seat(SeatTicket),
}

/// Which rule a [`RoomRequest`] breaks.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoomRequestError {
    #[error(transparent)]
    Code(#[from] RoomCodeError),
    #[error(transparent)]
    Mode(ModeError),
    #[error("region labels follow the mode rules: {0}")]
    Region(ModeError),
}

impl RoomRequest {
    /// Checks the request's code or labels by the rules above. Says nothing of whether the room
    /// or mode exists: that is the lobby's answer.
    pub fn validate(&self) -> Result<ValidRoomRequest, RoomRequestError> {
        Ok(match self {
            RoomRequest::QuickPlay { mode, region } => ValidRoomRequest::QuickPlay {
                mode: optional_label(mode).map_err(RoomRequestError::Mode)?,
                region: optional_label(region).map_err(RoomRequestError::Region)?,
            },
            RoomRequest::Id(id) => ValidRoomRequest::Id(RoomId(*id)),
            RoomRequest::Code(code) => ValidRoomRequest::Code(validate_room_code(code)?),
            RoomRequest::CreatePrivate { mode } => ValidRoomRequest::CreatePrivate {
                mode: optional_label(mode).map_err(RoomRequestError::Mode)?,
            },
            RoomRequest::Seat(ticket) => ValidRoomRequest::Seat(*ticket),
        })
    }
}

/// An empty label is "not given"; any other must pass [`validate_mode`].
fn optional_label(raw: &str) -> Result<Option<String>, ModeError> {
    if raw.is_empty() {
        return Ok(None);
    }
    validate_mode(raw).map(|label| Some(label.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_ten_characters_of_the_unambiguous_alphabet() {
        let code = RoomCode::from_random([0, 31, 32, 255, 7, 8, 9, 10, 11, 12]);
        assert_eq!(code.as_str(), "0Z0Z789ABC");
        assert_eq!(validate_room_code(code.as_str()), Ok(code.clone()));
        assert_eq!(validate_room_code(" 0z0z789abc "), Ok(code));
    }

    #[test]
    fn bad_codes_say_what_is_wrong() {
        assert_eq!(validate_room_code(""), Err(RoomCodeError::WrongLength));
        assert_eq!(
            validate_room_code("0Z0Z789AB"),
            Err(RoomCodeError::WrongLength)
        );
        assert_eq!(
            validate_room_code("0Z0Z789ABCD"),
            Err(RoomCodeError::WrongLength)
        );
        assert_eq!(
            validate_room_code("0Z0Z789ABI"),
            Err(RoomCodeError::BadCharacter('I'))
        );
        assert_eq!(
            validate_room_code("0Z0Z789AB/"),
            Err(RoomCodeError::BadCharacter('/'))
        );
        assert_eq!(
            validate_room_code("0Z0Z789ABé"),
            Err(RoomCodeError::BadCharacter('é'))
        );
    }

    #[test]
    fn modes_are_short_lowercase_labels() {
        assert_eq!(validate_mode("arena"), Ok("arena"));
        assert_eq!(validate_mode("team-2v2"), Ok("team-2v2"));
        assert_eq!(validate_mode(""), Err(ModeError::Empty));
        assert_eq!(validate_mode("Arena"), Err(ModeError::BadCharacter('A')));
        assert_eq!(validate_mode("a b"), Err(ModeError::BadCharacter(' ')));
        assert_eq!(
            validate_mode("a-very-long-mode-label"),
            Err(ModeError::TooLong)
        );
    }

    #[test]
    fn room_requests_are_checked_by_the_same_rules() {
        let quick = |mode: &str, region: &str| RoomRequest::QuickPlay {
            mode: mode.into(),
            region: region.into(),
        };
        assert_eq!(
            quick("", "").validate(),
            Ok(ValidRoomRequest::QuickPlay {
                mode: None,
                region: None
            })
        );
        assert_eq!(
            quick("duel", "eu-west").validate(),
            Ok(ValidRoomRequest::QuickPlay {
                mode: Some("duel".into()),
                region: Some("eu-west".into())
            })
        );
        assert_eq!(
            quick("Duel", "").validate(),
            Err(RoomRequestError::Mode(ModeError::BadCharacter('D')))
        );
        assert_eq!(
            quick("", "eu west").validate(),
            Err(RoomRequestError::Region(ModeError::BadCharacter(' ')))
        );
        assert_eq!(
            RoomRequest::Id(7).validate(),
            Ok(ValidRoomRequest::Id(RoomId(7)))
        );
        assert_eq!(
            RoomRequest::Code(" 0z0z789abc ".into()).validate(),
            Ok(ValidRoomRequest::Code(
                validate_room_code("0Z0Z789ABC").unwrap()
            ))
        );
        assert_eq!(
            RoomRequest::Code("0Z0Z".into()).validate(),
            Err(RoomRequestError::Code(RoomCodeError::WrongLength))
        );
        assert_eq!(
            RoomRequest::CreatePrivate { mode: "".into() }.validate(),
            Ok(ValidRoomRequest::CreatePrivate { mode: None })
        );
        assert_eq!(
            RoomRequest::CreatePrivate {
                mode: "x".repeat(17)
            }
            .validate(),
            Err(RoomRequestError::Mode(ModeError::TooLong))
        );
    }
}
