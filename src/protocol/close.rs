//! Why a connection ends: one `Copy` enum that feeds the log, the close frame (code and reason),
//! the metrics label and, where the client deserves an explanation first, an [`ErrorMessage`].
//! Part of the contract: the codes are PROTOCOL.md's. Must never: know which transport closes.

use super::messages::{ErrorCode, ErrorMessage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the connection (close frame or end of stream).
    ClientClosed,
    /// A text frame: this protocol is binary only.
    TextFrame,
    /// Bytes that do not decode as a client message.
    Malformed,
    /// A message larger than the limit.
    TooLarge,
    /// A valid message at the wrong time (input before joining, a second join).
    Unexpected,
    VersionMismatch,
    InvalidName,
    ServerFull,
    /// No join within the join timeout.
    JoinTimeout,
    /// The client read so slowly that its queue of reliable messages overflowed.
    SlowConsumer,
    /// A WebSocket protocol violation detected by the transport.
    ProtocolError,
    /// The server is stopping.
    ServerShutdown,
    /// The client said goodbye with a `Leave` message.
    Leave,
    /// No answer to the heartbeat within the ping timeout.
    PingTimeout,
    /// Removed by the operator or the game (see `session::Sessions::kick`).
    Kicked,
    /// Kept sending faster than the message rate limit.
    RateLimited,
    /// The player's room stopped after a fault in the server (a bug); other rooms play on.
    RoomFailed,
    /// The join named a room id or code that does not exist, or a private room by its id: one
    /// answer for all three, so that a refusal never tells a private room's id apart.
    NoSuchRoom,
    /// The room asked for has no free seat.
    RoomFull,
    /// The join asked for a mode this server does not play.
    UnknownMode,
    /// A room would have to be opened and cannot: the server's limit of rooms, or the joiner's
    /// address's limit of private rooms, is reached.
    TooManyRooms,
    /// The join is served by another cluster node: a `Redirect` said where.
    Redirected,
    /// The cluster's room directory (Redis) cannot be reached, so no seat can be reserved.
    ClusterUnavailable,
}

impl CloseReason {
    /// Every reason, in a fixed order (the index of each is [`CloseReason::index`]).
    pub const ALL: [CloseReason; 23] = [
        CloseReason::ClientClosed,
        CloseReason::TextFrame,
        CloseReason::Malformed,
        CloseReason::TooLarge,
        CloseReason::Unexpected,
        CloseReason::VersionMismatch,
        CloseReason::InvalidName,
        CloseReason::ServerFull,
        CloseReason::JoinTimeout,
        CloseReason::SlowConsumer,
        CloseReason::ProtocolError,
        CloseReason::ServerShutdown,
        CloseReason::Leave,
        CloseReason::PingTimeout,
        CloseReason::Kicked,
        CloseReason::RateLimited,
        CloseReason::RoomFailed,
        CloseReason::NoSuchRoom,
        CloseReason::RoomFull,
        CloseReason::UnknownMode,
        CloseReason::TooManyRooms,
        CloseReason::Redirected,
        CloseReason::ClusterUnavailable,
    ];

