//! Interest cells: the fixed grid the arena is cut into, the rectangle of cells a client is sent
//! around its player, and the size bounds that follow from the grid. Pure geometry: no entities,
//! no bytes.

/// Side of an interest cell, in arena units. A client receives the cells its view covers.
pub const CELL_SIZE: f32 = 256.0;
/// The interest-cell grid: fixed, whatever the arena's size (which may change during a game),
/// so that a cell's index never changes. It covers the largest arena, [`MAX_ARENA_SIDE`] square.
pub const CELL_GRID: CellGrid = CellGrid {
    cols: 128,
    rows: 128,
};
/// The largest side an arena may have, in units.
pub const MAX_ARENA_SIDE: f32 = 128.0 * CELL_SIZE;
/// Half the extent of the area a client is sent, around its own player, in arena units: the
/// largest view the bundled client shows (1600 x 1000 units) plus a margin for entities
/// about to enter it (a ship's radius plus what it covers in the interpolation delay).
pub const INTEREST_HALF_WIDTH: f32 = 800.0 + INTEREST_MARGIN;
pub const INTEREST_HALF_HEIGHT: f32 = 500.0 + INTEREST_MARGIN;
const INTEREST_MARGIN: f32 = 64.0;

/// A rectangle of interest cells, inclusive on both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CellRect {
    pub col0: u32,
    pub row0: u32,
    pub col1: u32,
    pub row1: u32,
}

impl CellRect {
    pub fn contains(&self, col: u32, row: u32) -> bool {
        (self.col0..=self.col1).contains(&col) && (self.row0..=self.row1).contains(&row)
    }
}

/// A grid of interest cells from the arena's origin: row-major cell indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellGrid {
    pub cols: u32,
    pub rows: u32,
}

impl CellGrid {
    pub fn cell_count(&self) -> usize {
        self.cols as usize * self.rows as usize
    }

    /// The cell holding a point; points outside the grid belong to the nearest edge cell.
    pub fn cell_of(&self, x: f32, y: f32) -> u32 {
        let col = ((x / CELL_SIZE) as i64).clamp(0, i64::from(self.cols) - 1) as u32;
        let row = ((y / CELL_SIZE) as i64).clamp(0, i64::from(self.rows) - 1) as u32;
        row * self.cols + col
    }

    pub fn contains(&self, rect: &CellRect, cell: u32) -> bool {
        rect.contains(cell % self.cols, cell / self.cols)
    }

    /// The cells within the interest area around a point.
    pub fn interest_around(&self, x: f32, y: f32) -> CellRect {
        let col = |x: f32| ((x / CELL_SIZE) as i64).clamp(0, i64::from(self.cols) - 1) as u32;
        let row = |y: f32| ((y / CELL_SIZE) as i64).clamp(0, i64::from(self.rows) - 1) as u32;
        CellRect {
            col0: col(x - INTEREST_HALF_WIDTH),
            row0: row(y - INTEREST_HALF_HEIGHT),
            col1: col(x + INTEREST_HALF_WIDTH),
            row1: row(y + INTEREST_HALF_HEIGHT),
        }
    }

    /// Whether a rectangle fits in this grid.
    pub fn holds(&self, rect: &CellRect) -> bool {
        rect.col0 <= rect.col1
            && rect.row0 <= rect.row1
            && rect.col1 < self.cols
            && rect.row1 < self.rows
    }
}
