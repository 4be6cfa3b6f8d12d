//! A long-polling client for the tests, over raw HTTP/1.1 (one request per connection, from a
//! chosen address): open, POST numbered messages, GET with acknowledgements, DELETE; and the
//! GET body decoded as docs/PROTOCOL.md lays it out.

use std::net::{IpAddr, SocketAddr};

use skirmish::protocol::{
    ClientMessage, ServerMessage, decode_server_message, encode_client_message,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::raw_socket::connect_from;

/// A GET's answer, decoded.
#[derive(Debug, Default)]
pub struct Down {
    pub first: u32,
    pub reliable: Vec<Vec<u8>>,
    pub snapshot: Option<Vec<u8>>,
    pub close: Option<(u16, String)>,
}

impl Down {
    pub fn parse(body: &[u8]) -> Down {
        let mut at = 0;
        let mut take = |n: usize| {
            let part = &body[at..at + n];
            at += n;
            part
        };
        let first = u32::from_be_bytes(take(4).try_into().unwrap());
        let count = u16::from_be_bytes(take(2).try_into().unwrap());
        let reliable = (0..count)
            .map(|_| {
                let len = u32::from_be_bytes(take(4).try_into().unwrap()) as usize;
                take(len).to_vec()
            })
            .collect();
        let len = u32::from_be_bytes(take(4).try_into().unwrap()) as usize;
        let snapshot = (len > 0).then(|| take(len).to_vec());
        let code = u16::from_be_bytes(take(2).try_into().unwrap());
        let len = u16::from_be_bytes(take(2).try_into().unwrap()) as usize;
        let reason = String::from_utf8(take(len).to_vec()).unwrap();
        assert_eq!(at, body.len(), "trailing bytes in a GET body");
        Down {
            first,
            reliable,
            snapshot,
            close: (code != 0).then_some((code, reason)),
        }
    }

    /// The reliable messages, decoded, with their numbers.
    pub fn messages(&self) -> Vec<(u32, ServerMessage)> {
        self.reliable
            .iter()
            .enumerate()
            .map(|(i, bytes)| (self.first + i as u32, decode_server_message(bytes).unwrap()))
            .collect()
    }
}

/// One HTTP response: status, head, body.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

/// One request from `from` to `addr`.
pub async fn request(
    addr: SocketAddr,
    from: IpAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> Answer {
    let mut stream = connect_from(addr, from, None).await;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(40),
        stream.read_to_end(&mut response),
    )
    .await
    .expect("an answer in time")
    .unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    Answer {
        status: head[9..12].parse().unwrap(),
        head,
        body: response[split + 4..].to_vec(),
    }
}

/// A POST body: `first`, then each message with its length.
pub fn up_body(first: u32, messages: &[ClientMessage]) -> Vec<u8> {
    let mut body = first.to_be_bytes().to_vec();
    for message in messages {
        let bytes = encode_client_message(message).unwrap();
        body.extend((bytes.len() as u16).to_be_bytes());
        body.extend(bytes);
    }
    body
}

/// A polling client's session: its id and where it is.
pub struct Poller {
    pub addr: SocketAddr,
    pub from: IpAddr,
    pub sid: String,
    /// The next client message's number, and the last reliable message received.
    pub next_seq: u32,
    pub ack: u32,
}

pub const BINARY: &str = "Content-Type: application/octet-stream\r\n";

impl Poller {
    /// Opens a session from 127.0.0.1.
    pub async fn open(addr: SocketAddr) -> Poller {
        Poller::open_from(addr, [127, 0, 0, 1].into(), "").await
    }

    pub async fn open_from(addr: SocketAddr, from: IpAddr, headers: &str) -> Poller {
        let answer = request(addr, from, "POST", "/poll", headers, b"").await;
        assert_eq!(answer.status, 200, "{}", answer.head);
        assert!(
            answer
                .head
                .to_ascii_lowercase()
                .contains("cache-control: no-store")
        );
        let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        Poller {
            addr,
            from,
            sid: json["sid"].as_str().unwrap().to_owned(),
            next_seq: 1,
            ack: 0,
        }
    }

    /// POSTs `messages`, numbered from the next number.
    pub async fn send(&mut self, messages: &[ClientMessage]) -> u16 {
        let body = up_body(self.next_seq, messages);
        self.next_seq += messages.len() as u32;
        self.post_raw(&body).await.status
    }

    pub async fn post_raw(&self, body: &[u8]) -> Answer {
        let path = format!("/poll/{}", self.sid);
        request(self.addr, self.from, "POST", &path, BINARY, body).await
    }

    /// GETs with `ack` = the last reliable message received and `tick`; records the new ack.
    pub async fn fetch(&mut self, tick: Option<u32>) -> Down {
        let answer = self.fetch_raw(self.ack, tick).await;
        assert_eq!(answer.status, 200, "{}", answer.head);
        let down = Down::parse(&answer.body);
        if !down.reliable.is_empty() {
            self.ack = down.first + down.reliable.len() as u32 - 1;
        }
        down
    }

    pub async fn fetch_raw(&self, ack: u32, tick: Option<u32>) -> Answer {
        let tick = tick.map(|t| format!("&tick={t}")).unwrap_or_default();
        let path = format!("/poll/{}?ack={ack}{tick}", self.sid);
        request(self.addr, self.from, "GET", &path, "", b"").await
    }
}