    /// Position in [`CloseReason::ALL`], for per-reason counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// A stable snake_case name, for metrics labels.
    pub fn label(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "client_closed",
            CloseReason::TextFrame => "text_frame",
            CloseReason::Malformed => "malformed",
            CloseReason::TooLarge => "too_large",
            CloseReason::Unexpected => "unexpected",
            CloseReason::VersionMismatch => "version_mismatch",
            CloseReason::InvalidName => "invalid_name",
            CloseReason::ServerFull => "server_full",
            CloseReason::JoinTimeout => "join_timeout",
            CloseReason::SlowConsumer => "slow_consumer",
            CloseReason::ProtocolError => "protocol_error",
            CloseReason::ServerShutdown => "server_shutdown",
            CloseReason::Leave => "leave",
            CloseReason::PingTimeout => "ping_timeout",
            CloseReason::Kicked => "kicked",
            CloseReason::RateLimited => "rate_limited",
            CloseReason::RoomFailed => "room_failed",
            CloseReason::NoSuchRoom => "no_such_room",
            CloseReason::RoomFull => "room_full",
            CloseReason::UnknownMode => "unknown_mode",
            CloseReason::TooManyRooms => "too_many_rooms",
            CloseReason::Redirected => "redirected",
            CloseReason::ClusterUnavailable => "cluster_unavailable",
        }
    }

    /// The name Socket.IO gives the same disconnect reason, for those who know it.
    pub fn socket_io_reason(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "transport close",
            CloseReason::Leave => "client namespace disconnect",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ServerShutdown => "server shutting down",
            CloseReason::Kicked | CloseReason::RoomFailed => "server namespace disconnect",
            CloseReason::SlowConsumer | CloseReason::ProtocolError | CloseReason::RateLimited => {
                "transport error"
            }
            CloseReason::TextFrame
            | CloseReason::Malformed
            | CloseReason::TooLarge
            | CloseReason::Unexpected => "parse error",
            CloseReason::VersionMismatch
            | CloseReason::InvalidName
            | CloseReason::ServerFull
            | CloseReason::JoinTimeout
            | CloseReason::NoSuchRoom
            | CloseReason::RoomFull
            | CloseReason::UnknownMode
            | CloseReason::TooManyRooms
            | CloseReason::ClusterUnavailable => "connect error",
            CloseReason::Redirected => "server namespace disconnect",
        }
    }

    /// Whether the player stays in the world, away, for the resume grace: only when the
    /// connection was lost, not when the player left, broke the rules or was removed.
    pub fn allows_resume(self) -> bool {
        matches!(
            self,
            CloseReason::ClientClosed | CloseReason::PingTimeout | CloseReason::SlowConsumer
        )
    }

    /// Whether a connection that never joined can end for this reason (counted in
    /// `skirmish_connections_rejected_total`). Derived from the paths that end a session before
    /// its `Join` is accepted: the transport's (the client closes, breaks the framing, sends too
    /// much or too fast, stops reading; a polling client sends `DELETE` (`leave`) or no GET
    /// for the ping timeout), the first message (late, not a `Join`, undecodable), admission
    /// and placement (the refusals of the join), and the server stopping. Only a registered
    /// player can be kicked or lose its room, and a session is marked joined in the same step
    /// that registers it.
    pub fn can_end_before_joining(self) -> bool {
        match self {
            CloseReason::Kicked | CloseReason::RoomFailed => false,
            CloseReason::ClientClosed
            | CloseReason::TextFrame
            | CloseReason::Malformed
            | CloseReason::TooLarge
            | CloseReason::Unexpected
            | CloseReason::VersionMismatch
            | CloseReason::InvalidName
            | CloseReason::ServerFull
            | CloseReason::JoinTimeout
            | CloseReason::SlowConsumer
            | CloseReason::ProtocolError
            | CloseReason::ServerShutdown
            | CloseReason::Leave
            | CloseReason::PingTimeout
            | CloseReason::RateLimited
            | CloseReason::NoSuchRoom
            | CloseReason::RoomFull
            | CloseReason::UnknownMode
            | CloseReason::TooManyRooms
            | CloseReason::Redirected
            | CloseReason::ClusterUnavailable => true,
        }
    }

    /// Whether a joined player's connection can end for this reason (counted in
    /// `skirmish_connections_closed_total`). The refusals of a join cannot: they end the join
    /// itself. A message decoding as a `Join` of another version ends a joined session with
    /// `version_mismatch` too (the decoder says so whatever the session's stage).
    pub fn can_end_after_joining(self) -> bool {
        match self {
            CloseReason::InvalidName
            | CloseReason::ServerFull
            | CloseReason::JoinTimeout
            | CloseReason::NoSuchRoom
            | CloseReason::RoomFull
            | CloseReason::UnknownMode
            | CloseReason::TooManyRooms
            | CloseReason::Redirected
            | CloseReason::ClusterUnavailable => false,
            CloseReason::ClientClosed
            | CloseReason::TextFrame
            | CloseReason::Malformed
            | CloseReason::TooLarge
            | CloseReason::Unexpected
            | CloseReason::VersionMismatch
            | CloseReason::SlowConsumer
            | CloseReason::ProtocolError
            | CloseReason::ServerShutdown
            | CloseReason::Leave
            | CloseReason::PingTimeout
            | CloseReason::Kicked
            | CloseReason::RateLimited
            | CloseReason::RoomFailed => true,
        }
    }

    /// The WebSocket close code (RFC 6455 section 7.4; 4000-4999 are ours, see PROTOCOL.md).
    pub fn code(self) -> u16 {
        match self {
            CloseReason::ClientClosed | CloseReason::Leave => 1000,
            CloseReason::ServerShutdown => 1001,
            CloseReason::ProtocolError => 1002,
            CloseReason::TextFrame => 1003,
            CloseReason::Malformed => 1007,
            CloseReason::Unexpected | CloseReason::RateLimited => 1008,
            CloseReason::TooLarge => 1009,
            CloseReason::ServerFull => 1013,
            CloseReason::VersionMismatch => 4000,
            CloseReason::InvalidName => 4001,
            CloseReason::JoinTimeout => 4002,
            CloseReason::SlowConsumer => 4003,
            CloseReason::PingTimeout => 4004,
            CloseReason::Kicked => 4005,
            CloseReason::RoomFailed => 1011,
            CloseReason::NoSuchRoom => 4006,
            CloseReason::RoomFull => 4007,
            CloseReason::UnknownMode => 4008,
            CloseReason::TooManyRooms => 4009,
            CloseReason::Redirected => 4010,
            CloseReason::ClusterUnavailable => 4011,
        }
    }

    /// Short text for the close frame (at most 123 bytes, as RFC 6455 requires).
    pub fn text(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "closed by the client",
            CloseReason::TextFrame => "binary messages only",
            CloseReason::Malformed => "malformed message",
            CloseReason::TooLarge => "message too big",
            CloseReason::Unexpected => "unexpected message",
            CloseReason::VersionMismatch => "protocol version mismatch",
            CloseReason::InvalidName => "invalid name",
            CloseReason::ServerFull => "server full",
            CloseReason::JoinTimeout => "join timeout",
            CloseReason::SlowConsumer => "too slow to keep up",
            CloseReason::ProtocolError => "websocket protocol error",
            CloseReason::ServerShutdown => "server shutting down",
            CloseReason::Leave => "bye",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::Kicked => "kicked",
            CloseReason::RateLimited => "rate limited",
            CloseReason::RoomFailed => "room failed",
            CloseReason::NoSuchRoom => "no such room",
            CloseReason::RoomFull => "room full",
            CloseReason::UnknownMode => "unknown mode",
            CloseReason::TooManyRooms => "too many rooms",
            CloseReason::Redirected => "play on another node",
            CloseReason::ClusterUnavailable => "cluster directory unavailable",
        }
    }

    /// The protocol-level error code, for reasons the client is told about in a message.
    pub fn error_code(self) -> Option<ErrorCode> {
        match self {
            CloseReason::VersionMismatch => Some(ErrorCode::VersionMismatch),
            CloseReason::InvalidName => Some(ErrorCode::InvalidName),
            CloseReason::ServerFull => Some(ErrorCode::ServerFull),
            CloseReason::Malformed | CloseReason::TooLarge => Some(ErrorCode::MalformedMessage),
            CloseReason::Unexpected => Some(ErrorCode::UnexpectedMessage),
            CloseReason::PingTimeout => Some(ErrorCode::PingTimeout),
            CloseReason::Kicked => Some(ErrorCode::Kicked),
            CloseReason::RateLimited => Some(ErrorCode::RateLimited),
            CloseReason::NoSuchRoom => Some(ErrorCode::NoSuchRoom),
            CloseReason::RoomFull => Some(ErrorCode::RoomFull),
            CloseReason::UnknownMode => Some(ErrorCode::UnknownMode),
            CloseReason::TooManyRooms => Some(ErrorCode::TooManyRooms),
            CloseReason::ClusterUnavailable => Some(ErrorCode::ClusterUnavailable),
            _ => None,
        }
    }

    /// The message to send before closing, with a detail for the human reading it.
    pub fn error_message(self, detail: &str) -> Option<ErrorMessage> {
        self.error_code().map(|code| ErrorMessage {
            code,
            message: if detail.is_empty() {
                self.text().to_owned()
            } else {
                format!("{}: {detail}", self.text())
            },
        })
    }
}

