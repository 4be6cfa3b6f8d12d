//! Hostile clients on raw sockets, with hand-built WebSocket frames: each offender is closed
//! (with the right close code where there is one) while a normal player, watching beside it,
//! keeps receiving snapshots on time. The last test runs the real binary as a child process,
//! abuses it every way at once and checks that its resident memory comes back near where it
//! started.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::child::ChildServer;
use common::metrics::{metric, wait_for_metric};
use common::raw_socket::*;
use common::*;
use skirmish::client::{GameClient, Received};
use skirmish::protocol::{ClientMessage, Ping, ServerMessage};
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Short budgets so that every offender is dealt with in a second or two.
/// How long a client that stops reading may take to be dropped: its window must fill with
/// small delta snapshots first, then the 1 s write timeout passes.
const STALL_PATIENCE: Duration = Duration::from_secs(10);

const FLAGS: &[&str] = &[
    "--join-timeout",
    "2s",
    "--handshake-timeout",
    "1s",
    "--write-timeout",
    "1s",
    "--send-buffer",
    "4096",
    "--max-connections-per-ip",
    "1000",
];

/// Generous bounds for "on time" on a noisy two-core machine: at 30 Hz snapshots are 33 ms
/// apart; anything under these means the watcher never noticed the abuse.
const MAX_SNAPSHOT_GAP: Duration = Duration::from_millis(1500);
const MAX_TICK_GAP: i32 = 45;

// --- random bytes --------------------------------------------------------------------------------

/// A tiny deterministic generator, so a failure can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

// --- the normal player who must not notice ----------------------------------------------------

/// A well-behaved player on its own task, recording when snapshots arrive.
struct Watcher {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Delivery>,
}

/// What the watcher saw.
#[derive(Debug, Default)]
struct Delivery {
    snapshots: u32,
    /// Longest time without a snapshot, from joining to being stopped.
    longest_gap: Duration,
    largest_tick_gap: i32,
}

impl Watcher {
    async fn start(url: &str) -> Watcher {
        let (mut client, _) = GameClient::join(url, "Watcher").await.unwrap();
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut delivery = Delivery::default();
            let mut last_at = Instant::now();
            let mut last_tick: Option<skirmish::protocol::Tick> = None;
            loop {
                let received = tokio::select! {
                    _ = &mut stopped => {
                        delivery.longest_gap = delivery.longest_gap.max(last_at.elapsed());
                        return delivery;
                    }
                    received = client.recv() => received,
                };
                match received {
                    Ok(Received::Message(ServerMessage::Snapshot(snapshot))) => {
                        let now = Instant::now();
                        delivery.longest_gap = delivery.longest_gap.max(now - last_at);
                        if let Some(tick) = last_tick {
                            delivery.largest_tick_gap =
                                delivery.largest_tick_gap.max(snapshot.tick.since(tick));
                        }
                        last_at = now;
                        last_tick = Some(snapshot.tick);
                        delivery.snapshots += 1;
                    }
                    Ok(Received::Message(ServerMessage::Ping(heartbeat))) => {
                        let pong = ClientMessage::Pong(Ping {
                            nonce: heartbeat.nonce,
                        });
                        let _ = client.send(&pong).await;
                    }
                    Ok(Received::Message(_)) => {}
                    Ok(Received::Closed { code, reason }) => {
                        panic!("the watcher was closed: {code} {reason}")
                    }
                    Err(error) => panic!("the watcher's connection failed: {error}"),
                }
            }
        });
        Watcher { stop, task }
    }

    /// Stops watching and checks that snapshots kept coming on time throughout.
    async fn assert_undisturbed(self) {
        let _ = self.stop.send(());
        let delivery = self.task.await.expect("the watcher panicked");
        assert!(delivery.snapshots >= 2, "{delivery:?}");
        assert!(delivery.longest_gap < MAX_SNAPSHOT_GAP, "{delivery:?}");
        assert!(delivery.largest_tick_gap <= MAX_TICK_GAP, "{delivery:?}");
    }
}

/// Waits until the abusers are gone: at most the watcher's connection and the scrape open, and
/// the watcher the only player (the others' places given back after any resume grace).
async fn wait_until_only_the_watcher_is_left(addr: SocketAddr) {
    wait_for_metric(addr, "skirmish_connections_open", PATIENCE, |open| {
        open <= 2.0
    })
    .await;
    wait_for_metric(
        addr,
        "skirmish_players",
        Duration::from_secs(15),
        |players| players == 1.0,
    )
    .await;
}

