//! A long-polling session's life on the server: opened (its id drawn, its handle and queues
//! made, registered), then one task that runs the player's [`Session`] over the messages POSTs
//! hand it and, beside it, moves what the session's handle holds into the polling session's
//! numbered backlog (reliable messages, the heartbeat's pings) and watches the rules a socket
//! would (a kick, the server stopping, a heartbeat unanswered, no GET for the ping timeout, a
//! backlog over budget). When it ends, the close is kept for the client's last GET for a while,
//! then the session is forgotten and its connection permit released.
//!
//! Must never: block the room, wait on a client, or outlive the server's shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use rand::RngExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::session::{Backlog, PollSession};
use crate::metrics::{DeliveryStats, NetStats};
use crate::protocol::{
    ClientMessage, CloseReason, Heartbeat, ServerMessage, decode_client_message,
    encode_server_message,
};
use crate::session::budget::MessageBudget;
use crate::session::ended::{Ended, ended_by_decode};
use crate::session::reliable_queue::ReliableReceiver;
use crate::session::{MessageSource, Session, SessionContext, SessionHandle};
use crate::transport::caps::ConnectionPermit;
use crate::transport::catch_panic::catch_panic;
use crate::transport::shutdown::Shutdown;

/// Why a polling request was refused, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollRefusal {
    Malformed,
    Origin,
    Auth,
    OtherAddress,
    UnknownSession,
    Method,
    Overlapping,
    TooLarge,
    ContentType,
    OtherNode,
    TooMany,
    Busy,
}

impl PollRefusal {
    pub const ALL: [PollRefusal; 12] = [
        PollRefusal::Malformed,
        PollRefusal::Origin,
        PollRefusal::Auth,
        PollRefusal::OtherAddress,
        PollRefusal::UnknownSession,
        PollRefusal::Method,
        PollRefusal::Overlapping,
        PollRefusal::TooLarge,
        PollRefusal::ContentType,
        PollRefusal::OtherNode,
        PollRefusal::TooMany,
        PollRefusal::Busy,
    ];

    pub fn label(self) -> &'static str {
        match self {
            PollRefusal::Malformed => "malformed",
            PollRefusal::Origin => "origin",
            PollRefusal::Auth => "auth",
            PollRefusal::OtherAddress => "other_address",
            PollRefusal::UnknownSession => "unknown_session",
            PollRefusal::Method => "method",
            PollRefusal::Overlapping => "overlapping_post",
            PollRefusal::TooLarge => "too_large",
            PollRefusal::ContentType => "content_type",
            PollRefusal::OtherNode => "other_node",
            PollRefusal::TooMany => "too_many_sessions",
            PollRefusal::Busy => "busy",
        }
    }
}

/// Counters of the polling transport.
#[derive(Debug, Default)]
pub struct PollingStats {
    pub opened: AtomicU64,
    pub refused: [AtomicU64; PollRefusal::ALL.len()],
}

