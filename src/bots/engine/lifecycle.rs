//! What a whole message or a failure does to a bot's connection: the join and its answer, play
//! handed to the bot's [`Player`], the goodbye, and how the connection ends, reported into the
//! swarm's stats (a failure before joining, a drop while playing, the time connected). Must
//! never count a connection's end twice.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Engine, LaneId, MAX_REDIRECTS, Phase, Target};
use crate::bots::bot::{self, CLOSE_PATIENCE, Heard, JoinAnswer, Player};
use crate::bots::wire::opcode;
use crate::client::close_code;
use crate::protocol::{RoomRequest, SeatTicket};

/// The target a redirect's public URL names: `http://IP:PORT` (the swarm connects to
/// addresses, not names), with the swarm's WebSocket path.
fn redirect_target(url: &str, path: String) -> Option<Target> {
    let authority = url.strip_prefix("http://")?.trim_end_matches('/');
    let addr = authority.parse().ok()?;
    Some(Target {
        addr,
        authority: authority.to_owned(),
        path,
    })
}

impl Engine {
    /// The transport is ready (the upgrade answered, or the polling session opened): join.
    pub(super) fn on_transport_ready(&mut self, index: usize, now: Instant) {
        let join = self.connections[index].plan.join();
        self.connections[index].phase = Phase::Joining;
        self.send(index, opcode::BINARY, &join, now);
    }

    /// One whole message.
    pub(super) fn on_message(&mut self, index: usize, kind: u8, payload: &[u8], now: Instant) {
        let connection = &mut self.connections[index];
        match &mut connection.phase {
            Phase::Joining => self.on_join_answer(index, kind, payload, now),
            Phase::Playing { player, .. } => match player.receive(kind, payload, now) {
                Heard::Nothing => {}
                Heard::Answer(message) => self.send(index, opcode::BINARY, &message, now),
                Heard::Closed => {
                    // A polling session that ended has nothing to answer.
                    if self.connections[index].polling.is_none() {
                        let code = &payload[..payload.len().min(2)];
                        self.send_raw(index, opcode::CLOSE, code, now);
                    }
                    self.finish(index);
                }
            },
            Phase::Closing { player, .. } => {
                // Answers are no longer due: the bot has said goodbye.
                if let Heard::Closed = player.receive(kind, payload, now) {
                    self.finish(index);
                }
            }
            _ => {}
        }
    }

    fn on_join_answer(&mut self, index: usize, kind: u8, payload: &[u8], now: Instant) {
        match kind {
            opcode::BINARY => {}
            opcode::CLOSE => {
                let reason = format!("closed while joining ({})", close_code(payload));
                return self.fail(index, reason);
            }
            _ => return,
        }
        let (me, tick_hz, room) = match bot::read_join_answer(payload) {
            Ok(JoinAnswer::Welcome { me, tick_hz, room }) => (me, tick_hz, room),
            Ok(JoinAnswer::Redirect { url, ticket }) => {
                return self.follow_redirect(index, &url, ticket, now);
            }
            Ok(JoinAnswer::NotYet) => return,
            Err(reason) => return self.fail(index, reason),
        };
        let connection = &mut self.connections[index];
        self.stats.record_connect(now - connection.started);
        self.stats.established.fetch_add(1, Ordering::Relaxed);
        self.stats.connected.fetch_add(1, Ordering::Relaxed);
        let stats = Arc::clone(&self.stats);
        let player = Box::new(Player::new(&connection.plan, me, &room, stats));
        let period = Duration::from_secs_f64(1.0 / f64::from(tick_hz.max(1)));
        let next_input = now + connection.plan.first_input_after(period);
        let wake_at = if player.sends_inputs() {
            next_input
        } else {
            connection.plan.deadline
        };
        connection.phase = Phase::Playing {
            player,
            joined_at: now,
            next_input,
            period,
        };
        self.wake(index, wake_at);
    }

