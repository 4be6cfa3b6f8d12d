//! A long-polling bot's side of its session (docs/PROTOCOL.md, "Long polling"), over two
//! keep-alive HTTP connections: the socket lane carries the opening POST and then one long GET
//! after another (re-issued the moment one answers, acknowledging what it brought), the posts
//! lane carries the bot's messages, one POST in flight, numbered and with its last few inputs
//! repeated, then the goodbye (DELETE). A GET's messages are handed to the bot as WebSocket
//! messages are, so the report measures both transports alike. Must never: have two requests in
//! flight on one lane, hand a reliable message over twice, or let the messages waiting for a
//! POST grow past [`MAX_PENDING`].

use std::collections::VecDeque;
use std::time::Instant;

use super::socket::Lane;
use super::{Engine, LaneId, Phase};
use crate::bots::poll_wire::{self, Request, ResponseAt};
use crate::bots::wire::opcode;

/// Messages a bot lets wait for the next POST; beyond it the oldest waiting input is dropped
/// (a newer one supersedes it), and a bot with no input to drop is lost.
const MAX_PENDING: usize = 64;
/// Inputs each POST repeats (with what was sent between them), so a lost POST costs nothing;
/// the server applies each number once.
const REPEATED_INPUTS: usize = 3;

/// What a lane's request in flight is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InFlight {
    Open,
    Fetch,
    Send,
    Leave,
}

/// One client message for a POST, with its number once a POST has carried it.
struct Outgoing {
    seq: u32,
    bytes: Vec<u8>,
    is_input: bool,
}

/// A long-polling bot's session.
pub(super) struct Polling {
    /// The POSTs' connection (the GETs use the connection's socket lane).
    pub(super) posts: Lane,
    /// The session id, once the server opened it (empty before).
    sid: String,
    /// The largest POST body the server reads.
    max_body: usize,
    /// The request each lane waits on, by [`LaneId`].
    in_flight: [Option<InFlight>; 2],
    /// The number of the last reliable message received: the next GET's `ack`.
    ack: u32,
    /// Messages numbered and posted (the POST in flight's among them), kept from the
    /// [`REPEATED_INPUTS`]th newest input on, to be repeated.
    posted: VecDeque<Outgoing>,
    /// Messages waiting for the next POST, numbered when it is written.
    pending: VecDeque<Outgoing>,
    /// The number the next message gets (from 1).
    next_seq: u32,
    /// The run is over: the goodbye goes as soon as no POST is in flight.
    leaving: bool,
}

impl Default for Polling {
    fn default() -> Polling {
        Polling {
            posts: Lane::default(),
            sid: String::new(),
            max_body: usize::from(u16::MAX),
            in_flight: [None; 2],
            ack: 0,
            posted: VecDeque::new(),
            pending: VecDeque::new(),
            next_seq: 1,
            leaving: false,
        }
    }
}

impl Polling {
    /// Forgets the posted messages a POST no longer needs to repeat: those before the
    /// [`REPEATED_INPUTS`]th newest input (all of them when none is an input).
    fn trim_posted(&mut self) {
        let keep_from = self
            .posted
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, message)| message.is_input)
            .nth(REPEATED_INPUTS - 1)
            .map(|(at, _)| at);
        let keep_from = match keep_from {
            Some(at) => at,
            None => self
                .posted
                .iter()
                .position(|message| message.is_input)
                .unwrap_or(self.posted.len()),
        };
        self.posted.drain(..keep_from);
    }

    /// Numbers the waiting messages that fit in one body beside those repeated, and writes
    /// the body (repeats dropped first should the server's limit be that small).
    fn write_body(&mut self, out: &mut Vec<u8>) {
        let size = |messages: &VecDeque<Outgoing>| {
            messages.iter().map(|m| 2 + m.bytes.len()).sum::<usize>()
        };
        let mut size_now = 4 + size(&self.posted);
        let mut fresh = 0;
        while let Some(message) = self.pending.front() {
            let grown = size_now + 2 + message.bytes.len();
            // Always one new message, however small the limit.
            if grown > self.max_body && fresh > 0 {
                break;
            }
            let Some(mut message) = self.pending.pop_front() else {
                break;
            };
            message.seq = self.next_seq;
            self.next_seq = self.next_seq.wrapping_add(1);
            size_now = grown;
            fresh += 1;
            self.posted.push_back(message);
        }
        while size_now > self.max_body && self.posted.len() > fresh {
            if let Some(dropped) = self.posted.pop_front() {
                size_now -= 2 + dropped.bytes.len();
            }
        }
        let first = self.posted.front().map_or(self.next_seq, |m| m.seq);
        poll_wire::write_up_body(out, first, self.posted.iter().map(|m| &m.bytes[..]));
    }
}

