//! Many rooms on a pool of tick threads. Each room is owned by exactly one thread at a time,
//! which steps it on its own clock ([`RoomClock`]); a thread steps all of its rooms that are
//! due, then sleeps until the next one is (or a command arrives). Rooms are placed on the least
//! loaded thread (measured busy time per second, then room count) and moved when one thread
//! carries much more than another. A room that panics is dropped alone: its `on_panic` runs (the
//! server closes its players with 1011) and every other room plays on. A room that overruns its
//! budget in a quarter of a window's ticks is logged and counted.
//!
//! Between steps a thread waits on its own poll ([`ThreadPoll`]), which also reads the sources
//! the upper layers hand it ([`Readiness::watch`]: a plain-TCP player's socket), so what
//! players send is read on a thread that is awake anyway.
//!
//! Must never: let two threads step one room, hold a lock while a room steps, or let one
//! room's panic reach another room.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::clock::{RoomClock, WINDOW};
use super::readiness::{Abandoned, ThreadPoll, WatchKey, Watcher};
use crate::metrics::RoomStats;
use crate::protocol::rooms::RoomId;

/// How long an idle thread (no rooms) waits for a command before looking again.
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// A thread hands a room to another only if it is busier by at least this much a second
/// (a tenth of a core) and by a quarter: small differences are not worth a move.
const REBALANCE_MARGIN_MICROS: u64 = 100_000;

/// What the pool steps: one room, whatever its kind.
pub trait Steppable: Send + 'static {
    fn tick_hz(&self) -> u16;
    fn max_catch_up_ticks(&self) -> u32;
    /// Simulates `ticks` ticks and publishes the newest state.
    fn step(&mut self, ticks: u32);
    /// Where the step timings go.
    fn stats(&self) -> &RoomStats;
}

impl<O: crate::room::Outbox + Send + 'static> Steppable for crate::room::Room<O> {
    fn tick_hz(&self) -> u16 {
        crate::room::Room::tick_hz(self)
    }

    fn max_catch_up_ticks(&self) -> u32 {
        self.config().max_catch_up_ticks
    }

    fn step(&mut self, ticks: u32) {
        crate::room::Room::step(self, ticks);
    }

    fn stats(&self) -> &RoomStats {
        crate::room::Room::stats(self)
    }
}

/// A room handed to the pool.
pub struct PooledRoom {
    pub id: RoomId,
    pub room: Box<dyn Steppable>,
    /// Run on the tick thread if the room panics, after the room is dropped.
    pub on_panic: Box<dyn FnOnce() + Send>,
}

/// Counters of the pool as a whole.
#[derive(Debug, Default)]
pub struct PoolStats {
    pub rooms: AtomicU64,
    pub rooms_panicked: AtomicU64,
    /// Rooms that overran their budget in the last window (a gauge, per thread summed).
    pub rooms_overrunning: AtomicU64,
    pub rooms_moved: AtomicU64,
}

/// One thread's load as the others see it.
#[derive(Debug, Default)]
struct SharedLoad {
    busy_micros_per_second: AtomicU64,
    rooms: AtomicU64,
    overrunning: AtomicU64,
}

/// A thread's load, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Load {
    pub busy_micros_per_second: u64,
    pub rooms: u64,
}

enum Command {
    Add(PooledRoom, u64),
    Remove(RoomId),
    Watch(WatchKey, Box<dyn Watcher>),
    Unwatch(WatchKey),
    Stop,
}

/// A thread's inbox as the others hold it: a command sent wakes the thread's poll.
#[derive(Clone)]
struct ThreadInbox {
    sender: Sender<Command>,
    waker: Arc<mio::Waker>,
}

impl ThreadInbox {
    /// Sends `command` and wakes the thread; the command back if the thread is gone.
    fn send(&self, command: Command) -> Result<(), Command> {
        self.sender.send(command).map_err(|unsent| unsent.0)?;
        if let Err(error) = self.waker.wake() {
            tracing::error!(%error, "a tick thread could not be woken");
        }
        Ok(())
    }
}

