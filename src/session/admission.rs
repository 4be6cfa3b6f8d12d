//! A session's first message: whether its `Join` may enter (protocol version, name, the room it
//! asks for, a free player slot) and which player it becomes: the one its resume token names if that player is away,
//! else a new one. Must never: let a join in past `max_players`, or give a connected player to a
//! second connection.

use std::sync::Arc;

use super::ended::Ended;
use super::handle::SessionHandle;
use super::registry::{Sessions, SlotGuard};
use crate::protocol::rooms::{RoomId, ValidRoomRequest};
use crate::protocol::{CloseReason, Join, PROTOCOL_VERSION, PlayerId, RoomRequest, validate_name};
use crate::room::{RoomEvent, RoomIdentity};

/// Checks a join's version, name and room request and takes a player slot. Returns the name as it will be
/// shown, and the slot the player holds while connected.
pub fn admit(
    join: &Join,
    sessions: &Arc<Sessions>,
    max_players: usize,
) -> Result<(String, SlotGuard), Ended> {
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
    check_room_request(&join.room, &SINGLE_ROOM)?;
    let slot = sessions.reserve_slot().ok_or_else(|| {
        Ended::new(
            CloseReason::ServerFull,
            format!("{max_players} players at most"),
        )
    })?;
    Ok((name.to_owned(), slot))
}

/// The room a request may name while a process has one room and no lobby (issue 16 wires the
/// lobby's rooms in; until then this rule answers in the lobby's words).
pub struct ServedRoom {
    pub id: RoomId,
    pub mode: &'static str,
    /// Quick play's region filter matches this label (or none).
    pub region: &'static str,
}

/// The process's one room: room 1 of the arena, in the region "local".
pub const SINGLE_ROOM: ServedRoom = ServedRoom {
    id: RoomIdentity::DEFAULT_ID,
    mode: RoomIdentity::DEFAULT_MODE,
    region: "local",
};

/// Whether a join's room request leads into `room`, the only one there is. A request that breaks
/// the rules of `protocol::rooms` is malformed (with the rule it breaks); a well-formed one that
/// names another room, a code (there are no private rooms yet) or another region has no such
/// room; another mode is unknown; a private room cannot be created.
pub fn check_room_request(request: &RoomRequest, room: &ServedRoom) -> Result<(), Ended> {
    let valid = request
        .validate()
        .map_err(|e| Ended::new(CloseReason::Malformed, e.to_string()))?;
    let check_mode = |mode: &Option<String>| match mode.as_deref() {
        None => Ok(()),
        Some(mode) if mode == room.mode => Ok(()),
        Some(mode) => Err(Ended::new(
            CloseReason::UnknownMode,
            format!("{mode:?} is not played here"),
        )),
    };
    match valid {
        ValidRoomRequest::QuickPlay { mode, region } => {
            check_mode(&mode)?;
            match region.as_deref() {
                Some(region) if region != room.region => Err(Ended::new(
                    CloseReason::NoSuchRoom,
                    format!("no room in region {region:?}"),
                )),
                _ => Ok(()),
            }
        }
        ValidRoomRequest::Id(id) if id == room.id => Ok(()),
        ValidRoomRequest::Id(_) | ValidRoomRequest::Code(_) => {
            Err(Ended::new(CloseReason::NoSuchRoom, ""))
        }
        ValidRoomRequest::CreatePrivate { mode } => {
            check_mode(&mode)?;
            Err(Ended::new(
                CloseReason::TooManyRooms,
                "private rooms are not available on this server yet",
            ))
        }
    }
}

/// Registers `handle` for the player the join names: the one its resume token belongs to if
/// that player is away, else a new one. Returns the player and the event for the room.
/// `connection` is this connection's serial number (see [`RoomEvent::Away`]).
pub fn enter_world(
    sessions: &Sessions,
    join: &Join,
    name: String,
    handle: &SessionHandle,
    connection: u64,
) -> (PlayerId, RoomEvent) {
    if let Some(token) = join.resume_token
        && let Some(id) = sessions.resume(&token, handle.clone())
    {
        // The client's newest snapshot from its previous connection: if the server still
        // has it, the first snapshot is one delta, not the whole state.
        handle.snapshots.set_baseline(join.baseline_tick);
        let event = RoomEvent::Resume {
            id,
            name,
            request_id: join.request_id,
            resume_token: token,
            connection,
        };
        return (id, event);
    }
    let id = sessions.allocate_id();
    let token = sessions.register(id, handle.clone());
    let event = RoomEvent::Join {
        id,
        name,
        request_id: join.request_id,
        resume_token: token,
        connection,
    };
    (id, event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(request: RoomRequest) -> Option<(CloseReason, String)> {
        check_room_request(&request, &SINGLE_ROOM)
            .err()
            .map(|ended| (ended.reason, ended.detail))
    }

    fn quick(mode: &str, region: &str) -> RoomRequest {
        RoomRequest::QuickPlay {
            mode: mode.into(),
            region: region.into(),
        }
    }

    #[test]
    fn quick_play_and_room_one_lead_into_the_single_room() {
        assert_eq!(refusal(RoomRequest::default()), None);
        assert_eq!(refusal(quick("arena", "")), None);
        assert_eq!(refusal(quick("", "local")), None);
        assert_eq!(refusal(quick("arena", "local")), None);
        assert_eq!(refusal(RoomRequest::Id(1)), None);
    }

    #[test]
    fn other_rooms_codes_and_regions_do_not_exist() {
        let no_such_room = |request| refusal(request).map(|(reason, _)| reason);
        assert_eq!(
            no_such_room(RoomRequest::Id(2)),
            Some(CloseReason::NoSuchRoom)
        );
        assert_eq!(
            no_such_room(RoomRequest::Id(0)),
            Some(CloseReason::NoSuchRoom)
        );
        assert_eq!(
            refusal(RoomRequest::Code(" 0123456789 ".into())),
            Some((CloseReason::NoSuchRoom, String::new()))
        );
        assert_eq!(
            no_such_room(quick("", "eu-west")),
            Some(CloseReason::NoSuchRoom)
        );
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
        let (reason, _) = refusal(quick("Arena", "")).unwrap();
        assert_eq!(reason, CloseReason::Malformed);
        let (reason, _) = refusal(quick("", "eu west")).unwrap();
        assert_eq!(reason, CloseReason::Malformed);
    }

    #[test]
    fn other_modes_are_unknown_and_private_rooms_cannot_be_created() {
        assert_eq!(
            refusal(quick("duel", "")),
            Some((
                CloseReason::UnknownMode,
                "\"duel\" is not played here".into()
            ))
        );
        assert_eq!(
            refusal(RoomRequest::CreatePrivate {
                mode: "duel".into()
            })
            .map(|(reason, _)| reason),
            Some(CloseReason::UnknownMode)
        );
        for mode in ["", "arena"] {
            assert_eq!(
                refusal(RoomRequest::CreatePrivate { mode: mode.into() }),
                Some((
                    CloseReason::TooManyRooms,
                    "private rooms are not available on this server yet".into()
                ))
            );
        }
    }
}
