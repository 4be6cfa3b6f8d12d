//! A uniform grid over the arena that answers "which players are near this point" without
//! comparing every pair. Rebuilt every tick by counting sort into buffers that are reused, so a
//! rebuild allocates nothing once the buffers have grown to the player count.
//!
//! Between rebuilds, players placed somewhere new (spawned, respawned) can be recorded with
//! [`SpatialGrid::place`]; they are found by [`SpatialGrid::any_placed_near`] only, so the other
//! queries keep answering for positions as they were at the rebuild.

/// Players bucketed by cell. Indices refer to the caller's player slice at rebuild time.
#[derive(Debug, Default)]
pub struct SpatialGrid {
    cell_size: f32,
    columns: usize,
    rows: usize,
    /// `cell_start[c]..cell_start[c + 1]` is the range of `entries` in cell `c`.
    cell_start: Vec<u32>,
    /// Player indices ordered by cell.
    entries: Vec<u32>,
    /// Cell of each player index, kept between the two counting-sort passes.
    cell_of: Vec<u32>,
    /// Per cell, the newest entry of `placed` in that cell, or [`NONE`]: one list per cell of
    /// the players placed since the last rebuild.
    placed_head: Vec<u32>,
    /// `(player index, next entry in the same cell or NONE)`, in order of placing.
    placed: Vec<(u32, u32)>,
    /// The columns and rows holding any entry at the last rebuild (`None`: no entry), so a
    /// query far from every player (most of a sparse room's orbs) ends at once.
    occupied: Option<CellSpan>,
}

/// A rectangle of cells, bounds included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CellSpan {
    columns: (usize, usize),
    rows: (usize, usize),
}

impl CellSpan {
    fn of(column: usize, row: usize) -> CellSpan {
        CellSpan {
            columns: (column, column),
            rows: (row, row),
        }
    }

    fn include(&mut self, column: usize, row: usize) {
        self.columns = (self.columns.0.min(column), self.columns.1.max(column));
        self.rows = (self.rows.0.min(row), self.rows.1.max(row));
    }

    /// The cells of both, or `None` if they do not meet.
    fn intersect(self, other: CellSpan) -> Option<CellSpan> {
        let columns = (
            self.columns.0.max(other.columns.0),
            self.columns.1.min(other.columns.1),
        );
        let rows = (self.rows.0.max(other.rows.0), self.rows.1.min(other.rows.1));
        (columns.0 <= columns.1 && rows.0 <= rows.1).then_some(CellSpan { columns, rows })
    }
}

/// End of a cell's list of placed players.
const NONE: u32 = u32::MAX;

impl SpatialGrid {
    pub fn new(width: f32, height: f32, cell_size: f32) -> SpatialGrid {
        let columns = (width / cell_size).ceil().max(1.0) as usize;
        let rows = (height / cell_size).ceil().max(1.0) as usize;
        SpatialGrid {
            cell_size,
            columns,
            rows,
            cell_start: vec![0; columns * rows + 1],
            entries: Vec::new(),
            cell_of: Vec::new(),
            placed_head: vec![NONE; columns * rows],
            placed: Vec::new(),
            occupied: None,
        }
    }

    /// Makes room for `players` players, so rebuilds and placings up to that count do not
    /// allocate.
    pub fn reserve(&mut self, players: usize) {
        for buffer in [&mut self.entries, &mut self.cell_of] {
            buffer.reserve(players.saturating_sub(buffer.len()));
        }
        self.placed
            .reserve(players.saturating_sub(self.placed.len()));
    }

    /// Gives back room held beyond `players` (a crowd left).
    pub fn shrink(&mut self, players: usize) {
        for buffer in [&mut self.entries, &mut self.cell_of] {
            buffer.shrink_to(players);
        }
        self.placed.shrink_to(players);
    }

    /// Re-buckets every position; positions outside the arena are clamped to its edge cells.
    /// Forgets every placing.
    pub fn rebuild(&mut self, positions: impl ExactSizeIterator<Item = (f32, f32)>) {
        if !self.placed.is_empty() {
            self.placed.clear();
            self.placed_head.fill(NONE);
        }
        self.cell_of.clear();
        self.cell_start.fill(0);
        self.occupied = None;
        for (x, y) in positions {
            let (column, row) = (self.column(x), self.row(y));
            match &mut self.occupied {
                Some(span) => span.include(column, row),
                None => self.occupied = Some(CellSpan::of(column, row)),
            }
            let cell = self.cell_index(column, row);
            self.cell_of.push(cell as u32);
            self.cell_start[cell + 1] += 1;
        }
        for c in 1..self.cell_start.len() {
            self.cell_start[c] += self.cell_start[c - 1];
        }
        self.entries.clear();
        self.entries.resize(self.cell_of.len(), 0);
        // Fill from the back of each cell so `cell_start` ends up unchanged.
        for (index, &cell) in self.cell_of.iter().enumerate().rev() {
            let end = &mut self.cell_start[cell as usize + 1];
            *end -= 1;
            self.entries[*end as usize] = index as u32;
        }
        // Each end was moved down to its cell's start; shift the table back into place.
        self.cell_start.rotate_left(1);
        let last = self.cell_start.len() - 1;
        self.cell_start[last] = self.entries.len() as u32;
    }