/// Where the upper layers hand the tick threads sources to read (see [`Watcher`]).
#[derive(Clone)]
pub struct Readiness {
    threads: Arc<[ThreadInbox]>,
    next_key: Arc<AtomicU64>,
}

impl Readiness {
    /// Has a tick thread (each in turn) read `watcher`'s source whenever it is readable,
    /// until the returned guard is dropped or the watcher says it is done.
    pub fn watch(&self, watcher: Box<dyn Watcher>) -> Watched {
        let key = WatchKey(self.next_key.fetch_add(1, Ordering::Relaxed));
        let inbox = self.threads[(key.0 % self.threads.len() as u64) as usize].clone();
        if let Err(Command::Watch(_, mut watcher)) = inbox.send(Command::Watch(key, watcher)) {
            watcher.on_abandoned(Abandoned::Stopping);
        }
        Watched { inbox, key }
    }
}

/// A source being watched: dropping this stops the watch (the watcher is told, then dropped
/// on its thread).
pub struct Watched {
    inbox: ThreadInbox,
    key: WatchKey,
}

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.inbox.send(Command::Unwatch(self.key));
    }
}

struct Worker {
    inbox: ThreadInbox,
    /// Taken by `stop`, which joins it.
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The tick threads and the rooms they own.
pub struct RoomPool {
    workers: Vec<Worker>,
    readiness: Readiness,
    loads: Arc<[SharedLoad]>,
    stats: Arc<PoolStats>,
    removed: Removed,
}

/// Rooms asked to stop but not yet found: a room moving between threads when its removal is
/// asked for is dropped by the thread that receives it.
type Removed = Arc<Mutex<HashSet<RoomId>>>;

impl RoomPool {
    /// Starts `threads` tick threads (at least one). A thread woken for readable sources
    /// waits `read_batch` before it looks again (zero: it looks at once), so that what players
    /// send is read in batches, for fewer wake-ups: a message other than an input (which waits
    /// for the next step anyway) may then wait that long.
    pub fn start(threads: usize, read_batch: Duration) -> RoomPool {
        let threads = threads.max(1);
        let loads: Arc<[SharedLoad]> = (0..threads).map(|_| SharedLoad::default()).collect();
        let stats = Arc::new(PoolStats::default());
        let removed = Removed::default();
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..threads).map(|_| mpsc::channel()).unzip();
        let polls: Vec<ThreadPoll> = (0..threads)
            .map(|_| ThreadPoll::new().expect("the OS refused a tick thread's poll"))
            .collect();
        let inboxes: Arc<[ThreadInbox]> = senders
            .into_iter()
            .zip(&polls)
            .map(|(sender, poll)| ThreadInbox {
                sender,
                waker: poll.waker(),
            })
            .collect();
        let workers = receivers
            .into_iter()
            .zip(polls)
            .enumerate()
            .map(|(index, (inbox, poll))| {
                let thread = TickThread {
                    index,
                    inbox,
                    poll,
                    read_batch,
                    peers: Arc::clone(&inboxes),
                    loads: Arc::clone(&loads),
                    stats: Arc::clone(&stats),
                    removed: Arc::clone(&removed),
                    slots: Vec::new(),
                };
                let handle = std::thread::Builder::new()
                    .name(format!("tick-{index}"))
                    .spawn(move || thread.run())
                    .expect("the OS refused to start a tick thread");
                Worker {
                    inbox: inboxes[index].clone(),
                    thread: Mutex::new(Some(handle)),
                }
            })
            .collect();
        RoomPool {
            workers,
            readiness: Readiness {
                threads: inboxes,
                next_key: Arc::default(),
            },
            loads,
            stats,
            removed,
        }
    }

    /// Hands a room to the least loaded thread.
    pub fn add(&self, room: PooledRoom) {
        let target = least_loaded(&self.loads());
        self.stats.rooms.fetch_add(1, Ordering::Relaxed);
        // A thread's inbox lives as long as the pool: the send cannot fail before `stop`.
        let _ = self.workers[target].inbox.send(Command::Add(room, 0));
    }

