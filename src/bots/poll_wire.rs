//! The client's side of long polling (docs/PROTOCOL.md, "Long polling") as pure functions over
//! bytes, for the swarm's event loop: keep-alive HTTP/1.1 requests (open, GET, POST, DELETE),
//! the server's responses found where they lie in the read buffer (status, `Content-Length`
//! body), the session's opening answer, POST bodies of numbered messages, and GET bodies checked
//! whole before a message is read from them. Must never panic on the server's bytes, nor accept
//! a response or body above [`MAX_RESPONSE_BODY`]: a malformed answer is an error with a reason.

use std::io::Write;
use std::ops::Range;

/// Where sessions are opened; `/poll/SID` is a session.
pub const POLL_PATH: &str = "/poll";
/// The longest response head a bot reads before giving up on it.
pub const MAX_RESPONSE_HEAD: usize = 8 * 1024;
/// The largest response body a bot accepts (a GET answer holds a snapshot and a few messages).
pub const MAX_RESPONSE_BODY: usize = super::wire::MAX_FRAME;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PollWireError {
    #[error("polling: malformed response ({0})")]
    Response(&'static str),
    #[error("polling: response body of {0} bytes is above the limit")]
    TooLarge(u64),
    #[error("polling: chunked responses are not supported")]
    Chunked,
    #[error("polling: malformed opening answer ({0})")]
    Opening(String),
    #[error("polling: malformed GET answer ({0})")]
    Down(&'static str),
}

/// A request's method and what follows `/poll` in its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// `POST /poll`: opens a session.
    Open,
    /// `GET /poll/SID?ack=A[&tick=T]`: the long GET.
    Fetch {
        sid: &'a str,
        ack: u32,
        tick: Option<u32>,
    },
    /// `POST /poll/SID` with a body of numbered messages.
    Send { sid: &'a str, body: &'a [u8] },
    /// `DELETE /poll/SID`: the goodbye.
    Leave { sid: &'a str },
}

/// Appends `request` for the server at `authority` (the Host header), on a connection kept
/// alive for the next one.
pub fn write_request(out: &mut Vec<u8>, authority: &str, request: Request<'_>) {
    let body: &[u8] = match request {
        Request::Send { body, .. } => body,
        _ => &[],
    };
    // Writing to a Vec cannot fail.
    let _ = match request {
        Request::Open => write!(out, "POST {POLL_PATH} HTTP/1.1\r\n"),
        Request::Fetch { sid, ack, tick } => {
            let _ = write!(out, "GET {POLL_PATH}/{sid}?ack={ack}");
            if let Some(tick) = tick {
                let _ = write!(out, "&tick={tick}");
            }
            write!(out, " HTTP/1.1\r\n")
        }
        Request::Send { sid, .. } => write!(
            out,
            "POST {POLL_PATH}/{sid} HTTP/1.1\r\nContent-Type: application/octet-stream\r\n"
        ),
        Request::Leave { sid } => write!(out, "DELETE {POLL_PATH}/{sid} HTTP/1.1\r\n"),
    };
    let _ = write!(
        out,
        "Host: {authority}\r\nConnection: keep-alive\r\n{}\r\n",
        ContentLength(request, body.len())
    );
    out.extend_from_slice(body);
}

/// A request's `Content-Length` line: every request with a body or a method that may carry one
/// says its length (a GET says nothing).
struct ContentLength<'a>(Request<'a>, usize);

impl std::fmt::Display for ContentLength<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Request::Fetch { .. } => Ok(()),
            _ => write!(f, "Content-Length: {}\r\n", self.1),
        }
    }
}

/// A whole response found at the start of the read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseAt {
    pub status: u16,
    /// Where the body lies in the buffer.
    pub body: Range<usize>,
    /// Whether the server closes the connection after this response.
    pub closes: bool,
}

