//! Received bytes to whole messages: the upgrade answer, then WebSocket frames parsed where they
//! lie in the read buffer, pings answered, fragments reassembled up to [`MAX_MESSAGE`]. Must
//! never panic on the server's bytes: a malformed frame loses the connection with a reason.

use std::time::Instant;

use super::{Engine, LaneId, Phase};
use crate::bots::wire::{self, FrameAt, WireError, opcode};

/// Largest message a bot reassembles from fragments.
const MAX_MESSAGE: usize = wire::MAX_FRAME;

impl Engine {
    /// Handles every whole unit (the upgrade answer, then frames; or HTTP responses on a
    /// long-polling lane) at the start of `bytes`, and returns how many bytes they took.
    pub(super) fn handle_received(
        &mut self,
        index: usize,
        lane: LaneId,
        bytes: &[u8],
        now: Instant,
    ) -> usize {
        if self.connections[index].polling.is_some() {
            return self.handle_responses(index, lane, bytes, now);
        }
        let mut taken = 0;
        while taken < bytes.len() {
            let pending = &bytes[taken..];
            if let Phase::Upgrading { key } = &self.connections[index].phase {
                match wire::read_handshake_answer(pending, key) {
                    Ok(None) => break,
                    Ok(Some(answer)) => {
                        taken += answer;
                        self.on_transport_ready(index, now);
                        continue;
                    }
                    Err(error) => {
                        self.fail(index, error.to_string());
                        break;
                    }
                }
            }
            let frame = match wire::read_frame(pending) {
                Ok(None) => break,
                Ok(Some(frame)) => frame,
                Err(error) => {
                    self.lose(index, wire_failure(&error), now);
                    break;
                }
            };
            taken += frame.end();
            self.on_frame(index, pending, frame, now);
            if self.connections[index].ended {
                break;
            }
        }
        taken
    }

    /// One frame, found at the start of `bytes`.
    fn on_frame(&mut self, index: usize, bytes: &[u8], frame: FrameAt, now: Instant) {
        let payload = &bytes[frame.payload.clone()];
        self.count_framing(index, frame.payload.start);
        match frame.opcode {
            opcode::PING => return self.send_raw(index, opcode::PONG, payload, now),
            opcode::PONG => return,
            _ => {}
        }
        let connection = &mut self.connections[index];
        let whole = match (&mut connection.fragments, frame.opcode, frame.fin) {
            (None, opcode::CONTINUATION, _) => {
                return self.lose(index, "protocol error: stray continuation".into(), now);
            }
            (None, _, true) => None,
            (None, first, false) => {
                connection.fragments = Some((first, payload.to_vec()));
                return;
            }
            (Some((_, so_far)), opcode::CONTINUATION, fin) => {
                if so_far.len() + payload.len() > MAX_MESSAGE {
                    return self.lose(index, "protocol error: message too large".into(), now);
                }
                so_far.extend_from_slice(payload);
                if !fin {
                    return;
                }
                connection.fragments.take()
            }
            (Some(_), opcode::CLOSE, _) => None,
            (Some(_), _, _) => {
                return self.lose(index, "protocol error: interleaved message".into(), now);
            }
        };
        match whole {
            Some((first, message)) => self.on_message(index, first, &message, now),
            None => self.on_message(index, frame.opcode, payload, now),
        }
    }
}

fn wire_failure(error: &WireError) -> String {
    format!("transport: {error}")
}
