//! What each client was sent, by tick: the interest rectangle it holds at each baseline in the
//! ring, so that its next frame knows which cells it already has. Stored compactly (a corner
//! fits a byte: the grid is 128 x 128), since every player keeps a ring of them: 12 bytes a
//! tick instead of 24, 768 bytes a player instead of 1.5 KiB. Pure.

use crate::protocol::Tick;
use crate::protocol::snapshot::{BASELINE_RING, CELL_GRID, CellRect};

const _: () = assert!(
    CELL_GRID.cols <= 256 && CELL_GRID.rows <= 256,
    "a cell's column and row must fit a byte"
);

/// One tick's view as kept: the tick and the rectangle's corners (col0, row0, col1, row1).
#[derive(Debug, Clone, Copy)]
struct KeptView {
    tick: Tick,
    corners: [u8; 4],
}

/// The views a client was sent, by tick: what it holds at each baseline.
#[derive(Debug)]
pub(super) struct ClientViews {
    views: Box<[Option<KeptView>]>,
}

impl ClientViews {
    pub(super) fn new() -> ClientViews {
        ClientViews {
            views: vec![None; BASELINE_RING as usize].into_boxed_slice(),
        }
    }

    pub(super) fn at(&self, tick: Tick) -> Option<CellRect> {
        match self.views[(tick.0 % BASELINE_RING) as usize] {
            Some(kept) if kept.tick == tick => {
                let [col0, row0, col1, row1] = kept.corners.map(u32::from);
                Some(CellRect {
                    col0,
                    row0,
                    col1,
                    row1,
                })
            }
            _ => None,
        }
    }

    pub(super) fn record(&mut self, tick: Tick, rect: CellRect) {
        // Every cell is on the grid, so each corner fits a byte (checked above).
        let corner = |at: u32| u8::try_from(at).unwrap_or(u8::MAX);
        let corners = [rect.col0, rect.row0, rect.col1, rect.row1].map(corner);
        self.views[(tick.0 % BASELINE_RING) as usize] = Some(KeptView { tick, corners });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_comes_back_whole_for_its_tick_only() {
        let mut views = ClientViews::new();
        let rect = CellRect {
            col0: 0,
            row0: 3,
            col1: CELL_GRID.cols - 1,
            row1: CELL_GRID.rows - 1,
        };
        views.record(Tick(70), rect);
        assert_eq!(views.at(Tick(70)), Some(rect));
        // The same slot of the ring, another tick: not this view.
        assert_eq!(views.at(Tick(70 + BASELINE_RING)), None);
        assert_eq!(views.at(Tick(71)), None);
        assert_eq!(std::mem::size_of::<Option<KeptView>>(), 12);
    }
}
