//! The long-polling bodies (docs/PROTOCOL.md, "Long polling"), as bytes: a GET's answer (the
//! reliable messages not yet acknowledged, the newest snapshot, the close when the session has
//! ended) and a POST's body (numbered client messages). Pure. Must never: panic on any body, or
//! allocate more than the body it reads.

use bytes::{BufMut, Bytes, BytesMut};

/// A GET's answer, to be written with [`encode_down`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Down<'a> {
    /// The sequence number of the first message of `reliable`.
    pub first: u32,
    pub reliable: Vec<&'a [u8]>,
    pub snapshot: Option<&'a [u8]>,
    /// The close code and reason when the session has ended.
    pub close: Option<(u16, &'a str)>,
}

/// A GET's answer as bytes.
pub fn encode_down(down: &Down<'_>) -> Bytes {
    let size = 4
        + 2
        + down.reliable.iter().map(|m| 4 + m.len()).sum::<usize>()
        + 4
        + down.snapshot.map_or(0, <[u8]>::len)
        + 4
        + down.close.map_or(0, |(_, reason)| reason.len());
    let mut out = BytesMut::with_capacity(size);
    out.put_u32(down.first);
    out.put_u16(u16::try_from(down.reliable.len()).unwrap_or(u16::MAX));
    for message in down.reliable.iter().take(usize::from(u16::MAX)) {
        out.put_u32(message.len() as u32);
        out.put_slice(message);
    }
    let snapshot = down.snapshot.unwrap_or_default();
    out.put_u32(snapshot.len() as u32);
    out.put_slice(snapshot);
    let (code, reason) = down.close.unwrap_or((0, ""));
    let reason = &reason.as_bytes()[..reason.len().min(usize::from(u16::MAX))];
    out.put_u16(code);
    out.put_u16(reason.len() as u16);
    out.put_slice(reason);
    out.freeze()
}

/// Why a POST's body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpError {
    #[error("the body has no sequence number")]
    NoSequence,
    #[error("message {index} is cut short")]
    Truncated { index: usize },
    #[error("message {index} is empty")]
    Empty { index: usize },
    #[error("message {index} is {length} bytes, over the limit of {limit}")]
    TooLarge {
        index: usize,
        length: usize,
        limit: usize,
    },
}

/// A POST's body: its first message's sequence number and each message's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Up {
    pub first: u32,
    pub messages: Vec<Bytes>,
}

/// Reads a POST's body, refusing any message over `max_message` bytes.
pub fn decode_up(body: &Bytes, max_message: usize) -> Result<Up, UpError> {
    let Some((first, mut rest)) = body.split_first_chunk::<4>() else {
        return Err(UpError::NoSequence);
    };
    let mut messages = Vec::new();
    let start = body.len() - rest.len();
    let mut at = start;
    while !rest.is_empty() {
        let index = messages.len();
        let Some((length, tail)) = rest.split_first_chunk::<2>() else {
            return Err(UpError::Truncated { index });
        };
        let length = usize::from(u16::from_be_bytes(*length));
        if length == 0 {
            return Err(UpError::Empty { index });
        }
        if length > max_message {
            return Err(UpError::TooLarge {
                index,
                length,
                limit: max_message,
            });
        }
        if tail.len() < length {
            return Err(UpError::Truncated { index });
        }
        at += 2;
        messages.push(body.slice(at..at + length));
        at += length;
        rest = &tail[length..];
    }
    Ok(Up {
        first: u32::from_be_bytes(*first),
        messages,
    })
}

/// A GET's query: `ack` (default 0) and `tick` (absent: none). Unknown parameters (a token)
/// are ignored; a malformed number is refused.
pub fn parse_down_query(query: Option<&str>) -> Result<(u32, Option<u32>), String> {
    let mut ack = 0;
    let mut tick = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let number = || {
            value
                .parse::<u32>()
                .map_err(|_| format!("{key}={value:?} is not a number"))
        };
        match key.as_ref() {
            "ack" => ack = number()?,
            "tick" => tick = Some(number()?),
            _ => {}
        }
    }
    Ok((ack, tick))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_down_body_lays_out_messages_snapshot_and_close() {
        let body = encode_down(&Down {
            first: 7,
            reliable: vec![b"ab", b"c"],
            snapshot: Some(b"xyz"),
            close: Some((4004, "ping timeout")),
        });
        let mut expected = vec![0, 0, 0, 7, 0, 2, 0, 0, 0, 2, b'a', b'b', 0, 0, 0, 1, b'c'];
        expected.extend([0, 0, 0, 3, b'x', b'y', b'z', 0x0f, 0xa4, 0, 12]);
        expected.extend(b"ping timeout");
        assert_eq!(&body[..], &expected[..]);
        let empty = encode_down(&Down::default());
        assert_eq!(&empty[..], &[0; 14][..]);
    }

    #[test]
    fn an_up_body_is_numbered_messages_and_bad_ones_say_why() {
        let body = Bytes::from_static(&[0, 0, 1, 0, 0, 2, 9, 9, 0, 1, 5]);
        let up = decode_up(&body, 16).unwrap();
        assert_eq!(up.first, 256);
        assert_eq!(
            up.messages,
            [Bytes::from_static(&[9, 9]), Bytes::from_static(&[5])]
        );
        assert_eq!(
            decode_up(&Bytes::from_static(&[0, 0, 1]), 16),
            Err(UpError::NoSequence)
        );
        assert_eq!(
            decode_up(&Bytes::from_static(&[0, 0, 0, 1, 0]), 16),
            Err(UpError::Truncated { index: 0 })
        );
        assert_eq!(
            decode_up(&Bytes::from_static(&[0, 0, 0, 1, 0, 3, 1]), 16),
            Err(UpError::Truncated { index: 0 })
        );
        assert_eq!(
            decode_up(&Bytes::from_static(&[0, 0, 0, 1, 0, 0]), 16),
            Err(UpError::Empty { index: 0 })
        );
        assert!(matches!(
            decode_up(&Bytes::from_static(&[0, 0, 0, 1, 0, 20]), 16),
            Err(UpError::TooLarge { length: 20, .. })
        ));
        assert_eq!(
            decode_up(&Bytes::from_static(&[0, 0, 0, 4]), 16)
                .unwrap()
                .messages
                .len(),
            0
        );
    }

    #[test]
    fn down_queries() {
        assert_eq!(parse_down_query(None), Ok((0, None)));
        assert_eq!(
            parse_down_query(Some("ack=5&tick=90&token=x")),
            Ok((5, Some(90)))
        );
        assert!(parse_down_query(Some("ack=-1")).is_err());
        assert!(parse_down_query(Some("tick=soon")).is_err());
    }
}
