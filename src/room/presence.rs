//! Who is in a room, as its players see it: names (for welcomes), which connection plays each
//! player (so the end of a superseded connection is ignored), who is away and until which tick,
//! and the joins and leaves not yet announced. Pure bookkeeping with the tick passed in; the room
//! ([`super::Room`]) applies what it decides to the world and the outbox.
//!
//! Must never: touch the world, encode a message, or allocate in a tick where nobody joined,
//! left or went away.

use std::collections::HashMap;
use std::time::Duration;

use crate::protocol::{PlayerId, PlayerInfo, PlayerLeft, Roster, ServerMessage, Tick};

pub struct Presence {
    /// Names of the players in the world, for welcomes.
    names: HashMap<PlayerId, String>,
    /// Away players and the tick their grace ends.
    away_until: HashMap<PlayerId, Tick>,
    /// The connection currently playing each player, to ignore the end of a superseded one.
    connection_of: HashMap<PlayerId, u64>,
    /// Joins and leaves since the last tick's announcement (see [`ServerMessage::Roster`]).
    roster: Roster,
    /// How long an away player waits to be resumed, in ticks (rounded up).
    grace_ticks: u32,
}

impl Presence {
    pub fn new(resume_grace: Duration, tick_hz: u16) -> Presence {
        let grace = (resume_grace.as_secs_f64() * f64::from(tick_hz)).ceil();
        Presence {
            names: HashMap::new(),
            away_until: HashMap::new(),
            connection_of: HashMap::new(),
            roster: Roster::default(),
            grace_ticks: grace as u32,
        }
    }

    /// `connection` now plays `id` (a join or a resume arrived from it).
    pub fn connect(&mut self, id: PlayerId, connection: u64) {
        self.connection_of.insert(id, connection);
    }

    /// Whether `connection` is the one playing `id` (an away or leave from an older one is
    /// ignored).
    pub fn is_current(&self, id: PlayerId, connection: u64) -> bool {
        self.connection_of.get(&id) == Some(&connection)
    }

    /// A player entered the world under `name`: it is listed in welcomes and announced.
    pub fn admit(&mut self, id: PlayerId, name: String) {
        self.names.insert(id, name.clone());
        self.roster.joined.push(PlayerInfo { id, name });
    }

    /// Everyone in the world, as a welcome lists them.
    pub fn players(&self) -> Vec<PlayerInfo> {
        self.names
            .iter()
            .map(|(&id, name)| PlayerInfo {
                id,
                name: name.clone(),
            })
            .collect()
    }

    /// The player went away at tick `now`: its grace runs until `now` plus the resume grace.
    pub fn mark_away(&mut self, id: PlayerId, now: Tick) {
        let until = Tick(now.0.wrapping_add(self.grace_ticks));
        self.away_until.insert(id, until);
    }

    /// The player is back: its grace no longer runs.
    pub fn mark_back(&mut self, id: PlayerId) {
        self.away_until.remove(&id);
    }

    /// How many players are away now, waiting for a resume.
    pub fn away_count(&self) -> usize {
        self.away_until.len()
    }

    /// Puts in `expired` (emptied first; a scratch list the caller keeps, so this never
    /// allocates) the away players whose grace has ended by tick `now`.
    pub fn collect_expired(&self, now: Tick, expired: &mut Vec<PlayerId>) {
        expired.clear();
        if !self.away_until.is_empty() {
            expired.extend(
                self.away_until
                    .iter()
                    .filter(|&(_, &until)| now.since(until) >= 0)
                    .map(|(&id, _)| id),
            );
        }
    }

    /// Forgets the player's connection and grace. Call [`Presence::left`] too if the player was
    /// in the world.
    pub fn disconnect(&mut self, id: PlayerId) {
        self.away_until.remove(&id);
        self.connection_of.remove(&id);
    }

    /// The player left the world: it is no longer listed, and its leave is announced.
    pub fn left(&mut self, id: PlayerId) {
        self.names.remove(&id);
        self.roster.left.push(PlayerLeft { id });
    }

    /// What to tell everyone of the joins and leaves since the last call, and who not to tell
    /// (a lone joiner, whose welcome lists itself): a lone join or leave as its own message,
    /// several as one `Roster`. `None` when nobody came or went.
    pub fn take_announcement(&mut self) -> Option<(Option<PlayerId>, ServerMessage)> {
        let roster = &mut self.roster;
        match (roster.joined.len(), roster.left.len()) {
            (0, 0) => None,
            (1, 0) => {
                let joined = roster.joined.pop().expect("one join");
                Some((Some(joined.id), ServerMessage::PlayerJoined(joined)))
            }
            (0, 1) => {
                let left = roster.left.pop().expect("one leave");
                Some((None, ServerMessage::PlayerLeft(left)))
            }
            _ => Some((None, ServerMessage::Roster(std::mem::take(roster)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_runs_in_ticks_rounded_up_and_ends_on_its_tick() {
        let mut presence = Presence::new(Duration::from_millis(100), 30);
        let mut expired = Vec::new();
        presence.mark_away(PlayerId(1), Tick(10));
        presence.collect_expired(Tick(12), &mut expired);
        assert!(expired.is_empty());
        presence.collect_expired(Tick(13), &mut expired);
        assert_eq!(expired, [PlayerId(1)]);
        presence.mark_back(PlayerId(1));
        presence.collect_expired(Tick(20), &mut expired);
        assert!(expired.is_empty());
    }

    #[test]
    fn only_the_current_connection_counts() {
        let mut presence = Presence::new(Duration::from_secs(1), 30);
        presence.connect(PlayerId(1), 5);
        presence.connect(PlayerId(1), 6);
        assert!(!presence.is_current(PlayerId(1), 5));
        assert!(presence.is_current(PlayerId(1), 6));
        presence.disconnect(PlayerId(1));
        assert!(!presence.is_current(PlayerId(1), 6));
    }
}