    /// Calls `visit` with each index whose cell overlaps the square of half-side `radius`
    /// around (`x`, `y`). Callers check the exact distance themselves.
    pub fn for_each_near(&self, x: f32, y: f32, radius: f32, mut visit: impl FnMut(usize)) {
        let Some(CellSpan {
            columns: (c0, c1),
            rows: (r0, r1),
        }) = self.occupied_near(x, y, radius)
        else {
            return;
        };
        for row in r0..=r1 {
            let first = self.cell_start[self.cell_index(c0, row)] as usize;
            let last = self.cell_start[self.cell_index(c1, row) + 1] as usize;
            // Cells of one row are contiguous in `entries`, so one slice covers c0..=c1.
            for &index in &self.entries[first..last] {
                visit(index as usize);
            }
        }
    }

    /// Records that player `index` is now at (`x`, `y`), for [`SpatialGrid::any_placed_near`]
    /// until the next rebuild.
    pub fn place(&mut self, index: usize, x: f32, y: f32) {
        let cell = self.cell_index(self.column(x), self.row(y));
        let entry = self.placed.len() as u32;
        self.placed.push((index as u32, self.placed_head[cell]));
        self.placed_head[cell] = entry;
    }

    /// Whether `test` holds for any index [`SpatialGrid::for_each_near`] would visit; stops at
    /// the first that passes.
    pub fn any_near(
        &self,
        x: f32,
        y: f32,
        radius: f32,
        mut test: impl FnMut(usize) -> bool,
    ) -> bool {
        let Some(CellSpan {
            columns: (c0, c1),
            rows: (r0, r1),
        }) = self.occupied_near(x, y, radius)
        else {
            return false;
        };
        (r0..=r1).any(|row| {
            let first = self.cell_start[self.cell_index(c0, row)] as usize;
            let last = self.cell_start[self.cell_index(c1, row) + 1] as usize;
            self.entries[first..last]
                .iter()
                .any(|&index| test(index as usize))
        })
    }

    /// Entries at the last rebuild.
    pub fn len(&self) -> usize {
        self.cell_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cell_of.is_empty()
    }

    /// Calls `visit` with the column and row of each entry's cell at the last rebuild (a cell
    /// once per entry in it).
    pub fn for_each_occupied_cell(&self, mut visit: impl FnMut(usize, usize)) {
        for &cell in &self.cell_of {
            let cell = cell as usize;
            visit(cell % self.columns, cell / self.columns);
        }
    }

    /// Calls `visit` with each index in the cells up to `spread` columns and rows from
    /// (`column`, `row`), clamped to the grid.
    pub fn for_each_in_cells(
        &self,
        column: usize,
        row: usize,
        spread: usize,
        mut visit: impl FnMut(usize),
    ) {
        let (c0, c1) = (
            column.saturating_sub(spread),
            (column + spread).min(self.columns - 1),
        );
        let (r0, r1) = (
            row.saturating_sub(spread),
            (row + spread).min(self.rows - 1),
        );
        for row in r0..=r1 {
            let first = self.cell_start[self.cell_index(c0, row)] as usize;
            let last = self.cell_start[self.cell_index(c1, row) + 1] as usize;
            for &index in &self.entries[first..last] {
                visit(index as usize);
            }
        }
    }

    /// Like [`SpatialGrid::any_near`], over the players placed since the last rebuild.
    pub fn any_placed_near(
        &self,
        x: f32,
        y: f32,
        radius: f32,
        mut test: impl FnMut(usize) -> bool,
    ) -> bool {
        if self.placed.is_empty() {
            return false;
        }
        let (c0, c1) = (self.column(x - radius), self.column(x + radius));
        let (r0, r1) = (self.row(y - radius), self.row(y + radius));
        for row in r0..=r1 {
            for column in c0..=c1 {
                let mut entry = self.placed_head[self.cell_index(column, row)];
                while entry != NONE {
                    let (index, next) = self.placed[entry as usize];
                    if test(index as usize) {
                        return true;
                    }
                    entry = next;
                }
            }
        }
        false
    }

    /// The cells a query of half-side `radius` around (`x`, `y`) covers, cut to those that
    /// held an entry at the rebuild: the others are empty, so the answer is the same.
    fn occupied_near(&self, x: f32, y: f32, radius: f32) -> Option<CellSpan> {
        let query = CellSpan {
            columns: (self.column(x - radius), self.column(x + radius)),
            rows: (self.row(y - radius), self.row(y + radius)),
        };
        self.occupied?.intersect(query)
    }

    fn column(&self, x: f32) -> usize {
        ((x / self.cell_size).max(0.0) as usize).min(self.columns - 1)
    }

    fn row(&self, y: f32) -> usize {
        ((y / self.cell_size).max(0.0) as usize).min(self.rows - 1)
    }

