//! The cluster's room directory in Redis, as a node asks it: renew my lease and rooms, seat this
//! joiner, claim this ticket, list the public rooms, where is this token's player. One method
//! per question, each one script (or one pipeline), each bounded by the call timeout; the
//! connection is the `redis` crate's tokio `ConnectionManager`, which reconnects by itself.
//!
//! Must never: be called from a tick thread, wait on Redis longer than the call timeout, or
//! report the directory reachable after a call that failed (until a heartbeat succeeds again).

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use rand::RngExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script, ScriptInvocation};

use super::bus::{BUS_LENGTH, BusMessage, Envelope};
use super::config::{ClusterConfig, NodeId};
use super::error::{ClusterError, Refusal};
use super::records::{
    ClusterRoom, HeartbeatAnswer, LiveNode, NodeReport, Placed, TokenChange, TokenHome, hex16,
    parse_heartbeat, parse_listing, parse_placement, parse_token_home,
};
use super::scripts;
use crate::lobby::{Seated, Want};
use crate::protocol::rooms::{ROOM_CODE_CHARS, RoomCode, RoomId};
use crate::protocol::{ResumeToken, SeatTicket};

/// How long a resume token stays findable cluster-wide without its node removing it: far past
/// any resume grace (a node that is killed cannot remove its tokens; they then point at a node
/// that has left, which a resume is told).
const TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
/// Tries at drawing a private room's code before giving up (each taken one is a 2^-50 chance).
const CODE_TRIES: usize = 4;
/// The most rooms one listing returns.
pub const LISTING_LIMIT: usize = 500;
/// How long a listing is served from memory: a lobby polled by many pages costs Redis one
/// listing per this period, not one per page.
const LISTING_FRESH: Duration = Duration::from_millis(500);

/// Counters of the directory's calls, read by `/metrics`.
#[derive(Debug, Default)]
pub struct ClusterStats {
    pub calls: AtomicU64,
    pub failures: AtomicU64,
    pub heartbeats: AtomicU64,
    pub seats_here: AtomicU64,
    pub redirects: AtomicU64,
    pub claims: AtomicU64,
    pub refusals: AtomicU64,
    /// Bus messages applied here, ignored as malformed, and dropped by a sender's rate limit.
    pub bus_applied: AtomicU64,
    pub bus_malformed: AtomicU64,
    pub bus_limited: AtomicU64,
}

/// A node's connection to its cluster's directory.
pub struct ClusterDirectory {
    config: ClusterConfig,
    conn: ConnectionManager,
    place: Script,
    claim: Script,
    heartbeat: Script,
    listing: Script,
    token_home: Script,
    depart: Script,
    reachable: AtomicBool,
    /// The live nodes as of the last heartbeat.
    nodes: RwLock<Vec<LiveNode>>,
    /// The last listing and when it was read; and whether a call is reading a new one (then
    /// others serve the last one rather than call too).
    listing_cache: Mutex<Option<(Instant, Vec<ClusterRoom>)>>,
    listing_refresh: AtomicBool,
    started: SystemTime,
    pub stats: ClusterStats,
}

