//! The client's side of a WebSocket (RFC 6455) as pure functions over bytes, for the swarm's
//! event loop: the HTTP upgrade request and the check of its answer, masked frames out, and
//! the server's frames in, parsed where they lie in the read buffer (no copy, no allocation).
//! Every byte from the server is checked: a reserved bit, a masked frame, a control frame that is
//! fragmented or too long, or a frame above [`MAX_FRAME`] is an error, never a panic.

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The largest frame payload a bot accepts (the server's snapshots are a few hundred bytes).
pub const MAX_FRAME: usize = 1 << 20;
/// The longest upgrade answer a bot reads before giving up on it.
pub const MAX_HANDSHAKE: usize = 8 * 1024;

const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Frame opcodes (RFC 6455 section 5.2).
pub mod opcode {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("handshake: {0}")]
    Handshake(&'static str),
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    #[error("frame of {0} bytes is above the limit")]
    TooLarge(u64),
}

/// The `Sec-WebSocket-Key` for 16 random bytes.
pub fn handshake_key(random: [u8; 16]) -> String {
    base64::engine::general_purpose::STANDARD.encode(random)
}

/// The `Sec-WebSocket-Accept` a server must answer `key` with.
pub fn accept_for(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(ACCEPT_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// The upgrade request for `path` at `authority` (the Host header).
pub fn handshake_request(authority: &str, path: &str, key: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// Checks the server's answer to the upgrade request at the start of `buffer`: `Ok(None)` while
/// it is incomplete, else the number of bytes it took (what follows is WebSocket frames).
pub fn read_handshake_answer(buffer: &[u8], key: &str) -> Result<Option<usize>, WireError> {
    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buffer.len() > MAX_HANDSHAKE {
            Err(WireError::Handshake("answer too long"))
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buffer[..end])
        .map_err(|_| WireError::Handshake("answer is not text"))?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let mut status_parts = status.split(' ');
    if status_parts.next() != Some("HTTP/1.1") {
        return Err(WireError::Handshake("not an HTTP/1.1 answer"));
    }
    match status_parts.next() {
        Some("101") => {}
        Some("503") => return Err(WireError::Handshake("server busy (503)")),
        _ => return Err(WireError::Handshake("upgrade refused")),
    }
    let accept = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-accept"))
        .map(|(_, value)| value.trim())
        .ok_or(WireError::Handshake("no Sec-WebSocket-Accept"))?;
    if accept != accept_for(key) {
        return Err(WireError::Handshake("wrong Sec-WebSocket-Accept"));
    }
    Ok(Some(end + 4))
}

/// Appends one final frame carrying `payload`, masked with `mask` as a client must.
pub fn write_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    // Four bytes at a time: the mask repeats every four.
    let word = u32::from_ne_bytes(mask);
    let mut chunks = out[start..].chunks_exact_mut(4);
    for chunk in &mut chunks {
        let masked = u32::from_ne_bytes(chunk.try_into().expect("4 bytes")) ^ word;
        chunk.copy_from_slice(&masked.to_ne_bytes());
    }
    for (byte, key) in chunks.into_remainder().iter_mut().zip(mask) {
        *byte ^= key;
    }
}

/// A frame found in the read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameAt {
    pub fin: bool,
    pub opcode: u8,
    /// Where the payload lies in the buffer.
    pub payload: std::ops::Range<usize>,
}

impl FrameAt {
    /// Bytes the whole frame takes from the start of the buffer.
    pub fn end(&self) -> usize {
        self.payload.end
    }
}

/// The server's frame at the start of `buffer`: `Ok(None)` while it is incomplete.
pub fn read_frame(buffer: &[u8]) -> Result<Option<FrameAt>, WireError> {
    let [first, second, ..] = *buffer else {
        return Ok(None);
    };
    if first & 0x70 != 0 {
        return Err(WireError::Protocol("reserved bits set"));
    }
    if second & 0x80 != 0 {
        return Err(WireError::Protocol("masked frame from the server"));
    }
    let fin = first & 0x80 != 0;
    let opcode = first & 0x0F;
    let (len, header) = match second & 0x7F {
        126 => match buffer.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buffer.get(2..10) {
            Some(b) => (u64::from_be_bytes(b.try_into().expect("8 bytes")), 10),
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    check_opcode(opcode, fin, len)?;
    if len > MAX_FRAME as u64 {
        return Err(WireError::TooLarge(len));
    }
    let end = header + len as usize;
    if buffer.len() < end {
        return Ok(None);
    }
    Ok(Some(FrameAt {
        fin,
        opcode,
        payload: header..end,
    }))
}

fn check_opcode(opcode: u8, fin: bool, len: u64) -> Result<(), WireError> {
    match opcode {
        opcode::CONTINUATION | opcode::TEXT | opcode::BINARY => Ok(()),
        opcode::CLOSE | opcode::PING | opcode::PONG if !fin => {
            Err(WireError::Protocol("fragmented control frame"))
        }
        opcode::CLOSE | opcode::PING | opcode::PONG if len > 125 => {
            Err(WireError::Protocol("control frame above 125 bytes"))
        }
        opcode::CLOSE | opcode::PING | opcode::PONG => Ok(()),
        _ => Err(WireError::Protocol("unknown opcode")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_the_one_of_rfc_6455() {
        // The example of RFC 6455 section 1.3.
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn an_upgrade_answer_is_checked_and_measured() {
        let key = handshake_key([7; 16]);
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
             sec-websocket-accept: {}\r\n\r\n",
            accept_for(&key)
        );
        let bytes = [answer.as_bytes(), &[0x82, 0x01]].concat();
        let bytes = &bytes[..];
        assert_eq!(read_handshake_answer(&bytes[..20], &key), Ok(None));
        assert_eq!(
            read_handshake_answer(bytes, &key),
            Ok(Some(bytes.len() - 2))
        );
        let wrong = answer.replace(&accept_for(&key), "AAAA");
        assert!(read_handshake_answer(wrong.as_bytes(), &key).is_err());
        let busy = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\n";
        assert_eq!(
            read_handshake_answer(busy, &key),
            Err(WireError::Handshake("server busy (503)"))
        );
        assert!(read_handshake_answer(&[b'x'; MAX_HANDSHAKE + 1], &key).is_err());
    }

    #[test]
    fn frames_out_are_masked_and_sized() {
        for len in [0usize, 5, 125, 126, 65535, 65536] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut out = Vec::new();
            write_frame(&mut out, opcode::BINARY, &payload, [1, 2, 3, 4]);
            let header = match len {
                0..=125 => 2,
                126..=65535 => 4,
                _ => 10,
            };
            assert_eq!(out.len(), header + 4 + len);
            assert_eq!(out[0], 0x82);
            assert_eq!(out[1] & 0x80, 0x80, "a client's frames are masked");
            let unmasked: Vec<u8> = out[header + 4..]
                .iter()
                .zip([1u8, 2, 3, 4].iter().cycle())
                .map(|(b, k)| b ^ k)
                .collect();
            assert_eq!(unmasked, payload);
        }
    }

    #[test]
    fn frames_in_are_found_where_they_lie() {
        let mut buffer = vec![0x82, 3, 1, 2, 3, 0x88, 2, 0x03, 0xE8];
        let first = read_frame(&buffer).unwrap().unwrap();
        assert_eq!(
            (first.fin, first.opcode, first.payload.clone()),
            (true, 2, 2..5)
        );
        let second = read_frame(&buffer[first.end()..]).unwrap().unwrap();
        assert_eq!((second.opcode, second.payload), (opcode::CLOSE, 2..4));
        buffer.truncate(4);
        assert_eq!(read_frame(&buffer), Ok(None), "an incomplete frame waits");
        assert_eq!(read_frame(&[0x82, 126, 1]), Ok(None));
        let long = [&[0x82, 126, 0x01, 0x00][..], &[9; 256]].concat();
        assert_eq!(read_frame(&long).unwrap().unwrap().payload, 4..260);
    }

    #[test]
    fn hostile_frames_are_errors() {
        assert!(read_frame(&[0xC2, 0]).is_err(), "reserved bit");
        assert!(read_frame(&[0x82, 0x81, 0, 0, 0, 0, 0]).is_err(), "masked");
        assert!(read_frame(&[0x09, 0]).is_err(), "fragmented ping");
        assert!(read_frame(&[0x89, 126, 0, 126]).is_err(), "long ping");
        assert!(read_frame(&[0x83, 0]).is_err(), "unknown opcode");
        let huge = [0x82, 127, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert!(matches!(read_frame(&huge), Err(WireError::TooLarge(_))));
    }
}