    fn cell_index(&self, column: usize, row: usize) -> usize {
        row * self.columns + column
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(grid: &SpatialGrid, x: f32, y: f32, r: f32) -> Vec<usize> {
        let mut found = Vec::new();
        grid.for_each_near(x, y, r, |i| found.push(i));
        found.sort();
        found
    }

    #[test]
    fn finds_every_point_within_radius_and_skips_far_ones() {
        let mut grid = SpatialGrid::new(1000.0, 500.0, 100.0);
        let points = [
            (5.0, 5.0),
            (150.0, 40.0),
            (990.0, 490.0),
            (420.0, 260.0),
            (-50.0, 9999.0),
        ];
        grid.rebuild(points.iter().copied());
        assert_eq!(near(&grid, 10.0, 10.0, 30.0), vec![0]);
        assert_eq!(near(&grid, 100.0, 20.0, 60.0), vec![0, 1]);
        assert_eq!(near(&grid, 999.0, 499.0, 5.0), vec![2]);
        assert_eq!(near(&grid, 420.0, 260.0, 1.0), vec![3]);
        // Out-of-arena positions are clamped into the edge cell.
        assert_eq!(near(&grid, 0.0, 499.0, 1.0), vec![4]);
    }

    #[test]
    fn placed_players_are_found_apart_until_the_next_rebuild() {
        let mut grid = SpatialGrid::new(1000.0, 500.0, 100.0);
        grid.rebuild([(5.0, 5.0), (420.0, 260.0)].into_iter());
        grid.place(1, 15.0, 10.0);
        grid.place(2, 990.0, 490.0);
        let placed = |grid: &SpatialGrid, x, y, r| {
            let mut found = Vec::new();
            grid.any_placed_near(x, y, r, |i| {
                found.push(i);
                false
            });
            found.sort();
            found
        };
        // The rebuilt view still has player 1 where it was.
        assert_eq!(near(&grid, 10.0, 10.0, 30.0), vec![0]);
        assert_eq!(placed(&grid, 10.0, 10.0, 30.0), vec![1]);
        assert_eq!(placed(&grid, 999.0, 499.0, 5.0), vec![2]);
        assert_eq!(placed(&grid, 500.0, 250.0, 50.0), Vec::<usize>::new());
        grid.rebuild([(5.0, 5.0), (15.0, 10.0)].into_iter());
        assert_eq!(placed(&grid, 10.0, 10.0, 30.0), Vec::<usize>::new());
        assert_eq!(near(&grid, 10.0, 10.0, 30.0), vec![0, 1]);
    }

    #[test]
    fn brute_force_agrees_on_random_points() {
        let mut grid = SpatialGrid::new(2000.0, 1000.0, 128.0);
        let mut seed = 12345u32;
        let mut next = || {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            (seed >> 8) as f32 / (1u32 << 24) as f32
        };
        let points: Vec<(f32, f32)> = (0..500)
            .map(|_| (next() * 2000.0, next() * 1000.0))
            .collect();
        grid.rebuild(points.iter().copied());
        for _ in 0..100 {
            let (x, y, r) = (next() * 2000.0, next() * 1000.0, next() * 200.0);
            let found = near(&grid, x, y, r);
            for (i, &(px, py)) in points.iter().enumerate() {
                if (px - x).abs() <= r && (py - y).abs() <= r {
                    assert!(found.contains(&i), "missed point {i}");
                    assert!(grid.any_near(x, y, r, |j| j == i), "any_near missed {i}");
                }
            }
            assert_eq!(grid.any_near(x, y, r, |_| true), !found.is_empty());
        }
    }

    #[test]
    fn a_query_visits_every_player_in_the_cells_it_covers_whatever_is_occupied() {
        let mut grid = SpatialGrid::new(3000.0, 2000.0, 128.0);
        // Two players in one corner and one across the arena: most cells are empty.
        let points = [(100.0, 100.0), (300.0, 150.0), (2900.0, 1900.0)];
        grid.rebuild(points.iter().copied());
        let cell = |v: f32| (v / 128.0) as i64;
        for x in (0..3000).step_by(97) {
            for y in (0..2000).step_by(89) {
                let (x, y, r) = (x as f32, y as f32, 150.0);
                // Every player whose cell the query's square overlaps, by brute force.
                let expected: Vec<usize> = (0..points.len())
                    .filter(|&i| {
                        let (px, py) = points[i];
                        (cell(x - r)..=cell(x + r)).contains(&cell(px))
                            && (cell(y - r)..=cell(y + r)).contains(&cell(py))
                    })
                    .collect();
                assert_eq!(near(&grid, x, y, r), expected, "at ({x}, {y})");
                assert_eq!(grid.any_near(x, y, r, |_| true), !expected.is_empty());
            }
        }
        grid.rebuild(std::iter::empty());
        assert!(near(&grid, 100.0, 100.0, 500.0).is_empty());
        assert!(!grid.any_near(100.0, 100.0, 500.0, |_| true));
    }
}
