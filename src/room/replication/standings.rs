//! The room's standings: every player's place by score, best first, ties to the lower id (one
//! order for the scoreboard and for each player's own rank, so the two never disagree), the
//! top of it that snapshot frames carry, and since which tick each of them has stood, so that
//! a delta carries the scoreboard or a rank only when it changed after its baseline.
//!
//! Recomputed with one sort of a reused buffer on the scoreboard's period and whenever players
//! came or went (a rank is then never above the head count beside it); every player's rank is
//! then a lookup. Must never allocate in a steady tick (its tables are sized by
//! [`Standings::reserve`] at join), nor read the clock.

use crate::game::world::PlayerMap;
use crate::protocol::snapshot::SCOREBOARD_SIZE;
use crate::protocol::{PlayerId, PlayerState, Tick};

/// How often the standings are recomputed while nobody comes or goes, in ticks (twice a second
/// at 30 Hz): scores change every tick, and the scoreboard is resent each time it changes.
pub const STANDINGS_PERIOD_TICKS: u32 = 15;

/// One player's place in the standings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// 1 for the best score in the room.
    pub rank: u32,
    /// The tick this rank was first given: a client whose baseline is this tick or later holds it.
    pub since: Tick,
    /// The recomputation that last placed the player, to forget those who left.
    placed: Tick,
}

#[derive(Debug, Default)]
pub struct Standings {
    /// `(score, id)` of every player, best first after each recomputation (reused).
    order: Vec<(u32, PlayerId)>,
    places: PlayerMap<Place>,
    /// The first [`SCOREBOARD_SIZE`] of `order`, as `(id, score)`.
    top: Vec<(PlayerId, u32)>,
    top_since: Tick,
    /// When the standings were last recomputed; `None` before the first time.
    computed: Option<Tick>,
}

/// The standings' order: higher score first, then lower id.
fn best_first(a: &(u32, PlayerId), b: &(u32, PlayerId)) -> std::cmp::Ordering {
    b.0.cmp(&a.0).then(a.1.cmp(&b.1))
}

impl Standings {
    /// Sizes the tables for `players`, so that steady ticks do not allocate.
    pub fn reserve(&mut self, players: usize) {
        self.order.reserve(players.saturating_sub(self.order.len()));
        self.places
            .reserve(players.saturating_sub(self.places.len()));
        self.top.reserve(SCOREBOARD_SIZE);
    }

    /// Brings the standings up to `tick` for `players` (the world at that tick): recomputes them
    /// when the period is due or someone came or went since the last time.
    pub fn update(&mut self, players: &[PlayerState], tick: Tick) {
        let due = self.computed.is_none() || tick.0.is_multiple_of(STANDINGS_PERIOD_TICKS);
        if due || self.someone_came_or_went(players) {
            self.recompute(players, tick);
        }
    }

    /// The top players, best first, as `(id, score)`.
    pub fn top(&self) -> &[(PlayerId, u32)] {
        &self.top
    }

    /// Whether the top list changed after `baseline` (a client holding it must be sent it).
    pub fn top_changed_after(&self, baseline: Tick) -> bool {
        self.top_since.since(baseline) > 0
    }

    /// The place of player `id`, if it was in the world when the standings were last computed.
    pub fn place_of(&self, id: PlayerId) -> Option<Place> {
        self.places.get(&id).copied()
    }

    fn someone_came_or_went(&self, players: &[PlayerState]) -> bool {
        players.len() != self.places.len()
            || players.iter().any(|p| !self.places.contains_key(&p.id))
    }

    fn recompute(&mut self, players: &[PlayerState], tick: Tick) {
        self.computed = Some(tick);
        self.order.clear();
        self.order.extend(players.iter().map(|p| (p.score, p.id)));
        self.order.sort_unstable_by(best_first);
        for (index, &(_, id)) in self.order.iter().enumerate() {
            let rank = index as u32 + 1;
            let fresh = Place {
                rank,
                since: tick,
                placed: tick,
            };
            let place = self.places.entry(id).or_insert(fresh);
            if place.rank != rank {
                place.rank = rank;
                place.since = tick;
            }
            place.placed = tick;
        }
        self.places.retain(|_, place| place.placed == tick);
        self.update_top(tick);
    }