impl ResponseAt {
    /// Bytes the whole response takes from the start of the buffer.
    pub fn end(&self) -> usize {
        self.body.end
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The server's response at the start of `buffer`: `Ok(None)` while it is incomplete.
pub fn read_response(buffer: &[u8]) -> Result<Option<ResponseAt>, PollWireError> {
    let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buffer.len() > MAX_RESPONSE_HEAD {
            Err(PollWireError::Response("head too long"))
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buffer[..head_end])
        .map_err(|_| PollWireError::Response("head is not text"))?;
    let mut lines = head.split("\r\n");
    let status = read_status_line(lines.next().unwrap_or_default())?;
    let mut length = None;
    let mut closes = false;
    for (name, value) in lines.filter_map(|line| line.split_once(':')) {
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            let parsed = value
                .parse::<u64>()
                .map_err(|_| PollWireError::Response("bad Content-Length"))?;
            length = Some(parsed);
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            return Err(PollWireError::Chunked);
        } else if name.eq_ignore_ascii_case("connection") {
            closes = value.eq_ignore_ascii_case("close");
        }
    }
    // 1xx, 204 and 304 have no body whatever the headers say (RFC 9112 section 6.3).
    let length = match status {
        100..=199 | 204 | 304 => 0,
        _ => length.ok_or(PollWireError::Response("no Content-Length"))?,
    };
    if length > MAX_RESPONSE_BODY as u64 {
        return Err(PollWireError::TooLarge(length));
    }
    let start = head_end + 4;
    let end = start + length as usize;
    if buffer.len() < end {
        return Ok(None);
    }
    Ok(Some(ResponseAt {
        status,
        body: start..end,
        closes,
    }))
}

fn read_status_line(line: &str) -> Result<u16, PollWireError> {
    let mut parts = line.split(' ');
    if parts.next() != Some("HTTP/1.1") {
        return Err(PollWireError::Response("not an HTTP/1.1 response"));
    }
    parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|code| (100..600).contains(code))
        .ok_or(PollWireError::Response("bad status code"))
}

/// The first line of a refusal's text, for the reason a failure is counted under (empty when
/// there is none).
pub fn refusal_text(body: &[u8]) -> &str {
    let text = std::str::from_utf8(body).unwrap_or_default();
    let line = text.lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(80) {
        Some((cut, _)) => &line[..cut],
        None => line,
    }
}

/// What `POST /poll` answers: the session, and its budgets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Opened {
    pub sid: String,
    /// How long the server holds a GET with nothing to send.
    pub hold_ms: u64,
    /// The largest POST body the server reads.
    pub max_body: usize,
}

/// Reads the opening answer's JSON, refusing a session id that could not sit in a path.
pub fn read_opened(body: &[u8]) -> Result<Opened, PollWireError> {
    let opened: Opened =
        serde_json::from_slice(body).map_err(|error| PollWireError::Opening(error.to_string()))?;
    let fits_a_path = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
    if opened.sid.is_empty() || !opened.sid.chars().all(fits_a_path) {
        return Err(PollWireError::Opening(format!(
            "session id {:?}",
            opened.sid
        )));
    }
    Ok(opened)
}

/// Appends a POST body: `first`, then each message with its 2-byte length. Messages are
/// [`crate::protocol`] messages, far below 64 KiB.
pub fn write_up_body<'a>(out: &mut Vec<u8>, first: u32, messages: impl Iterator<Item = &'a [u8]>) {
    out.extend_from_slice(&first.to_be_bytes());
    for message in messages {
        let length = u16::try_from(message.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&message[..usize::from(length)]);
    }
}

/// A GET's answer, checked whole: where each part lies in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownAt {
    /// The sequence number of the first reliable message.
    pub first: u32,
    pub count: u16,
    /// Where the reliable messages (each a 4-byte length and its bytes) lie.
    reliable: Range<usize>,
    /// The newest snapshot message, if any.
    pub snapshot: Option<Range<usize>>,
    /// The close code and where its reason lies, when the session has ended.
    pub close: Option<(u16, Range<usize>)>,
}

