//! Properties of the server's client-frame reader (`transport::websocket::incoming`), the first
//! code that touches a WebSocket's bytes: whatever arrives, in whatever pieces, it never panics,
//! never holds more than one frame and one read, and either gives whole checked frames or says
//! why the connection must end; frames a browser writes come out exactly as written, however
//! the network splits them.

use std::pin::Pin;
use std::task::{Context, Poll};

use proptest::prelude::*;
use skirmish::protocol::CloseReason;
use skirmish::transport::websocket::incoming::{IncomingFrames, OpCode};
use tokio::io::{AsyncRead, ReadBuf};

/// The largest payload the reader is told to accept here.
const LIMIT: usize = 1024;
/// The longest frame header: two bytes, eight of length, four of mask.
const MAX_HEADER: usize = 14;

/// `bytes` arriving `piece` bytes at a time, then the end of the stream.
struct Pieces {
    bytes: Vec<u8>,
    at: usize,
    piece: usize,
}

impl AsyncRead for Pieces {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
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

/// A client frame as a browser writes it.
fn masked(fin: bool, opcode: u8, mask: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        len @ 0..=125 => bytes.push(0x80 | len as u8),
        len => {
            bytes.push(0x80 | 126);
            bytes.extend_from_slice(&(len as u16).to_be_bytes());
        }
    }
    bytes.extend_from_slice(&mask);
    bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    bytes
}

/// Everything the reader makes of `bytes` in `piece`-byte reads: the frames, then why it
/// stopped.
fn read_all(bytes: Vec<u8>, piece: usize) -> (Vec<(OpCode, bool, Vec<u8>)>, CloseReason) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut read = Pieces {
            bytes,
            at: 0,
            piece,
        };
        let mut frames = IncomingFrames::new(LIMIT);
        let mut seen = Vec::new();
        loop {
            let held = frames.held().0;
            assert!(held <= LIMIT + MAX_HEADER + piece, "holds {held} bytes");
            match frames.next_frame(&mut read).await {
                Ok(frame) => {
                    assert!(frame.payload.len() <= LIMIT);
                    seen.push((frame.opcode, frame.fin, frame.payload.to_vec()));
                }
                Err(ended) => return (seen, ended.reason),
            }
        }
    })
}

/// A frame a browser may send: a data frame or fragment, or a whole ping or pong.
fn client_frame() -> impl Strategy<Value = (u8, bool, [u8; 4], Vec<u8>)> {
    (
        prop_oneof![Just(0x0u8), Just(0x2), Just(0x9), Just(0xA)],
        any::<bool>(),
        any::<[u8; 4]>(),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(opcode, fin, mask, mut payload)| {
            let control = opcode >= 0x8;
            if control {
                payload.truncate(125);
            }
            (opcode, fin || control, mask, payload)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn any_bytes_in_any_pieces_end_with_a_reason_and_never_a_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..3000),
        piece in 1usize..200,
    ) {
        let (_, reason) = read_all(bytes, piece);
        prop_assert!(
            matches!(
                reason,
                CloseReason::ProtocolError | CloseReason::TooLarge | CloseReason::ClientClosed
            ),
            "{reason:?}"
        );
    }

    #[test]
    fn frames_a_browser_writes_come_out_as_written_however_they_are_split(
        written in prop::collection::vec(client_frame(), 0..12),
        piece in 1usize..700,
    ) {
        let bytes: Vec<u8> = written
            .iter()
            .flat_map(|(opcode, fin, mask, payload)| masked(*fin, *opcode, *mask, payload))
            .collect();
        let (seen, reason) = read_all(bytes, piece);
        let opcode_of = |bits: u8| match bits {
            0x0 => OpCode::Continuation,
            0x2 => OpCode::Binary,
            0x9 => OpCode::Ping,
            _ => OpCode::Pong,
        };
        let expected: Vec<_> = written
            .into_iter()
            .map(|(opcode, fin, _, payload)| (opcode_of(opcode), fin, payload))
            .collect();
        prop_assert_eq!(seen, expected);
        prop_assert_eq!(reason, CloseReason::ClientClosed, "the stream's end");
    }
}
