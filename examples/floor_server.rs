//! The floor under the server: the cheapest WebSocket broadcast this machine can do, to measure
//! Skirmish's send path against (issue 20). One thread, non-blocking sockets on one `mio` poll,
//! a real RFC 6455 upgrade, and each tick one pre-framed binary frame (a full snapshot of every
//! player as the Node servers of docs/PERFORMANCE.md send it: 6 + 14·N bytes) written with one
//! `write(2)` to every socket. What a client sends is read and thrown away. A socket that
//! cannot take a whole frame keeps the rest and gets no new frame until it is written (the
//! stream stays valid; nothing queues). No game, no decoding, no per-client encoding: what this
//! costs per client-tick is what the kernel costs.
//!
//! `cargo run --release --example floor_server -- 127.0.0.1:8190 30 60` (address, tick rate,
//! seconds: it stops by itself). Prints ticks, frames written and skipped, and its CPU time.
//! Clients: `examples/swarm_floor.rs` or the swarm (`scripts/floor_ab.py` runs both servers
//! alternately).

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use skirmish::bots::cpu_time;
use skirmish::bots::wire::accept_for;

const LISTENER: Token = Token(usize::MAX);
/// The longest upgrade request read.
const MAX_REQUEST: usize = 8 * 1024;
/// Bytes per player in the frame, and the frame's fixed part (as the Node servers send).
const BYTES_PER_PLAYER: usize = 14;
const FRAME_HEADER: usize = 6;

enum State {
    /// Reading the upgrade request.
    Upgrading(Vec<u8>),
    /// Upgraded: frames go out each tick; `pending` is the rest of a frame the socket did not
    /// take whole.
    Open { pending: Vec<u8> },
}

struct Connection {
    stream: TcpStream,
    state: State,
}

#[derive(Default)]
struct Counts {
    ticks: u64,
    written: u64,
    skipped: u64,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .unwrap_or("127.0.0.1:8190".into())
        .parse()
        .expect("address");
    let hz: u32 = args.next().map_or(30, |n| n.parse().expect("tick rate"));
    let seconds: u64 = args.next().map_or(60, |n| n.parse().expect("seconds"));
    let counts = serve(addr, hz, Duration::from_secs(seconds)).expect("the floor server runs");
    let cpu = cpu_time();
    println!(
        "floor: {} ticks, {} frames written, {} skipped (socket full); CPU {:.2} s",
        counts.ticks,
        counts.written,
        counts.skipped,
        cpu.as_secs_f64()
    );
}

fn serve(addr: SocketAddr, hz: u32, run_for: Duration) -> std::io::Result<Counts> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("floor server on ws://{addr}/ws at {hz} Hz for {run_for:?}");
    let mut connections: Vec<Option<Connection>> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut frame = Vec::new();
    let mut scratch = vec![0u8; 64 * 1024];
    let mut counts = Counts::default();
    let period = Duration::from_secs_f64(1.0 / f64::from(hz));
    let started = Instant::now();
    let mut next_tick = started + period;
    while started.elapsed() < run_for {
        let timeout = next_tick.saturating_duration_since(Instant::now());
        poll.poll(&mut events, Some(timeout))?;
        for event in &events {
            if event.token() == LISTENER {
                accept_all(&listener, &poll, &mut connections)?;
            } else {
                let slot = &mut connections[event.token().0];
                if slot.as_mut().is_some_and(|c| !on_readable(c, &mut scratch)) {
                    *slot = None;
                }
            }
        }
        if Instant::now() >= next_tick {
            next_tick += period;
            counts.ticks += 1;
            broadcast(&mut connections, &mut frame, &mut counts);
        }
    }
    Ok(counts)
}

fn accept_all(
    listener: &TcpListener,
    poll: &Poll,
    connections: &mut Vec<Option<Connection>>,
) -> std::io::Result<()> {
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                stream.set_nodelay(true)?;
                let index = connections
                    .iter()
                    .position(Option::is_none)
                    .unwrap_or_else(|| {
                        connections.push(None);
                        connections.len() - 1
                    });
                poll.registry()
                    .register(&mut stream, Token(index), Interest::READABLE)?;
                connections[index] = Some(Connection {
                    stream,
                    state: State::Upgrading(Vec::new()),
                });
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(error) => return Err(error),
        }
    }
}

/// Reads what the client sent; false once the connection is over.
fn on_readable(connection: &mut Connection, scratch: &mut [u8]) -> bool {
    loop {
        match connection.stream.read(scratch) {
            Ok(0) => return false,
            Ok(n) => {
                if let State::Upgrading(request) = &mut connection.state {
                    request.extend_from_slice(&scratch[..n]);
                    match upgrade_answer(request) {
                        Some(Ok(answer)) => {
                            if connection.stream.write_all(&answer).is_err() {
                                return false;
                            }
                            connection.state = State::Open {
                                pending: Vec::new(),
                            };
                        }
                        Some(Err(())) => return false,
                        None => {}
                    }
                }
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => return true,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// The 101 answer to a complete upgrade request, `Some(Err)` for a bad one, `None` while it is
/// incomplete.
fn upgrade_answer(request: &[u8]) -> Option<Result<Vec<u8>, ()>> {
    let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (request.len() > MAX_REQUEST).then_some(Err(()));
    };
    let head = std::str::from_utf8(&request[..end]).ok()?;
    let key = head
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, value)| value.trim());
    Some(
        key.map(|key| {
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
                accept_for(key)
            )
            .into_bytes()
        })
        .ok_or(()),
    )
}

/// One tick: the frame for this many players, framed once, written to every open socket.
fn broadcast(connections: &mut [Option<Connection>], frame: &mut Vec<u8>, counts: &mut Counts) {
    let open = connections
        .iter()
        .flatten()
        .filter(|c| matches!(c.state, State::Open { .. }))
        .count();
    frame_snapshot(frame, FRAME_HEADER + BYTES_PER_PLAYER * open);
    for slot in connections.iter_mut() {
        let Some(connection) = slot else { continue };
        let State::Open { pending } = &mut connection.state else {
            continue;
        };
        let wrote = if pending.is_empty() {
            write_some(&mut connection.stream, frame, pending, &mut counts.written)
        } else {
            // Still finishing an older frame: this tick's is skipped.
            counts.skipped += 1;
            let rest = std::mem::take(pending);
            write_some(&mut connection.stream, &rest, pending, &mut 0)
        };
        if !wrote {
            *slot = None;
        }
    }
}

/// Writes `bytes` with one `write(2)`: what the socket did not take goes to `pending`; counts a
/// frame started in `started`. False if the connection is broken.
fn write_some(
    stream: &mut TcpStream,
    bytes: &[u8],
    pending: &mut Vec<u8>,
    started: &mut u64,
) -> bool {
    match stream.write(bytes) {
        Ok(n) => {
            *started += u64::from(n > 0);
            pending.extend_from_slice(&bytes[n..]);
            true
        }
        Err(error) if error.kind() == ErrorKind::WouldBlock => {
            pending.extend_from_slice(bytes);
            true
        }
        Err(_) => false,
    }
}

/// A server's binary frame (unmasked) of `len` payload bytes, in `frame`.
fn frame_snapshot(frame: &mut Vec<u8>, len: usize) {
    frame.clear();
    frame.push(0x82);
    if len < 126 {
        frame.push(len as u8);
    } else if len <= usize::from(u16::MAX) {
        frame.push(126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend((0..len).map(|i| i as u8));
}
