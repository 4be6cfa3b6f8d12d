//! Client frames read straight off the socket (RFC 6455 section 5.2): each header parsed and
//! checked before its payload is read (reserved bits clear, a known opcode, masked, a control
//! frame whole and at most 125 bytes, the length within the limit), then the payload unmasked in
//! place. Bytes are read into a scratch buffer owned by the worker thread, and a connection keeps
//! only what one read brought beyond the frames it held (usually nothing), so an idle connection
//! holds no read buffer: what fastwebsockets' reader kept per connection was a fixed 8 KiB.
//!
//! Must never: read or allocate for a payload before its length is checked, keep more than one
//! read's worth plus one frame, lose a byte when the read is cancelled, or trust a byte it has
//! not checked.

use std::cell::RefCell;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Poll, ready};

use tokio::io::{AsyncRead, ReadBuf};

use crate::protocol::CloseReason;
use crate::session::ended::Ended;

/// Largest payload of a control frame (RFC 6455 section 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// Most bytes one read takes from the socket (into the thread's scratch buffer): a read that
/// brings fewer found the socket empty.
pub const READ_CHUNK: usize = 16 * 1024;
/// A connection's leftover buffer is released once empty if it grew past this (a burst, a
/// large message); below it, it is kept so steady reads never allocate.
const KEEP_CAPACITY: usize = 512;

thread_local! {
    /// Where every socket read on this thread lands first: one buffer per worker thread, not
    /// one per connection.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

/// A frame's kind (RFC 6455 section 5.2's opcodes; the rest are refused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A checked, unmasked client frame, borrowed from the connection's buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientFrame<'a> {
    pub opcode: OpCode,
    pub fin: bool,
    pub payload: &'a [u8],
}

/// A frame's header once checked: where its payload starts, how long it is, its mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Header {
    opcode: OpCode,
    fin: bool,
    header_len: usize,
    payload_len: usize,
    mask: [u8; 4],
}

fn protocol_error(detail: &'static str) -> Ended {
    Ended::new(CloseReason::ProtocolError, detail)
}

fn transport_closed() -> Ended {
    Ended::new(CloseReason::ClientClosed, "transport closed")
}

/// Parses the header at the front of `bytes`: `Ok(None)` while it is incomplete, an error as
/// soon as what has arrived breaks a rule (a length over `limit` is refused from the length
/// field alone).
fn parse_header(bytes: &[u8], limit: usize) -> Result<Option<Header>, Ended> {
    let [first, second, ..] = *bytes else {
        return Ok(None);
    };
    if first & 0x70 != 0 {
        return Err(protocol_error("reserved bits set"));
    }
    let opcode = OpCode::from_bits(first & 0x0F).ok_or_else(|| protocol_error("unknown opcode"))?;
    let fin = first & 0x80 != 0;
    if second & 0x80 == 0 {
        return Err(protocol_error("client frames must be masked"));
    }
    if opcode.is_control() && !fin {
        return Err(protocol_error("fragmented control frame"));
    }
    let (length_bytes, payload_len) = match second & 0x7F {
        126 => match bytes.get(2..4) {
            Some(field) => (2, u64::from(u16::from_be_bytes([field[0], field[1]]))),
            None => return Ok(None),
        },
        127 => match bytes.get(2..10) {
            Some(field) => {
                let length = u64::from_be_bytes(field.try_into().expect("eight bytes"));
                if length >> 63 != 0 {
                    return Err(protocol_error("frame length over 63 bits"));
                }
                (8, length)
            }
            None => return Ok(None),
        },
        short => (0, u64::from(short)),
    };
    if opcode.is_control() && payload_len > MAX_CONTROL_PAYLOAD as u64 {
        return Err(protocol_error("control frame over 125 bytes"));
    }
    if payload_len > limit as u64 {
        return Err(Ended::new(CloseReason::TooLarge, ""));
    }
    let mask_at = 2 + length_bytes;
    let Some(mask) = bytes.get(mask_at..mask_at + 4) else {
        return Ok(None);
    };
    Ok(Some(Header {
        opcode,
        fin,
        header_len: mask_at + 4,
        payload_len: payload_len as usize,
        mask: mask.try_into().expect("four bytes"),
    }))
}

fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (index, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[index & 3];
    }
}

/// One connection's client frames: what was read and not yet taken.
pub struct IncomingFrames {
    pending: Vec<u8>,
    /// Where the first byte not yet taken is in `pending`.
    start: usize,
    /// The largest payload accepted in one frame.
    limit: usize,
}

impl IncomingFrames {
    pub fn new(limit: usize) -> IncomingFrames {
        IncomingFrames {
            pending: Vec::new(),
            start: 0,
            limit,
        }
    }

