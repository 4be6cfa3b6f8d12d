//! What the rooms read like from outside, for the lobby's listing, `/metrics` and the operator:
//! public rooms with their readings, rooms by kind, the counters of rooms' lives and every
//! room's counters added up. Must never: take the lobby's lock for longer than a copy, or show
//! a private room where the listing is public.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{ListedRoom, RoomDirectory};
use crate::lobby::Listing;
use crate::metrics::{LobbyCounts, RoomKind, RoomStats};

impl RoomDirectory {
    /// The public rooms, by id, with their live readings.
    pub fn listing(&self) -> Vec<ListedRoom> {
        let listings: Vec<Listing> = self.lobby().listing().collect();
        listings
            .into_iter()
            .filter_map(|listing| {
                let room = self.room(listing.line.id)?;
                Some(ListedRoom {
                    created: room.created,
                    tick_p99_us: room.stats.tick_duration.quantile_upper_bound_micros(0.99),
                    listing,
                })
            })
            .collect()
    }

    /// Open rooms and their connected players by mode and visibility, sorted.
    pub fn room_kinds(&self) -> Vec<RoomKind> {
        let mut kinds: BTreeMap<(String, bool), RoomKind> = BTreeMap::new();
        for room in self.open_rooms() {
            let settings = &room.settings;
            let kind = kinds
                .entry((settings.mode.clone(), settings.private))
                .or_insert_with(|| RoomKind {
                    mode: settings.mode.clone(),
                    private: settings.private,
                    rooms: 0,
                    players: 0,
                });
            kind.rooms += 1;
            kind.players += room.sessions.player_count() as u64;
        }
        kinds.into_values().collect()
    }

    /// The counters of rooms' lives.
    pub fn lobby_counts(&self) -> LobbyCounts {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LobbyCounts {
            opened: load(&self.stats.rooms_opened),
            disposed: load(&self.stats.rooms_disposed),
            failed: load(&self.stats.rooms_failed),
            private_refused: load(&self.stats.private_rooms_refused),
        }
    }

    /// Every room's counters and readings added up, closed rooms' counters included.
    pub fn total_stats(&self) -> RoomStats {
        let total = RoomStats::default();
        total.absorb_counters(&self.retired);
        for room in self.open_rooms() {
            total.absorb(&room.stats);
        }
        total
    }
}
