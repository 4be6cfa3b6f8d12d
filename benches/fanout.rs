//! What it costs to hand one encoded snapshot to every client, per client, next to what the
//! kernel charges for the write that follows. All through the real `Sessions` registry.
//!
//! - `snapshot_slots/N`: the tick loop publishes through `Outbox::publish_snapshots` into N
//!   players' slots (the encoder here just hands out shared bytes: encoding is measured by the
//!   tick bench); each slot is then treated as a connection's writer does: `ready()`, `take()`,
//!   `sent()`. Polled directly, no runtime: the mechanism alone.
//! - `snapshot_tasks/N`: the same with N tokio tasks awaiting `ready()` on a two-worker
//!   runtime, as the server runs them: publish, wake N tasks, each takes its frame. Timed until
//!   the last one has it.
//! - `reliable_queues/N`: for comparison, one message broadcast the way `Tagged`, `PlayerJoined`
//!   and `PlayerLeft` go out (`Outbox::send_to_all_except`: a `try_send` into each player's
//!   bounded queue), then each queue drained.
//! - `kernel_write/*`: one `write()` of a snapshot-sized buffer to a loopback TCP socket and to a
//!   Unix socket pair, a reader thread draining the other end.
//!
//! Throughput is in subscribers (or writes) per second: its inverse is the cost per client.
//!
//! `cargo bench --bench fanout`

use std::future::Future;
use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use skirmish::protocol::{PlayerId, Tick};
use skirmish::room::Outbox;
use skirmish::session::detached::register_detached;
use skirmish::session::{Sessions, SnapshotSlot};

const SUBSCRIBERS: [usize; 3] = [100, 1000, 10_000];
/// The encoded snapshot of a 1000-player game is about this size (see the codec bench).
const SNAPSHOT_BYTES: usize = 36 * 1024;

fn snapshot() -> Bytes {
    Bytes::from(
        (0..SNAPSHOT_BYTES)
            .map(|i| (i * 7) as u8)
            .collect::<Vec<u8>>(),
    )
}

/// Fewer samples for the largest N, whose iterations take milliseconds.
fn samples(subscribers: usize) -> usize {
    if subscribers >= 10_000 { 10 } else { 30 }
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    group
}

/// `n` welcomed players registered in a fresh registry, with their snapshot slots.
fn registered(n: usize) -> (Arc<Sessions>, Vec<Arc<SnapshotSlot>>) {
    let sessions = Arc::new(Sessions::default());
    let detached = register_detached(&sessions, player_ids(n), 1, true);
    let slots = detached
        .into_iter()
        .map(|session| {
            // Nobody reads the reliable queues here: keep them open for the bench's life.
            std::mem::forget(session.outbound);
            session.handle.snapshots
        })
        .collect();
    (sessions, slots)
}

/// Players 1 to `n`.
fn player_ids(n: usize) -> impl Iterator<Item = PlayerId> {
    (1..=n as u32).map(PlayerId)
}

fn snapshot_slots(c: &mut Criterion) {
    let bytes = snapshot();
    let mut group = group(c, "fanout");
    for n in SUBSCRIBERS {
        let (sessions, slots) = registered(n);
        let mut cx = Context::from_waker(Waker::noop());
        let mut tick = Tick(0);
        group.throughput(Throughput::Elements(n as u64));
        group.sample_size(samples(n));
        group.bench_function(BenchmarkId::new("snapshot_slots", n), |b| {
            b.iter(|| {
                tick = tick.next();
                sessions.publish_snapshots(tick, &mut |_, baseline| {
                    black_box(baseline);
                    Some(bytes.clone())
                });
                for slot in &slots {
                    {
                        let ready = pin!(slot.ready());
                        assert!(matches!(ready.poll(&mut cx), Poll::Ready(())));
                    }
                    let frame = slot.take().unwrap();
                    slot.sent(frame.tick);
                    black_box(&frame.bytes);
                }
            })
        });
    }
    group.finish();
}