/// The label, the same word as in the metrics (the close frame carries [`CloseReason::text`]).
impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_in_a_close_frame() {
        for (i, reason) in CloseReason::ALL.into_iter().enumerate() {
            assert_eq!(reason.index(), i);
            assert!(reason.text().len() <= 123);
            assert!((1000..5000).contains(&reason.code()));
        }
    }

    #[test]
    fn our_close_codes_are_distinct() {
        let mut ours: Vec<u16> = CloseReason::ALL
            .iter()
            .map(|r| r.code())
            .filter(|c| *c >= 4000)
            .collect();
        let count = ours.len();
        ours.sort_unstable();
        ours.dedup();
        assert_eq!(ours.len(), count, "two reasons share a 4xxx code");
    }

    #[test]
    fn refused_joins_are_explained_and_not_resumable() {
        for reason in [
            CloseReason::NoSuchRoom,
            CloseReason::RoomFull,
            CloseReason::UnknownMode,
            CloseReason::TooManyRooms,
        ] {
            assert!(reason.error_code().is_some(), "{reason}");
            assert!(!reason.allows_resume(), "{reason}");
            assert_eq!(reason.socket_io_reason(), "connect error");
        }
        let message = CloseReason::NoSuchRoom.error_message("").unwrap();
        assert_eq!(
            (message.code, message.message.as_str()),
            (ErrorCode::NoSuchRoom, "no such room")
        );
    }

    #[test]
    fn every_reason_can_end_a_connection_before_or_after_joining() {
        for reason in CloseReason::ALL {
            assert!(
                reason.can_end_before_joining() || reason.can_end_after_joining(),
                "{reason} can end nothing"
            );
        }
    }

    #[test]
    fn refusals_end_joins_and_removals_end_players() {
        for refusal in [
            CloseReason::JoinTimeout,
            CloseReason::InvalidName,
            CloseReason::ServerFull,
            CloseReason::NoSuchRoom,
            CloseReason::RoomFull,
            CloseReason::UnknownMode,
            CloseReason::TooManyRooms,
            CloseReason::Redirected,
            CloseReason::ClusterUnavailable,
        ] {
            assert!(refusal.can_end_before_joining(), "{refusal}");
            assert!(!refusal.can_end_after_joining(), "{refusal}");
        }
        for removal in [CloseReason::Kicked, CloseReason::RoomFailed] {
            assert!(!removal.can_end_before_joining(), "{removal}");
            assert!(removal.can_end_after_joining(), "{removal}");
        }
        for either in [
            CloseReason::ClientClosed,
            CloseReason::Malformed,
            CloseReason::Unexpected,
            CloseReason::VersionMismatch,
            CloseReason::ServerShutdown,
            CloseReason::Leave,
            CloseReason::PingTimeout,
            CloseReason::SlowConsumer,
        ] {
            assert!(either.can_end_before_joining(), "{either}");
            assert!(either.can_end_after_joining(), "{either}");
        }
    }

    #[test]
    fn display_is_the_metrics_label_not_the_close_frame_text() {
        assert_eq!(CloseReason::PingTimeout.to_string(), "ping_timeout");
        assert_eq!(CloseReason::Leave.to_string(), "leave");
        assert_eq!(CloseReason::Leave.text(), "bye");
    }
}
