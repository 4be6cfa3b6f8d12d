//! Why a joiner was not placed, as its session ends: the lobby's refusals and the cluster
//! directory's, each as a close reason and a detail. Pure. Must never: say more in a detail than
//! the joiner itself asked for (no other room's id, no private room's existence).

use super::ended::Ended;
use crate::cluster::ClusterError;
use crate::cluster::error::Refusal;
use crate::lobby::MatchError;
use crate::protocol::CloseReason;

/// The lobby's refusal; `max_players` is `--max-players`, for the "server full" detail.
pub fn lobby_refusal(error: MatchError, max_players: usize) -> Ended {
    match error {
        MatchError::NoSuchRoom => Ended::new(CloseReason::NoSuchRoom, ""),
        MatchError::RoomFull => Ended::new(CloseReason::RoomFull, ""),
        MatchError::SeatExpired => Ended::new(CloseReason::RoomFull, "the reserved seat expired"),
        MatchError::UnknownMode(mode) => Ended::new(
            CloseReason::UnknownMode,
            format!("{mode:?} is not played here"),
        ),
        MatchError::ServerFull => Ended::new(
            CloseReason::ServerFull,
            format!("{max_players} players at most"),
        ),
        MatchError::TooManyRooms => Ended::new(CloseReason::TooManyRooms, ""),
        MatchError::TooManyPrivateRooms => Ended::new(
            CloseReason::TooManyRooms,
            "your address has as many private rooms open as it may",
        ),
    }
}

/// The cluster directory's refusal, or its being unreachable.
pub fn cluster_refusal(error: ClusterError) -> Ended {
    match error {
        ClusterError::Unavailable { .. } | ClusterError::BadReply(_) => {
            tracing::debug!(%error, "join refused: cluster directory unavailable");
            Ended::new(
                CloseReason::ClusterUnavailable,
                "new games cannot be joined just now, try again in a moment",
            )
        }
        ClusterError::Refused(refusal) => match refusal {
            Refusal::NoSuchRoom | Refusal::WrongNode => {
                Ended::new(CloseReason::NoSuchRoom, detail(refusal))
            }
            Refusal::RoomFull | Refusal::SeatExpired => {
                Ended::new(CloseReason::RoomFull, detail(refusal))
            }
            Refusal::NoNode | Refusal::CodeTaken => {
                Ended::new(CloseReason::ServerFull, refusal.to_string())
            }
            Refusal::TooManyPrivateRooms => {
                Ended::new(CloseReason::TooManyRooms, refusal.to_string())
            }
        },
    }
}

/// A cluster refusal's detail: none where the close reason says it all.
fn detail(refusal: Refusal) -> String {
    match refusal {
        Refusal::NoSuchRoom | Refusal::RoomFull => String::new(),
        other => other.to_string(),
    }
}
