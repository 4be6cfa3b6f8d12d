//! RFC 6455 checks on every client frame (masked, control frames at most 125 bytes, close
//! payloads well formed), the reassembly of fragmented messages under a size bound, and the
//! mapping of fastwebsockets' errors to close reasons. Must never: allocate past the message
//! limit, or trust a byte it has not checked.

use fastwebsockets::{Frame, OpCode, WebSocketError};

use crate::protocol::{ClientMessage, CloseReason, DecodeError, decode_client_message};
use crate::session::ended::Ended;

/// Largest payload of a control frame (RFC 6455 section 5.5). fastwebsockets checks it for
/// pings only.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// What every client frame must be before anything reads it: masked (it is unmasked here, in
/// place), and, for a control frame, at most 125 bytes long.
pub fn unmask_checked(frame: &mut Frame<'_>) -> Result<(), Ended> {
    if !is_masked(frame) {
        return Err(Ended::new(
            CloseReason::ProtocolError,
            "client frames must be masked",
        ));
    }
    frame.unmask();
    let is_control = matches!(frame.opcode, OpCode::Close | OpCode::Ping | OpCode::Pong);
    if is_control && frame.payload.len() > MAX_CONTROL_PAYLOAD {
        return Err(Ended::new(
            CloseReason::ProtocolError,
            "control frame over 125 bytes",
        ));
    }
    Ok(())
}

/// Whether the client masked `frame`. `Frame` keeps its mask private; its header, as
/// `fmt_head` writes it, carries the mask bit.
pub fn is_masked(frame: &mut Frame<'_>) -> bool {
    let mut head = [0u8; 16];
    frame.fmt_head(&mut head);
    head[1] & 0x80 != 0
}

/// A close frame's payload must be empty, or a permitted code followed by UTF-8 text
/// (RFC 6455 sections 5.5.1 and 7.4).
pub fn check_close_payload(payload: &[u8]) -> Result<(), Ended> {
    let (code, text) = match payload {
        [] => return Ok(()),
        [_] => {
            return Err(Ended::new(
                CloseReason::ProtocolError,
                "close frame of one byte",
            ));
        }
        [high, low, text @ ..] => (u16::from_be_bytes([*high, *low]), text),
    };
    if !fastwebsockets::CloseCode::from(code).is_allowed() {
        return Err(Ended::new(
            CloseReason::ProtocolError,
            format!("close code {code} is not allowed"),
        ));
    }
    if std::str::from_utf8(text).is_err() {
        return Err(Ended::new(
            CloseReason::Malformed,
            "close reason is not UTF-8",
        ));
    }
    Ok(())
}

/// Reassembles fragmented binary messages up to a size bound; single-frame messages (the norm)
/// are decoded straight from the frame without copying.
pub struct MessageAssembler {
    limit: usize,
    fragments: Vec<u8>,
    in_progress: bool,
}

impl MessageAssembler {
    pub fn new(limit: usize) -> MessageAssembler {
        MessageAssembler {
            limit,
            fragments: Vec::new(),
            in_progress: false,
        }
    }

    /// Returns the decoded message once complete, `None` while more fragments are due.
    pub fn push(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
    ) -> Result<Option<Result<ClientMessage, DecodeError>>, Ended> {
        match (opcode, self.in_progress) {
            (OpCode::Binary, false) if fin => return Ok(Some(decode_client_message(payload))),
            (OpCode::Binary, false) => self.in_progress = true,
            (OpCode::Continuation, true) => {}
            _ => {
                return Err(Ended::new(
                    CloseReason::ProtocolError,
                    "unexpected fragment",
                ));
            }
        }
        if self.fragments.len() + payload.len() > self.limit {
            return Err(Ended::new(CloseReason::TooLarge, ""));
        }
        self.fragments.extend_from_slice(payload);
        if !fin {
            return Ok(None);
        }
        self.in_progress = false;
        let decoded = decode_client_message(&self.fragments);
        self.fragments.clear();
        Ok(Some(decoded))
    }
}

pub fn ended_by_transport(error: WebSocketError) -> Ended {
    match error {
        WebSocketError::FrameTooLarge => Ended::new(CloseReason::TooLarge, ""),
        WebSocketError::UnexpectedEOF
        | WebSocketError::ConnectionClosed
        | WebSocketError::IoError(_)
        | WebSocketError::SendError(_) => Ended::new(CloseReason::ClientClosed, "transport closed"),
        // With automatic close off, only a text frame is checked for UTF-8, and text frames
        // are refused whatever they hold.
        WebSocketError::InvalidUTF8 => Ended::new(CloseReason::TextFrame, ""),
        other => Ended::new(CloseReason::ProtocolError, other.to_string()),
    }
}
