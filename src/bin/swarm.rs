//! `swarm`: opens many real players (WebSocket or long polling) against a Skirmish server, plays for a while, and
//! reports whether the server held up. Exit code 0 when every threshold given was met, 1 when
//! one was missed, 2 on bad usage.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use skirmish::bots::report::Thresholds;
use skirmish::bots::{Behaviour, RoomFlags, SwarmConfig, SwarmStats, Transport, run_swarm};
use skirmish::config::parse_duration;

/// Bot swarm for Skirmish: real players over real WebSockets or long polling, measured.
#[derive(Parser, Debug)]
#[command(name = "swarm", version, about)]
struct Flags {
    /// WebSocket URL of the server.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    url: String,
    /// How the bots connect: one WebSocket each, or HTTP long polling at `/poll` on the URL's
    /// host and port (two keep-alive connections each).
    #[arg(long, value_enum, default_value_t = Transport::Websocket)]
    transport: Transport,
    /// How many bots to run.
    #[arg(long, default_value_t = 100)]
    bots: u32,
    /// How long the whole run lasts, ramp included (e.g. 60s, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// New connections per second, so that a thousand bots do not arrive in one millisecond.
    #[arg(long, default_value_t = 200.0)]
    ramp: f64,
    /// How the bots play.
    #[arg(long, value_enum, default_value_t = Behaviour::Wander)]
    behaviour: Behaviour,
    /// Seed of the bots' random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Fail if the p99 gap between snapshots exceeds this many milliseconds.
    #[arg(long)]
    max_p99_gap_ms: Option<f64>,
    /// Fail if fewer than this share of snapshots arrive (0..1, e.g. 0.999).
    #[arg(long)]
    min_delivered: Option<f64>,
    /// Fail if more than this many connections fail, drop, or send undecodable bytes.
    #[arg(long)]
    max_errors: Option<u64>,
    /// Event-loop threads the bots are shared between (1 keeps the swarm on one core).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Every bot joins this room by its id, instead of quick play.
    #[arg(long, value_name = "ID", conflicts_with_all = ["room_code", "mode", "region"])]
    room: Option<u32>,
    /// Every bot joins the private room with this code, instead of quick play.
    #[arg(long, value_name = "CODE", conflicts_with_all = ["mode", "region"])]
    room_code: Option<String>,
    /// Quick play in this mode only (default: the server's default mode).
    #[arg(long)]
    mode: Option<String>,
    /// Quick play in this region only (default: any region).
    #[arg(long)]
    region: Option<String>,
}

impl Flags {
    fn room_flags(&self) -> RoomFlags {
        RoomFlags {
            room: self.room,
            room_code: self.room_code.clone(),
            mode: self.mode.clone(),
            region: self.region.clone(),
        }
    }
}

fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    if let Some(min) = flags.min_delivered {
        anyhow::ensure!(
            (0.0..=1.0).contains(&min),
            "--min-delivered is a ratio between 0 and 1"
        );
    }
    anyhow::ensure!(flags.ramp > 0.0, "--ramp must be positive");
    anyhow::ensure!(flags.threads > 0, "--threads must be at least 1");
    let room = flags.room_flags().room_request().unwrap_or_else(|error| {
        Flags::command()
            .error(clap::error::ErrorKind::ValueValidation, error)
            .exit()
    });
    // The runtime only waits for the event loops and shows progress; the bots run on the
    // loops' own threads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let config = SwarmConfig {
        url: flags.url.clone(),
        transport: flags.transport,
        bots: flags.bots,
        duration: flags.duration,
        ramp_per_second: flags.ramp,
        behaviour: flags.behaviour,
        seed: flags.seed,
        threads: flags.threads,
        room,
    };
    let live = std::io::stderr().is_terminal();
    let mut last_snapshots = 0;
    let report = runtime.block_on(run_swarm(&config, |stats, elapsed| {
        if live {
            last_snapshots = print_progress(stats, elapsed, last_snapshots);
        }
    }));
    if live {
        eprintln!();
    }
    let thresholds = Thresholds {
        max_p99_gap_ms: flags.max_p99_gap_ms,
        min_delivered: flags.min_delivered,
        max_errors: flags.max_errors,
    };
    print!("{}", report.render_text(&thresholds));
    if let Some(path) = &flags.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !report.missed(&thresholds).is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

/// One live line on the terminal; returns the snapshot count for the next rate.
fn print_progress(stats: &SwarmStats, elapsed: Duration, last_snapshots: u64) -> u64 {
    let snapshots = stats.snapshots_received.load(Ordering::Relaxed);
    let errors = stats.failures().values().sum::<u64>()
        + stats.drops().values().sum::<u64>()
        + stats.decode_errors.load(Ordering::Relaxed);
    eprint!(
        "\r[{:>5.1}s] bots connected {:>5}  snapshots/s {:>7}  errors {:>4}   ",
        elapsed.as_secs_f64(),
        stats.connected.load(Ordering::Relaxed),
        snapshots - last_snapshots,
        errors
    );
    snapshots
}