impl Engine {
    /// The socket lane is connected: open the session.
    pub(super) fn open_session(&mut self, index: usize, now: Instant) {
        self.connections[index].phase = Phase::Opening;
        self.request(index, LaneId::Socket, InFlight::Open, now);
    }

    /// The run is over for a playing bot: its goodbye goes after the POST in flight.
    pub(super) fn leave_session(&mut self, index: usize, now: Instant) {
        if let Some(polling) = self.connections[index].polling.as_mut() {
            polling.leaving = true;
        }
        self.post_pending(index, now);
    }

    /// Whether `lane` waits for no answer (a keep-alive connection the server may close then:
    /// the next request opens it again).
    fn lane_is_idle(&self, index: usize, lane: LaneId) -> bool {
        self.connections[index]
            .polling
            .as_ref()
            .is_some_and(|polling| polling.in_flight[lane as usize].is_none())
    }

    /// A lane's socket ended: lost, unless it was an idle keep-alive connection.
    pub(super) fn on_lane_ended(
        &mut self,
        index: usize,
        lane: LaneId,
        reason: String,
        now: Instant,
    ) {
        if self.lane_is_idle(index, lane) {
            return self.close_lane(index, lane);
        }
        self.lose(index, reason, now);
    }

    /// Queues one encoded message for the next POST, and posts it if no POST is in flight.
    pub(super) fn queue_for_post(
        &mut self,
        index: usize,
        encoded: &[u8],
        is_input: bool,
        now: Instant,
    ) {
        let Some(polling) = self.connections[index].polling.as_mut() else {
            return;
        };
        polling.pending.push_back(Outgoing {
            seq: 0,
            bytes: encoded.to_vec(),
            is_input,
        });
        if polling.pending.len() > MAX_PENDING {
            match polling.pending.iter().position(|m| m.is_input) {
                Some(oldest_input) => {
                    polling.pending.remove(oldest_input);
                }
                None => {
                    let reason = "polling: too many messages waiting for a POST".to_owned();
                    return self.lose(index, reason, now);
                }
            }
        }
        self.post_pending(index, now);
    }

    /// Sends the waiting messages (or, once leaving with none, the goodbye) unless a POST is
    /// in flight or the session is not open yet.
    fn post_pending(&mut self, index: usize, now: Instant) {
        let Some(polling) = self.connections[index].polling.as_ref() else {
            return;
        };
        if polling.sid.is_empty() || polling.in_flight[LaneId::Posts as usize].is_some() {
            return;
        }
        if !polling.pending.is_empty() {
            self.request(index, LaneId::Posts, InFlight::Send, now);
        } else if polling.leaving {
            self.request(index, LaneId::Posts, InFlight::Leave, now);
        }
    }

