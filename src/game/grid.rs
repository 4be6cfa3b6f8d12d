//! A uniform grid over the arena that answers "which players are near this point" without
//! comparing every pair. Rebuilt every tick by counting sort into buffers that are reused, so a
//! rebuild allocates nothing once the buffers have grown to the player count.

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
}

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
        }
    }

    /// Re-buckets every position; positions outside the arena are clamped to its edge cells.
    pub fn rebuild(&mut self, positions: impl ExactSizeIterator<Item = (f32, f32)>) {
        self.cell_of.clear();
        self.cell_start.fill(0);
        for (x, y) in positions {
            let cell = self.cell_index(self.column(x), self.row(y));
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
        let (c0, c1) = (self.column(x - radius), self.column(x + radius));
        let (r0, r1) = (self.row(y - radius), self.row(y + radius));
        for row in r0..=r1 {
            let first = self.cell_start[self.cell_index(c0, row)] as usize;
            let last = self.cell_start[self.cell_index(c1, row) + 1] as usize;
            // Cells of one row are contiguous in `entries`, so one slice covers c0..=c1.
            for &index in &self.entries[first..last] {
                visit(index as usize);
            }
        }
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
                }
            }
        }
    }
}