    fn update_top(&mut self, tick: Tick) {
        let best = &self.order[..SCOREBOARD_SIZE.min(self.order.len())];
        let unchanged = best.len() == self.top.len()
            && (best.iter().zip(&self.top))
                .all(|(&(score, id), &(id2, score2))| score == score2 && id == id2);
        if !unchanged {
            self.top.clear();
            self.top.extend(best.iter().map(|&(score, id)| (id, score)));
            self.top_since = tick;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn player(id: u32, score: u32) -> PlayerState {
        PlayerState {
            id: PlayerId(id),
            x: 0.0,
            y: 0.0,
            vx: 0.0,
            vy: 0.0,
            aim: 0.0,
            score,
            last_input_seq: 0,
            flags: 0,
        }
    }

    fn rank(standings: &Standings, id: u32) -> u32 {
        standings.place_of(PlayerId(id)).unwrap().rank
    }

    #[test]
    fn ranks_go_by_score_then_by_the_lower_id_like_the_top_list() {
        let mut standings = Standings::default();
        let players = [
            player(7, 10),
            player(3, 40),
            player(9, 10),
            player(1, 10),
            player(4, 0),
        ];
        standings.update(&players, Tick(30));
        let ranks: Vec<u32> = [3, 1, 7, 9, 4]
            .iter()
            .map(|&id| rank(&standings, id))
            .collect();
        assert_eq!(ranks, [1, 2, 3, 4, 5]);
        let top: Vec<u32> = standings.top().iter().map(|(id, _)| id.0).collect();
        assert_eq!(top, [3, 1, 7, 9, 4], "the same order");
    }

    #[test]
    fn the_top_list_is_the_head_of_the_ranking_and_everyone_below_has_a_rank() {
        let mut standings = Standings::default();
        let players: Vec<PlayerState> = (1..=25).map(|id| player(id, id * 3)).collect();
        standings.update(&players, Tick(0));
        assert_eq!(standings.top().len(), SCOREBOARD_SIZE);
        assert_eq!(standings.top()[0], (PlayerId(25), 75));
        for (index, &(id, _)) in standings.top().iter().enumerate() {
            assert_eq!(rank(&standings, id.0), index as u32 + 1);
        }
        assert_eq!(rank(&standings, 1), 25, "the lowest score is last");
        assert_eq!(rank(&standings, 13), 13);
    }

    #[test]
    fn ranks_follow_scores_on_the_period_only() {
        let mut standings = Standings::default();
        let mut players = vec![player(1, 5), player(2, 1)];
        standings.update(&players, Tick(30));
        players[1].score = 9;
        standings.update(&players, Tick(31));
        assert_eq!(
            rank(&standings, 2),
            2,
            "between periods the standings stand"
        );
        standings.update(&players, Tick(45));
        assert_eq!(rank(&standings, 2), 1);
        assert_eq!(standings.place_of(PlayerId(2)).unwrap().since, Tick(45));
        assert_eq!(standings.place_of(PlayerId(1)).unwrap().since, Tick(45));
    }

    #[test]
    fn a_join_or_a_leave_recomputes_at_once_so_no_rank_exceeds_the_head_count() {
        let mut standings = Standings::default();
        let mut players = vec![player(1, 9), player(2, 5), player(3, 1)];
        standings.update(&players, Tick(30));
        assert_eq!(rank(&standings, 3), 3);
        players.remove(0);
        standings.update(&players, Tick(31));
        assert_eq!(rank(&standings, 3), 2);
        assert_eq!(
            standings.place_of(PlayerId(1)),
            None,
            "who left is forgotten"
        );
        // One leaves and one joins in the same tick: the count alone would not tell.
        players.remove(0);
        players.push(player(8, 7));
        standings.update(&players, Tick(32));
        assert_eq!((rank(&standings, 8), rank(&standings, 3)), (1, 2));
        assert_eq!(standings.place_of(PlayerId(2)), None);
    }

    #[test]
    fn a_rank_keeps_the_tick_it_was_given_while_it_holds() {
        let mut standings = Standings::default();
        let mut players = vec![player(1, 9), player(2, 5)];
        standings.update(&players, Tick(30));
        players[0].score = 20;
        standings.update(&players, Tick(45));
        let place = standings.place_of(PlayerId(1)).unwrap();
        assert_eq!((place.rank, place.since), (1, Tick(30)));
        assert!(
            standings.top_changed_after(Tick(44)),
            "the top score changed at 45"
        );
        assert!(!standings.top_changed_after(Tick(45)));
    }

    #[test]
    fn an_empty_room_has_no_standings() {
        let mut standings = Standings::default();
        standings.update(&[], Tick(0));
        assert!(standings.top().is_empty());
        assert_eq!(standings.place_of(PlayerId(1)), None);
    }
}