// --- frame-level abuse ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmasked_frame_is_closed_with_1002() {
    let server = start_server(FLAGS).await;
    let watcher = Watcher::start(&server.ws_url()).await;
    // Before and after joining: both are protocol errors.
    let mut early = open_raw(server.addr).await;
    early
        .write_all(&frame(true, BINARY, None, &[2, 7]))
        .await
        .unwrap();
    assert_eq!(expect_raw_close(&mut early).await, Some(1002));

    let mut joined = join_raw(server.addr, "Unmasked").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    joined
        .write_all(&frame(true, BINARY, None, &[2, 7]))
        .await
        .unwrap();
    assert_eq!(expect_raw_close(&mut joined).await, Some(1002));
    // The same bytes, masked, are a valid Ping.
    let mut fine = join_raw(server.addr, "Masked").await;
    fine.write_all(&masked(BINARY, &[2, 7])).await.unwrap();
    fine.write_all(&masked(CLOSE, &1000u16.to_be_bytes()))
        .await
        .unwrap();
    assert_eq!(expect_raw_close(&mut fine).await, Some(1000));
    watcher.assert_undisturbed().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_frames_get_the_close_code_rfc_6455_asks_for() {
    let server = start_server(FLAGS).await;
    let watcher = Watcher::start(&server.ws_url()).await;
    let mut bad_reason = 1000u16.to_be_bytes().to_vec();
    bad_reason.extend_from_slice(&[0xc3, 0x28]);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unknown opcode 0x3", masked(0x3, b"?"), 1002),
        ("unknown control opcode 0xB", masked(0xB, b""), 1002),
        (
            "reserved bit set",
            {
                let mut f = masked(BINARY, &[2, 7]);
                f[0] |= 0x40;
                f
            },
            1002,
        ),
        (
            "fragmented ping",
            frame(false, PING, Some([1, 2, 3, 4]), b"x"),
            1002,
        ),
        ("pong over 125 bytes", masked(PONG, &[0; 126]), 1002),
        ("close over 125 bytes", masked(CLOSE, &[0x03; 126]), 1002),
        ("one-byte close", masked(CLOSE, &[0x03]), 1002),
        (
            "close code 1005",
            masked(CLOSE, &1005u16.to_be_bytes()),
            1002,
        ),
        ("close code 999", masked(CLOSE, &999u16.to_be_bytes()), 1002),
        ("close reason not UTF-8", masked(CLOSE, &bad_reason), 1007),
        (
            "continuation with nothing to continue",
            masked(CONTINUATION, &[1]),
            1002,
        ),
        ("text frame", masked(TEXT, b"hello"), 1003),
        ("text frame, not UTF-8", masked(TEXT, &[0xff, 0xfe]), 1003),
        ("garbage payload", masked(BINARY, &[0xff, 0x00, 0x13]), 1007),
    ];
    for (what, bytes, code) in cases {
        for joined in [false, true] {
            let mut stream = if joined {
                join_raw(server.addr, "Broken").await
            } else {
                open_raw(server.addr).await
            };
            stream.write_all(&bytes).await.unwrap();
            let closed = expect_raw_close(&mut stream).await;
            assert_eq!(closed, Some(code), "{what} (joined: {joined})");
        }
    }
    // A valid close is echoed: the closing handshake.
    let mut polite = join_raw(server.addr, "Polite").await;
    let mut goodbye = 4321u16.to_be_bytes().to_vec();
    goodbye.extend_from_slice("à bientôt".as_bytes());
    polite.write_all(&masked(CLOSE, &goodbye)).await.unwrap();
    assert_eq!(expect_raw_close(&mut polite).await, Some(4321));
    watcher.assert_undisturbed().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_length_header_is_refused_with_1009_before_allocation() {
    let server = start_server(FLAGS).await;
    let watcher = Watcher::start(&server.ws_url()).await;
    for declared in [1025u64, 65_535, 1 << 40, u64::MAX >> 1] {
        let mut stream = join_raw(server.addr, "Huge").await;
        let mut head = vec![0x80 | BINARY, 0x80 | 127];
        head.extend_from_slice(&declared.to_be_bytes());
        head.extend_from_slice(&[1, 2, 3, 4]);
        stream.write_all(&head).await.unwrap();
        // No payload follows: the header alone must be enough to refuse it.
        assert_eq!(
            expect_raw_close(&mut stream).await,
            Some(1009),
            "{declared}"
        );
    }
    watcher.assert_undisturbed().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_garbage_frames_close_the_offender_only() {
    let server = start_server(FLAGS).await;
    let watcher = Watcher::start(&server.ws_url()).await;
    let mut rng = XorShift(0x5eed_1234_abcd_0001);
    // One player pipelines 10,000 undecodable messages without waiting.
    let mut flood = Vec::new();
    for _ in 0..10_000 {
        let mut payload = vec![0xff];
        let len = rng.below(40) as usize;
        payload.extend(rng.bytes(len));
        flood.extend(masked(BINARY, &payload));
    }
    let mut offender = join_raw(server.addr, "Garbage").await;
    let (mut read_half, mut write_half) = offender.split();
    let (_, closed) = tokio::join!(write_half.write_all(&flood), async {
        let mut stream_code = None;
        let deadline = Instant::now() + PATIENCE;
        while let Ok(Some((opcode, payload))) =
            tokio::time::timeout_at(deadline, read_server_frame(&mut read_half)).await
        {
            if opcode == CLOSE {
                stream_code = Some(skirmish::client::close_code(&payload));
                break;
            }
        }
        stream_code
    });
    assert_eq!(closed, Some(1007));
    drop(offender);

    // Fifty more connections each send 200 frames of random bytes: random opcodes, bits,
    // lengths and masks. Whatever each one amounts to, it must end promptly.
    let mut tasks = Vec::new();
    for seed in 1..=50u64 {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut bytes = Vec::new();
            for _ in 0..200 {
                let opcode = rng.below(16) as u8;
                let first = (rng.below(256) as u8 & 0xf0) | opcode;
                let len = rng.below(300) as usize;
                let mut f = if rng.below(8) == 0 {
                    frame(true, 0, None, &rng.bytes(len))
                } else {
                    frame(true, 0, Some([1, 2, 3, 4]), &rng.bytes(len))
                };
                f[0] = first;
                bytes.extend(f);
            }
            let mut stream = open_raw(addr).await;
            let _ = stream.write_all(&bytes).await;
            expect_dropped(&mut stream, PATIENCE, "a random frame sender").await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    watcher.assert_undisturbed().await;
    // Everyone but the watcher (and this scrape) is gone.
    wait_for_metric(server.addr, "skirmish_connections_open", PATIENCE, |open| {
        open <= 2.0
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_of_pings_or_empty_fragments_are_rate_limited_with_1008() {
    let server = start_server(FLAGS).await;
    let watcher = Watcher::start(&server.ws_url()).await;
    let pings: Vec<u8> = (0..5).flat_map(|_| masked(PING, b"hi")).collect();
    // A message begun and never finished: empty continuations add nothing to its size.
    let start = frame(false, BINARY, Some([9, 9, 9, 9]), &[]);
    let empty_fragments: Vec<u8> = (0..5)
        .flat_map(|_| frame(false, CONTINUATION, Some([9, 9, 9, 9]), &[]))
        .collect();
    for (what, opening, burst) in [
        ("pings", Vec::new(), pings),
        ("empty fragments", start, empty_fragments),
    ] {
        let mut flooder = join_raw(server.addr, "Flooder").await;
        flooder.write_all(&opening).await.unwrap();
        let (mut read_half, mut write_half) = flooder.split();
        // 500 frames a second for up to three seconds: over the limit for longer than its
        // one-second grace. Reading the whole time, so that pongs do not back up.
        let flood = async {
            let mut ticker = tokio::time::interval(Duration::from_millis(10));
            for _ in 0..300 {
                ticker.tick().await;
                if write_half.write_all(&burst).await.is_err() {
                    return;
                }
            }
        };
        let close = async {
            let deadline = Instant::now() + PATIENCE;
            loop {
                match tokio::time::timeout_at(deadline, read_server_frame(&mut read_half)).await {
                    Ok(Some((CLOSE, payload))) => {
                        return Some(skirmish::client::close_code(&payload));
                    }
                    Ok(Some(_)) => continue,
                    _ => return None,
                }
            }
        };
        let (_, code) = tokio::join!(flood, close);
        assert_eq!(code, Some(1008), "{what}");
    }
    assert!(metric(server.addr, "skirmish_messages_rate_limited_total").await > 0.0);
    watcher.assert_undisturbed().await;
    server.stop().await;
}

// --- connection-level abuse -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_handshake_is_closed_after_the_handshake_timeout() {
    let server = start_server(FLAGS).await;
    let watcher = Watcher::start(&server.ws_url()).await;
    let mut slow = connect_from(server.addr, LOCALHOST, None).await;
    let started = Instant::now();
    slow.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One header byte every 100 ms, forever: the server must give up after its 1 s timeout.
    let dribble = async {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow.write_all(b"X").await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(6), dribble).await;
    expect_dropped(&mut slow, Duration::from_secs(1), "the slowloris").await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(6),
        "closed after {elapsed:?}"
    );
    watcher.assert_undisturbed().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_heads_are_refused_with_431() {
    let server = start_server(FLAGS).await;
    let big = format!("X-Padding: {}\r\n", "a".repeat(20_000));
    let (status, _, _) = http_get(server.addr, "/healthz", &big).await;
    assert_eq!(status, 431);
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (status, _, _) = http_get(server.addr, "/healthz", &many).await;
    assert_eq!(status, 431);
    let (status, _, _) = http_get(server.addr, "/healthz", "").await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connect_and_reset_cycles_leave_nothing_behind() {
    let server = start_server(FLAGS).await;
    let watcher = Watcher::start(&server.ws_url()).await;
    for batch in 0..20 {
        let mut resets = Vec::new();
        for i in 0..50 {
            let addr = server.addr;
            resets.push(tokio::spawn(async move {
                let stream = connect_from(addr, LOCALHOST, None).await;
                let mut stream = stream;
                // Some reset mid-request, some after upgrading, some after joining.
                match (batch + i) % 3 {
                    0 => {
                        let _ = stream.write_all(b"GET /ws HTTP/1.1\r\nHo").await;
                    }
                    1 => {
                        upgrade(&mut stream, addr).await;
                    }
                    _ => {
                        upgrade(&mut stream, addr).await;
                        let _ = stream.write_all(&join_frame("Reset")).await;
                    }
                }
                // Linger zero: closing sends a reset instead of a FIN.
                stream.set_zero_linger().unwrap();
                drop(stream);
            }));
        }
        for reset in resets {
            reset.await.unwrap();
        }
    }
    wait_until_only_the_watcher_is_left(server.addr).await;
    watcher.assert_undisturbed().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_and_others_play_on() {
    let server = start_server(FLAGS).await;
    let watcher = Watcher::start(&server.ws_url()).await;
    let other = Watcher::start(&server.ws_url()).await;
    // A small receive buffer so that the server's writes back up quickly.
    let mut stalled = connect_from(server.addr, LOCALHOST, Some(4096)).await;
    assert_eq!(upgrade(&mut stalled, server.addr).await, 101);
    stalled.write_all(&join_frame("Stalled")).await.unwrap();
    // Never read. Snapshots fill its small window; then nothing is acknowledged for the 1 s
    // write timeout (the kernel's count, see `transport::websocket::progress`) and the server drops the player.
    wait_for_metric(
        server.addr,
        "skirmish_connections_closed_total{reason=\"slow_consumer\"}",
        Duration::from_secs(20),
        |closed| closed == 1.0,
    )
    .await;
    expect_dropped(&mut stalled, PATIENCE, "the stalled reader").await;
    wait_for_metric(server.addr, "skirmish_players", PATIENCE, |players| {
        players == 2.0
    })
    .await;
    watcher.assert_undisturbed().await;
    other.assert_undisturbed().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_caps_refuse_with_503_before_the_upgrade_and_are_counted() {
    let server = start_server(&["--max-connections", "3", "--max-connections-per-ip", "2"]).await;
    let (_first, _) = GameClient::join(&server.ws_url(), "One").await.unwrap();
    let (_second, _) = GameClient::join(&server.ws_url(), "Two").await.unwrap();
    // A third connection from 127.0.0.1: refused for its address.
    let (status, head, body) = http_get(server.addr, "/ws", UPGRADE_HEADERS).await;
    assert_eq!(status, 503, "{head}");
    assert!(
        String::from_utf8_lossy(&body).contains("too many connections from your address"),
        "{body:?}"
    );
    assert!(head.to_ascii_lowercase().contains("retry-after"), "{head}");
    // From another address: one more fits, then the total cap refuses the next.
    let other: IpAddr = "127.0.0.2".parse().unwrap();
    let mut third = connect_from(server.addr, other, None).await;
    assert_eq!(upgrade(&mut third, server.addr).await, 101);
    let third_address: IpAddr = "127.0.0.3".parse().unwrap();
    let mut fourth = connect_from(server.addr, third_address, None).await;
    assert_eq!(upgrade(&mut fourth, server.addr).await, 503);
    // Once a connection ends, its place is free again.
    drop(third);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut retry = connect_from(server.addr, third_address, None).await;
        let status = upgrade(&mut retry, server.addr).await;
        if status == 101 {
            break;
        }
        assert!(Instant::now() < deadline, "the place was never given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_counted_in_metrics() {
    let server = start_server(&["--max-connections-per-ip", "1"]).await;
    let (player, _) = GameClient::join(&server.ws_url(), "Only").await.unwrap();
    let (status, _, _) = http_get(server.addr, "/metrics", "").await;
    assert_eq!(status, 503);
    drop(player);
    // The refused scrape is counted (and any refused while the player's place was being given
    // back).
    wait_for_metric(
        server.addr,
        "skirmish_connections_refused_total{reason=\"max_connections_per_ip\"}",
        PATIENCE,
        |refused| refused >= 1.0,
    )
    .await;
    assert_eq!(
        metric(
            server.addr,
            "skirmish_connections_refused_total{reason=\"max_connections\"}"
        )
        .await,
        0.0
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_upgrade_request_is_refused_with_400_and_counted() {
    let server = start_server(FLAGS).await;
    let no_key = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
    let (status, _, body) = http_get(server.addr, "/ws", no_key).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        metric(server.addr, "skirmish_upgrades_refused_total").await,
        1.0
    );
    server.stop().await;
}

// --- memory, on the real binary ---------------------------------------------------------------

/// The child's resident memory, from its own `/metrics`.
async fn resident_mib(server: &ChildServer) -> f64 {
    metric(server.addr, "skirmish_process_resident_bytes").await / (1024.0 * 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resident_memory_returns_near_its_baseline_after_abuse() {
    const ROUNDS: u64 = 2;
    // Its own process, so that its memory is its own.
    let server = ChildServer::start(&[&["--log", "error", "--seed", "7"], FLAGS].concat());
    let url = format!("ws://{}/ws", server.addr);
    let watcher = Watcher::start(&url).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline = resident_mib(&server).await;

    let mut peak: f64 = baseline;
    for round in 0..ROUNDS {
        let mut abusers = Vec::new();
        // Stalled readers, garbage, oversized headers and resets, all at once.
        for i in 0..40u64 {
            let addr = server.addr;
            abusers.push(tokio::spawn(async move {
                let mut rng = XorShift((round * 1000 + i + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
                match i % 4 {
                    0 => {
                        let mut stream = connect_from(addr, LOCALHOST, Some(4096)).await;
                        upgrade(&mut stream, addr).await;
                        let _ = stream.write_all(&join_frame("Stalled")).await;
                        // Delta snapshots of a near-empty world are tens of bytes: the small
                        // window takes seconds to fill, then nothing is acknowledged for the
                        // 1 s write timeout and the server drops the reader.
                        // Reading now would unstall it: wait without reading first.
                        tokio::time::sleep(STALL_PATIENCE).await;
                        expect_dropped(&mut stream, PATIENCE, "a stalled reader").await;
                    }
                    1 => {
                        let mut stream = join_raw(addr, "Garbage").await;
                        for _ in 0..500 {
                            let len = rng.below(1000) as usize;
                            let _ = stream.write_all(&masked(BINARY, &rng.bytes(len))).await;
                        }
                        expect_dropped(&mut stream, PATIENCE, "a garbage sender").await;
                    }
                    2 => {
                        let mut stream = join_raw(addr, "Huge").await;
                        let mut head = vec![0x80 | BINARY, 0x80 | 127];
                        head.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
                        head.extend_from_slice(&[1, 2, 3, 4]);
                        let _ = stream.write_all(&head).await;
                        expect_dropped(&mut stream, PATIENCE, "a huge header").await;
                    }
                    _ => {
                        for _ in 0..25 {
                            let mut stream = connect_from(addr, LOCALHOST, None).await;
                            upgrade(&mut stream, addr).await;
                            stream.set_zero_linger().unwrap();
                        }
                    }
                }
            }));
        }
        let sampler = async {
            let mut highest: f64 = 0.0;
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                highest = highest.max(resident_mib(&server).await);
            }
            highest
        };
        let (highest, ()) = tokio::join!(sampler, async {
            for abuser in abusers {
                abuser.await.unwrap();
            }
        });
        peak = peak.max(highest);
    }
    wait_until_only_the_watcher_is_left(server.addr).await;
    let stalled = metric(
        server.addr,
        "skirmish_connections_closed_total{reason=\"slow_consumer\"}",
    )
    .await;
    assert_eq!(stalled, (ROUNDS * 10) as f64);
    // Give the allocator a moment, then compare.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = resident_mib(&server).await;
    println!(
        "resident memory: baseline {baseline:.1} MiB, peak {peak:.1} MiB, after {after:.1} MiB"
    );
    assert!(
        peak < baseline + 128.0,
        "peak {peak:.1} MiB from {baseline:.1} MiB"
    );
    assert!(
        after < baseline + 32.0,
        "after abuse {after:.1} MiB, baseline {baseline:.1} MiB"
    );
    watcher.assert_undisturbed().await;
}
