//! A WebSocket that takes over a long-polling session: its first message was
//! `Upgrade {sid}` instead of a `Join`. The polling session's player, session task and pump go
//! on unchanged; this socket only carries them: what the client sends goes into the session's
//! inbound queue (waiting for room, as a socket does), and what the session queued (reliable
//! messages not yet fetched, then each new one, then the newest snapshot) goes out on the
//! socket, in order, nothing resent or lost. When the session ends, its close is this socket's.
//!
//! Must never: run a second session for the player, or take over a session of another address
//! or another node.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{Frame, Payload};

use super::context::WebSocketContext;
use super::control::{Control, ControlFrames};
use super::writer::{Out, WriteFailed, send};
use crate::protocol::{CloseReason, Upgrade, encode_client_message};
use crate::session::MessageSource;
use crate::session::budget::MessageBudget;
use crate::session::ended::Ended;
use crate::transport::polling::PollSession;

/// How often an attached socket tells the polling session it is alive (its GETs' stand-in).
const TOUCH_EVERY: Duration = Duration::from_millis(500);

/// Finds the polling session `sid` for a socket from `peer`: `Err` says why not.
pub fn find_session(
    ctx: &WebSocketContext,
    upgrade: &Upgrade,
    peer: std::net::SocketAddr,
) -> Result<Arc<PollSession>, Ended> {
    let sid = upgrade.sid.as_str();
    let unknown = || Ended::new(CloseReason::Unexpected, "no polling session to upgrade");
    let session = ctx
        .polling
        .get()
        .and_then(|polling| polling.sessions.get(sid).map(|entry| entry.clone()))
        .ok_or_else(unknown)?;
    if session.peer != peer.ip() || !session.attach(upgrade.ack) {
        return Err(unknown());
    }
    session.handle.profile.connected("websocket", peer);
    Ok(session)
}

/// Carries the client's messages into the taken-over session until the socket ends; then the
/// session is told its client went away (it may resume, as after any lost socket).
pub async fn forward_messages(
    messages: &mut impl MessageSource,
    session: &PollSession,
    ctx: &WebSocketContext,
) {
    let inbound = session.inbound();
    let mut budget =
        MessageBudget::new(ctx.session.limits.messages_per_second, Arc::clone(&ctx.net));
    loop {
        let message = match messages.next_message(&mut budget).await {
            Ok(message) => message,
            Err(ended) => {
                session.handle.kick.kick(ended.reason);
                return;
            }
        };
        let Ok(bytes) = encode_client_message(&message) else {
            continue;
        };
        if inbound.send(Bytes::from(bytes)).await.is_err() {
            return;
        }
    }
}

/// Sends what the session queues until it ends, then its close frame.
pub async fn write_session(
    mut ws: Out,
    session: Arc<PollSession>,
    control: Arc<ControlFrames>,
    ctx: Arc<WebSocketContext>,
) {
    let mut touch = tokio::time::interval(TOUCH_EVERY);
    loop {
        let changed = session.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        match write_queued(&mut ws, &session, &ctx).await {
            Ok(None) => {}
            Ok(Some((code, reason))) => {
                let _ = send(&mut ws, &ctx, Frame::close(code, reason.as_bytes())).await;
                return;
            }
            Err(WriteFailed::TimedOut) => {
                session.handle.kick.kick(CloseReason::SlowConsumer);
                return;
            }
            Err(WriteFailed::Closed) => {
                session.handle.kick.kick(CloseReason::ClientClosed);
                return;
            }
        }
        tokio::select! {
            () = changed => {}
            () = session.handle.snapshots.ready() => {}
            _ = touch.tick() => {}
            command = control.next() => match command {
                Control::Pong(payload) => {
                    let _ = send(&mut ws, &ctx, Frame::pong(Payload::Owned(payload))).await;
                }
                Control::EchoClose(payload) => {
                    let _ = send(&mut ws, &ctx, Frame::close_raw(Payload::Owned(payload))).await;
                    return;
                }
                Control::Close(ended) => {
                    session.handle.kick.kick(ended.reason);
                }
            },
        }
    }
}

/// Writes every queued reliable message, then the newest snapshot; returns the close once the
/// session has ended.
async fn write_queued(
    ws: &mut Out,
    session: &PollSession,
    ctx: &WebSocketContext,
) -> Result<Option<(u16, String)>, WriteFailed> {
    let queued = session.take_for_socket();
    for message in &queued.reliable {
        send(ws, ctx, Frame::binary(Payload::Borrowed(message))).await?;
    }
    if let Some(closed) = queued.closed {
        return Ok(Some(closed));
    }
    if queued.welcomed
        && let Some(frame) = session.handle.snapshots.take()
    {
        ctx.delivery
            .snapshots_sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        send(ws, ctx, Frame::binary(Payload::Borrowed(&frame.bytes))).await?;
        session.handle.snapshots.sent(frame.tick);
    }
    Ok(None)
}
