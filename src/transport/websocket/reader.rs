//! The reading side of a WebSocket connection as its session sees it: a [`MessageSource`] of
//! whole client messages. Frames come checked and unmasked from [`IncomingFrames`]; here pings
//! are answered and the client's close frame echoed through the writer, fragments are
//! reassembled under the size limit, and frames that are not whole messages are charged to the
//! session's budget. Must never: trust a byte it has not checked, or allocate past the limit.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::control::ControlFrames;
use super::frames::{MessageAssembler, check_close_payload};
use super::incoming::{IncomingFrames, OpCode};
use crate::metrics::NetStats;
use crate::protocol::{ClientMessage, CloseReason};
use crate::session::MessageSource;
use crate::session::budget::MessageBudget;
use crate::session::ended::{Ended, ended_by_decode};

use super::socket::ReadSide;

/// A WebSocket's client messages, read frame by frame.
pub struct WebSocketMessages<'a> {
    read: &'a mut ReadSide,
    frames: IncomingFrames,
    assembler: MessageAssembler,
    /// Frames this side asks the writer to send (pongs, the close echo).
    control: Arc<ControlFrames>,
    net: Arc<NetStats>,
}

impl<'a> WebSocketMessages<'a> {
    pub fn new(
        read: &'a mut ReadSide,
        max_message_bytes: usize,
        control: Arc<ControlFrames>,
        net: Arc<NetStats>,
    ) -> WebSocketMessages<'a> {
        WebSocketMessages {
            read,
            frames: IncomingFrames::new(max_message_bytes),
            assembler: MessageAssembler::new(max_message_bytes),
            control,
            net,
        }
    }
}

/// The client's close frame: echoed if valid (the closing handshake), else the reason to close
/// with instead.
fn answer_close(control: &ControlFrames, payload: &[u8]) -> Ended {
    if let Err(ended) = check_close_payload(payload) {
        return ended;
    }
    control.echo_close(payload.to_vec());
    Ended::new(CloseReason::ClientClosed, "")
}

impl MessageSource for WebSocketMessages<'_> {
    /// Control frames are checked and answered here (pongs through the writer), data frames
    /// reassembled. Pings, pongs and message fragments are charged to `budget` here (whole
    /// messages by the session), so a flood of them ends like any other flood.
    async fn next_message(&mut self, budget: &mut MessageBudget) -> Result<ClientMessage, Ended> {
        let WebSocketMessages {
            read,
            frames,
            assembler,
            control,
            net,
        } = self;
        loop {
            let frame = frames.next_frame(&mut **read).await?;
            net.bytes_in
                .fetch_add(frame.payload.len() as u64, Ordering::Relaxed);
            match frame.opcode {
                OpCode::Close => return Err(answer_close(control, frame.payload)),
                OpCode::Ping => {
                    if budget.charge(Instant::now())? {
                        control.pong(frame.payload.to_vec());
                    }
                    continue;
                }
                OpCode::Pong => {
                    budget.charge(Instant::now())?;
                    continue;
                }
                OpCode::Text => return Err(Ended::new(CloseReason::TextFrame, "")),
                OpCode::Binary | OpCode::Continuation if !frame.fin => {
                    // A fragment cannot be dropped without breaking its message: it is counted,
                    // and the message's size limit bounds what it can add.
                    budget.charge(Instant::now())?;
                }
                OpCode::Binary | OpCode::Continuation => {}
            }
            if let Some(result) = assembler.push(frame.opcode, frame.fin, frame.payload)? {
                return result.map_err(|error| ended_by_decode(&error));
            }
        }
    }
}
