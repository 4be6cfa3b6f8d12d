//! A WebSocket connection's writer task: reliable messages from the player's bounded queue
//! first, the newest snapshot from its latest-wins slot once welcomed (on plain TCP most
//! snapshots go straight from the tick thread instead, [`super::sink`]; this finishes what the
//! socket did not take then), the heartbeat's pings, and the stall check; ends with a close
//! frame telling why. Must never: wait on a client longer than the write timeout, or hold more
//! than one snapshot.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fastwebsockets::{Frame, Payload, WebSocketWrite};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::WriteHalf;
use tokio::time::Instant;

use super::context::WebSocketContext;
use super::control::{Control, ControlFrames};
use super::progress::ReadProgress;
use super::sink::FrameSink;
use crate::protocol::{CloseReason, Heartbeat as Heartbeat_, ServerMessage, encode_server_message};
use crate::session::SessionHandle;
use crate::session::ended::Ended;
use crate::session::reliable_queue::ReliableReceiver;

pub type Writer = WebSocketWrite<WriteHalf<TokioIo<Upgraded>>>;

/// Where a connection's frames go.
pub enum Out {
    /// Plain TCP: our frames on the socket itself, shared with the room's tick thread.
    Direct(Arc<FrameSink>),
    /// Anything else (TLS): fastwebsockets over the upgraded stream.
    Buffered(Writer),
}

/// Stops direct snapshots when dropped.
struct SnapshotsStop(Option<Arc<FrameSink>>);

impl Drop for SnapshotsStop {
    fn drop(&mut self) {
        if let Some(sink) = &self.0 {
            sink.close_snapshots();
        }
    }
}

/// Resolves when a direct snapshot left a tail to finish (never without a sink).
async fn tail_left(sink: Option<&FrameSink>) {
    match sink {
        Some(sink) => sink.tail_left().await,
        None => std::future::pending().await,
    }
}

/// Stands in for "no deadline" in timers.
pub const FAR_FUTURE: Duration = Duration::from_secs(86_400);

/// What the writer listens to.
pub struct WriterInputs {
    /// The session's reliable queue.
    pub outbound: ReliableReceiver,
    /// The session's snapshot slot, kick, stage (no snapshot goes out before the welcome) and
    /// heartbeat.
    pub handle: SessionHandle,
    pub control: Arc<ControlFrames>,
    /// Whether the client still acknowledges what we send (none when the socket is unknown).
    pub progress: Option<ReadProgress>,
}

