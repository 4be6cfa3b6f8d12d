//! Buffers from which a room's outgoing messages are cut as shared [`Bytes`] and reused once
//! every copy is dropped. Must never: allocate in steady state, or hold a frame's memory past its
//! last reader.

use bytes::BytesMut;

/// Buffers from which outgoing messages are cut as shared [`Bytes`] and reused once every copy
/// of them has been dropped, so that publishing allocates nothing in steady state.
///
/// Each slot is a `BytesMut` sharing its memory with the frames split off it: a frame is cut
/// from the free tail; when the tail is too short and no frame cut from the slot is alive any
/// more, `try_reclaim` takes the whole buffer back without allocating. Only when every slot is
/// still in use (writers still sending old frames) or too small does one get a new buffer; the
/// old memory is freed by whoever drops its last frame.
pub struct FramePool {
    slots: Vec<BytesMut>,
    /// Least capacity of a new buffer (it gets at least twice the request, too).
    min_capacity: usize,
    /// The slot to replace next when none can be reused.
    next_replaced: usize,
}

impl FramePool {
    pub fn new(slots: usize, min_capacity: usize) -> FramePool {
        FramePool {
            slots: (0..slots.max(1)).map(|_| BytesMut::new()).collect(),
            min_capacity,
            next_replaced: 0,
        }
    }

    /// An empty buffer with room for `len` bytes. Split what is written off it with
    /// `split().freeze()`.
    pub fn buffer(&mut self, len: usize) -> &mut BytesMut {
        let reusable = self.slots.iter_mut().position(|slot| slot.try_reclaim(len));
        let index = reusable.unwrap_or_else(|| {
            let index = self.next_replaced;
            self.next_replaced = (index + 1) % self.slots.len();
            self.slots[index] = BytesMut::with_capacity((2 * len).max(self.min_capacity));
            index
        });
        &mut self.slots[index]
    }
}
