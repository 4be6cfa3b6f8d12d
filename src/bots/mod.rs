//! The bot swarm's library: hundreds to thousands of real protocol clients that play against a
//! server over real WebSockets or HTTP long polling ([`bot`]), following a [`behaviour`], driven
//! by event loops that each run many bots on one thread ([`engine`] over [`wire`] or
//! [`poll_wire`]), asking for the room the flags
//! name ([`room_choice`]), while [`stats`] gathers what they measured, overall and per room
//! ([`rooms`]), into a [`report::Report`]. `src/bin/swarm.rs` is its command line; the
//! integration tests drive it directly.

pub mod behaviour;
pub mod bot;
pub mod engine;
pub mod poll_wire;
pub mod report;
pub mod room_choice;
pub mod rooms;
pub mod stats;
pub mod wire;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use std::time::Instant;

pub use behaviour::Behaviour;
pub use report::Report;
pub use room_choice::{RoomFlags, RoomFlagsError};
pub use stats::SwarmStats;

/// How the bots reach the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// One WebSocket per bot.
    #[default]
    Websocket,
    /// HTTP long polling (docs/PROTOCOL.md): two keep-alive connections per bot, one for the
    /// long GET and one for the POSTs, at `/poll` on the URL's host.
    Polling,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Websocket => "websocket",
            Transport::Polling => "polling",
        })
    }
}

/// One swarm run.
#[derive(Debug, Clone)]
pub struct SwarmConfig {
    pub url: String,
    /// WebSocket or long polling (the URL's host and port either way).
    pub transport: Transport,
    pub bots: u32,
    /// The whole run, ramp included.
    pub duration: Duration,
    /// New connections per second.
    pub ramp_per_second: f64,
    pub behaviour: Behaviour,
    pub seed: u64,
    /// Event-loop threads the bots are shared between (1 keeps the swarm on one core).
    pub threads: usize,
    /// The room every bot asks for in its `Join` (see [`RoomFlags::room_request`]).
    pub room: crate::protocol::RoomRequest,
}

/// Runs the swarm to its end and reports. `on_progress` is called about once a second with the
/// live counters (for a terminal display).
pub async fn run_swarm(
    config: &SwarmConfig,
    mut on_progress: impl FnMut(&SwarmStats, Duration),
) -> Report {
    let stats = Arc::new(SwarmStats::default());
    let cpu_before = cpu_time();
    let started = Instant::now();
    let deadline = started + config.duration;
    let plans = plan_bots(config, started, deadline);
    let mut loops = tokio::task::JoinSet::new();
    match resolve(&config.url) {
        Ok(target) => {
            let threads = config.threads.clamp(1, plans.len().max(1));
            for share in deal(plans, threads) {
                let (target, stats) = (target.clone(), Arc::clone(&stats));
                loops.spawn_blocking(move || engine::run(&target, share, &stats));
            }
        }
        Err(reason) => {
            for _ in &plans {
                stats.attempted.fetch_add(1, Ordering::Relaxed);
                stats.record_failure(reason.clone());
            }
        }
    }
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            next = loops.join_next() => match next {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(error))) => stats.record_failure(format!("event loop: {error}")),
                Some(Err(error)) => stats.record_failure(format!("event loop: {error}")),
            },
            _ = progress.tick() => on_progress(&stats, started.elapsed()),
        }
    }
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    Report::new(config, &stats, wall, cpu)
}

/// Every bot's plan: its name, seed and start time on the ramp (none starts after the end).
fn plan_bots(config: &SwarmConfig, started: Instant, deadline: Instant) -> Vec<bot::BotPlan> {
    let spacing = Duration::from_secs_f64(1.0 / config.ramp_per_second.max(0.001));
    (0..config.bots)
        .map(|index| bot::BotPlan {
            name: format!("bot{index}"),
            seed: config.seed.wrapping_add(u64::from(index)),
            behaviour: config.behaviour,
            transport: config.transport,
            room: config.room.clone(),
            start_at: started + spacing.mul_f64(f64::from(index)),
            deadline,
        })
        .take_while(|plan| plan.start_at < deadline)
        .collect()
}

/// Deals the plans out to `threads` event loops in turn, so that each ramps at the same pace.
fn deal(plans: Vec<bot::BotPlan>, threads: usize) -> Vec<Vec<bot::BotPlan>> {
    let mut shares: Vec<Vec<bot::BotPlan>> = (0..threads).map(|_| Vec::new()).collect();
    for (index, plan) in plans.into_iter().enumerate() {
        shares[index % threads].push(plan);
    }
    shares
}

/// The server's address and the upgrade request's Host and path, from a `ws://` URL.
fn resolve(url: &str) -> Result<engine::Target, String> {
    let (authority, path) = crate::client::split_ws_url(url).map_err(|e| e.to_string())?;
    let addr = std::net::ToSocketAddrs::to_socket_addrs(authority)
        .map_err(|e| format!("connect: cannot resolve {authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("connect: {authority} has no address"))?;
    Ok(engine::Target {
        addr,
        authority: authority.to_owned(),
        path: path.to_owned(),
    })
}

/// CPU time (user + system) this process has used so far.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we pass, which is zero-initialised.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let to_duration = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    to_duration(usage.ru_utime) + to_duration(usage.ru_stime)
}
