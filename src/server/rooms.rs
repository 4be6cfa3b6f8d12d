//! The room host: builds each room the lobby opens, from the configuration (the world's rules,
//! the resume grace) and the room's own settings (mode, size, tick rate), and runs it on the
//! pool of tick threads; stops a disposed room. Must never: decide where a player goes (the
//! directory and its matchmaker do).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::config::Config;
use crate::game::WorldConfig;
use crate::lobby::{MatchmakerConfig, RoomSettings};
use crate::protocol::rooms::RoomId;
use crate::room::{Room, RoomConfig, RoomIdentity};
use crate::runtime::{PooledRoom, RoomPool, Steppable};
use crate::session::{NewRoom, RoomHost};

/// How long a reserved seat waits for its joiner (Colyseus: 15 s). In one process a joiner
/// takes its seat at once; the timeout bounds a seat whose joiner vanished in between.
pub(super) const SEAT_TIMEOUT: Duration = Duration::from_secs(15);

/// Wraps each room the server opens before it is run (instrumentation; tests make a room fail).
pub type RoomWrapper =
    Arc<dyn Fn(&RoomIdentity, Box<dyn Steppable>) -> Box<dyn Steppable> + Send + Sync>;

/// Rooms built from the configuration, run on the pool.
pub struct PoolHost {
    pool: Arc<RoomPool>,
    /// Set at most once, before the server runs.
    wrapper: Arc<OnceLock<RoomWrapper>>,
    /// Every room's world rules; each room draws its own seed from it.
    world: WorldConfig,
    resume_grace: Duration,
}

impl PoolHost {
    pub fn new(
        pool: Arc<RoomPool>,
        wrapper: Arc<OnceLock<RoomWrapper>>,
        config: &Config,
        seed: u64,
    ) -> PoolHost {
        let mut world = WorldConfig::new(config.tick_hz, seed);
        world.arena = config.arena_rule();
        PoolHost {
            pool,
            wrapper,
            world,
            resume_grace: config.resume_grace,
        }
    }

    /// A room's configuration: the process's world rules at the room's tick rate, seeded per
    /// room (room 1 plays the process's seed, so `--seed` still replays a single-room game).
    fn room_config(&self, identity: RoomIdentity, settings: &RoomSettings) -> RoomConfig {
        let mut world = self.world.clone();
        world.tick_hz = u16::try_from(settings.tick_hz).unwrap_or(u16::MAX);
        world.seed = self
            .world
            .seed
            .wrapping_add(u64::from(identity.id.0 - 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut config = RoomConfig::new(world);
        config.resume_grace = self.resume_grace;
        config.identity = identity;
        config
    }
}

impl RoomHost for PoolHost {
    fn start(&self, new: NewRoom) {
        let id = new.identity.id;
        let identity = new.identity.clone();
        let config = self.room_config(new.identity, &new.settings);
        let mut room: Box<dyn Steppable> =
            Box::new(Room::new(config, new.events, new.outbox, new.stats));
        if let Some(wrap) = self.wrapper.get() {
            room = wrap(&identity, room);
        }
        self.pool.add(PooledRoom {
            id,
            room,
            on_panic: new.on_panic,
        });
    }

    fn stop(&self, id: RoomId) {
        self.pool.remove(id);
    }
}

/// The lobby's budgets and the rooms it opens, from the configuration.
pub fn matchmaker_config(config: &Config) -> MatchmakerConfig {
    MatchmakerConfig {
        max_rooms: config.max_rooms as usize,
        max_players: config.max_players as usize,
        seat_timeout: SEAT_TIMEOUT,
        idle_timeout: config.room_idle_timeout,
        max_private_rooms_per_address: config.max_private_rooms_per_ip as usize,
        modes: vec![RoomIdentity::DEFAULT_MODE.to_owned()],
        template: RoomSettings {
            mode: RoomIdentity::DEFAULT_MODE.to_owned(),
            region: config.region.clone(),
            max_players: config.max_room_players.min(config.max_players),
            tick_hz: u32::from(config.tick_hz),
            private: false,
        },
    }
}