impl DownAt {
    /// Each reliable message in `body` (the body this was read from) with its number.
    pub fn reliable<'a>(&self, body: &'a [u8]) -> impl Iterator<Item = (u32, &'a [u8])> + 'a {
        let mut rest = &body[self.reliable.clone()];
        let first = self.first;
        (0..u32::from(self.count)).map(move |i| {
            let (length, tail) = rest.split_at(4);
            let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]);
            let (message, tail) = tail.split_at(length as usize);
            rest = tail;
            (first.wrapping_add(i), message)
        })
    }
}

/// Reads a GET's answer, checking every length before anything is handed on.
pub fn read_down(body: &[u8]) -> Result<DownAt, PollWireError> {
    let mut cursor = Cursor { body, at: 0 };
    let first = cursor.u32("no first sequence number")?;
    let count = cursor.u16("no message count")?;
    let reliable_start = cursor.at;
    for _ in 0..count {
        let length = cursor.u32("a message's length cut short")?;
        cursor.take(length as usize, "a message cut short")?;
    }
    let reliable = reliable_start..cursor.at;
    let snapshot_length = cursor.u32("no snapshot length")? as usize;
    let snapshot = cursor.take(snapshot_length, "the snapshot cut short")?;
    let code = cursor.u16("no close code")?;
    let reason_length = cursor.u16("no close reason length")?;
    let reason = cursor.take(usize::from(reason_length), "the close reason cut short")?;
    if cursor.at != body.len() {
        return Err(PollWireError::Down("trailing bytes"));
    }
    Ok(DownAt {
        first,
        count,
        reliable,
        snapshot: (snapshot_length > 0).then_some(snapshot),
        close: (code != 0).then_some((code, reason)),
    })
}

