//! The room's standings: every player's place by score, best first, ties to the lower id (one
//! order for the scoreboard and for each player's own rank, so the two never disagree), the
//! top of it that snapshot frames carry, and since which tick each of them has stood, so that
//! a delta carries the scoreboard or a rank only when it changed after its baseline.
//!
//! Ranked afresh, with one sort of a reused buffer, on a period (twice a second); in between,
//! a player who comes or goes is ranked in or out at once, against the scores of the last
//! ranking (so a rank is never above the head count beside it, and a room where players come
//! and go every tick does not resend its scoreboard every tick). Every player's rank is then a
//! lookup. Must never allocate in a steady tick (its tables are sized by [`Standings::reserve`]
//! at join), nor read the clock.

use crate::game::world::PlayerMap;
use crate::protocol::snapshot::SCOREBOARD_SIZE;
use crate::protocol::{PlayerId, PlayerState, Tick};

/// How often the standings are ranked afresh, in ticks (twice a second at 30 Hz): scores change
/// every tick, and the scoreboard is resent each time it changes.
pub const STANDINGS_PERIOD_TICKS: u32 = 15;

/// One player's place in the standings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// 1 for the best score in the room.
    pub rank: u32,
    /// The tick this rank was first given: a client whose baseline is this tick or later holds it.
    pub since: Tick,
    /// The last tick the player was in the world, to tell who left.
    seen: Tick,
}

#[derive(Debug, Default)]
pub struct Standings {
    /// `(score, id)` of every player, best first after each ranking; the scores are those of
    /// the last ranking afresh (a newcomer's, of when it came).
    order: Vec<(u32, PlayerId)>,
    places: PlayerMap<Place>,
    /// The first [`SCOREBOARD_SIZE`] of `order`, as `(id, score)`.
    top: Vec<(PlayerId, u32)>,
    top_since: Tick,
    /// Whether the standings were ever ranked (the first tick ranks them whatever the period).
    ranked: bool,
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

    /// Gives back room held beyond `players` (a crowd left).
    pub fn shrink(&mut self, players: usize) {
        self.order.shrink_to(players);
        self.places.shrink_to(players);
    }

    /// Brings the standings up to `tick` for `players` (the world at that tick): ranks them
    /// afresh when the period is due, else ranks in or out whoever came or went.
    pub fn update(&mut self, players: &[PlayerState], tick: Tick) {
        let due = !self.ranked || tick.0.is_multiple_of(STANDINGS_PERIOD_TICKS);
        if due {
            self.order.clear();
            self.order.extend(players.iter().map(|p| (p.score, p.id)));
        } else if !self.follow_comings_and_goings(players, tick) {
            return;
        }
        self.rank(tick);
    }

    /// The top players, best first, as `(id, score)`.
    pub fn top(&self) -> &[(PlayerId, u32)] {
        &self.top
    }

    /// Whether the top list changed after `baseline` (a client holding it must be sent it).
    pub fn top_changed_after(&self, baseline: Tick) -> bool {
        self.top_since.since(baseline) > 0
    }

    /// The place of player `id`, if it was in the world when the standings were last ranked.
    pub fn place_of(&self, id: PlayerId) -> Option<Place> {
        self.places.get(&id).copied()
    }

    /// Between rankings afresh: adds whoever came to `order` (at its score now) and drops whoever
    /// went, keeping everyone else's score of the last ranking. Returns whether anyone did.
    fn follow_comings_and_goings(&mut self, players: &[PlayerState], tick: Tick) -> bool {
        let mut came = false;
        let mut stayed = 0;
        for p in players {
            match self.places.get_mut(&p.id) {
                Some(place) => {
                    place.seen = tick;
                    stayed += 1;
                }
                None => {
                    self.order.push((p.score, p.id));
                    came = true;
                }
            }
        }
        let went = stayed < self.places.len();
        if went {
            let places = &self.places;
            (self.order).retain(|(_, id)| places.get(id).is_none_or(|place| place.seen == tick));
        }
        came || went
    }

    /// Sorts `order` and gives everyone in it its place; forgets who is not in it.
    fn rank(&mut self, tick: Tick) {
        self.ranked = true;
        self.order.sort_unstable_by(best_first);
        for (index, &(_, id)) in self.order.iter().enumerate() {
            let rank = index as u32 + 1;
            let fresh = Place {
                rank,
                since: tick,
                seen: tick,
            };
            let place = self.places.entry(id).or_insert(fresh);
            if place.rank != rank {
                place.rank = rank;
                place.since = tick;
            }
            place.seen = tick;
        }
        self.places.retain(|_, place| place.seen == tick);
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
    fn between_periods_comings_and_goings_are_ranked_against_the_last_scores() {
        let mut standings = Standings::default();
        let mut players: Vec<PlayerState> = (1..=12).map(|id| player(id, id * 10)).collect();
        standings.update(&players, Tick(30));
        assert_eq!((rank(&standings, 1), rank(&standings, 2)), (12, 11));
        // Player 1 scores big and player 2 (outside the top ten) leaves: the top list stands,
        // player 1 moves up one place for the one who left, not for its new score.
        players[0].score = 1000;
        players.remove(1);
        standings.update(&players, Tick(31));
        assert_eq!(rank(&standings, 1), 11);
        assert!(
            !standings.top_changed_after(Tick(30)),
            "the scoreboard is not resent"
        );
        // A newcomer comes in at its score now.
        players.push(player(40, 65));
        standings.update(&players, Tick(32));
        assert_eq!(rank(&standings, 40), 7);
        assert_eq!(rank(&standings, 1), 12);
        assert!(standings.top_changed_after(Tick(31)));
        assert_eq!(
            standings.top()[0],
            (PlayerId(12), 120),
            "scores of the last ranking"
        );
        // The period ranks everyone at their scores now.
        standings.update(&players, Tick(45));
        assert_eq!(rank(&standings, 1), 1);
        assert_eq!(standings.top()[0], (PlayerId(1), 1000));
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