    /// Stops and drops a room, wherever it is.
    pub fn remove(&self, id: RoomId) {
        self.removed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id);
        for worker in &self.workers {
            let _ = worker.inbox.send(Command::Remove(id));
        }
    }

    pub fn loads(&self) -> Vec<Load> {
        self.loads.iter().map(SharedLoad::read).collect()
    }

    pub fn stats(&self) -> &Arc<PoolStats> {
        &self.stats
    }

    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Where sources are handed to the tick threads to read.
    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Stops every thread after its current step and waits for them (at once the second
    /// time).
    pub fn stop(&self) {
        for worker in &self.workers {
            let _ = worker.inbox.send(Command::Stop);
        }
        for worker in &self.workers {
            let thread = worker
                .thread
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        }
    }
}

impl SharedLoad {
    fn read(&self) -> Load {
        Load {
            busy_micros_per_second: self.busy_micros_per_second.load(Ordering::Relaxed),
            rooms: self.rooms.load(Ordering::Relaxed),
        }
    }
}

/// The thread to place a new room on: the least busy, then the one with fewest rooms.
pub fn least_loaded(loads: &[Load]) -> usize {
    (0..loads.len())
        .min_by_key(|&i| (loads[i].busy_micros_per_second, loads[i].rooms, i))
        .unwrap_or(0)
}

/// Whether a room should move, from the busiest thread to the least busy: only if the busiest
/// has a room to spare and carries clearly more. Returns `(from, to, gap)`.
pub fn plan_move(loads: &[Load]) -> Option<(usize, usize, u64)> {
    let from = (0..loads.len()).max_by_key(|&i| loads[i].busy_micros_per_second)?;
    let to = least_loaded(loads);
    let (busy, idle) = (
        loads[from].busy_micros_per_second,
        loads[to].busy_micros_per_second,
    );
    let worth_it = busy > idle + REBALANCE_MARGIN_MICROS && busy > idle + idle / 4;
    (from != to && loads[from].rooms >= 2 && worth_it).then_some((from, to, busy - idle))
}

/// One room as its thread holds it.
struct Slot {
    id: RoomId,
    room: Box<dyn Steppable>,
    on_panic: Box<dyn FnOnce() + Send>,
    clock: RoomClock,
    /// Busy time per second over the last window.
    busy_micros_per_second: u64,
    /// Whether the last window overran the budget too often.
    overrunning: bool,
}

/// One tick thread.
struct TickThread {
    index: usize,
    inbox: Receiver<Command>,
    /// What the thread waits on between steps, and the sources it reads meanwhile.
    poll: ThreadPoll,
    /// How long it lets readable sources gather after it was woken for some.
    read_batch: Duration,
    peers: Arc<[ThreadInbox]>,
    loads: Arc<[SharedLoad]>,
    stats: Arc<PoolStats>,
    removed: Removed,
    slots: Vec<Slot>,
}

impl TickThread {
    fn run(mut self) {
        let mut window_started = Instant::now();
        while self.wait_and_handle_commands() {
            let now = Instant::now();
            self.step_due_rooms(now);
            if now.duration_since(window_started) >= WINDOW {
                window_started = now;
                self.publish_load();
                self.rebalance();
            }
        }
        self.poll.abandon_all();
    }

    /// Waits until the next room is due, reading watched sources and handling commands
    /// meanwhile; even when a room is due already, what is readable is read first. False: stop.
    fn wait_and_handle_commands(&mut self) -> bool {
        loop {
            if !self.handle_commands() {
                return false;
            }
            let until = match self.slots.iter().map(|slot| slot.clock.next_tick()).min() {
                Some(next) => next,
                None => Instant::now() + IDLE_WAIT,
            };
            let wait = until.saturating_duration_since(Instant::now());
            let ready = self.poll.wait(wait);
            if wait.is_zero() {
                return self.handle_commands();
            }
            // Woken for a few sockets: let more gather before looking again (never past the
            // next tick).
            let left = until.saturating_duration_since(Instant::now());
            if ready > 0 && !self.read_batch.is_zero() && !left.is_zero() {
                std::thread::sleep(self.read_batch.min(left));
            }
        }
    }

