//! What a snapshot replicates: the quantized [`Entity`] (a player, an orb or a bolt as a client
//! reconstructs it), its kinds and field layouts, its hash (which the state checksum sums), and
//! the fixed-point quantization of positions and angles. Knows nothing of frames or cells.

use crate::protocol::messages::{BoltState, OrbState, PlayerState, Tick};

/// Positions are sent in fixed point: this many steps per arena unit (1/4 unit, a quarter of a
/// pixel at the bundled game's zoom). At that step a ship at full speed (14 units a tick at
/// 30 Hz) moves at most 56 steps a tick, so each coordinate of its update fits one byte.
pub const POSITION_SCALE: f32 = 4.0;

/// What kind of thing an [`Entity`] is. Its id space is separate per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Kind {
    Player = 0,
    Orb = 1,
    Bolt = 2,
}

impl Kind {
    pub fn from_bits(bits: u8) -> Option<Kind> {
        match bits {
            0 => Some(Kind::Player),
            1 => Some(Kind::Orb),
            2 => Some(Kind::Bolt),
            _ => None,
        }
    }
}

/// Field indices of a player's [`Entity::fields`].
pub mod player_field {
    pub const X: usize = 0;
    pub const Y: usize = 1;
    /// Aim as a byte: 256 steps per turn, 0 = +x.
    pub const AIM: usize = 2;
    /// The score, as the bits of a `u32`.
    pub const SCORE: usize = 3;
    pub const FLAGS: usize = 4;
}

/// Field indices of a bolt's [`Entity::fields`]. A bolt flies straight at constant speed, so it
/// is sent once: where it was at tick `T0`, and its velocity; clients extrapolate it.
pub mod bolt_field {
    pub const X0: usize = 0;
    pub const Y0: usize = 1;
    /// Velocity in position steps (1/4 unit) per second.
    pub const VX: usize = 2;
    pub const VY: usize = 3;
    /// The shooter's player id, as the bits of a `u32`.
    pub const OWNER: usize = 4;
    /// The tick of `X0, Y0`, as the bits of a `u32`.
    pub const T0: usize = 5;
}

/// One replicated thing, quantized: exactly what a client reconstructs. Orbs use the first two
/// fields (x, y); see [`player_field`] and [`bolt_field`] for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Entity {
    pub kind_bits: u8,
    pub id: u32,
    pub fields: [i32; 6],
}

impl Entity {
    pub fn new(kind: Kind, id: u32, fields: [i32; 6]) -> Entity {
        Entity {
            kind_bits: kind as u8,
            id,
            fields,
        }
    }

    /// A player as clients see it: quantized position and aim, score, flags.
    pub fn player(p: &PlayerState) -> Entity {
        let fields = [
            quantize_position(p.x),
            quantize_position(p.y),
            quantize_angle(p.aim),
            p.score as i32,
            i32::from(p.flags),
            0,
        ];
        Entity::new(Kind::Player, p.id.0, fields)
    }

    pub fn orb(o: &OrbState) -> Entity {
        let fields = [quantize_position(o.x), quantize_position(o.y), 0, 0, 0, 0];
        Entity::new(Kind::Orb, o.id, fields)
    }

    /// A bolt as first seen at `tick`: where it is then and its velocity, never updated after.
    pub fn bolt_seen_at(b: &BoltState, tick: Tick) -> Entity {
        let fields = [
            quantize_position(b.x),
            quantize_position(b.y),
            quantize_position(b.vx),
            quantize_position(b.vy),
            b.owner.0 as i32,
            tick.0 as i32,
        ];
        Entity::new(Kind::Bolt, b.id, fields)
    }

    pub fn kind(&self) -> Kind {
        Kind::from_bits(self.kind_bits).unwrap_or(Kind::Player)
    }

    /// The sort key within a cell: by kind, then id.
    pub fn key(&self) -> u64 {
        u64::from(self.kind_bits) << 32 | u64::from(self.id)
    }

    /// FNV-1a over the kind, id and fields; the state checksum is the wrapping sum of these over
    /// every entity a client holds, so it does not depend on order.
    pub fn hash(&self) -> u32 {
        let mut hash: u32 = 0x811c_9dc5;
        let mut mix = |word: u32| hash = (hash ^ word).wrapping_mul(0x0100_0193);
        mix(u32::from(self.kind_bits));
        mix(self.id);
        for &field in &self.fields {
            mix(field as u32);
        }
        hash
    }
}

/// A position in fixed point (see [`POSITION_SCALE`]).
pub fn quantize_position(units: f32) -> i32 {
    (units * POSITION_SCALE).round() as i32
}

pub fn position_units(steps: i32) -> f32 {
    steps as f32 / POSITION_SCALE
}

/// An angle in radians as a byte (256 steps per turn).
pub fn quantize_angle(radians: f32) -> i32 {
    let turns = radians / std::f32::consts::TAU;
    ((turns * 256.0).round() as i64).rem_euclid(256) as i32
}

/// A quantized angle back in radians, in `(-π, π]`.
pub fn angle_radians(steps: i32) -> f32 {
    let steps = steps.rem_euclid(256);
    let signed = if steps > 128 { steps - 256 } else { steps };
    signed as f32 * std::f32::consts::TAU / 256.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn angles_quantize_to_a_byte_and_back_within_half_a_step() {
        for i in -700..700 {
            let radians = i as f32 / 100.0;
            let back = angle_radians(quantize_angle(radians));
            let diff = (back - radians).rem_euclid(std::f32::consts::TAU);
            let diff = diff.min(std::f32::consts::TAU - diff);
            assert!(
                diff <= std::f32::consts::PI / 256.0 + 1e-4,
                "{radians} -> {back}"
            );
        }
    }
}
