//! Raw sockets for tests that act as hostile clients: hand-built WebSocket frames, connections
//! from a chosen loopback address, an upgrade whose response head is read without consuming a
//! frame, and reading the server's frames and close codes by hand.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use skirmish::protocol::{ClientMessage, Join, encode_client_message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use super::{PATIENCE, UPGRADE_HEADERS};

/// Frame opcodes (RFC 6455 section 5.2), as the bots' client side names them. (Each test
/// crate that includes `common` uses some of them, or none.)
#[allow(unused_imports)]
pub use skirmish::bots::wire::opcode::{BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT};

pub const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// A WebSocket frame as a client would put it on the wire (masked unless `mask` is `None`).
pub fn frame(fin: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => out.push(mask_bit | len as u8),
        len @ 126..=65_535 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A final, masked frame: what a well-behaved client sends.
pub fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(true, opcode, Some([0x37, 0xfa, 0x21, 0x3d]), payload)
}

pub fn join_frame(name: &str) -> Vec<u8> {
    let join = ClientMessage::Join(Join::quick_play(name));
    masked(BINARY, &encode_client_message(&join).unwrap())
}

/// A TCP connection to `addr` from the loopback address `from` (any 127.x.y.z works on Linux),
/// with a receive buffer of `recv_buffer` bytes if given.
pub async fn connect_from(addr: SocketAddr, from: IpAddr, recv_buffer: Option<u32>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(bytes) = recv_buffer {
        socket.set_recv_buffer_size(bytes).unwrap();
    }
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Sends the upgrade request and reads the response head byte by byte (so no frame is
/// consumed), returning the status code.
pub async fn upgrade(stream: &mut TcpStream, addr: SocketAddr) -> u16 {
    upgrade_with(stream, addr, "").await
}

/// [`upgrade`] with more request headers (each ending in `\r\n`), e.g. an `Origin`.
pub async fn upgrade_with(stream: &mut TcpStream, addr: SocketAddr, extra_headers: &str) -> u16 {
    let request =
        format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\n{UPGRADE_HEADERS}{extra_headers}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut byte))
            .await
            .expect("a response to the upgrade");
        match read {
            Ok(1) => head.push(byte[0]),
            _ => panic!("connection ended in the response head: {head:?}"),
        }
    }
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}

/// A raw WebSocket connection, upgraded.
pub async fn open_raw(addr: SocketAddr) -> TcpStream {
    let mut stream = connect_from(addr, LOCALHOST, None).await;
    assert_eq!(upgrade(&mut stream, addr).await, 101);
    stream
}

/// A raw connection that has joined as `name` (its welcome and snapshots are left unread).
pub async fn join_raw(addr: SocketAddr, name: &str) -> TcpStream {
    let mut stream = open_raw(addr).await;
    stream.write_all(&join_frame(name)).await.unwrap();
    stream
}

/// One frame from the server (which never masks), from a stream or its read half: opcode and
/// payload. `None` at the end of the stream or on a reset.
pub async fn read_server_frame(stream: &mut (impl AsyncRead + Unpin)) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.ok()?;
    let len = match head[1] & 0x7f {
        126 => u64::from(stream.read_u16().await.ok()?),
        127 => stream.read_u64().await.ok()?,
        len => u64::from(len),
    };
    let mut payload = vec![0u8; usize::try_from(len).ok()?];
    stream.read_exact(&mut payload).await.ok()?;
    Some((head[0] & 0x0f, payload))
}

/// Reads until the server's close frame and returns its code, or `None` if the connection
/// ended without one. Fails the test if neither happens in time.
pub async fn expect_raw_close(stream: &mut TcpStream) -> Option<u16> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let frame = tokio::time::timeout_at(deadline, read_server_frame(stream))
            .await
            .expect("the server did not close the connection");
        match frame {
            None => return None,
            Some((CLOSE, payload)) => return Some(skirmish::client::close_code(&payload)),
            Some(_) => continue,
        }
    }
}

/// Waits until the server has closed `stream` (end of stream or reset), reading whatever it
/// still had for us. Fails the test after `patience`.
pub async fn expect_dropped(stream: &mut TcpStream, patience: Duration, what: &str) {
    let mut scratch = vec![0u8; 64 * 1024];
    tokio::time::timeout(patience, async {
        loop {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the server did not drop the connection of {what}"));
}
