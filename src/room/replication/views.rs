//! What each client was sent, by tick: the interest rectangle it holds at each baseline in the
//! ring, so that its next frame knows which cells it already has. Pure.

use crate::protocol::Tick;
use crate::protocol::snapshot::{BASELINE_RING, CellRect};

/// The views a client was sent, by tick: what it holds at each baseline.
#[derive(Debug)]
pub(super) struct ClientViews {
    views: Box<[Option<(Tick, CellRect)>]>,
}

impl ClientViews {
    pub(super) fn new() -> ClientViews {
        ClientViews {
            views: vec![None; BASELINE_RING as usize].into_boxed_slice(),
        }
    }

    pub(super) fn at(&self, tick: Tick) -> Option<CellRect> {
        match self.views[(tick.0 % BASELINE_RING) as usize] {
            Some((at, rect)) if at == tick => Some(rect),
            _ => None,
        }
    }

    pub(super) fn record(&mut self, tick: Tick, rect: CellRect) {
        self.views[(tick.0 % BASELINE_RING) as usize] = Some((tick, rect));
    }
}
