//! RFC 6455's rules past a frame's header: close payloads well formed, and the reassembly of
//! fragmented messages under a size bound (the header's own checks are [`super::incoming`]'s).
//! Must never: allocate past the message limit, or trust a byte it has not checked.

use super::incoming::OpCode;

use crate::protocol::{ClientMessage, CloseReason, DecodeError, decode_client_message};
use crate::session::ended::Ended;

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