impl PollingStats {
    pub fn refused(&self, refusal: PollRefusal) {
        self.refused[refusal as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn refusals(&self) -> Vec<(&'static str, u64)> {
        PollRefusal::ALL
            .iter()
            .map(|r| (r.label(), self.refused[*r as usize].load(Ordering::Relaxed)))
            .collect()
    }
}

/// The polling transport's budgets.
#[derive(Debug, Clone)]
pub struct PollingLimits {
    /// How long a GET waits with nothing to send.
    pub hold: Duration,
    /// Largest POST body.
    pub max_body: usize,
    /// Largest client message (as `--max-payload` on a WebSocket).
    pub max_message_bytes: usize,
    pub ping_interval: Duration,
    /// Also how long a session may go without a GET (beyond a hold).
    pub ping_timeout: Duration,
    pub backlog: Backlog,
    /// Client messages a session holds before the session reads them.
    pub inbound_queue: usize,
    /// How long an ended session's close waits for the client's last GET.
    pub linger: Duration,
}

/// What every polling request and session task shares.
pub struct PollingContext {
    pub session: Arc<SessionContext>,
    pub limits: PollingLimits,
    pub net: Arc<NetStats>,
    pub delivery: Arc<DeliveryStats>,
    pub shutdown: Shutdown,
    pub sessions: DashMap<String, Arc<PollSession>>,
    /// This node's id on a cluster node: every session id starts with it and a dot.
    pub node: Option<String>,
    pub stats: PollingStats,
}

impl PollingContext {
    /// Opens a session for `peer` (admitted, holding `permit`) and starts its task.
    pub fn open(self: &Arc<Self>, peer: SocketAddr, permit: ConnectionPermit) -> Arc<PollSession> {
        let random: [u8; 16] = rand::rng().random();
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let sid = match &self.node {
            Some(node) => format!("{node}.{hex}"),
            None => hex,
        };
        let (handle, outbound) = SessionHandle::new(self.session.limits.outbound_queue);
        handle.profile.connected("polling", peer);
        let (inbound, messages) = mpsc::channel(self.limits.inbound_queue);
        let poll = Arc::new(PollSession::new(
            sid.clone(),
            peer.ip(),
            handle.clone(),
            inbound,
            self.limits.backlog,
        ));
        self.sessions.insert(sid, Arc::clone(&poll));
        self.stats.opened.fetch_add(1, Ordering::Relaxed);
        self.net
            .connections_accepted
            .fetch_add(1, Ordering::Relaxed);
        let session = Session::new(Arc::clone(&self.session), peer, handle);
        let ctx = Arc::clone(self);
        let task_poll = Arc::clone(&poll);
        self.shutdown.spawn(async move {
            let cleanup = session.cleanup_on_panic();
            let run = run(
                Arc::clone(&ctx),
                Arc::clone(&task_poll),
                session,
                outbound,
                messages,
            );
            if catch_panic(run).await.is_err() {
                tracing::error!(%peer, "polling session task panicked; removing its player");
                cleanup.run().await;
                task_poll.end(None, CloseReason::ServerShutdown.code(), "internal error");
            }
            // The close waits for the client's last GET, but not for a stopping server.
            tokio::select! {
                () = tokio::time::sleep(ctx.limits.linger) => {}
                () = ctx.shutdown.stopping() => {}
            }
            ctx.sessions.remove(&task_poll.sid);
            drop(permit);
        });
        poll
    }
}

/// The session and its pump, until one ends; then the player leaves and the close is kept.
async fn run(
    ctx: Arc<PollingContext>,
    poll: Arc<PollSession>,
    mut session: Session,
    outbound: ReliableReceiver,
    messages: mpsc::Receiver<Bytes>,
) {
    let mut source = PollMessages { messages };
    let ended = tokio::select! {
        ended = session.run(&mut source) => ended,
        ended = pump(&poll, outbound, &ctx) => ended,
    };
    session.leave_world(ended.reason).await;
    let farewell = ended
        .farewell()
        .and_then(|message| encode_server_message(&message).ok())
        .map(Bytes::from);
    poll.end(farewell, ended.reason.code(), ended.reason.text());
    session.finish(ended.reason);
}

/// What POSTs hand the session, decoded as the WebSocket's messages are.
struct PollMessages {
    messages: mpsc::Receiver<Bytes>,
}

impl MessageSource for PollMessages {
    async fn next_message(&mut self, _budget: &mut MessageBudget) -> Result<ClientMessage, Ended> {
        match self.messages.recv().await {
            Some(bytes) => decode_client_message(&bytes).map_err(|error| ended_by_decode(&error)),
            None => Err(Ended::new(CloseReason::ClientClosed, "")),
        }
    }
}

/// Moves the session's reliable messages into the numbered backlog and pings the client, until
/// a rule ends the session: returns why.
async fn pump(poll: &PollSession, mut outbound: ReliableReceiver, ctx: &PollingContext) -> Ended {
    let limits = &ctx.limits;
    let handle = &poll.handle;
    let mut ping_timer =
        tokio::time::interval_at(Instant::now() + limits.ping_interval, limits.ping_interval);
    ping_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut idle_check = tokio::time::interval(Duration::from_millis(500));
    let mut nonce = 0u32;
    let mut ping_deadline: Option<Instant> = None;
    let far = Instant::now() + Duration::from_secs(86_400);
    loop {
        if ping_deadline.is_some() && handle.heartbeat.is_answered() {
            ping_deadline = None;
        }
        tokio::select! {
            biased;
            (reason, detail) = handle.kick.kicked() => return Ended::new(reason, &*detail),
            () = ctx.shutdown.stopping() => {
                handle.kick.kick(CloseReason::ServerShutdown);
                return Ended::new(CloseReason::ServerShutdown, "");
            }
            message = outbound.recv() => {
                if poll.queue(message).is_err() {
                    return Ended::new(CloseReason::SlowConsumer, "too many messages not fetched");
                }
            }
            () = tokio::time::sleep_until(ping_deadline.unwrap_or(far)), if ping_deadline.is_some() => {
                if !handle.heartbeat.is_answered() {
                    return Ended::new(CloseReason::PingTimeout, "no answer to the heartbeat");
                }
                ping_deadline = None;
            }
            _ = ping_timer.tick(), if handle.stage.is_welcomed() && ping_deadline.is_none() => {
                nonce = nonce.wrapping_add(1);
                handle.heartbeat.sent(nonce);
                ping_deadline = Some(Instant::now() + limits.ping_timeout);
                let rtt_us = handle.heartbeat.rtt_us.load(Ordering::Relaxed);
                let ping = ServerMessage::Ping(Heartbeat { nonce, rtt_us });
                if let Ok(bytes) = encode_server_message(&ping)
                    && poll.queue(Bytes::from(bytes)).is_err()
                {
                    return Ended::new(CloseReason::SlowConsumer, "too many messages not fetched");
                }
            }
            _ = idle_check.tick() => {
                if poll.since_last_get() > limits.ping_timeout + limits.hold {
                    return Ended::new(CloseReason::PingTimeout, "no GET within the ping timeout");
                }
            }
        }
    }
}
