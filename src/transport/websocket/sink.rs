//! A plain-TCP WebSocket's sending side, shared by the connection's writer task and the room's
//! tick thread: frames are written with non-blocking `write(2)`s on the socket itself, so a
//! snapshot the tick just encoded goes out from that thread at once ([`DirectSend`]) and the
//! common case wakes no task. Whoever writes holds the lock for the system call only; what a
//! full socket did not take is kept as the tail, which only the writer task finishes (waiting
//! for the socket to drain), and nothing else is written before it, so frames never
//! interleave. Snapshots go direct only once the writer has sent the welcome, and never after
//! it began to close.
//!
//! Must never: block the tick thread (it only ever tries), write a frame into the middle of
//! another, or hold more than one frame's tail.

use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use std::io::Write;
use std::net::TcpStream;

use fastwebsockets::OpCode;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

use crate::metrics::NetStats;
use crate::protocol::Tick;
use crate::session::handle::{DirectOutcome, DirectSend, SnapshotSlot};

/// The longest server frame header: FIN and opcode, a 127 length marker and 8 length bytes.
const MAX_HEADER: usize = 10;

/// The socket as the sink writes it: non-blocking writes from any thread, and tokio told of
/// its write readiness only (a tick thread watches it for reads, `super::watched`).
#[derive(Debug)]
struct SendSocket(AsyncFd<Arc<TcpStream>>);

impl SendSocket {
    fn try_write(&self, bytes: &[u8]) -> io::Result<usize> {
        (&**self.0.get_ref()).write(bytes)
    }

