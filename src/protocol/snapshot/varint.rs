//! The primitive encodings of a snapshot frame: LEB128 varints and zigzag-mapped signed values
//! on the writing side, and the bounds-checked [`Reader`] that every decoder of a frame reads
//! through. Must never read past the bytes it was given, nor panic on them.

use super::error::DeltaError;

/// Appends LEB128: 7 bits per byte, low bits first.
pub fn put_varint(out: &mut impl bytes::BufMut, mut value: u64) {
    while value >= 0x80 {
        out.put_u8(value as u8 | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

/// Appends a signed value zigzag-mapped (0, -1, 1, -2, ... → 0, 1, 2, 3, ...) as a varint.
pub fn put_signed(out: &mut impl bytes::BufMut, value: i64) {
    put_varint(out, ((value << 1) ^ (value >> 63)) as u64);
}

/// A cursor over a frame's bytes. Every read is bounds-checked and names what it was reading.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    pub fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }

    #[inline]
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DeltaError> {
        let byte = *self.bytes.get(self.at).ok_or(DeltaError::Truncated(what))?;
        self.at += 1;
        Ok(byte)
    }

    pub fn u32_le(&mut self, what: &'static str) -> Result<u32, DeltaError> {
        let end = self.at + 4;
        let bytes = self
            .bytes
            .get(self.at..end)
            .ok_or(DeltaError::Truncated(what))?;
        self.at = end;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    pub fn f32_le(&mut self, what: &'static str) -> Result<f32, DeltaError> {
        Ok(f32::from_bits(self.u32_le(what)?))
    }

    /// A LEB128 varint of at most 64 bits.
    #[inline]
    pub fn varint(&mut self, what: &'static str) -> Result<u64, DeltaError> {
        // Most varints of a frame are one byte (counts, id gaps, position deltas): read those
        // without the loop, which stays out of line.
        if let Some(&byte) = self.bytes.get(self.at)
            && byte & 0x80 == 0
        {
            self.at += 1;
            return Ok(u64::from(byte));
        }
        self.varint_long(what)
    }

    #[inline(never)]
    fn varint_long(&mut self, what: &'static str) -> Result<u64, DeltaError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8(what)?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DeltaError::Malformed("varint longer than 10 bytes"))
    }

    #[inline]
    pub fn varint_u32(&mut self, what: &'static str) -> Result<u32, DeltaError> {
        u32::try_from(self.varint(what)?).map_err(|_| DeltaError::Malformed("value above u32"))
    }

    #[inline]
    pub fn signed(&mut self, what: &'static str) -> Result<i64, DeltaError> {
        let raw = self.varint(what)?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    /// A signed value that must fit an `i32` (positions, velocities).
    #[inline]
    pub fn signed_i32(&mut self, what: &'static str) -> Result<i32, DeltaError> {
        i32::try_from(self.signed(what)?).map_err(|_| DeltaError::Malformed("value beyond i32"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_width() {
        for value in [
            0u64,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(Reader::new(&out).varint("v").unwrap(), value);
        }
        for value in [0i64, -1, 1, -64, 64, i32::MIN as i64, i32::MAX as i64] {
            let mut out = Vec::new();
            put_signed(&mut out, value);
            assert_eq!(Reader::new(&out).signed("v").unwrap(), value);
        }
        let mut out = Vec::new();
        put_signed(&mut out, -64);
        assert_eq!(out, [127]);
    }

    #[test]
    fn a_varint_that_never_ends_is_refused() {
        assert!(matches!(
            Reader::new(&[0xff; 12]).varint("v"),
            Err(DeltaError::Malformed(_))
        ));
        assert!(matches!(
            Reader::new(&[0x80]).varint("v"),
            Err(DeltaError::Truncated("v"))
        ));
    }
}