    /// A cluster node sent the bot to the node at `url`: the connection starts again there,
    /// joining with the seat `ticket` reserved (or the same join, to resume).
    fn follow_redirect(
        &mut self,
        index: usize,
        url: &str,
        ticket: Option<SeatTicket>,
        now: Instant,
    ) {
        let path = self.target.path.clone();
        let connection = &mut self.connections[index];
        connection.redirects += 1;
        if connection.redirects > MAX_REDIRECTS {
            return self.fail(index, format!("redirected {MAX_REDIRECTS} times in a row"));
        }
        let Some(target) = redirect_target(url, path) else {
            return self.fail(index, format!("redirected to {url:?}, not http://IP:PORT"));
        };
        if let Some(ticket) = ticket {
            connection.plan.room = RoomRequest::Seat(ticket);
        }
        self.stats.redirected.fetch_add(1, Ordering::Relaxed);
        connection.redirected_to = Some(target);
        self.close_transport(index);
        self.connections[index].phase = Phase::Waiting;
        self.start(index, now);
    }

    /// The run is over for this bot: say goodbye and wait a little for the server's close.
    pub(super) fn begin_closing(&mut self, index: usize, now: Instant) {
        let connection = &mut self.connections[index];
        let Phase::Playing {
            player, joined_at, ..
        } = std::mem::replace(&mut connection.phase, Phase::Done)
        else {
            return;
        };
        connection.phase = Phase::Closing { player, joined_at };
        if connection.polling.is_some() {
            self.leave_session(index, now);
        } else {
            let mut close = 1000u16.to_be_bytes().to_vec();
            close.extend_from_slice(b"run over");
            self.send_raw(index, opcode::CLOSE, &close, now);
        }
        if let Phase::Closing { .. } = self.connections[index].phase {
            self.wake(index, now + CLOSE_PATIENCE);
        }
    }

    /// The connection failed before the bot joined.
    pub(super) fn fail(&mut self, index: usize, reason: String) {
        self.stats.record_failure(reason);
        self.end(index);
    }

    /// The connection failed: before joining a failure, while playing a drop (before the end of
    /// the run), while closing nothing more.
    pub(super) fn lose(&mut self, index: usize, reason: String, now: Instant) {
        match &self.connections[index].phase {
            Phase::Playing { player, .. } => {
                player.lost(reason, now);
                self.finish(index);
            }
            Phase::Closing { .. } => self.finish(index),
            Phase::Done => {}
            _ => self.fail(index, reason),
        }
    }

    /// The bot's play is over: hand its measurements over and close.
    pub(super) fn finish(&mut self, index: usize) {
        let phase = std::mem::replace(&mut self.connections[index].phase, Phase::Done);
        if let Phase::Playing {
            mut player,
            joined_at,
            ..
        }
        | Phase::Closing {
            mut player,
            joined_at,
        } = phase
        {
            player.finish();
            self.stats.connected.fetch_sub(1, Ordering::Relaxed);
            self.stats
                .connected_micros
                .fetch_add(joined_at.elapsed().as_micros() as u64, Ordering::Relaxed);
        }
        self.end(index);
    }

    fn end(&mut self, index: usize) {
        let connection = &mut self.connections[index];
        connection.phase = Phase::Done;
        if connection.ended {
            return;
        }
        connection.ended = true;
        self.close_transport(index);
        self.live -= 1;
    }

    /// Closes the bot's connections and forgets their bytes and its polling session.
    fn close_transport(&mut self, index: usize) {
        self.close_lane(index, LaneId::Posts);
        self.close_lane(index, LaneId::Socket);
        let connection = &mut self.connections[index];
        connection.polling = None;
        connection.fragments = None;
    }

    /// Counts bytes that carried messages to a playing bot without being one (a frame's
    /// header, an HTTP response's head and framing) in what it received.
    pub(super) fn count_framing(&mut self, index: usize, bytes: usize) {
        if let Phase::Playing { player, .. } | Phase::Closing { player, .. } =
            &mut self.connections[index].phase
        {
            player.count_framing(bytes);
        }
    }
}
