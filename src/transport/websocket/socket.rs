//! An upgraded WebSocket's two sides. On plain TCP the socket is taken back from hyper and out
//! of tokio's reads: a tick thread reads it (`super::watched`), what hyper had read past the
//! upgrade request handed over first, and a [`FrameSink`] that the connection's writer and the
//! room's tick thread share writes it (the player's snapshot slot is given it for direct
//! sends). Anything else (TLS) stays inside hyper's stream, split with tokio's lock, read on
//! the connection's task and written through fastwebsockets.
//! Must never: lose a byte hyper had read ahead, or keep hyper's read buffer once it is read.

use std::io;
use std::net::TcpStream;
use std::sync::Arc;

use bytes::Bytes;
use fastwebsockets::Role;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncRead;

use super::sink::FrameSink;
use super::writer::Out;
use crate::metrics::NetStats;
use crate::session::SessionHandle;

/// A connection's read side read on its own task (TLS).
pub type ReadSide = Box<dyn AsyncRead + Send + Unpin>;

/// An upgraded connection's sides.
pub enum Sides {
    /// Plain TCP: the socket for a tick thread to read, with what hyper read ahead.
    Plain {
        socket: Arc<TcpStream>,
        ahead: Bytes,
        out: Out,
    },
    /// Inside another stream (TLS): read on the connection's task.
    Stream { read: ReadSide, out: Out },
}

/// Splits an upgraded connection into what is read and where the writer writes; on plain TCP,
/// `handle`'s snapshots may then go straight to the socket.
pub fn split_upgraded(
    upgraded: Upgraded,
    net: &Arc<NetStats>,
    handle: &SessionHandle,
) -> io::Result<Sides> {
    match upgraded.downcast::<TokioIo<tokio::net::TcpStream>>() {
        Ok(parts) => {
            let socket = Arc::new(parts.io.into_inner().into_std()?);
            let sink = Arc::new(FrameSink::new(
                Arc::clone(&socket),
                Arc::clone(net),
                &handle.snapshots,
            )?);
            handle.snapshots.attach_direct(Arc::clone(&sink) as _);
            Ok(Sides::Plain {
                socket,
                // `read_buf` is a slice of hyper's whole read buffer (kilobytes): keep a copy
                // of what it holds (usually nothing) and let the buffer go.
                ahead: Bytes::copy_from_slice(&parts.read_buf),
                out: Out::Direct(sink),
            })
        }
        Err(upgraded) => {
            let (read, write) = tokio::io::split(TokioIo::new(upgraded));
            let (_, writer) =
                fastwebsockets::after_handshake_split(tokio::io::empty(), write, Role::Server);
            Ok(Sides::Stream {
                read: Box::new(read),
                out: Out::Buffered(writer),
            })
        }
    }
}