fn snapshot_tasks(c: &mut Criterion) {
    let bytes = snapshot();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let mut group = group(c, "fanout");
    for n in SUBSCRIBERS {
        let (sessions, slots) = registered(n);
        let taken = Arc::new(AtomicUsize::new(0));
        let bench_thread = std::thread::current();
        let tasks: Vec<_> = slots
            .into_iter()
            .map(|slot| {
                let taken = Arc::clone(&taken);
                let bench_thread = bench_thread.clone();
                runtime.spawn(async move {
                    loop {
                        slot.ready().await;
                        let Some(frame) = slot.take() else { continue };
                        slot.sent(frame.tick);
                        black_box(&frame.bytes);
                        drop(frame);
                        if taken.fetch_add(1, Ordering::AcqRel) + 1 == n {
                            bench_thread.unpark();
                        }
                    }
                })
            })
            .collect();
        // Let every task reach its first `ready().await`.
        std::thread::sleep(Duration::from_millis(200));
        let mut tick = Tick(0);
        group.throughput(Throughput::Elements(n as u64));
        group.sample_size(samples(n));
        group.bench_function(BenchmarkId::new("snapshot_tasks", n), |b| {
            b.iter_custom(|iterations| {
                let started = Instant::now();
                for _ in 0..iterations {
                    taken.store(0, Ordering::Release);
                    tick = tick.next();
                    sessions.publish_snapshots(tick, &mut |_, _| Some(bytes.clone()));
                    while taken.load(Ordering::Acquire) < n {
                        std::thread::park();
                    }
                }
                started.elapsed()
            })
        });
        for task in tasks {
            task.abort();
        }
    }
    group.finish();
}

fn reliable_queues(c: &mut Criterion) {
    let message = Bytes::from_static(&[4, 12, 0xfb, 0xd2, 0x04]);
    let mut group = group(c, "fanout");
    for n in SUBSCRIBERS {
        let sessions = Arc::new(Sessions::default());
        let mut queues: Vec<_> = register_detached(&sessions, player_ids(n), 256, true)
            .into_iter()
            .map(|session| session.outbound)
            .collect();
        group.throughput(Throughput::Elements(n as u64));
        group.sample_size(samples(n));
        group.bench_function(BenchmarkId::new("reliable_queues", n), |b| {
            b.iter(|| {
                sessions.send_to_all_except(None, message.clone());
                for queue in &mut queues {
                    black_box(queue.try_recv().unwrap());
                }
            })
        });
        assert_eq!(sessions.delivery.kicked_slow.load(Ordering::Relaxed), 0);
    }
    group.finish();
}

/// A reader thread that drains `stream` until told to stop.
fn drain<R: Read + Send + 'static>(mut stream: R, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buffer = vec![0u8; 256 * 1024];
        while !stop.load(Ordering::Relaxed) {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
}

fn kernel_write(c: &mut Criterion) {
    let payload = snapshot();
    let mut group = group(c, "kernel_write");
    group.throughput(Throughput::Elements(1));

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    writer.set_nodelay(true).unwrap();
    let (reader, _) = listener.accept().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let drainer = drain(reader, Arc::clone(&stop));
    group.bench_function(BenchmarkId::new("tcp_loopback", SNAPSHOT_BYTES), |b| {
        b.iter(|| writer.write_all(black_box(&payload)).unwrap())
    });
    stop.store(true, Ordering::Relaxed);
    drop(writer);
    drainer.join().unwrap();

    let (mut writer, reader) = UnixStream::pair().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let drainer = drain(reader, Arc::clone(&stop));
    group.bench_function(BenchmarkId::new("unix_socketpair", SNAPSHOT_BYTES), |b| {
        b.iter(|| writer.write_all(black_box(&payload)).unwrap())
    });
    stop.store(true, Ordering::Relaxed);
    drop(writer);
    drainer.join().unwrap();
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = snapshot_slots, snapshot_tasks, reliable_queues, kernel_write
}
criterion_main!(benches);
