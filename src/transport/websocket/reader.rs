//! The reading side of a WebSocket connection: what is done with each client frame
//! ([`FrameRules`]: pings answered and the client's close frame echoed through the writer,
//! fragments reassembled under the size limit, frames that are not whole messages charged to
//! the session's budget), and, for a connection read on its own task, the [`MessageSource`] of
//! whole messages its session reads. Frames come checked and unmasked from [`IncomingFrames`].
//! Must never: trust a byte it has not checked, or allocate past the limit.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use super::control::ControlFrames;
use super::frames::{MessageAssembler, check_close_payload};
use super::incoming::{ClientFrame, IncomingFrames, OpCode};
use crate::metrics::NetStats;
use crate::protocol::{ClientMessage, CloseReason};
use crate::session::MessageSource;
use crate::session::budget::MessageBudget;
use crate::session::ended::{Ended, ended_by_decode};

use super::socket::ReadSide;

/// What a connection does with each checked client frame, wherever it was read: control
/// frames answered, fragments reassembled, frames that are not whole messages charged.
pub struct FrameRules {
    assembler: MessageAssembler,
    /// Frames this side asks the writer to send (pongs, the close echo).
    control: Arc<ControlFrames>,
    net: Arc<NetStats>,
}

impl FrameRules {
    pub fn new(
        max_message_bytes: usize,
        control: Arc<ControlFrames>,
        net: Arc<NetStats>,
    ) -> FrameRules {
        FrameRules {
            assembler: MessageAssembler::new(max_message_bytes),
            control,
            net,
        }
    }

    /// Acts on one frame: a whole message it completes, nothing yet, or why the connection
    /// ends. Pings, pongs and message fragments are charged to `budget` here (whole messages
    /// by whoever takes them), so a flood of them ends like any other flood.
    pub fn on_frame(
        &mut self,
        frame: ClientFrame<'_>,
        budget: &mut MessageBudget,
        now: Instant,
    ) -> Result<Option<ClientMessage>, Ended> {
        self.net
            .bytes_in
            .fetch_add(frame.payload.len() as u64, Ordering::Relaxed);
        match frame.opcode {
            OpCode::Close => return Err(answer_close(&self.control, frame.payload)),
            OpCode::Ping => {
                if budget.charge(now)? {
                    self.control.pong(frame.payload.to_vec());
                }
                return Ok(None);
            }
            OpCode::Pong => {
                budget.charge(now)?;
                return Ok(None);
            }
            OpCode::Text => return Err(Ended::new(CloseReason::TextFrame, "")),
            OpCode::Binary | OpCode::Continuation if !frame.fin => {
                // A fragment cannot be dropped without breaking its message: it is counted,
                // and the message's size limit bounds what it can add.
                budget.charge(now)?;
            }
            OpCode::Binary | OpCode::Continuation => {}
        }
        match self
            .assembler
            .push(frame.opcode, frame.fin, frame.payload)?
        {
            Some(result) => result.map(Some).map_err(|error| ended_by_decode(&error)),
            None => Ok(None),
        }
    }
}

/// How long the writer may take to send its close frame once the session has ended, and how
/// long the client then has to close its side (what it sends meanwhile is read and thrown
/// away: closing a socket with unread data resets it, and the reset can overtake our close
/// frame).
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Most bytes read and thrown away after our close frame before the socket is let go anyway.
pub const DRAIN_LIMIT: usize = 1 << 20;

/// A connection's messages as the connection ends them.
pub trait ConnectionReader: MessageSource + Send {
    /// The session is over: unless `drain` is false (the client closed already), what the
    /// client still sends is thrown away until it closes its side, [`CLOSE_GRACE`] passes or
    /// [`DRAIN_LIMIT`] bytes went; then the read side is let go.
    fn finish(&mut self, drain: bool) -> impl Future<Output = ()> + Send;
}

/// A WebSocket's client messages, read frame by frame on the connection's task (a TLS
/// connection's; a plain-TCP one's are read on a tick thread, [`super::watched`]).
pub struct WebSocketMessages {
    read: ReadSide,
    frames: IncomingFrames,
    rules: FrameRules,
}

impl WebSocketMessages {
    pub fn new(read: ReadSide, max_message_bytes: usize, rules: FrameRules) -> WebSocketMessages {
        WebSocketMessages {
            read,
            frames: IncomingFrames::new(max_message_bytes),
            rules,
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

impl MessageSource for WebSocketMessages {
    async fn next_message(&mut self, budget: &mut MessageBudget) -> Result<ClientMessage, Ended> {
        let WebSocketMessages {
            read,
            frames,
            rules,
        } = self;
        loop {
            let frame = frames.next_frame(read).await?;
            if let Some(message) = rules.on_frame(frame, budget, Instant::now())? {
                return Ok(message);
            }
        }
    }
}

impl ConnectionReader for WebSocketMessages {
    async fn finish(&mut self, drain: bool) {
        if !drain {
            return;
        }
        // On the heap, only while draining: an array here would sit in every connection's task.
        let mut scratch = vec![0u8; 4096];
        let mut drained = 0;
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while drained < DRAIN_LIMIT {
                match self.read.read(&mut scratch).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
        })
        .await;
    }
}