/// Sends until told to close. Reliable messages go first; snapshots only once the welcome has
/// been sent, and only the newest.
pub async fn write_loop(mut ws: Out, mut inputs: WriterInputs, ctx: Arc<WebSocketContext>) {
    let mut welcomed = false;
    let direct = match &ws {
        Out::Direct(sink) => Some(Arc::clone(sink)),
        Out::Buffered(_) => None,
    };
    // However this task ends (a close frame sent, an echoed close, a dead socket), no snapshot
    // goes direct after it.
    let _no_more_snapshots = SnapshotsStop(direct.clone());
    let interval = ctx.limits.ping_interval;
    let mut ping_timer = tokio::time::interval_at(Instant::now() + interval, interval);
    ping_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Small frames can take minutes to fill a stalled client's buffers: ask the kernel instead.
    let check_every = (ctx.limits.write_timeout / 4).max(Duration::from_millis(50));
    let mut progress_timer = tokio::time::interval(check_every);
    progress_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut nonce = 0u32;
    // When the outstanding ping must have been answered; none outstanding when `None`.
    let mut ping_deadline: Option<Instant> = None;
    loop {
        if ping_deadline.is_some() && inputs.handle.heartbeat.is_answered() {
            // Answered: the next ping goes at the next interval.
            ping_deadline = None;
        }
        let deadline = ping_deadline.unwrap_or_else(|| Instant::now() + FAR_FUTURE);
        let result = tokio::select! {
            biased;
            command = inputs.control.next() => match command {
                Control::Pong(payload) => {
                    send(&mut ws, &ctx, Frame::pong(Payload::Owned(payload))).await
                }
                Control::EchoClose(payload) => {
                    if let Some(sink) = &direct {
                        // Nothing may follow the close frame.
                        sink.close_snapshots();
                    }
                    let _ = send(&mut ws, &ctx, Frame::close_raw(Payload::Owned(payload))).await;
                    return;
                }
                Control::Close(ended) => return Box::pin(close(&mut ws, &ctx, &ended)).await,
            },
            (reason, detail) = inputs.handle.kick.kicked() => {
                return Box::pin(close(&mut ws, &ctx, &Ended::new(reason, &*detail))).await;
            }
            () = ctx.shutdown.stopping() => {
                // Joined or not, every client is told why.
                inputs.handle.kick.kick(CloseReason::ServerShutdown);
                let stopping = Ended::new(CloseReason::ServerShutdown, "");
                return Box::pin(close(&mut ws, &ctx, &stopping)).await;
            }
            _ = tokio::time::sleep_until(deadline), if ping_deadline.is_some() => {
                if !inputs.handle.heartbeat.is_answered() {
                    let timeout = Ended::new(CloseReason::PingTimeout, "no answer to the heartbeat");
                    return Box::pin(close(&mut ws, &ctx, &timeout)).await;
                }
                ping_deadline = None;
                Ok(())
            }
            _ = progress_timer.tick(), if inputs.progress.is_some() => {
                let limit = ctx.limits.write_timeout;
                let stalled = inputs
                    .progress
                    .as_mut()
                    .is_some_and(|progress| progress.stalled_for(limit, std::time::Instant::now()));
                if stalled {
                    // Nothing acknowledged for the write timeout: the client stopped reading.
                    inputs.handle.kick.kick(CloseReason::SlowConsumer);
                    return;
                }
                Ok(())
            }
            // Not gated on the outstanding ping's deadline: on plain TCP snapshots go out
            // without this task, so nothing else may wake it to see the ping was answered.
            _ = ping_timer.tick(), if welcomed => {
                if ping_deadline.is_some() && !inputs.handle.heartbeat.is_answered() {
                    // Still waiting for the answer: the deadline arm decides.
                    continue;
                }
                nonce = nonce.wrapping_add(1);
                inputs.handle.heartbeat.sent(nonce);
                ping_deadline = Some(Instant::now() + ctx.limits.ping_timeout);
                let rtt_us = inputs.handle.heartbeat.rtt_us.load(Ordering::Relaxed);
                let ping = ServerMessage::Ping(Heartbeat_ { nonce, rtt_us });
                match encode_server_message(&ping) {
                    Ok(bytes) => send(&mut ws, &ctx, Frame::binary(Payload::Owned(bytes))).await,
                    Err(_) => Ok(()),
                }
            }
            bytes = inputs.outbound.recv() => {
                if !welcomed && inputs.handle.stage.is_welcomed() {
                    // Snapshots go out only after the welcome, which this message is or follows.
                    welcomed = true;
                }
                let sent = send(&mut ws, &ctx, Frame::binary(Payload::Borrowed(&bytes))).await;
                if let (Out::Direct(sink), true) = (&ws, welcomed) {
                    // The welcome is on the wire: snapshots may go straight from the tick.
                    sink.open_snapshots();
                }
                sent
            }
            () = inputs.handle.snapshots.ready(), if welcomed => {
                write_newest_snapshot(&mut ws, &inputs.handle, &ctx).await
            }
            () = tail_left(direct.as_deref()) => match &direct {
                Some(sink) => timed(&ctx, sink.flush_tail()).await,
                None => Ok(()),
            },
        };
        match result {
            Ok(()) => {}
            Err(WriteFailed::TimedOut) => {
                // The client stopped reading: its socket buffer is full and stays full.
                inputs.handle.kick.kick(CloseReason::SlowConsumer);
                return;
            }
            Err(WriteFailed::Closed) => return,
        }
    }
}

