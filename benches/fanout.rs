//! What it costs to hand one encoded snapshot to every client, per client, next to what the
//! kernel charges for the write that follows. All through the real `Sessions` registry.
//!
//! - `snapshot_cell/N`: the tick loop publishes through `Outbox::publish_snapshot`; each of N
//!   receivers then does what a connection's writer does: `changed()`, then
//!   `borrow_and_update().clone()`, then drops the frame once "sent". Polled directly, no
//!   runtime: the mechanism alone.
//! - `snapshot_tasks/N`: the same with N tokio tasks awaiting `changed()` on a two-worker
//!   runtime, as the server runs them: publish, wake N tasks, each takes the frame. Timed until
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
use skirmish::game::Outbox;
use skirmish::net::sessions::{Kick, SessionHandle, Sessions};
use skirmish::protocol::{PlayerId, Tick};
use tokio::sync::mpsc;

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

fn snapshot_cell(c: &mut Criterion) {
    let bytes = snapshot();
    let mut group = group(c, "fanout");
    for n in SUBSCRIBERS {
        let sessions = Arc::new(Sessions::new(n));
        let mut receivers: Vec<_> = (0..n).map(|_| sessions.subscribe_snapshots()).collect();
        let mut cx = Context::from_waker(Waker::noop());
        let mut tick = Tick(0);
        group.throughput(Throughput::Elements(n as u64));
        group.sample_size(samples(n));
        group.bench_function(BenchmarkId::new("snapshot_cell", n), |b| {
            b.iter(|| {
                tick = tick.next();
                sessions.publish_snapshot(tick, bytes.clone());
                for receiver in &mut receivers {
                    {
                        let changed = pin!(receiver.changed());
                        assert!(matches!(changed.poll(&mut cx), Poll::Ready(Ok(()))));
                    }
                    let frame = receiver.borrow_and_update().clone();
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
        let sessions = Arc::new(Sessions::new(n));
        let taken = Arc::new(AtomicUsize::new(0));
        let bench_thread = std::thread::current();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let mut receiver = sessions.subscribe_snapshots();
                let taken = Arc::clone(&taken);
                let bench_thread = bench_thread.clone();
                runtime.spawn(async move {
                    while receiver.changed().await.is_ok() {
                        let frame = receiver.borrow_and_update().clone();
                        black_box(&frame.bytes);
                        drop(frame);
                        if taken.fetch_add(1, Ordering::AcqRel) + 1 == n {
                            bench_thread.unpark();
                        }
                    }
                })
            })
            .collect();
        // Let every task reach its first `changed().await`.
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
                    sessions.publish_snapshot(tick, bytes.clone());
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
        let sessions = Arc::new(Sessions::new(n));
        let mut queues: Vec<_> = (0..n)
            .map(|i| {
                let (outbound, queue) = mpsc::channel(256);
                let handle = SessionHandle {
                    outbound,
                    kick: Arc::new(Kick::default()),
                    welcomed: Arc::new(AtomicBool::new(true)),
                };
                sessions.register(PlayerId(i as u32 + 1), handle);
                queue
            })
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
    targets = snapshot_cell, snapshot_tasks, reliable_queues, kernel_write
}
criterion_main!(benches);
