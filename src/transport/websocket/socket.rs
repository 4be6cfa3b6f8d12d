//! An upgraded WebSocket's two halves. On plain TCP the socket is taken back from hyper and split
//! without a lock between the halves: the read side (with what hyper had read past the upgrade
//! request put back in front), and a [`FrameSink`] that the connection's writer and the room's
//! tick thread share (the player's snapshot slot is given it for direct sends). Anything else
//! (TLS) stays inside hyper's stream, split with tokio's lock, written through fastwebsockets.
//! Must never: lose a byte hyper had read ahead, or keep hyper's read buffer once it is read.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use fastwebsockets::Role;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;

use super::sink::FrameSink;
use super::writer::Out;
use crate::metrics::NetStats;
use crate::session::SessionHandle;

/// A connection's read side, whatever the stream.
pub type ReadSide = Box<dyn AsyncRead + Send + Unpin>;

/// Splits an upgraded connection into what the reader reads and where the writer writes; on
/// plain TCP, `handle`'s snapshots may then go straight to the socket.
pub fn split_upgraded(
    upgraded: Upgraded,
    net: &Arc<NetStats>,
    handle: &SessionHandle,
) -> (ReadSide, Out) {
    match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => {
            let (read, write) = parts.io.into_inner().into_split();
            let sink = Arc::new(FrameSink::new(write, Arc::clone(net), &handle.snapshots));
            handle.snapshots.attach_direct(Arc::clone(&sink) as _);
            // `read_buf` is a slice of hyper's whole read buffer (kilobytes): keep a copy of
            // what it holds (usually nothing) and let the buffer go.
            let read = ReadAhead {
                ahead: Bytes::copy_from_slice(&parts.read_buf),
                rest: read,
            };
            (Box::new(read), Out::Direct(sink))
        }
        Err(upgraded) => {
            let (read, write) = tokio::io::split(TokioIo::new(upgraded));
            let (_, writer) =
                fastwebsockets::after_handshake_split(tokio::io::empty(), write, Role::Server);
            (Box::new(read), Out::Buffered(writer))
        }
    }
}

/// A read side with bytes already read put back in front.
struct ReadAhead<R> {
    ahead: Bytes,
    rest: R,
}

impl<R: AsyncRead + Unpin> AsyncRead for ReadAhead<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.ahead.has_remaining() {
            let n = self.ahead.len().min(buf.remaining());
            buf.put_slice(&self.ahead[..n]);
            self.ahead.advance(n);
            if !self.ahead.has_remaining() {
                // A slice of hyper's whole read buffer: let it go.
                self.ahead = Bytes::new();
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.rest).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn bytes_read_ahead_come_first() {
        let mut read = ReadAhead {
            ahead: Bytes::from_static(b"hello "),
            rest: &b"world"[..],
        };
        let mut all = String::new();
        read.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "hello world");
    }
}
