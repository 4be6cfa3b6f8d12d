//! One player's WebSocket connection as a pair of tasks, from the upgrade to its last byte: this
//! task runs the player's [`Session`] over what the socket's reader hands it (on plain TCP a
//! tick thread reads the socket and hands the room a playing player's inputs itself,
//! [`WatchedMessages`]; under TLS this task reads it, [`WebSocketMessages`]); the writer task
//! ([`super::writer`]) sends what the session's handle holds. When the socket's first
//! message is an `Upgrade` instead of a `Join`, the socket carries a long-polling session of the
//! same client on instead ([`super::attach`]). When either side ends, the
//! other is stopped, the player leaves the world at once, the writer gets a moment to say
//! goodbye, and what the client still sends is drained so that our close frame arrives.
//!
//! Must never: hold a session rule (those are `session/`'s), block the room, buffer without
//! bound, or panic on anything a client sends.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use super::attach::{find_session, forward_messages, write_session};
use super::context::WebSocketContext;
use super::control::ControlFrames;
use super::progress::ReadProgress;
use super::reader::{CLOSE_GRACE, ConnectionReader, FrameRules, WebSocketMessages};
use super::socket::{Sides, split_upgraded};
use super::watched::{ReaderShared, SocketReader, WatchedMessages};
use super::writer::{Out, WriterInputs, write_loop};
use crate::protocol::{ClientMessage, CloseReason};
use crate::session::budget::MessageBudget;
use crate::session::ended::Ended;
use crate::session::reliable_queue::ReliableReceiver;
use crate::session::{InputRoute, MessageSource, Session, SessionHandle};
use crate::transport::caps::ConnectionPermit;
use crate::transport::catch_panic::catch_panic;
use crate::transport::polling::PollSession;

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

#[allow(clippy::manual_async_fn)] // on purpose: see the comment in the body
fn run_connection(
    upgrade: fastwebsockets::upgrade::UpgradeFut,
    ctx: Arc<WebSocketContext>,
    session: Session,
    outbound: ReliableReceiver,
    progress: Option<ReadProgress>,
    peer: SocketAddr,
) -> impl Future<Output = ()> + Send {
    // An async block rather than an async fn: its captures are not copied into locals as an
    // async fn's arguments are, so every connection's task is that much smaller.
    async move {
        let ws = match upgrade.await {
            Ok(ws) => ws,
            Err(error) => {
                tracing::debug!(%error, "upgrade failed");
                return;
            }
        };
        let sides = match split_upgraded(ws.into_inner().into_inner(), &ctx.net, session.handle()) {
            Ok(sides) => sides,
            Err(error) => {
                tracing::warn!(%error, "an upgraded socket could not be set up");
                return;
            }
        };
        let control = Arc::new(ControlFrames::default());
        let max_message_bytes = ctx.limits.max_message_bytes;
        // Frames are read and checked by our own reader (`super::incoming`), not fastwebsockets':
        // it refuses an unmasked frame (RFC 6455 section 5.1) before anything reads it, and keeps
        // no fixed read buffer per connection.
        let rules = FrameRules::new(
            max_message_bytes,
            Arc::clone(&control),
            Arc::clone(&ctx.net),
        );
        let connection = Connection {
            ctx: Arc::clone(&ctx),
            session,
            outbound,
            control,
            progress,
            peer,
        };
        match sides {
            // A tick thread reads the socket: inputs go to the room from there.
            Sides::Plain { socket, ahead, out } => {
                let shared = Arc::new(ReaderShared::default());
                let budget = MessageBudget::new(
                    ctx.session.limits.messages_per_second,
                    Arc::clone(&ctx.net),
                );
                let reader = SocketReader::new(
                    socket,
                    &ahead,
                    max_message_bytes,
                    rules,
                    budget,
                    Arc::clone(&shared),
                );
                let watched = ctx.readiness.watch(Box::new(reader));
                connection
                    .serve(WatchedMessages::new(shared, watched), out)
                    .await;
            }
            // Boxed: inline, a TLS connection's larger future would size every connection's task.
            Sides::Stream { read, out } => {
                let messages = WebSocketMessages::new(read, max_message_bytes, rules);
                Box::pin(connection.serve(messages, out)).await;
            }
        }
    }
}

