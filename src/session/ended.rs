//! Why and how a session ended: a [`CloseReason`] with a human-readable detail, and the mapping
//! from decode errors to it. Knows no transport.

use crate::protocol::{CloseReason, DecodeError, PROTOCOL_VERSION, Redirect};

/// Why and how a session ended.
#[derive(Debug, Clone)]
pub struct Ended {
    pub reason: CloseReason,
    /// A human-readable specific (e.g. which field was malformed); may be empty.
    pub detail: String,
    /// Where the client is to go instead (a cluster node's seat), told before the close.
    pub redirect: Option<Redirect>,
}

impl Ended {
    pub fn new(reason: CloseReason, detail: impl Into<String>) -> Ended {
        Ended {
            reason,
            detail: detail.into(),
            redirect: None,
        }
    }

    /// The join is served by another node: the client is told where, then closed with 4010.
    pub fn redirect(redirect: Redirect) -> Ended {
        Ended {
            reason: CloseReason::Redirected,
            detail: redirect.url.clone(),
            redirect: Some(redirect),
        }
    }
}

impl Ended {
    /// What the client is told before the close, if anything: where to go (a redirect), or
    /// the error for reasons that are ours to explain.
    pub fn farewell(&self) -> Option<crate::protocol::ServerMessage> {
        use crate::protocol::ServerMessage;
        match &self.redirect {
            Some(redirect) => Some(ServerMessage::Redirect(redirect.clone())),
            None => self
                .reason
                .error_message(&self.detail)
                .map(ServerMessage::Error),
        }
    }
}

/// The reason to close for a message that did not decode.
pub fn ended_by_decode(error: &DecodeError) -> Ended {
    match error {
        DecodeError::VersionMismatch(version) => Ended::new(
            CloseReason::VersionMismatch,
            format!("server speaks version {PROTOCOL_VERSION}, client sent {version}"),
        ),
        DecodeError::TooLarge { .. } => Ended::new(CloseReason::TooLarge, error.to_string()),
        _ => Ended::new(CloseReason::Malformed, error.to_string()),
    }
}