    fn try_write_vectored(&self, parts: &[IoSlice<'_>]) -> io::Result<usize> {
        (&**self.0.get_ref()).write_vectored(parts)
    }

    /// Waits until the socket may take more: after a write found it full, the caller writes
    /// again (readiness seen before that write is cleared here, so a stale one costs one try).
    async fn writable(&self) -> io::Result<()> {
        self.0.writable().await?.clear_ready();
        Ok(())
    }
}

/// One connection's sending side.
#[derive(Debug)]
pub struct FrameSink {
    socket: SendSocket,
    state: Mutex<SinkState>,
    /// The writer has sent the welcome: snapshots may go direct.
    snapshots_open: AtomicBool,
    net: Arc<NetStats>,
    /// The player's slot: a snapshot whose tail this finishes becomes its baseline (weak: the
    /// slot holds this sink).
    slot: Weak<SnapshotSlot>,
    /// Told when a direct snapshot left a tail for the writer to finish.
    tail_left: Notify,
    /// Snapshots written from the encoding thread (all of them, or their start).
    pub direct_sends: AtomicU64,
}

#[derive(Debug, Default)]
struct SinkState {
    /// The rest of a frame the socket did not take whole; written before anything else.
    tail: Vec<u8>,
    /// When the tail is a snapshot's, its tick: it becomes the baseline once written.
    tail_tick: Option<Tick>,
}

/// A frame's header (server frames are never masked).
fn header(opcode: OpCode, len: usize) -> ([u8; MAX_HEADER], usize) {
    let mut head = [0u8; MAX_HEADER];
    head[0] = 0x80 | opcode as u8;
    let used = if len < 126 {
        head[1] = len as u8;
        2
    } else if len <= usize::from(u16::MAX) {
        head[1] = 126;
        head[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        head[1] = 127;
        head[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    (head, used)
}

/// What one attempt at writing a frame did.
enum Attempt {
    /// All of it went.
    Whole,
    /// Part went; the rest is the tail now.
    Part,
    /// The socket takes nothing now.
    Full,
}

impl FrameSink {
    /// A sink writing to `socket` (non-blocking); fails if tokio cannot watch it.
    pub fn new(
        socket: Arc<TcpStream>,
        net: Arc<NetStats>,
        slot: &Arc<SnapshotSlot>,
    ) -> io::Result<FrameSink> {
        // SAFETY: the `Arc` keeps the socket, and so its descriptor, open for as long as the
        // registration holds it, and a `TcpStream`'s descriptor never changes.
        let registered = unsafe { AsyncFd::register_with_interest(socket, Interest::WRITABLE) }
            .map_err(io::Error::from)?;
        Ok(FrameSink {
            socket: SendSocket(registered),
            state: Mutex::default(),
            snapshots_open: AtomicBool::new(false),
            net,
            slot: Arc::downgrade(slot),
            tail_left: Notify::new(),
            direct_sends: AtomicU64::new(0),
        })
    }

    /// Resolves when a direct snapshot left a tail (the writer then finishes it).
    pub async fn tail_left(&self) {
        self.tail_left.notified().await;
    }

    /// The welcome is out: snapshots may go direct from now on.
    pub fn open_snapshots(&self) {
        self.snapshots_open.store(true, Ordering::Release);
    }

    /// The connection is closing: no snapshot goes direct any more.
    pub fn close_snapshots(&self) {
        self.snapshots_open.store(false, Ordering::Release);
    }

    /// Writes one whole frame, waiting while the socket is full (the caller bounds the wait).
    pub async fn write_frame(&self, opcode: OpCode, payload: &[u8]) -> io::Result<()> {
        self.write_with(|state, sink| sink.attempt(state, opcode, payload, None).map(Some))
            .await
            .map(|_| ())
    }

    /// Takes the slot's newest snapshot and writes it whole, under the lock that direct sends
    /// take (so no newer snapshot overtakes it); false if the slot was empty.
    pub async fn write_snapshot_from(&self, slot: &SnapshotSlot) -> io::Result<bool> {
        self.write_with(|state, sink| {
            let Some(frame) = slot.take() else {
                return Ok(None);
            };
            Ok(Some(
                match sink.attempt(state, OpCode::Binary, &frame.bytes, Some(frame.tick))? {
                    Attempt::Whole => {
                        slot.sent(frame.tick);
                        Attempt::Whole
                    }
                    Attempt::Part => Attempt::Part,
                    Attempt::Full => {
                        // Taken, so it is this writer's to finish: the whole frame is the tail.
                        let (head, used) = header(OpCode::Binary, frame.bytes.len());
                        state.tail.extend_from_slice(&head[..used]);
                        state.tail.extend_from_slice(&frame.bytes);
                        state.tail_tick = Some(frame.tick);
                        Attempt::Part
                    }
                },
            ))
        })
        .await
    }

    /// Finishes any tail, then runs `write` under the lock (once the tail is empty), then
    /// finishes what it left. `write` answers `None` when it had nothing to write.
    async fn write_with(
        &self,
        mut write: impl FnMut(&mut SinkState, &FrameSink) -> io::Result<Option<Attempt>>,
    ) -> io::Result<bool> {
        loop {
            self.flush_tail().await?;
            let attempt = {
                let mut state = self.lock();
                if !state.tail.is_empty() {
                    // A direct snapshot left a tail meanwhile: finish that first.
                    continue;
                }
                write(&mut state, self)?
            };
            match attempt {
                None => return Ok(false),
                Some(Attempt::Whole) => return Ok(true),
                Some(Attempt::Part) => {
                    self.flush_tail().await?;
                    return Ok(true);
                }
                Some(Attempt::Full) => self.socket.writable().await?,
            }
        }
    }

    /// Writes the tail, waiting while the socket is full; a snapshot it finishes becomes the
    /// player's baseline.
    pub async fn flush_tail(&self) -> io::Result<()> {
        loop {
            {
                let mut state = self.lock();
                if state.tail.is_empty() {
                    return Ok(());
                }
                match self.socket.try_write(&state.tail) {
                    Ok(written) => {
                        self.count(written);
                        state.tail.drain(..written);
                        if state.tail.is_empty() {
                            if let Some(tick) = state.tail_tick.take()
                                && let Some(slot) = self.slot.upgrade()
                            {
                                slot.sent(tick);
                            }
                            return Ok(());
                        }
                        continue;
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(error) => return Err(error),
                }
            }
            self.socket.writable().await?;
        }
    }

    /// One non-blocking write of a frame under the lock; a part that did not go becomes the
    /// tail.
    fn attempt(
        &self,
        state: &mut SinkState,
        opcode: OpCode,
        payload: &[u8],
        tick: Option<Tick>,
    ) -> io::Result<Attempt> {
        let (head, used) = header(opcode, payload.len());
        let head = &head[..used];
        let total = head.len() + payload.len();
        let written = match self
            .socket
            .try_write_vectored(&[IoSlice::new(head), IoSlice::new(payload)])
        {
            Ok(written) => written,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(Attempt::Full),
            Err(error) => return Err(error),
        };
        self.count(written);
        if written == total {
            return Ok(Attempt::Whole);
        }
        if written < head.len() {
            state.tail.extend_from_slice(&head[written..]);
            state.tail.extend_from_slice(payload);
        } else {
            state
                .tail
                .extend_from_slice(&payload[written - head.len()..]);
        }
        state.tail_tick = tick;
        Ok(Attempt::Part)
    }

    fn count(&self, bytes: usize) {
        self.net
            .bytes_out
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, SinkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl DirectSend for FrameSink {
    fn try_send(&self, tick: Tick, bytes: &[u8]) -> DirectOutcome {
        // The writer is writing: it gets the frame through the slot instead.
        let Ok(mut state) = self.state.try_lock() else {
            return DirectOutcome::NotNow;
        };
        // Read under the lock: a close frame is written under it after the flag fell, so no
        // snapshot can follow it.
        if !self.snapshots_open.load(Ordering::Acquire) || !state.tail.is_empty() {
            return DirectOutcome::NotNow;
        }
        match self.attempt(&mut state, OpCode::Binary, bytes, Some(tick)) {
            Ok(Attempt::Whole) => {
                self.direct_sends.fetch_add(1, Ordering::Relaxed);
                DirectOutcome::Sent
            }
            Ok(Attempt::Part) => {
                self.direct_sends.fetch_add(1, Ordering::Relaxed);
                drop(state);
                self.tail_left.notify_one();
                DirectOutcome::Started
            }
            // Full, or broken (the writer finds out on its next write).
            Ok(Attempt::Full) | Err(_) => DirectOutcome::NotNow,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::session::handle::{Delivered, SnapshotFrame};

    /// Reads one server frame: its opcode and payload; `None` at the end of the stream, `Err`
    /// for bytes that are not a well-formed server frame.
    async fn read_frame(
        client: &mut tokio::net::TcpStream,
    ) -> Option<Result<(u8, Vec<u8>), String>> {
        let mut head = [0u8; 2];
        client.read_exact(&mut head).await.ok()?;
        if head[0] & 0xF0 != 0x80 || head[1] & 0x80 != 0 || !matches!(head[0] & 0x0F, 1 | 2) {
            return Some(Err(format!("not a whole unmasked data frame: {head:02x?}")));
        }
        let len = match head[1] & 0x7F {
            126 => usize::from(client.read_u16().await.ok()?),
            127 => client.read_u64().await.ok()? as usize,
            len => usize::from(len),
        };
        if len > 1 << 20 {
            return Some(Err(format!("a frame of {len} bytes")));
        }
        let mut payload = vec![0u8; len];
        client.read_exact(&mut payload).await.ok()?;
        Some(Ok((head[0] & 0x0F, payload)))
    }

    /// A connected pair on localhost with small buffers: the server side's sink (attached to a
    /// fresh slot, snapshots open) and the client's socket.
    async fn small_pair() -> (Arc<FrameSink>, Arc<SnapshotSlot>, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        socket2::SockRef::from(&server)
            .set_send_buffer_size(4096)
            .unwrap();
        socket2::SockRef::from(&client)
            .set_recv_buffer_size(4096)
            .unwrap();
        let socket = Arc::new(server.into_std().unwrap());
        let slot = Arc::new(SnapshotSlot::default());
        let sink = Arc::new(FrameSink::new(socket, Arc::default(), &slot).unwrap());
        slot.attach_direct(Arc::clone(&sink) as _);
        sink.open_snapshots();
        (sink, slot, client)
    }

    /// Reads whatever the client's socket holds now, without waiting.
    fn drain_now(client: &tokio::net::TcpStream) -> usize {
        let mut scratch = vec![0u8; 1 << 16];
        let mut total = 0;
        while let Ok(n) = client.try_read(&mut scratch) {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    }

    fn frame(tick: u32, len: usize) -> SnapshotFrame {
        SnapshotFrame {
            tick: Tick(tick),
            bytes: Bytes::from(vec![tick as u8; len]),
        }
    }

    #[tokio::test]
    async fn nothing_goes_direct_while_a_tail_waits_even_with_room_in_the_socket() {
        let (sink, slot, client) = small_pair().await;
        // Far larger than the socket takes: the start goes, the rest is the tail.
        assert_eq!(slot.deliver(frame(1, 60_000)), Delivered::Direct);
        assert_eq!(slot.baseline(), None, "not whole yet");
        tokio::time::sleep(Duration::from_millis(20)).await;
        let early = drain_now(&client);
        assert!(early > 0);
        // The socket has room now, but the tail must go first.
        assert_eq!(
            sink.try_send(Tick(2), &[2; 10]),
            DirectOutcome::NotNow,
            "a frame in the middle of another"
        );
        // The writer finishes the tail (the client reading meanwhile): it is the baseline.
        let reader = tokio::spawn(async move {
            // The payload and its 4-byte header.
            let mut read = early;
            while read < 60_000 + 4 {
                client.readable().await.unwrap();
                read += drain_now(&client);
            }
            client
        });
        sink.flush_tail().await.unwrap();
        assert_eq!(slot.baseline(), Some(Tick(1)));
        let client = reader.await.unwrap();
        assert_eq!(sink.try_send(Tick(2), &[2; 10]), DirectOutcome::Sent);
        drop(client);
    }

    #[tokio::test]
    async fn a_frame_waiting_in_the_slot_is_never_overtaken() {
        let (sink, slot, _client) = small_pair().await;
        // The socket is empty and would take it, but an older frame waits for the writer.
        assert!(!slot.put(frame(1, 10)));
        assert_eq!(
            slot.deliver(frame(2, 10)),
            Delivered::Queued { replaced: true }
        );
        assert_eq!(sink.direct_sends.load(Ordering::Relaxed), 0);
        assert!(sink.write_snapshot_from(&slot).await.unwrap());
        assert_eq!(slot.baseline(), Some(Tick(2)), "the newest went, once");
        assert_eq!(slot.deliver(frame(3, 10)), Delivered::Direct);
    }

    #[tokio::test]
    async fn no_snapshot_goes_direct_before_the_welcome_or_after_the_close() {
        let (sink, slot, _client) = small_pair().await;
        sink.close_snapshots();
        assert_eq!(
            slot.deliver(frame(1, 10)),
            Delivered::Queued { replaced: false }
        );
        sink.open_snapshots();
        assert!(sink.write_snapshot_from(&slot).await.unwrap());
        assert_eq!(slot.deliver(frame(2, 10)), Delivered::Direct);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn frames_from_the_tick_thread_and_the_writer_never_interleave_or_overtake() {
        // Small buffers, so that the socket fills: partial writes, tails, frames left queued.
        let (sink, slot, mut client) = small_pair().await;
        const TICKS: u32 = 200;
        const TEXTS: u32 = 50;
        // Larger than the socket takes at once: most writes are partial, leaving tails.
        const SNAPSHOT_BYTES: usize = 6000;
        let ticker = {
            let slot = Arc::clone(&slot);
            std::thread::spawn(move || {
                for tick in 1..=TICKS {
                    slot.deliver(frame(tick, SNAPSHOT_BYTES));
                    std::thread::sleep(Duration::from_micros(300));
                }
            })
        };
        let writer = {
            let (sink, slot) = (Arc::clone(&sink), Arc::clone(&slot));
            tokio::spawn(async move {
                for i in 0..TEXTS {
                    let text = format!("reliable {i}");
                    sink.write_frame(OpCode::Text, text.as_bytes())
                        .await
                        .unwrap();
                    sink.write_snapshot_from(&slot).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
        };
        // Nobody reads for a while: the socket fills up. Then a task reads every frame.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (frames_tx, mut frames) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(frame) = read_frame(&mut client).await {
                if frames_tx.send(frame).is_err() {
                    return;
                }
            }
        });
        let (mut texts, mut last_tick, mut snapshots) = (0u32, 0u32, 0u32);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while texts < TEXTS || last_tick < TICKS {
            assert!(
                tokio::time::Instant::now() < deadline,
                "every frame arrives"
            );
            let (opcode, payload) =
                match tokio::time::timeout(Duration::from_millis(100), frames.recv()).await {
                    Ok(Some(frame)) => frame.unwrap_or_else(|error| panic!("{error}")),
                    Ok(None) => panic!("the stream ended"),
                    Err(_) => {
                        // Quiet: the last snapshots may wait in the slot or a tail, the
                        // writer's to send.
                        sink.write_snapshot_from(&slot).await.unwrap();
                        sink.flush_tail().await.unwrap();
                        continue;
                    }
                };
            match opcode {
                0x1 => {
                    assert_eq!(payload, format!("reliable {texts}").into_bytes());
                    texts += 1;
                }
                0x2 => {
                    let tick = u32::from(payload[0]);
                    assert!(
                        payload.iter().all(|&b| b == payload[0]),
                        "one frame's bytes"
                    );
                    assert_eq!(payload.len(), SNAPSHOT_BYTES);
                    // Ticks wrap at 256 in one byte: 200 of them never do.
                    assert!(tick > last_tick, "tick {tick} after {last_tick}");
                    last_tick = tick;
                    snapshots += 1;
                }
                other => panic!("opcode {other}"),
            }
        }
        ticker.join().unwrap();
        writer.await.unwrap();
        assert!(
            sink.direct_sends.load(Ordering::Relaxed) > 0,
            "some went direct"
        );
        assert!(
            snapshots < TICKS,
            "a full socket skipped some: {snapshots} of {TICKS}"
        );
        assert_eq!(
            slot.baseline(),
            Some(Tick(TICKS)),
            "the last one is the baseline"
        );
    }

    #[test]
    fn headers_use_the_shortest_length_form() {
        let (head, used) = header(OpCode::Binary, 5);
        assert_eq!(&head[..used], &[0x82, 5]);
        let (head, used) = header(OpCode::Binary, 300);
        assert_eq!(&head[..used], &[0x82, 126, 1, 44]);
        let (head, used) = header(OpCode::Close, 70_000);
        assert_eq!(&head[..used], &[0x88, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    }
}