/// Why a frame could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFailed {
    /// Not taken within the write timeout: the socket's send buffer stayed full.
    TimedOut,
    /// The socket is gone.
    Closed,
}

/// Writes one frame, giving up on a client that has not taken it within the write timeout.
/// A frame is at most one snapshot, normally much smaller than the socket's send buffer, so a
/// write blocks that long only when the client stopped draining its socket.
pub async fn send(
    ws: &mut Out,
    ctx: &WebSocketContext,
    frame: Frame<'_>,
) -> Result<(), WriteFailed> {
    match ws {
        Out::Direct(sink) => timed(ctx, sink.write_frame(frame.opcode, &frame.payload)).await,
        Out::Buffered(writer) => {
            let len = frame.payload.len();
            match tokio::time::timeout(ctx.limits.write_timeout, writer.write_frame(frame)).await {
                Ok(Ok(())) => {
                    let bytes = (header_len(len) + len) as u64;
                    ctx.net.bytes_out.fetch_add(bytes, Ordering::Relaxed);
                    Ok(())
                }
                Ok(Err(_)) => Err(WriteFailed::Closed),
                Err(_) => Err(WriteFailed::TimedOut),
            }
        }
    }
}

/// A direct write bounded by the write timeout.
async fn timed(
    ctx: &WebSocketContext,
    write: impl std::future::Future<Output = std::io::Result<()>>,
) -> Result<(), WriteFailed> {
    match tokio::time::timeout(ctx.limits.write_timeout, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(WriteFailed::Closed),
        Err(_) => Err(WriteFailed::TimedOut),
    }
}

/// The bytes of a server frame's header for a payload of `len` (no mask).
fn header_len(len: usize) -> usize {
    match len {
        0..126 => 2,
        126..=65_535 => 4,
        _ => 10,
    }
}

/// Writes the snapshot waiting in the player's slot, if any, and makes it the baseline.
async fn write_newest_snapshot(
    ws: &mut Out,
    handle: &SessionHandle,
    ctx: &WebSocketContext,
) -> Result<(), WriteFailed> {
    let slot = &handle.snapshots;
    match ws {
        Out::Direct(sink) => {
            let wrote =
                tokio::time::timeout(ctx.limits.write_timeout, sink.write_snapshot_from(slot));
            match wrote.await {
                Ok(Ok(true)) => {
                    ctx.delivery.snapshots_sent.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                Ok(Ok(false)) => Ok(()),
                Ok(Err(_)) => Err(WriteFailed::Closed),
                Err(_) => Err(WriteFailed::TimedOut),
            }
        }
        Out::Buffered(_) => {
            let Some(frame) = slot.take() else {
                return Ok(());
            };
            ctx.delivery.snapshots_sent.fetch_add(1, Ordering::Relaxed);
            send(ws, ctx, Frame::binary(Payload::Borrowed(&frame.bytes))).await?;
            slot.sent(frame.tick);
            Ok(())
        }
    }
}

/// Tells the client why (if it is ours to explain) and sends the close frame. The writer loop
/// boxes it: it runs once per connection, and inline its two writes would make every idle
/// connection's writer future about 600 bytes larger.
pub async fn close(ws: &mut Out, ctx: &WebSocketContext, ended: &Ended) {
    if let Out::Direct(sink) = ws {
        // Nothing may follow the close frame.
        sink.close_snapshots();
    }
    if ended.reason == CloseReason::ClientClosed {
        return;
    }
    if let Some(message) = ended.farewell()
        && let Ok(bytes) = encode_server_message(&message)
    {
        let _ = send(ws, ctx, Frame::binary(Payload::Owned(bytes))).await;
    }
    let reason = ended.reason;
    let _ = send(
        ws,
        ctx,
        Frame::close(reason.code(), reason.text().as_bytes()),
    )
    .await;
}
