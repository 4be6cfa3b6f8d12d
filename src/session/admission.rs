//! A session's first message: whether its `Join` may enter (protocol version, name, a free player
//! slot) and which player it becomes: the one its resume token names if that player is away,
//! else a new one. Must never: let a join in past `max_players`, or give a connected player to a
//! second connection.

use std::sync::Arc;

use super::ended::Ended;
use super::handle::SessionHandle;
use super::registry::{Sessions, SlotGuard};
use crate::protocol::{CloseReason, Join, PROTOCOL_VERSION, PlayerId, validate_name};
use crate::room::RoomEvent;

/// Checks a join's version and name and takes a player slot. Returns the name as it will be
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
    let slot = sessions.reserve_slot().ok_or_else(|| {
        Ended::new(
            CloseReason::ServerFull,
            format!("{max_players} players at most"),
        )
    })?;
    Ok((name.to_owned(), slot))
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