/// One upgraded connection, whatever reads it.
struct Connection {
    ctx: Arc<WebSocketContext>,
    session: Session,
    outbound: ReliableReceiver,
    control: Arc<ControlFrames>,
    progress: Option<ReadProgress>,
    peer: SocketAddr,
}

impl Connection {
    /// The first message decides: a `Join` starts a session on this socket; an `Upgrade`
    /// carries on a long-polling session of the same client instead.
    #[allow(clippy::manual_async_fn)] // on purpose: see the comment in the body
    fn serve<R: ConnectionReader + 'static>(
        self,
        mut messages: R,
        writer: Out,
    ) -> impl Future<Output = ()> + Send {
        // An async block, as in `run_connection`: no copies of the arguments.
        async move {
            let first = match first_message(&mut messages, &self.ctx).await {
                Ok(ClientMessage::Upgrade(upgrade)) => {
                    match find_session(&self.ctx, &upgrade, self.peer) {
                        // Boxed: a rare path, kept out of every connection's task.
                        Ok(polling) => {
                            return Box::pin(self.carry_polling(messages, writer, polling)).await;
                        }
                        Err(ended) => Err(ended),
                    }
                }
                other => other,
            };
            let mut messages = Prefetched {
                first: Some(first),
                rest: messages,
            };
            // Runs the player's session with its writer beside it; when either ends, the player
            // leaves the world at once, the writer gets a moment to say goodbye, and what the client
            // still sends is drained so that our close frame arrives. (Here rather than in a
            // function of its own: each async layer would keep its own copy of the connection.)
            let Connection {
                ctx,
                mut session,
                outbound,
                control,
                progress,
                ..
            } = self;
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
            let ended = tokio::select! {
                ended = session.run(&mut messages) => Some(ended),
                _ = &mut writer_task => None,
            };
            let reason = match &ended {
                Some(ended) => ended.reason,
                None => handle.kick.reason().unwrap_or(CloseReason::ClientClosed),
            };
            // The player leaves the game (or goes away) at once; saying goodbye on the socket may
            // take a moment longer.
            session.leave_world(reason).await;
            if let Some(ended) = ended {
                control.close(ended);
                if tokio::time::timeout(CLOSE_GRACE, &mut writer_task)
                    .await
                    .is_err()
                {
                    writer_task.abort();
                }
                messages
                    .rest
                    .finish(reason != CloseReason::ClientClosed)
                    .await;
            }
            session.finish(reason);
        }
    }

    /// Carries a long-polling session on this socket until it ends.
    async fn carry_polling<R: ConnectionReader>(
        self,
        mut messages: R,
        writer: Out,
        polling: Arc<PollSession>,
    ) {
        let ctx = &self.ctx;
        let mut writer = ctx.shutdown.spawn(write_session(
            writer,
            Arc::clone(&polling),
            self.control,
            Arc::clone(ctx),
        ));
        tokio::select! {
            () = forward_messages(&mut messages, &polling, ctx) => {}
            _ = polling.closed() => {}
        }
        if tokio::time::timeout(CLOSE_GRACE, &mut writer)
            .await
            .is_err()
        {
            writer.abort();
        }
        messages.finish(true).await;
    }
}

/// The connection's first message, within the join timeout (or until the server stops).
async fn first_message(
    messages: &mut impl MessageSource,
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
struct Prefetched<R> {
    first: Option<Result<ClientMessage, Ended>>,
    rest: R,
}

impl<R: MessageSource + Send> MessageSource for Prefetched<R> {
    const CHARGES_MESSAGES: bool = R::CHARGES_MESSAGES;

    async fn next_message(&mut self, budget: &mut MessageBudget) -> Result<ClientMessage, Ended> {
        match self.first.take() {
            Some(first) => first,
            None => self.rest.next_message(budget).await,
        }
    }

    fn playing(&mut self, route: InputRoute) {
        self.rest.playing(route);
    }
}