    /// Writes a request on `lane` (opening the lane again if the server closed it while idle).
    fn request(&mut self, index: usize, lane: LaneId, what: InFlight, now: Instant) {
        if self
            .lane_mut(index, lane)
            .is_some_and(|lane| lane.stream.is_none())
        {
            let addr = self.target_of(index).addr;
            if let Err(reason) = self.connect_lane(index, lane, addr) {
                return self.lose(index, reason, now);
            }
        }
        let tick = self.applied_tick(index);
        let mut out = std::mem::take(&mut self.framed);
        out.clear();
        let mut body = std::mem::take(&mut self.encoded);
        body.clear();
        let connection = &mut self.connections[index];
        let target = connection.redirected_to.as_ref().unwrap_or(&self.target);
        let Some(polling) = connection.polling.as_mut() else {
            return;
        };
        if what == InFlight::Send {
            polling.write_body(&mut body);
        }
        let sid = polling.sid.as_str();
        let request = match what {
            InFlight::Open => Request::Open,
            InFlight::Fetch => Request::Fetch {
                sid,
                ack: polling.ack,
                tick,
            },
            InFlight::Send => Request::Send { sid, body: &body },
            InFlight::Leave => Request::Leave { sid },
        };
        poll_wire::write_request(&mut out, &target.authority, request);
        polling.in_flight[lane as usize] = Some(what);
        let written = self.write_lane(index, lane, &out);
        self.framed = out;
        self.encoded = body;
        if let Err(reason) = written {
            self.lose(index, reason, now);
        }
    }

    /// The tick of the newest snapshot the bot applied (the next delta's baseline).
    fn applied_tick(&self, index: usize) -> Option<u32> {
        match &self.connections[index].phase {
            Phase::Playing { player, .. } | Phase::Closing { player, .. } => {
                player.applied_tick().map(|tick| tick.0)
            }
            _ => None,
        }
    }

    /// Handles every whole response at the start of `bytes`; returns how many bytes they took.
    pub(super) fn handle_responses(
        &mut self,
        index: usize,
        lane: LaneId,
        bytes: &[u8],
        now: Instant,
    ) -> usize {
        let mut taken = 0;
        while taken < bytes.len() {
            let pending = &bytes[taken..];
            let response = match poll_wire::read_response(pending) {
                Ok(None) => break,
                Ok(Some(response)) => response,
                Err(error) => {
                    self.lose(index, error.to_string(), now);
                    break;
                }
            };
            taken += response.end();
            let closes = response.closes;
            if closes {
                // The server closes this connection after the response: the next request on
                // this lane opens another.
                self.close_lane(index, lane);
            }
            self.on_response(index, lane, &pending[..response.end()], response, now);
            if closes || !self.is_in_session(index) {
                // Nothing more is read from this connection (or this session: a redirect
                // starts another).
                return bytes.len();
            }
        }
        taken
    }

    /// One whole response (`bytes`, head included) to `lane`'s request in flight.
    fn on_response(
        &mut self,
        index: usize,
        lane: LaneId,
        bytes: &[u8],
        response: ResponseAt,
        now: Instant,
    ) {
        let Some(polling) = self.connections[index].polling.as_mut() else {
            return;
        };
        let Some(what) = polling.in_flight[lane as usize].take() else {
            return self.lose(index, "polling: an answer to no request".into(), now);
        };
        let body = &bytes[response.body.clone()];
        if !response.is_success() {
            let reason = match poll_wire::refusal_text(body) {
                "" => format!("polling {}", response.status),
                text => format!("polling {}: {text}", response.status),
            };
            return self.lose(index, reason, now);
        }
        match what {
            InFlight::Open => {
                self.count_framing(index, bytes.len());
                self.on_opened(index, body, now);
            }
            InFlight::Fetch => {
                let handed = self.on_fetched(index, body, now);
                self.count_framing(index, bytes.len() - handed);
            }
            InFlight::Send => {
                self.count_framing(index, bytes.len());
                if let Some(polling) = self.connections[index].polling.as_mut() {
                    polling.trim_posted();
                }
                self.post_pending(index, now);
            }
            // The session's close comes with the GET.
            InFlight::Leave => self.count_framing(index, bytes.len()),
        }
    }

    /// The session is open: join by POST, and start the long GET.
    fn on_opened(&mut self, index: usize, body: &[u8], now: Instant) {
        let opened = match poll_wire::read_opened(body) {
            Ok(opened) => opened,
            Err(error) => return self.fail(index, error.to_string()),
        };
        let Some(polling) = self.connections[index].polling.as_mut() else {
            return;
        };
        polling.sid = opened.sid;
        polling.max_body = opened.max_body;
        self.on_transport_ready(index, now);
        if self.is_in_session(index) {
            self.request(index, LaneId::Socket, InFlight::Fetch, now);
        }
    }

