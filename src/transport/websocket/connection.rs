//! One player's WebSocket connection as a pair of tasks, from the upgrade to its last byte: the
//! reader side (this task) runs the player's [`Session`] over a [`WebSocketMessages`]; the writer
//! task ([`super::writer`]) sends what the session's handle holds. When the socket's first
//! message is an `Upgrade` instead of a `Join`, the socket carries a long-polling session of the
//! same client on instead ([`super::attach`]). When either side ends, the
//! other is stopped, the player leaves the world at once, the writer gets a moment to say
//! goodbye, and what the client still sends is drained so that our close frame arrives.
//!
//! Must never: hold a session rule (those are `session/`'s), block the room, buffer without
//! bound, or panic on anything a client sends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::attach::{find_session, forward_messages, write_session};
use super::context::WebSocketContext;
use super::control::ControlFrames;
use super::progress::ReadProgress;
use super::reader::WebSocketMessages;
use super::socket::{ReadSide, split_upgraded};
use super::writer::{WriterInputs, write_loop};
use crate::protocol::{ClientMessage, CloseReason};
use crate::session::budget::MessageBudget;
use crate::session::ended::Ended;
use crate::session::reliable_queue::ReliableReceiver;
use crate::session::{MessageSource, Session, SessionHandle};
use crate::transport::caps::ConnectionPermit;
use crate::transport::catch_panic::catch_panic;

/// How long the writer may take to send its close frame once the reader has ended, and how
/// long the client then has to close its side.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Most bytes read and discarded after our close frame before the socket is dropped anyway.
const DRAIN_LIMIT: usize = 1 << 20;

/// Serves one upgraded connection until it ends. Should the work ever panic (a bug: no input
/// may cause one), the player is still removed and nobody else notices; the panic is caught here
/// rather than by a task of its own, which every connection would carry.
pub async fn serve_player(
    upgrade: fastwebsockets::upgrade::UpgradeFut,
    ctx: Arc<WebSocketContext>,
    peer: SocketAddr,
    // Holds this connection's place under the caps until the player is gone.
    permit: Arc<ConnectionPermit>,
) {
    let (handle, outbound) = SessionHandle::new(ctx.session.limits.outbound_queue);
    handle.profile.connected("websocket", peer);
    let session = Session::new(Arc::clone(&ctx.session), peer, handle);
    let cleanup = session.cleanup_on_panic();
    let progress = permit.socket().map(ReadProgress::new);
    let connection = run_connection(upgrade, ctx, session, outbound, progress, peer);
    if catch_panic(connection).await.is_err() {
        tracing::error!(%peer, "connection task panicked; removing its player");
        cleanup.run().await;
    }
}

async fn run_connection(
    upgrade: fastwebsockets::upgrade::UpgradeFut,
    ctx: Arc<WebSocketContext>,
    mut session: Session,
    outbound: ReliableReceiver,
    progress: Option<ReadProgress>,
    peer: SocketAddr,
) {
    let ws = match upgrade.await {
        Ok(ws) => ws,
        Err(error) => {
            tracing::debug!(%error, "upgrade failed");
            return;
        }
    };
    // The reader borrows our read half so that, once the session is over, we can drain what the
    // client still sends: closing a socket with unread data resets it, and the reset can
    // overtake our close frame.
    let (mut read_half, writer) =
        split_upgraded(ws.into_inner().into_inner(), &ctx.net, session.handle());
    let control = Arc::new(ControlFrames::default());
    // Frames are read and checked by our own reader (`super::incoming`), not fastwebsockets':
    // it refuses an unmasked frame (RFC 6455 section 5.1) before anything reads it, and keeps
    // no fixed read buffer per connection.
    let mut messages = WebSocketMessages::new(
        &mut read_half,
        ctx.limits.max_message_bytes,
        Arc::clone(&control),
        Arc::clone(&ctx.net),
    );
    // The first message: a `Join` starts a session on this socket; an `Upgrade` carries on a
    // long-polling session of the same client instead.
    let first = match first_message(&mut messages, &ctx).await {
        Ok(ClientMessage::Upgrade(upgrade)) => match find_session(&ctx, &upgrade, peer) {
            Ok(polling) => {
                let mut writer = ctx.shutdown.spawn(write_session(
                    writer,
                    Arc::clone(&polling),
                    control,
                    Arc::clone(&ctx),
                ));
                tokio::select! {
                    () = forward_messages(&mut messages, &polling, &ctx) => {}
                    _ = polling.closed() => {}
                }
                if tokio::time::timeout(CLOSE_GRACE, &mut writer)
                    .await
                    .is_err()
                {
                    writer.abort();
                }
                drop(messages);
                drain(&mut read_half).await;
                return;
            }
            Err(ended) => Err(ended),
        },
        other => other,
    };
    let handle = session.handle().clone();
    let mut writer_task = ctx.shutdown.spawn(write_loop(
        writer,
        WriterInputs {
            outbound,
            handle: handle.clone(),
            control: Arc::clone(&control),
            progress,
        },
        Arc::clone(&ctx),
    ));

    let mut messages = Prefetched {
        first: Some(first),
        rest: messages,
    };
    let ended = tokio::select! {
        ended = session.run(&mut messages) => Some(ended),
        _ = &mut writer_task => None,
    };
    let reason = match &ended {
        Some(ended) => ended.reason,
        None => handle.kick.reason().unwrap_or(CloseReason::ClientClosed),
    };
    // The player leaves the game (or goes away) at once; saying goodbye on the socket may take
    // a moment longer.
    session.leave_world(reason).await;
    if let Some(ended) = ended {
        control.close(ended);
        if tokio::time::timeout(CLOSE_GRACE, &mut writer_task)
            .await
            .is_err()
        {
            writer_task.abort();
        }
        drop(messages);
        if reason != CloseReason::ClientClosed {
            drain(&mut read_half).await;
        }
    }
    session.finish(reason);
}

/// The connection's first message, within the join timeout (or until the server stops).
async fn first_message(
    messages: &mut WebSocketMessages<'_>,
    ctx: &WebSocketContext,
) -> Result<ClientMessage, Ended> {
    let mut budget =
        MessageBudget::new(ctx.session.limits.messages_per_second, Arc::clone(&ctx.net));
    let first = tokio::time::timeout(
        ctx.session.limits.join_timeout,
        messages.next_message(&mut budget),
    );
    tokio::select! {
        first = first => first.unwrap_or_else(|_| Err(Ended::new(CloseReason::JoinTimeout, ""))),
        // Joined or not, every client is told the server is stopping.
        () = ctx.shutdown.stopping() => Err(Ended::new(CloseReason::ServerShutdown, "")),
    }
}

/// The socket's messages with the first one (already read, or why it could not be) put back in
/// front, for the session.
struct Prefetched<'a> {
    first: Option<Result<ClientMessage, Ended>>,
    rest: WebSocketMessages<'a>,
}

impl MessageSource for Prefetched<'_> {
    async fn next_message(&mut self, budget: &mut MessageBudget) -> Result<ClientMessage, Ended> {
        match self.first.take() {
            Some(first) => first,
            None => self.rest.next_message(budget).await,
        }
    }
}

/// Reads and discards what the client still sends after our close frame, until it closes its
/// side, [`CLOSE_GRACE`] passes, or [`DRAIN_LIMIT`] bytes were thrown away.
async fn drain(read_half: &mut ReadSide) {
    // On the heap, only while draining: an array here would sit in every connection's task.
    let mut scratch = vec![0u8; 4096];
    let mut drained = 0;
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while drained < DRAIN_LIMIT {
            match read_half.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}
