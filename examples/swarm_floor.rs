//! The floor under the swarm: the cheapest client that still plays over real WebSockets. Each
//! connection joins (its first binary frame is the answer), then reads every frame without
//! decoding it and sends one input per tick (or every `input_every` ticks; 0: none, which
//! shows what the server's read side costs)
//! (steering in a random direction that changes every second or two, like the swarm's `wander`
//! bots), on one tokio thread. What this costs is what the kernel, tokio and fastwebsockets
//! cost; the swarm's CPU above it is the price of decoding and checking every snapshot.
//!
//! `cargo run --release --example swarm_floor -- ws://127.0.0.1:8080/ws 2000 30 [1]`
//! (url, connections, seconds, input_every). Prints the CPU used while every connection was playing.

use std::time::Duration;

use fastwebsockets::{Frame, OpCode, Payload};
use skirmish::bots::cpu_time;
use skirmish::client::connect_websocket;
use skirmish::protocol::{
    ClientMessage, Join, PROTOCOL_VERSION, PlayerInput, RoomRequest, Tick, encode_client_message,
};
use tokio::time::{Instant, MissedTickBehavior};

/// Connections opened per second.
const RAMP_PER_SECOND: u64 = 500;

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or("ws://127.0.0.1:8080/ws".into());
    let count: u64 = args
        .next()
        .map_or(2000, |n| n.parse().expect("connections"));
    let seconds: u64 = args.next().map_or(30, |n| n.parse().expect("seconds"));
    let input_every: u32 = args.next().map_or(1, |n| n.parse().expect("input_every"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(url, count, seconds, input_every));
}

async fn run(url: String, count: u64, seconds: u64, input_every: u32) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..count {
        let url = url.clone();
        let start_at = started + Duration::from_micros(index * 1_000_000 / RAMP_PER_SECOND);
        tasks.spawn(async move {
            tokio::time::sleep_until(start_at).await;
            play(&url, index, deadline, input_every).await
        });
    }
    // Measure from a second after the last connection opened to a second before the end.
    let ramp = Duration::from_micros(count * 1_000_000 / RAMP_PER_SECOND);
    let window_start = started + ramp + Duration::from_secs(1);
    let window_end = deadline - Duration::from_secs(1);
    assert!(window_start < window_end, "run too short for its ramp");
    tokio::time::sleep_until(window_start).await;
    let cpu_before = cpu_time();
    tokio::time::sleep_until(window_end).await;
    let cpu = cpu_time() - cpu_before;
    let window = window_end - window_start;
    let mut frames = 0u64;
    let mut failed = 0u64;
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok(Some(received)) => frames += received,
            _ => failed += 1,
        }
    }
    println!(
        "{count} connections, {seconds} s: {frames} frames received, {failed} failed; \
         CPU {:.1}% of one core while all played ({:.2} s over {:.1} s)",
        100.0 * cpu.as_secs_f64() / window.as_secs_f64(),
        cpu.as_secs_f64(),
        window.as_secs_f64(),
    );
}

/// Reads the next frame and keeps only its opcode; the reader travels through the future so
/// that one read stays in flight across the select loop.
async fn next_frame<S: tokio::io::AsyncRead + Unpin>(
    mut reader: fastwebsockets::WebSocketRead<S>,
) -> (fastwebsockets::WebSocketRead<S>, Option<OpCode>) {
    let mut ignore = |_: Frame<'_>| async { Ok::<_, std::convert::Infallible>(()) };
    let opcode = reader
        .read_frame(&mut ignore)
        .await
        .ok()
        .map(|frame| frame.opcode);
    (reader, opcode)
}

/// Plays one connection until `deadline`; the frames it received, or `None` if it failed.
async fn play(url: &str, index: u64, deadline: Instant, input_every: u32) -> Option<u64> {
    let ws = connect_websocket(url).await.ok()?;
    let (mut reader, mut writer) = ws.split(tokio::io::split);
    let join = ClientMessage::Join(Join {
        protocol_version: PROTOCOL_VERSION,
        request_id: 1,
        name: format!("floor{index}"),
        resume_token: None,
        baseline_tick: None,
        room: RoomRequest::default(),
    });
    let bytes = encode_client_message(&join).ok()?;
    writer
        .write_frame(Frame::binary(Payload::Owned(bytes)))
        .await
        .ok()?;
    // The first binary frame answers the join (Skirmish's `Welcome`; the floor server's first
    // snapshot): from then on this connection plays.
    let mut ignore = |_: Frame<'_>| async { Ok::<_, std::convert::Infallible>(()) };
    loop {
        let frame = reader.read_frame(&mut ignore).await.ok()?;
        match frame.opcode {
            OpCode::Binary => break,
            OpCode::Close => return None,
            _ => {}
        }
    }
    let mut rng = index.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next_random = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let period = Duration::from_secs_f64(1.0 / 30.0);
    let phase = Duration::from_micros(next_random() % 33_333);
    let mut interval = tokio::time::interval_at(Instant::now() + phase, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut frames = 0u64;
    let mut seq = 0u32;
    let mut ticks = 0u32;
    let mut buttons = 0u8;
    let reading = next_frame(reader);
    tokio::pin!(reading);
    loop {
        tokio::select! {
            biased;
            due = interval.tick() => {
                if due >= deadline {
                    break;
                }
                ticks += 1;
                if input_every == 0 || !ticks.is_multiple_of(input_every) {
                    continue;
                }
                seq += 1;
                if seq % 45 == 1 {
                    buttons = (next_random() % 16) as u8;
                }
                let input = ClientMessage::Input(PlayerInput {
                    seq,
                    buttons,
                    aim: 0.0,
                    ack_tick: Tick(0),
                    view_tick: Tick(0),
                });
                let bytes = encode_client_message(&input).ok()?;
                writer.write_frame(Frame::binary(Payload::Owned(bytes))).await.ok()?;
            }
            (reader, opcode) = &mut reading => {
                if opcode? == OpCode::Close {
                    return None;
                }
                frames += 1;
                reading.set(next_frame(reader));
            }
        }
    }
    let _ = writer.write_frame(Frame::close(1000, b"run over")).await;
    Some(frames)
}