    /// Handles every command waiting. False: stop.
    fn handle_commands(&mut self) -> bool {
        loop {
            let command = match self.inbox.try_recv() {
                Ok(command) => command,
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            };
            match command {
                Command::Add(room, busy) => self.adopt(room, busy),
                Command::Remove(id) => self.drop_room(id),
                Command::Watch(key, watcher) => self.poll.watch(key, watcher),
                Command::Unwatch(key) => self.poll.unwatch(key),
                Command::Stop => return false,
            }
        }
    }

    fn adopt(&mut self, room: PooledRoom, busy_micros_per_second: u64) {
        if self.forget_removal(room.id) {
            self.stats.rooms.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let clock = RoomClock::new(
            room.room.tick_hz(),
            room.room.max_catch_up_ticks(),
            Instant::now(),
        );
        self.slots.push(Slot {
            id: room.id,
            room: room.room,
            on_panic: room.on_panic,
            clock,
            busy_micros_per_second,
            overrunning: false,
        });
        self.publish_load();
    }

    fn drop_room(&mut self, id: RoomId) {
        let before = self.slots.len();
        self.slots.retain(|slot| slot.id != id);
        if self.slots.len() < before {
            self.forget_removal(id);
            self.stats.rooms.fetch_sub(1, Ordering::Relaxed);
            self.publish_load();
        }
    }

    /// Whether `id` was asked to stop (and forgets that it was).
    fn forget_removal(&self, id: RoomId) -> bool {
        self.removed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id)
    }

    /// Steps every room that is due; a room that panics is dropped and its `on_panic` run.
    fn step_due_rooms(&mut self, now: Instant) {
        let mut index = 0;
        while index < self.slots.len() {
            let slot = &mut self.slots[index];
            let due = slot.clock.ticks_due(now);
            if due == 0 {
                index += 1;
                continue;
            }
            let started = Instant::now();
            let stepped = catch_unwind(AssertUnwindSafe(|| slot.room.step(due)));
            let ended = Instant::now();
            match stepped {
                Ok(()) => {
                    slot.clock
                        .stepped(due, ended - started, ended, slot.room.stats());
                    index += 1;
                }
                Err(_) => {
                    let failed = self.slots.swap_remove(index);
                    tracing::error!(room = %failed.id, "room panicked; closing it, the others play on");
                    self.stats.rooms_panicked.fetch_add(1, Ordering::Relaxed);
                    self.stats.rooms.fetch_sub(1, Ordering::Relaxed);
                    let on_panic = failed.on_panic;
                    drop(failed.room);
                    on_panic();
                }
            }
        }
    }

    /// Each room's window: its load, and a warning if it keeps overrunning.
    fn publish_load(&mut self) {
        let now = Instant::now();
        let mut windows_ended = 0;
        for slot in &mut self.slots {
            if let Some(window) = slot.clock.take_window(now) {
                windows_ended += 1;
                slot.busy_micros_per_second =
                    window.busy.as_micros() as u64 * 1_000_000 / WINDOW.as_micros() as u64;
                slot.overrunning = window.is_overrunning();
                if slot.overrunning {
                    tracing::warn!(
                        room = %slot.id,
                        overruns = window.overruns,
                        steps = window.steps,
                        max_us = window.max.as_micros() as u64,
                        "room overran its tick budget"
                    );
                }
                tracing::debug!(
                    room = %slot.id,
                    thread = self.index,
                    steps = window.steps,
                    mean_us = window.mean().as_micros() as u64,
                    max_us = window.max.as_micros() as u64,
                    "room tick summary"
                );
            }
        }
        let overrunning = self.slots.iter().filter(|slot| slot.overrunning).count() as u64;
        let load = &self.loads[self.index];
        let busy = self
            .slots
            .iter()
            .map(|slot| slot.busy_micros_per_second)
            .sum();
        load.busy_micros_per_second.store(busy, Ordering::Relaxed);
        load.rooms.store(self.slots.len() as u64, Ordering::Relaxed);
        if windows_ended > 0 {
            tracing::info!(
                thread = self.index,
                rooms = self.slots.len(),
                busy_us_per_s = busy,
                overrunning,
                "tick thread summary"
            );
        }
        let previous = load.overrunning.swap(overrunning, Ordering::Relaxed);
        self.stats
            .rooms_overrunning
            .fetch_add(overrunning, Ordering::Relaxed);
        self.stats
            .rooms_overrunning
            .fetch_sub(previous, Ordering::Relaxed);
    }