    /// Whether the bot is joining, playing or closing over this session (not failed, ended or
    /// sent to another node).
    fn is_in_session(&self, index: usize) -> bool {
        let connection = &self.connections[index];
        !connection.ended
            && connection.polling.is_some()
            && matches!(
                connection.phase,
                Phase::Joining | Phase::Playing { .. } | Phase::Closing { .. }
            )
    }

    /// A GET's answer: each reliable message not received before, then the snapshot, then the
    /// close, handed over as WebSocket messages are; then the next GET. Returns the bytes of
    /// the messages handed over.
    fn on_fetched(&mut self, index: usize, body: &[u8], now: Instant) -> usize {
        let down = match poll_wire::read_down(body) {
            Ok(down) => down,
            Err(error) => {
                self.lose(index, error.to_string(), now);
                return 0;
            }
        };
        let mut handed = 0;
        for (seq, message) in down.reliable(body) {
            let Some(polling) = self.connections[index].polling.as_mut() else {
                return handed;
            };
            if seq.wrapping_sub(polling.ack) as i32 <= 0 {
                continue;
            }
            polling.ack = seq;
            handed += message.len();
            self.on_message(index, opcode::BINARY, message, now);
            if !self.is_in_session(index) {
                return handed;
            }
        }
        if let Some(snapshot) = down.snapshot {
            handed += snapshot.len();
            self.on_message(index, opcode::BINARY, &body[snapshot], now);
            if !self.is_in_session(index) {
                return handed;
            }
        }
        if let Some((code, reason)) = down.close {
            let mut close = code.to_be_bytes().to_vec();
            close.extend_from_slice(&body[reason]);
            handed += close.len();
            self.on_message(index, opcode::CLOSE, &close, now);
            if self.is_in_session(index) {
                self.lose(index, format!("closed by server ({code})"), now);
            }
            return handed;
        }
        self.request(index, LaneId::Socket, InFlight::Fetch, now);
        handed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(byte: u8, is_input: bool) -> Outgoing {
        Outgoing {
            seq: 0,
            bytes: vec![byte],
            is_input,
        }
    }

    fn body_of(polling: &mut Polling) -> Vec<u8> {
        let mut out = Vec::new();
        polling.write_body(&mut out);
        out
    }

    #[test]
    fn each_post_repeats_the_last_three_inputs_and_what_came_between() {
        let mut polling = Polling::default();
        polling.pending.push_back(message(b'J', false));
        assert_eq!(body_of(&mut polling), [0, 0, 0, 1, 0, 1, b'J']);
        polling.trim_posted();
        assert!(polling.posted.is_empty(), "a join alone is not repeated");
        for (byte, is_input) in [(b'a', true), (b'p', false), (b'b', true), (b'c', true)] {
            polling.pending.push_back(message(byte, is_input));
            body_of(&mut polling);
            polling.trim_posted();
        }
        polling.pending.push_back(message(b'd', true));
        // Numbers 1 (join), 2 a, 3 pong, 4 b, 5 c; now 6 d, after the three inputs before it
        // and the pong between them.
        assert_eq!(
            body_of(&mut polling),
            [
                0, 0, 0, 2, 0, 1, b'a', 0, 1, b'p', 0, 1, b'b', 0, 1, b'c', 0, 1, b'd'
            ]
        );
        polling.trim_posted();
        let kept: Vec<u32> = polling.posted.iter().map(|m| m.seq).collect();
        assert_eq!(kept, [4, 5, 6]);
    }

    #[test]
    fn a_body_stays_within_the_servers_limit() {
        let mut polling = Polling {
            max_body: 4 + 3 * 3,
            ..Polling::default()
        };
        for byte in 0..5 {
            polling.pending.push_back(message(byte, true));
        }
        let body = body_of(&mut polling);
        assert_eq!(body, [0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 2]);
        polling.trim_posted();
        // The next body drops repeats to make room for what waits.
        let body = body_of(&mut polling);
        assert_eq!(body, [0, 0, 0, 2, 0, 1, 1, 0, 1, 2, 0, 1, 3]);
        assert_eq!(polling.pending.len(), 1, "the rest waits for the next POST");
    }
}
