//! One admin socket (`/admin/ws`, docs/ADMIN.md): nothing is sent until the first message
//! authenticates (the right token within [`AUTH_TIMEOUT`], from an address that has not failed
//! too often); then the history, a sample and the state every interval, and an answer to each
//! action under a rate limit. Must never: send a byte before authentication, act on a request
//! before it, or let a socket that does not read hold up anything (writes time out, updates
//! are skipped while it lags).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocketError, WebSocketWrite};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::WriteHalf;
use tokio::sync::{broadcast, mpsc};

use super::access::SocketSlot;
use super::actions::{Actor, act};
use super::context::AdminContext;
use super::messages::{ActionResult, MAX_REQUEST_BYTES, Request};
use crate::session::limits::TokenBucket;

/// The first message must come within this.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(5);
/// Wrong or missing token (or no `auth` first).
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// Too many failed attempts from this address lately.
pub const CLOSE_TOO_MANY_ATTEMPTS: u16 = 4429;
/// Actions a socket may send in a burst, and per second after it.
const ACTIONS_BURST: f64 = 10.0;
const ACTIONS_PER_SECOND: f64 = 2.0;
/// Requests past the rate limit a socket may send before it is closed (1008).
const OVER_LIMIT_STRIKES: u32 = 20;
/// A write that takes longer than this ends the socket.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

type Writer = WebSocketWrite<WriteHalf<TokioIo<Upgraded>>>;