    /// If this is the busiest thread by a clear margin, hands one room to the least busy.
    fn rebalance(&mut self) {
        let loads: Vec<Load> = self.loads.iter().map(SharedLoad::read).collect();
        let Some((from, to, gap)) = plan_move(&loads) else {
            return;
        };
        if from != self.index {
            return;
        }
        // The busiest room that closes at most half the gap: the threads end closer, not swapped.
        let Some(index) = (0..self.slots.len())
            .filter(|&i| self.slots[i].busy_micros_per_second <= gap / 2)
            .max_by_key(|&i| self.slots[i].busy_micros_per_second)
        else {
            return;
        };
        let slot = self.slots.swap_remove(index);
        let busy = slot.busy_micros_per_second;
        tracing::info!(room = %slot.id, from, to, busy_us_per_s = busy, "room moved to a less busy tick thread");
        let room = PooledRoom {
            id: slot.id,
            room: slot.room,
            on_panic: slot.on_panic,
        };
        if self.peers[to].send(Command::Add(room, busy)).is_ok() {
            self.stats.rooms_moved.fetch_add(1, Ordering::Relaxed);
        }
        self.publish_load();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    /// A room that counts its ticks, and panics at a given one if asked to.
    struct CountingRoom {
        tick_hz: u16,
        ticks: Arc<AtomicU64>,
        panic_at: Option<u64>,
        stats: RoomStats,
    }

    impl Steppable for CountingRoom {
        fn tick_hz(&self) -> u16 {
            self.tick_hz
        }
        fn max_catch_up_ticks(&self) -> u32 {
            5
        }
        fn step(&mut self, ticks: u32) {
            let total = self.ticks.fetch_add(u64::from(ticks), Ordering::Relaxed) + 1;
            if self.panic_at.is_some_and(|at| total >= at) {
                panic!("a bug in this room");
            }
        }
        fn stats(&self) -> &RoomStats {
            &self.stats
        }
    }

    fn counting(
        id: u32,
        tick_hz: u16,
        panic_at: Option<u64>,
    ) -> (PooledRoom, Arc<AtomicU64>, Arc<AtomicBool>) {
        let ticks = Arc::new(AtomicU64::new(0));
        let panicked = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&panicked);
        let room = PooledRoom {
            id: RoomId(id),
            room: Box::new(CountingRoom {
                tick_hz,
                ticks: Arc::clone(&ticks),
                panic_at,
                stats: RoomStats::default(),
            }),
            on_panic: Box::new(move || flag.store(true, Ordering::SeqCst)),
        };
        (room, ticks, panicked)
    }

    /// Waits up to five seconds for `done`.
    fn eventually(done: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        done()
    }

    #[test]
    fn each_room_is_stepped_on_its_own_clock() {
        let pool = RoomPool::start(2, Duration::ZERO);
        let (fast, fast_ticks, _) = counting(1, 60, None);
        let (slow, slow_ticks, _) = counting(2, 10, None);
        pool.add(fast);
        pool.add(slow);
        assert!(eventually(|| slow_ticks.load(Ordering::Relaxed) >= 5));
        let (fast, slow) = (
            fast_ticks.load(Ordering::Relaxed),
            slow_ticks.load(Ordering::Relaxed),
        );
        // Each runs at its own rate (six times apart), whatever the machine's load.
        assert!(
            fast >= 3 * slow,
            "60 Hz room {fast} ticks, 10 Hz room {slow}"
        );
        assert_eq!(pool.stats().rooms.load(Ordering::Relaxed), 2);
        pool.stop();
    }

