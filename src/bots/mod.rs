//! The bot swarm's library: hundreds to thousands of real protocol clients that play against a
//! server over real WebSockets ([`bot`]), following a [`behaviour`], while [`stats`] gathers
//! what they measured into a [`report::Report`]. `src/bin/swarm.rs` is its command line; the
//! integration tests drive it directly.

pub mod behaviour;
pub mod bot;
pub mod report;
pub mod stats;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

pub use behaviour::Behaviour;
pub use report::Report;
pub use stats::SwarmStats;

/// One swarm run.
#[derive(Debug, Clone)]
pub struct SwarmConfig {
    pub url: String,
    pub bots: u32,
    /// The whole run, ramp included.
    pub duration: Duration,
    /// New connections per second.
    pub ramp_per_second: f64,
    pub behaviour: Behaviour,
    pub seed: u64,
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
    let mut bots = tokio::task::JoinSet::new();
    let spacing = Duration::from_secs_f64(1.0 / config.ramp_per_second.max(0.001));
    for index in 0..config.bots {
        let plan = bot::BotPlan {
            url: config.url.clone(),
            name: format!("bot{index}"),
            seed: config.seed.wrapping_add(u64::from(index)),
            behaviour: config.behaviour,
            deadline,
        };
        let start_at = started + spacing.mul_f64(f64::from(index));
        if start_at >= deadline {
            break;
        }
        let stats = Arc::clone(&stats);
        bots.spawn(async move {
            tokio::time::sleep_until(start_at).await;
            bot::run_bot(plan, stats).await;
        });
    }
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            next = bots.join_next() => if next.is_none() { break },
            _ = progress.tick() => on_progress(&stats, started.elapsed()),
        }
    }
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    Report::new(config, &stats, wall, cpu)
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