/// What the reader hands the socket's loop.
enum Inbound {
    Text(String),
    Ping(Vec<u8>),
    /// A binary frame or bad UTF-8 (1003), or a frame too large (1009): the close to send.
    Bad(u16, &'static str),
    Closed,
}

/// Serves one upgraded admin socket until it closes.
pub async fn serve_admin_socket(
    upgrade: fastwebsockets::upgrade::UpgradeFut,
    ctx: Arc<AdminContext>,
    peer: SocketAddr,
    slot: SocketSlot,
) {
    let Ok(ws) = upgrade.await else {
        return;
    };
    let (read_half, write_half) = tokio::io::split(ws.into_inner());
    let (mut reader, mut writer) =
        fastwebsockets::after_handshake_split(read_half, write_half, Role::Server);
    reader.set_max_message_size(MAX_REQUEST_BYTES);
    reader.set_auto_close(false);
    reader.set_auto_pong(false);
    let (inbound_tx, mut inbound) = mpsc::channel(4);
    let reading = ctx.shutdown.spawn(async move {
        let mut no_obligations = |_: Frame<'_>| std::future::ready(Ok::<(), WebSocketError>(()));
        loop {
            let item = match reader.read_frame(&mut no_obligations).await {
                Ok(frame) => match frame.opcode {
                    OpCode::Text => match String::from_utf8(frame.payload.to_vec()) {
                        Ok(text) => Inbound::Text(text),
                        Err(_) => Inbound::Bad(1007, "text frames must be UTF-8"),
                    },
                    OpCode::Ping => Inbound::Ping(frame.payload.to_vec()),
                    OpCode::Close => Inbound::Closed,
                    OpCode::Binary | OpCode::Continuation => {
                        Inbound::Bad(1003, "JSON text frames only")
                    }
                    OpCode::Pong => continue,
                },
                Err(WebSocketError::FrameTooLarge) => Inbound::Bad(1009, "message too big"),
                Err(_) => Inbound::Closed,
            };
            let last = matches!(item, Inbound::Closed | Inbound::Bad(..));
            if inbound_tx.send(item).await.is_err() || last {
                return;
            }
        }
    });
    if let Some(actor) = authenticate(&ctx, &mut inbound, &mut writer, peer).await {
        tracing::info!(operator = %actor.operator, %peer, "admin signed in");
        serve_authenticated(&ctx, &actor, &mut inbound, &mut writer).await;
        tracing::info!(operator = %actor.operator, %peer, "admin signed out");
    }
    reading.abort();
    drop(slot);
}

/// Waits for the `auth` message and checks it; on failure the socket is closed, having been
/// sent nothing else.
async fn authenticate(
    ctx: &AdminContext,
    inbound: &mut mpsc::Receiver<Inbound>,
    writer: &mut Writer,
    peer: SocketAddr,
) -> Option<Actor> {
    let first = loop {
        match tokio::time::timeout(AUTH_TIMEOUT, inbound.recv()).await {
            // Not even a pong before authentication.
            Ok(Some(Inbound::Ping(_))) => continue,
            Ok(Some(Inbound::Text(text))) => break Some(text),
            Ok(Some(Inbound::Closed) | None) => return None,
            Ok(Some(Inbound::Bad(..))) | Err(_) => break None,
        }
    };
    let now = Instant::now();
    if !ctx.gate.may_try(peer.ip(), now) {
        tracing::warn!(%peer, "admin authentication refused: too many attempts");
        close(writer, CLOSE_TOO_MANY_ATTEMPTS, "too many attempts").await;
        return None;
    }
    let request = first.as_deref().map(Request::parse);
    if let Some(Ok(Request::Auth { token, operator })) = request
        && ctx.token.matches(&token)
    {
        ctx.gate.succeeded(peer.ip());
        return Some(Actor { operator, peer });
    }
    ctx.gate.failed(peer.ip(), now);
    tracing::warn!(%peer, "admin authentication failed");
    close(writer, CLOSE_UNAUTHORIZED, "unauthorized").await;
    None
}

/// The history, then an update every interval and an answer to each request.
async fn serve_authenticated(
    ctx: &AdminContext,
    actor: &Actor,
    inbound: &mut mpsc::Receiver<Inbound>,
    writer: &mut Writer,
) {
    let mut updates = ctx.subscribe();
    if send_text(writer, ctx.hello()).await.is_err() {
        return;
    }
    let mut budget = TokenBucket::new(ACTIONS_BURST, ACTIONS_PER_SECOND);
    let mut strikes = 0;
    loop {
        tokio::select! {
            item = inbound.recv() => match item {
                Some(Inbound::Text(text)) => {
                    if !budget.take(tokio::time::Instant::now()) {
                        strikes += 1;
                        if strikes > OVER_LIMIT_STRIKES {
                            return close(writer, 1008, "rate limited").await;
                        }
                        let refused = ActionResult::failed(None, "rate limited".into());
                        if send_text(writer, refused.to_json()).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    let result = match Request::parse(&text) {
                        Ok(request) => act(ctx, actor, request).await,
                        Err(error) => ActionResult::failed(None, error.to_string()),
                    };
                    if send_text(writer, result.to_json()).await.is_err() {
                        return;
                    }
                }
                Some(Inbound::Ping(payload)) => {
                    if send(writer, Frame::pong(Payload::Owned(payload))).await.is_err() {
                        return;
                    }
                }
                Some(Inbound::Bad(code, why)) => return close(writer, code, why).await,
                Some(Inbound::Closed) | None => return close(writer, 1000, "bye").await,
            },
            update = updates.recv() => match update {
                Ok(update) => {
                    if send_text(writer, update.sample.clone()).await.is_err()
                        || send_text(writer, update.state.clone()).await.is_err()
                    {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = ctx.shutdown.stopping() => return close(writer, 1001, "server shutting down").await,
        }
    }
}

async fn send_text(writer: &mut Writer, text: String) -> Result<(), ()> {
    send(writer, Frame::text(Payload::Owned(text.into_bytes()))).await
}

async fn send(writer: &mut Writer, frame: Frame<'_>) -> Result<(), ()> {
    match tokio::time::timeout(WRITE_TIMEOUT, writer.write_frame(frame)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

async fn close(writer: &mut Writer, code: u16, reason: &str) {
    let _ = send(writer, Frame::close(code, reason.as_bytes())).await;
}