    #[test]
    fn a_panicking_room_is_closed_and_the_others_play_on() {
        let pool = RoomPool::start(1, Duration::ZERO);
        let (healthy, healthy_ticks, healthy_panicked) = counting(1, 60, None);
        let (buggy, buggy_ticks, buggy_panicked) = counting(2, 60, Some(3));
        pool.add(healthy);
        pool.add(buggy);
        assert!(eventually(|| buggy_panicked.load(Ordering::SeqCst)));
        let at_panic = healthy_ticks.load(Ordering::Relaxed);
        assert!(eventually(
            || healthy_ticks.load(Ordering::Relaxed) >= at_panic + 10
        ));
        assert_eq!(
            buggy_ticks.load(Ordering::Relaxed),
            3,
            "never stepped again"
        );
        assert!(!healthy_panicked.load(Ordering::SeqCst));
        assert_eq!(pool.stats().rooms_panicked.load(Ordering::Relaxed), 1);
        assert_eq!(pool.stats().rooms.load(Ordering::Relaxed), 1);
        pool.stop();
    }

    #[test]
    fn a_removed_room_is_no_longer_stepped() {
        let pool = RoomPool::start(2, Duration::ZERO);
        let (room, ticks, _) = counting(7, 60, None);
        pool.add(room);
        assert!(eventually(|| ticks.load(Ordering::Relaxed) >= 2));
        pool.remove(RoomId(7));
        assert!(eventually(
            || pool.stats().rooms.load(Ordering::Relaxed) == 0
        ));
        let after = ticks.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(100));
        assert!(ticks.load(Ordering::Relaxed) <= after + 1);
        pool.stop();
    }

    #[test]
    fn sources_handed_to_the_pool_are_read_between_steps_until_the_guard_goes() {
        use std::io::Write;

        use crate::runtime::readiness::recorder::Recorder;
        let pool = RoomPool::start(2, Duration::from_millis(2));
        let (room, steps, _) = counting(1, 30, None);
        pool.add(room);
        let readiness = pool.readiness();
        let mut sockets = Vec::new();
        let mut guards = Vec::new();
        let mut logs = Vec::new();
        for _ in 0..2 {
            let (recorder, ours, log) = Recorder::pair();
            guards.push(readiness.watch(Box::new(recorder)));
            sockets.push(ours);
            logs.push(log);
        }
        for (socket, text) in sockets.iter_mut().zip(["one", "two"]) {
            socket.write_all(text.as_bytes()).unwrap();
        }
        let read = |index: usize, expected: &[&str]| {
            eventually(|| *logs[index].lock().unwrap() == expected)
        };
        assert!(read(0, &["one"]) && read(1, &["two"]));
        assert!(
            eventually(|| steps.load(Ordering::Relaxed) >= 3),
            "the room steps on"
        );

        // Dropping the guard lets the watcher go on its thread; the other is still read.
        drop(guards.remove(0));
        assert!(read(0, &["one", "Unwatched"]));
        sockets[1].write_all(b"three").unwrap();
        assert!(read(1, &["two", "three"]));
        pool.stop();
        assert!(read(1, &["two", "three", "Stopping"]));
    }

    fn load(busy: u64, rooms: u64) -> Load {
        Load {
            busy_micros_per_second: busy,
            rooms,
        }
    }

    #[test]
    fn new_rooms_go_to_the_least_busy_thread() {
        assert_eq!(least_loaded(&[load(500, 1), load(200, 3), load(200, 2)]), 2);
        assert_eq!(least_loaded(&[load(0, 0), load(0, 0)]), 0);
    }

    #[test]
    fn a_room_moves_only_when_one_thread_carries_clearly_more() {
        assert_eq!(
            plan_move(&[load(900_000, 4), load(100_000, 1)]),
            Some((0, 1, 800_000))
        );
        assert_eq!(
            plan_move(&[load(900_000, 1), load(100_000, 1)]),
            None,
            "a thread with one room has none to spare"
        );
        assert_eq!(
            plan_move(&[load(150_000, 3), load(100_000, 1)]),
            None,
            "within the margin"
        );
        assert_eq!(plan_move(&[load(400_000, 3)]), None, "one thread");
    }
}