impl ClusterDirectory {
    /// Connects to Redis and checks it answers. An unreachable Redis is an error naming its URL.
    pub async fn connect(config: ClusterConfig) -> Result<ClusterDirectory, ClusterError> {
        let unavailable = |detail: String| ClusterError::Unavailable {
            url: config.redis_url.clone(),
            detail,
        };
        let client =
            Client::open(config.redis_url.as_str()).map_err(|e| unavailable(e.to_string()))?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.call_timeout))
            .set_response_timeout(Some(config.call_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connecting = ConnectionManager::new_with_config(client, manager);
        let mut conn = tokio::time::timeout(config.call_timeout * 2, connecting)
            .await
            .map_err(|_| unavailable("no answer in time".into()))?
            .map_err(|e| unavailable(e.to_string()))?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        Ok(ClusterDirectory {
            config,
            conn,
            place: Script::new(scripts::PLACE),
            claim: Script::new(scripts::CLAIM),
            heartbeat: Script::new(scripts::HEARTBEAT),
            listing: Script::new(scripts::LISTING),
            token_home: Script::new(scripts::TOKEN_HOME),
            depart: Script::new(scripts::DEPART),
            reachable: AtomicBool::new(true),
            nodes: RwLock::default(),
            listing_cache: Mutex::default(),
            listing_refresh: AtomicBool::new(false),
            started: SystemTime::now(),
            stats: ClusterStats::default(),
        })
    }

    pub fn node(&self) -> &NodeId {
        &self.config.node
    }

    pub fn public_url(&self) -> &str {
        &self.config.public_url
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Whether the last call to Redis succeeded.
    pub fn is_reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    /// The live nodes as of the last heartbeat (this one included once it registered).
    pub fn live_nodes(&self) -> Vec<LiveNode> {
        self.nodes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Renews this node's lease and every room it runs, takes its closed rooms out, and
    /// returns the live nodes.
    pub async fn heartbeat(&self, report: &NodeReport) -> Result<HeartbeatAnswer, ClusterError> {
        let mut call = self.heartbeat.prepare_invoke();
        call.arg(&self.config.prefix)
            .arg(self.config.node.as_str())
            .arg(&self.config.public_url)
            .arg(&report.region)
            .arg(millis(self.config.lease))
            .arg(millis(self.config.lease))
            .arg(report.players)
            .arg(report.max_players)
            .arg(report.max_rooms)
            .arg(report.max_room_players)
            .arg(report.tick_hz)
            .arg(format!(",{},", report.modes.join(",")))
            .arg(report.highest_room)
            .arg(unix_ms(self.started))
            .arg(report.rooms.len())
            .arg(report.closed.len());
        for room in &report.rooms {
            call.arg(room.id.0)
                .arg(&room.settings.mode)
                .arg(&room.settings.region)
                .arg(if room.settings.private { "1" } else { "0" })
                .arg(room.code.as_ref().map_or("", RoomCode::as_str))
                .arg(room.settings.max_players)
                .arg(room.settings.tick_hz)
                .arg(unix_ms(room.created))
                .arg(room.joins)
                .arg(room.leaves);
        }
        for id in &report.closed {
            call.arg(id.0);
        }
        let reply = self.run(&call).await;
        let answer = parse_heartbeat(&reply?)?;
        self.stats.heartbeats.fetch_add(1, Ordering::Relaxed);
        *self.nodes.write().unwrap_or_else(PoisonError::into_inner) = answer.nodes.clone();
        Ok(answer)
    }

    /// Seats a joiner from `from` who wants `want`: here (counted, enter the room) or on
    /// another node (a ticket for its URL).
    pub async fn place(&self, want: &Want, from: IpAddr) -> Result<Placed, ClusterError> {
        let (op, mode, region, target) = match want {
            Want::QuickPlay { mode, region } => (
                "quick",
                self.mode_or_default(mode),
                region.clone().unwrap_or_default(),
                String::new(),
            ),
            Want::Room(id) => ("room", String::new(), String::new(), id.0.to_string()),
            Want::Code(code) => ("code", String::new(), String::new(), code.to_string()),
            Want::CreatePrivate { mode } => (
                "private",
                self.mode_or_default(mode),
                String::new(),
                String::new(),
            ),
            Want::ClusterSeat => return Err(ClusterError::Refused(Refusal::NoSuchRoom)),
        };
        for _ in 0..CODE_TRIES {
            let ticket = SeatTicket(rand::rng().random());
            let code = RoomCode::from_random(rand::rng().random::<[u8; ROOM_CODE_CHARS]>());
            let mut call = self.place.prepare_invoke();
            call.arg(&self.config.prefix)
                .arg(self.config.node.as_str())
                .arg(op)
                .arg(&mode)
                .arg(&region)
                .arg(&target)
                .arg(hex16(&ticket.0))
                .arg(millis(self.config.seat_timeout))
                .arg(from.to_string())
                .arg(self.config.max_private_rooms_per_address)
                .arg(code.as_str())
                .arg(millis(self.config.seat_timeout + self.config.lease));
            let reply = self.run(&call).await?;
            match parse_placement(&reply, ticket) {
                Err(ClusterError::Refused(Refusal::CodeTaken)) => continue,
                Err(error) => {
                    self.stats.refusals.fetch_add(1, Ordering::Relaxed);
                    return Err(error);
                }
                Ok(placed) => {
                    let counter = match placed {
                        Placed::Here(_) => &self.stats.seats_here,
                        Placed::There { .. } => &self.stats.redirects,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    return Ok(placed);
                }
            }
        }
        Err(ClusterError::Refused(Refusal::NoNode))
    }

    /// Claims the seat `ticket` reserved on this node: the joiner is counted in its room.
    pub async fn claim(&self, ticket: SeatTicket) -> Result<Seated, ClusterError> {
        let mut call = self.claim.prepare_invoke();
        call.arg(&self.config.prefix)
            .arg(self.config.node.as_str())
            .arg(hex16(&ticket.0));
        let reply = self.run(&call).await?;
        match parse_placement(&reply, ticket)? {
            Placed::Here(seated) => {
                self.stats.claims.fetch_add(1, Ordering::Relaxed);
                Ok(seated)
            }
            Placed::There { .. } => Err(ClusterError::BadReply(reply.join(" "))),
        }
    }

    /// The cluster's public rooms, sorted by node and id (at most [`LISTING_FRESH`] old).
    pub async fn listing(&self) -> Result<Vec<ClusterRoom>, ClusterError> {
        let cached = self
            .listing_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some((read, rooms)) = &cached
            && (read.elapsed() < LISTING_FRESH || self.listing_refresh.swap(true, Ordering::AcqRel))
        {
            return Ok(rooms.clone());
        }
        self.listing_refresh.store(true, Ordering::Release);
        let mut call = self.listing.prepare_invoke();
        call.arg(&self.config.prefix).arg(LISTING_LIMIT);
        let result = self
            .run(&call)
            .await
            .and_then(|reply| parse_listing(&reply));
        self.listing_refresh.store(false, Ordering::Release);
        let rooms = result?;
        *self
            .listing_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), rooms.clone()));
        Ok(rooms)
    }

    /// Which node holds `token`'s player.
    pub async fn token_home(&self, token: &ResumeToken) -> Result<TokenHome, ClusterError> {
        let mut call = self.token_home.prepare_invoke();
        call.arg(&self.config.prefix).arg(hex16(&token.0));
        parse_token_home(&self.run(&call).await?)
    }

    /// Tells the directory which tokens this node's players gained and lost, in one pipeline.
    pub async fn record_tokens(&self, changes: &[TokenChange]) -> Result<(), ClusterError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for change in changes {
            match change {
                TokenChange::Added(token) => {
                    pipe.cmd("SET")
                        .arg(self.token_key(token))
                        .arg(self.config.node.as_str())
                        .arg("PX")
                        .arg(millis(TOKEN_TTL))
                        .ignore();
                }
                TokenChange::Removed(token) => {
                    pipe.cmd("DEL").arg(self.token_key(token)).ignore();
                }
            }
        }
        let mut conn = self.conn.clone();
        let result =
            tokio::time::timeout(self.config.call_timeout, pipe.query_async::<()>(&mut conn)).await;
        self.settle(result)
    }

    /// Puts `message` on the bus for every node (this one too).
    pub async fn publish(&self, message: BusMessage) -> Result<(), ClusterError> {
        let envelope = Envelope {
            from: self.config.node.to_string(),
            message,
        };
        let mut conn = self.conn.clone();
        let mut add = redis::cmd("XADD");
        add.arg(format!("{}bus", self.config.prefix))
            .arg("MAXLEN")
            .arg("~")
            .arg(BUS_LENGTH)
            .arg("*")
            .arg("m")
            .arg(envelope.to_json());
        let result = tokio::time::timeout(
            self.config.call_timeout,
            add.query_async::<String>(&mut conn),
        )
        .await;
        self.settle(result).map(|_| ())
    }

    /// Leaves the cluster at once (a stopping node): its lease, record and rooms go.
    pub async fn depart(&self, rooms: &[RoomId]) -> Result<(), ClusterError> {
        let mut call = self.depart.prepare_invoke();
        call.arg(&self.config.prefix).arg(self.config.node.as_str());
        for id in rooms {
            call.arg(id.0);
        }
        self.run_raw::<String>(&call).await.map(|_| ())
    }

    fn token_key(&self, token: &ResumeToken) -> String {
        format!("{}token:{}", self.config.prefix, hex16(&token.0))
    }

    fn mode_or_default(&self, mode: &Option<String>) -> String {
        mode.clone()
            .unwrap_or_else(|| self.config.default_mode.clone())
    }

    async fn run(&self, call: &ScriptInvocation<'_>) -> Result<Vec<String>, ClusterError> {
        self.run_raw::<Vec<String>>(call).await
    }

    async fn run_raw<T: redis::FromRedisValue>(
        &self,
        call: &ScriptInvocation<'_>,
    ) -> Result<T, ClusterError> {
        let mut conn = self.conn.clone();
        let result =
            tokio::time::timeout(self.config.call_timeout, call.invoke_async::<T>(&mut conn)).await;
        self.settle(result)
    }

    /// Counts a call's outcome and turns it into the directory's error.
    fn settle<T>(
        &self,
        result: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, ClusterError> {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let detail = match result {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {:?}", self.config.call_timeout),
        };
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
        if self.reachable.swap(false, Ordering::Relaxed) {
            tracing::warn!(redis = %self.config.redis_url, %detail, "cluster directory unreachable: rooms play on, new seats are refused until it is back");
        }
        Err(ClusterError::Unavailable {
            url: self.config.redis_url.clone(),
            detail,
        })
    }

    /// A heartbeat succeeded: the directory is reachable again. Returns true if it was not.
    pub fn mark_reachable(&self) -> bool {
        let was = self.reachable.swap(true, Ordering::Relaxed);
        if !was {
            tracing::info!(redis = %self.config.redis_url, node = %self.config.node, "cluster directory reachable again: node and rooms registered");
        }
        !was
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, millis)
}