/// Where a GET body is read up to; each read names what is missing should the body end.
struct Cursor<'a> {
    body: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize, missing: &'static str) -> Result<Range<usize>, PollWireError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.body.len())
            .ok_or(PollWireError::Down(missing))?;
        let range = self.at..end;
        self.at = end;
        Ok(range)
    }

    fn u32(&mut self, missing: &'static str) -> Result<u32, PollWireError> {
        let b = &self.body[self.take(4, missing)?];
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u16(&mut self, missing: &'static str) -> Result<u16, PollWireError> {
        let b = &self.body[self.take(2, missing)?];
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(request: Request<'_>) -> String {
        let mut out = Vec::new();
        write_request(&mut out, "127.0.0.1:9", request);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn requests_keep_the_connection_alive_and_say_their_length() {
        assert_eq!(
            written(Request::Open),
            "POST /poll HTTP/1.1\r\nHost: 127.0.0.1:9\r\nConnection: keep-alive\r\n\
             Content-Length: 0\r\n\r\n"
        );
        let fetch = written(Request::Fetch {
            sid: "ab",
            ack: 3,
            tick: Some(90),
        });
        assert!(
            fetch.starts_with("GET /poll/ab?ack=3&tick=90 HTTP/1.1\r\n"),
            "{fetch}"
        );
        assert!(!fetch.contains("Content-Length"));
        let first = written(Request::Fetch {
            sid: "ab",
            ack: 0,
            tick: None,
        });
        assert!(
            first.starts_with("GET /poll/ab?ack=0 HTTP/1.1\r\n"),
            "{first}"
        );
        let send = written(Request::Send {
            sid: "ab",
            body: &[0, 0, 0, 1],
        });
        assert!(send.starts_with("POST /poll/ab HTTP/1.1\r\n"));
        assert!(send.contains("Content-Type: application/octet-stream\r\n"));
        assert!(
            send.ends_with("Content-Length: 4\r\n\r\n\0\0\0\x01"),
            "{send:?}"
        );
        assert!(written(Request::Leave { sid: "ab" }).starts_with("DELETE /poll/ab HTTP/1.1\r\n"));
    }

    #[test]
    fn responses_are_found_where_they_lie() {
        let ok =
            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncache-control: no-store\r\n\r\nabcHTTP/1.1";
        assert_eq!(read_response(&ok[..20]), Ok(None));
        assert_eq!(
            read_response(&ok[..ok.len() - 12]),
            Ok(None),
            "body cut short"
        );
        let response = read_response(ok).unwrap().unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(&ok[response.body.clone()], b"abc");
        assert_eq!(response.end(), ok.len() - 8);
        assert!(!response.closes && response.is_success());
        let no_content = b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n";
        let response = read_response(no_content).unwrap().unwrap();
        assert_eq!((response.status, response.body.len()), (204, 0));
        assert!(response.closes);
    }

    #[test]
    fn hostile_responses_are_errors() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(read_response(chunked), Err(PollWireError::Chunked));
        let no_length = b"HTTP/1.1 200 OK\r\n\r\n";
        assert!(read_response(no_length).is_err());
        let huge = b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n";
        assert!(matches!(
            read_response(huge),
            Err(PollWireError::TooLarge(_))
        ));
        assert!(read_response(b"HTTP/1.0 200 OK\r\n\r\n").is_err());
        assert!(read_response(b"HTTP/1.1 9000 Hm\r\n\r\n").is_err());
        assert!(read_response(&[b'x'; MAX_RESPONSE_HEAD + 1]).is_err());
    }

    #[test]
    fn an_opening_answer_names_a_session_that_fits_a_path() {
        let opened = read_opened(br#"{"sid":"n2.0af","hold_ms":25000,"max_body":16384}"#);
        assert_eq!(
            opened,
            Ok(Opened {
                sid: "n2.0af".into(),
                hold_ms: 25000,
                max_body: 16384
            })
        );
        assert!(read_opened(br#"{"sid":"a/b","hold_ms":1,"max_body":1}"#).is_err());
        assert!(read_opened(b"not json").is_err());
    }

    #[test]
    fn up_and_down_bodies_are_laid_out_as_the_protocol_says() {
        let mut up = Vec::new();
        write_up_body(&mut up, 256, [&[9u8, 9][..], &[5]].into_iter());
        assert_eq!(up, [0, 0, 1, 0, 0, 2, 9, 9, 0, 1, 5]);

        // The server's own example: messages 7 and 8, a snapshot, a close.
        let mut body = vec![0, 0, 0, 7, 0, 2, 0, 0, 0, 2, b'a', b'b', 0, 0, 0, 1, b'c'];
        body.extend([0, 0, 0, 3, b'x', b'y', b'z', 0x0f, 0xa4, 0, 12]);
        body.extend(b"ping timeout");
        let down = read_down(&body).unwrap();
        let reliable: Vec<(u32, &[u8])> = down.reliable(&body).collect();
        assert_eq!(reliable, [(7, &b"ab"[..]), (8, &b"c"[..])]);
        assert_eq!(&body[down.snapshot.clone().unwrap()], b"xyz");
        let (code, reason) = down.close.clone().unwrap();
        assert_eq!((code, &body[reason]), (4004, &b"ping timeout"[..]));

        let empty = read_down(&[0; 14]).unwrap();
        assert_eq!((empty.count, empty.snapshot, empty.close), (0, None, None));
    }

    #[test]
    fn a_malformed_down_body_is_an_error_wherever_it_breaks() {
        let mut body = vec![0, 0, 0, 7, 0, 1, 0, 0, 0, 2, b'a', b'b'];
        body.extend([0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(read_down(&body).is_ok());
        for cut in 0..body.len() {
            assert!(read_down(&body[..cut]).is_err(), "cut at {cut}");
        }
        body.push(0);
        assert_eq!(read_down(&body), Err(PollWireError::Down("trailing bytes")));
        let lying = [0, 0, 0, 1, 0, 1, 0xff, 0xff, 0xff, 0xff];
        assert!(read_down(&lying).is_err());
    }
}
