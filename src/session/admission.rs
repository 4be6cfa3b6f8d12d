//! A session's first message: whether its `Join` may enter (protocol version, name, a
//! well-formed room request). Where it enters, and as which player, is the
//! [`RoomDirectory`](super::directory::RoomDirectory)'s to say. Must never: let a malformed
//! request through to the lobby.

use super::ended::Ended;
use crate::protocol::rooms::ValidRoomRequest;
use crate::protocol::{CloseReason, Join, PROTOCOL_VERSION, validate_name};

/// An admitted join: the name as it will be shown, and the room request checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Admitted {
    pub name: String,
    pub request: ValidRoomRequest,
}

/// Checks a join's version, name and room request.
pub fn admit(join: &Join) -> Result<Admitted, Ended> {
    if join.protocol_version != PROTOCOL_VERSION {
        return Err(Ended::new(
            CloseReason::VersionMismatch,
            format!(
                "server speaks version {PROTOCOL_VERSION}, client sent {}",
                join.protocol_version
            ),
        ));
    }
    let name = validate_name(&join.name)
        .map_err(|e| Ended::new(CloseReason::InvalidName, e.to_string()))?;
    let request = join
        .room
        .validate()
        .map_err(|e| Ended::new(CloseReason::Malformed, e.to_string()))?;
    Ok(Admitted {
        name: name.to_owned(),
        request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RoomRequest;
    use crate::protocol::rooms::RoomId;

    fn refusal(room: RoomRequest) -> Option<(CloseReason, String)> {
        let mut join = Join::quick_play("Ada");
        join.room = room;
        admit(&join).err().map(|ended| (ended.reason, ended.detail))
    }

    #[test]
    fn well_formed_requests_are_admitted_as_they_are() {
        let mut join = Join::quick_play(" Ada ");
        join.room = RoomRequest::Id(7);
        assert_eq!(
            admit(&join).unwrap(),
            Admitted {
                name: "Ada".into(),
                request: ValidRoomRequest::Id(RoomId(7)),
            }
        );
        assert_eq!(refusal(RoomRequest::default()), None);
        assert_eq!(refusal(RoomRequest::Code(" 0123456789 ".into())), None);
    }

    #[test]
    fn requests_that_break_the_rules_are_malformed() {
        assert_eq!(
            refusal(RoomRequest::Code("0123".into())),
            Some((
                CloseReason::Malformed,
                "room code must be 10 characters".into()
            ))
        );
        let (reason, detail) = refusal(RoomRequest::Code("012345678I".into())).unwrap();
        assert_eq!(reason, CloseReason::Malformed);
        assert!(detail.contains("'I'"), "{detail}");
        let quick = |mode: &str, region: &str| RoomRequest::QuickPlay {
            mode: mode.into(),
            region: region.into(),
        };
        assert_eq!(
            refusal(quick("Arena", "")).unwrap().0,
            CloseReason::Malformed
        );
        assert_eq!(
            refusal(quick("", "eu west")).unwrap().0,
            CloseReason::Malformed
        );
    }

    #[test]
    fn another_version_or_a_bad_name_is_refused_first() {
        let mut join = Join::quick_play("Ada");
        join.protocol_version = PROTOCOL_VERSION - 1;
        join.room = RoomRequest::Code("bad".into());
        assert_eq!(
            admit(&join).unwrap_err().reason,
            CloseReason::VersionMismatch
        );
        let mut join = Join::quick_play("");
        join.room = RoomRequest::Code("bad".into());
        assert_eq!(admit(&join).unwrap_err().reason, CloseReason::InvalidName);
    }
}