    /// The next frame, reading from `read` as needed; an error says why the connection must end
    /// (a broken rule, or the client gone). Cancel-safe: bytes read are kept when the future is
    /// dropped.
    pub async fn next_frame<R: AsyncRead + Unpin + ?Sized>(
        &mut self,
        read: &mut R,
    ) -> Result<ClientFrame<'_>, Ended> {
        loop {
            if let Some(header) = self.whole_frame_header()? {
                return Ok(self.take(header));
            }
            self.read_more(read).await?;
        }
    }

    /// The next frame among the bytes already read, if a whole one is there; an error says why
    /// the connection must end. Never reads.
    pub fn buffered_frame(&mut self) -> Result<Option<ClientFrame<'_>>, Ended> {
        Ok(self.whole_frame_header()?.map(|header| self.take(header)))
    }

    /// The header of the frame at the front if the whole frame is held (checked as soon as the
    /// header is whole).
    fn whole_frame_header(&mut self) -> Result<Option<Header>, Ended> {
        self.release_if_taken();
        Ok(
            parse_header(&self.pending[self.start..], self.limit)?.filter(|header| {
                self.pending.len() - self.start >= header.header_len + header.payload_len
            }),
        )
    }

    /// One non-blocking read by `read` into the thread's scratch buffer, kept after what is
    /// left; the count it read (0: the peer closed). Reads at most [`READ_CHUNK`]: a count
    /// below it means the socket had nothing more at that moment.
    pub fn read_with(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> std::io::Result<usize>,
    ) -> std::io::Result<usize> {
        self.compact();
        SCRATCH.with_borrow_mut(|scratch| {
            let count = read(scratch)?;
            self.pending.extend_from_slice(&scratch[..count]);
            Ok(count)
        })
    }

    /// One non-blocking read by `read` into the thread's scratch buffer, thrown away: the count
    /// it read (0: the peer closed).
    pub fn read_discarding(
        read: impl FnOnce(&mut [u8]) -> std::io::Result<usize>,
    ) -> std::io::Result<usize> {
        SCRATCH.with_borrow_mut(|scratch| read(scratch))
    }

    /// Puts bytes read elsewhere (before this reader existed) behind what is held.
    pub fn push_read(&mut self, bytes: &[u8]) {
        self.compact();
        self.pending.extend_from_slice(bytes);
    }

    /// Moves what is left to the front before more is read.
    fn compact(&mut self) {
        if self.start > 0 {
            self.pending.drain(..self.start);
            self.start = 0;
        }
    }

    /// Takes the whole frame `header` starts at the front, unmasked.
    fn take(&mut self, header: Header) -> ClientFrame<'_> {
        let payload_at = self.start + header.header_len;
        let end = payload_at + header.payload_len;
        self.start = end;
        let payload = &mut self.pending[payload_at..end];
        unmask(payload, header.mask);
        ClientFrame {
            opcode: header.opcode,
            fin: header.fin,
            payload,
        }
    }

    /// Once everything read has been taken, starts over at the front, and lets a buffer a burst
    /// or a large message grew go.
    fn release_if_taken(&mut self) {
        if self.start < self.pending.len() {
            return;
        }
        self.start = 0;
        if self.pending.capacity() > KEEP_CAPACITY {
            self.pending = Vec::new();
        } else {
            self.pending.clear();
        }
    }

    /// Reads what the socket has (waiting for it) and keeps it after what is left.
    async fn read_more<R: AsyncRead + Unpin + ?Sized>(
        &mut self,
        read: &mut R,
    ) -> Result<(), Ended> {
        self.compact();
        let pending = &mut self.pending;
        let read_count = poll_fn(|cx| {
            SCRATCH.with_borrow_mut(|scratch| {
                let mut buf = ReadBuf::new(scratch);
                ready!(Pin::new(&mut *read).poll_read(cx, &mut buf))?;
                pending.extend_from_slice(buf.filled());
                Poll::Ready(Ok::<usize, std::io::Error>(buf.filled().len()))
            })
        })
        .await
        .map_err(|_| transport_closed())?;
        if read_count == 0 {
            return Err(transport_closed());
        }
        Ok(())
    }

    /// Bytes held for this connection (a partial frame or frames not yet taken), and the
    /// buffer's capacity.
    pub fn held(&self) -> (usize, usize) {
        (self.pending.len() - self.start, self.pending.capacity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// A client frame as a browser writes it.
    fn masked(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            len @ 0..=125 => bytes.push(0x80 | len as u8),
            len @ 126..=65535 => {
                bytes.push(0x80 | 126);
                bytes.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                bytes.push(0x80 | 127);
                bytes.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        bytes.extend_from_slice(&MASK);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i & 3]));
        bytes
    }

    fn reason_of(result: Result<Option<Header>, Ended>) -> CloseReason {
        result.expect_err("refused").reason
    }

    #[test]
    fn every_length_encoding_parses_and_unmasks() {
        for len in [0, 1, 125, 126, 300, 65535, 65536] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let bytes = masked(true, 0x2, &payload);
            let header = parse_header(&bytes, 1 << 20).unwrap().unwrap();
            assert_eq!(header.payload_len, len, "{len}");
            assert_eq!(header.header_len + len, bytes.len(), "{len}");
            let mut body = bytes[header.header_len..].to_vec();
            unmask(&mut body, header.mask);
            assert_eq!(body, payload, "{len}");
        }
    }

    #[test]
    fn an_incomplete_header_waits_at_every_split() {
        let bytes = masked(true, 0x2, &[7; 300]);
        for cut in 0..8 {
            assert_eq!(parse_header(&bytes[..cut], 1 << 20).unwrap(), None, "{cut}");
        }
        assert!(parse_header(&bytes[..8], 1 << 20).unwrap().is_some());
    }

    #[test]
    fn broken_headers_are_refused_with_their_reason() {
        let limit = 1024;
        let mut reserved = masked(true, 0x2, b"x");
        reserved[0] |= 0x20;
        assert_eq!(
            reason_of(parse_header(&reserved, limit)),
            CloseReason::ProtocolError
        );
        for opcode in [0x3, 0x7, 0xB, 0xF] {
            let bytes = masked(true, opcode, b"");
            assert_eq!(
                reason_of(parse_header(&bytes, limit)),
                CloseReason::ProtocolError
            );
        }
        let mut unmasked = masked(true, 0x2, b"x");
        unmasked[1] &= 0x7F;
        assert_eq!(
            reason_of(parse_header(&unmasked, limit)),
            CloseReason::ProtocolError
        );
        let fragmented_ping = masked(false, 0x9, b"x");
        assert_eq!(
            reason_of(parse_header(&fragmented_ping, limit)),
            CloseReason::ProtocolError
        );
        let long_pong = masked(true, 0xA, &[0; 126]);
        assert_eq!(
            reason_of(parse_header(&long_pong, limit)),
            CloseReason::ProtocolError
        );
        let mut huge = vec![0x82, 0x80 | 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(
            reason_of(parse_header(&huge, limit)),
            CloseReason::ProtocolError
        );
    }

    #[test]
    fn a_length_over_the_limit_is_refused_before_the_mask_arrives() {
        let mut head = vec![0x82, 0x80 | 126];
        head.extend_from_slice(&1025u16.to_be_bytes());
        assert_eq!(reason_of(parse_header(&head, 1024)), CloseReason::TooLarge);
        let mut fits = vec![0x82, 0x80 | 126];
        fits.extend_from_slice(&1024u16.to_be_bytes());
        assert_eq!(parse_header(&fits, 1024).unwrap(), None);
    }

    /// Bytes arriving in pieces of `piece` bytes.
    struct Trickle {
        bytes: Vec<u8>,
        at: usize,
        piece: usize,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            let end = (self.at + self.piece)
                .min(self.bytes.len())
                .min(self.at + buf.remaining());
            buf.put_slice(&self.bytes[self.at..end]);
            self.at = end;
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn frames_come_whole_however_the_bytes_arrive_and_the_buffer_is_let_go() {
        let mut stream = Vec::new();
        stream.extend(masked(false, 0x2, b"hel"));
        stream.extend(masked(true, 0x9, b"ping"));
        stream.extend(masked(true, 0x0, b"lo"));
        stream.extend(masked(true, 0x2, &[9; 2000]));
        stream.extend(masked(true, 0x8, &1000u16.to_be_bytes()));
        for piece in [1, 3, 7, 64, 5000] {
            let mut read = Trickle {
                bytes: stream.clone(),
                at: 0,
                piece,
            };
            let mut frames = IncomingFrames::new(4096);
            let mut seen = Vec::new();
            loop {
                match frames.next_frame(&mut read).await {
                    Ok(frame) => seen.push((frame.opcode, frame.fin, frame.payload.to_vec())),
                    Err(ended) => {
                        assert_eq!(ended.reason, CloseReason::ClientClosed, "{piece}");
                        break;
                    }
                }
            }
            assert_eq!(
                seen,
                vec![
                    (OpCode::Binary, false, b"hel".to_vec()),
                    (OpCode::Ping, true, b"ping".to_vec()),
                    (OpCode::Continuation, true, b"lo".to_vec()),
                    (OpCode::Binary, true, vec![9; 2000]),
                    (OpCode::Close, true, 1000u16.to_be_bytes().to_vec()),
                ],
                "{piece}"
            );
            let (held, capacity) = frames.held();
            assert_eq!(held, 0, "{piece}");
            assert!(
                capacity <= KEEP_CAPACITY,
                "the large frame's buffer went ({piece})"
            );
        }
    }

    #[tokio::test]
    async fn small_frames_keep_a_small_buffer() {
        let mut stream = Vec::new();
        for _ in 0..100 {
            stream.extend(masked(true, 0x2, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
        }
        let mut read = Trickle {
            bytes: stream,
            at: 0,
            piece: 16,
        };
        let mut frames = IncomingFrames::new(4096);
        for _ in 0..100 {
            let frame = frames.next_frame(&mut read).await.unwrap();
            assert_eq!(frame.payload, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
            assert!(frames.held().1 <= KEEP_CAPACITY);
        }
    }
}
