//! The listener: accepts TCP connections under the caps (more are answered 503 with the reason),
//! sets up each socket, finishes TLS within the handshake timeout, and serves HTTP/1 with bounded
//! request heads, upgrades allowed. Must never: read a byte from a connection over the caps
//! beyond its request, or let a slow handshake hold a connection past the timeout.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::limits::ListenerLimits;
use crate::http::context::HttpContext;
use crate::transport::caps::{ConnectionPermit, Refusal};

/// Largest HTTP request head (request line and headers); larger ones are answered 431. Ample
/// for a browser's upgrade request with cookies.
const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;
/// Most header fields in one request; more are answered 431.
const MAX_REQUEST_HEADERS: usize = 64;
/// hyper's read buffer per connection (at least 8 KiB, hyper's minimum).
const MAX_HTTP_BUFFER_BYTES: usize = 2 * MAX_REQUEST_HEAD_BYTES;

/// What the accept loop works with.
pub struct Listener {
    pub http: Arc<HttpContext>,
    pub limits: ListenerLimits,
    /// Set when `--tls-cert` and `--tls-key` are given: every connection speaks TLS.
    pub tls: Option<TlsAcceptor>,
}

/// Accepts connections until the future is dropped; each is served on a tracked task.
pub async fn accept_loop(listener: &TcpListener, setup: &Listener) {
    let limits = &setup.limits;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                prepare_socket(&stream, limits.send_buffer_bytes);
                match setup.http.caps.admit(peer.ip()) {
                    Ok(permit) => {
                        let permit = Arc::new(permit.on_socket(stream.as_raw_fd()));
                        let http = Arc::clone(&setup.http);
                        let timeout = limits.handshake_timeout;
                        let tasks = &setup.http.websocket.shutdown;
                        match &setup.tls {
                            Some(tls) => tasks.spawn(serve_https(
                                tls.clone(),
                                stream,
                                peer,
                                http,
                                timeout,
                                permit,
                            )),
                            None => tasks.spawn(serve_http(stream, peer, http, timeout, permit)),
                        };
                    }
                    Err(refusal) => {
                        tracing::debug!(%peer, %refusal, "connection refused");
                        let timeout = limits.handshake_timeout;
                        let tasks = &setup.http.websocket.shutdown;
                        tasks.spawn(refuse_http(stream, peer, timeout, refusal));
                    }
                }
            }
            Err(error) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn prepare_socket(stream: &TcpStream, send_buffer_bytes: usize) {
    let _ = stream.set_nodelay(true);
    if let Err(error) = socket2::SockRef::from(stream).set_send_buffer_size(send_buffer_bytes) {
        tracing::debug!(%error, "SO_SNDBUF not set");
    }
}

/// hyper's HTTP/1 settings for every connection: bounded request heads, a deadline for them.
fn http_builder(handshake_timeout: Duration) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(handshake_timeout)
        .max_header_size(MAX_REQUEST_HEAD_BYTES)
        .max_headers(MAX_REQUEST_HEADERS)
        .max_buf_size(MAX_HTTP_BUFFER_BYTES);
    builder
}

/// Finishes the TLS handshake within the handshake timeout, then serves HTTP over it.
async fn serve_https(
    tls: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    http: Arc<HttpContext>,
    handshake_timeout: Duration,
    permit: Arc<ConnectionPermit>,
) {
    match tokio::time::timeout(handshake_timeout, tls.accept(stream)).await {
        Ok(Ok(stream)) => serve_http(stream, peer, http, handshake_timeout, permit).await,
        Ok(Err(error)) => {
            http.websocket
                .net
                .tls_handshakes_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, %error, "TLS handshake failed");
        }
        Err(_) => {
            http.websocket
                .net
                .tls_handshakes_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "TLS handshake timed out");
        }
    }
}

async fn serve_http(
    stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    peer: SocketAddr,
    http: Arc<HttpContext>,
    handshake_timeout: Duration,
    permit: Arc<ConnectionPermit>,
) {
    let builder = http_builder(handshake_timeout);
    let shutdown = http.websocket.shutdown.clone();
    let service = service_fn(move |request| {
        crate::http::router::route(request, Arc::clone(&http), peer, Arc::clone(&permit))
    });
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.stopping() => {
            // Finishes a request in flight, then closes; an idle keep-alive closes at once.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "http connection ended with an error");
    }
}

/// Answers one request on a connection over the caps with 503 and the reason, then closes.
/// Reading the request first lets the client see the answer instead of a reset.
async fn refuse_http(stream: TcpStream, peer: SocketAddr, timeout: Duration, refusal: Refusal) {
    let mut builder = http_builder(timeout);
    builder.keep_alive(false);
    let service = service_fn(move |_request| async move {
        Ok::<_, std::convert::Infallible>(crate::http::router::unavailable(refusal.text()))
    });
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    if tokio::time::timeout(timeout, connection).await.is_err() {
        tracing::debug!(%peer, "refused connection timed out");
    }
}
