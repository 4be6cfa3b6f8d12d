//! The long-polling endpoints (docs/PROTOCOL.md, "Long polling"): `POST /poll` opens a session
//! under the WebSocket's admission (Origin, token, connection caps); `GET`, `POST` and `DELETE`
//! of `/poll/SID` fetch, send and leave. Each refusal has its status, a one-line reason and a
//! counter. The session's rules are the transport's (`transport/polling/`). Must never: read a
//! body past its limit, answer a session to another address, or panic on a request.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::context::HttpContext;
use super::router::{Body, admit_handshake, text};
use crate::protocol::CloseReason;
use crate::transport::polling::wire::{decode_up, parse_down_query};
use crate::transport::polling::{PollRefusal, PollSession, Posted};

/// Where sessions are opened; `/poll/SID` is a session.
pub const POLL_PATH: &str = "/poll";
/// The longest session id: a node id (32), a dot and 32 hex digits.
const MAX_SID: usize = 65;

/// Answers a request under `/poll`.
pub async fn serve(
    request: Request<Incoming>,
    ctx: &HttpContext,
    peer: SocketAddr,
) -> Response<Body> {
    let cors = cross_origin(&request, ctx);
    if request.method() == Method::OPTIONS {
        return no_store(preflight(cors));
    }
    let path = request.uri().path();
    let mut response = if path == POLL_PATH {
        open(&request, ctx, peer)
    } else {
        match path.strip_prefix("/poll/") {
            Some(sid) => {
                let sid = sid.to_owned();
                with_session(request, ctx, peer, &sid).await
            }
            None => refuse(
                ctx,
                PollRefusal::UnknownSession,
                StatusCode::NOT_FOUND,
                "no such path",
            ),
        }
    };
    if let Some(origin) = cors {
        allow_origin(&mut response, origin);
    }
    no_store(response)
}

/// The request's `Origin` when a page of that origin may read our answers: one this server or a
/// node of its cluster served, or one `--allowed-origins` names (a page served by one node
/// polls another after a redirect). `None` without an `Origin` (same origin, or no browser).
fn cross_origin(request: &Request<Incoming>, ctx: &HttpContext) -> Option<HeaderValue> {
    let origin = request.headers().get(header::ORIGIN)?;
    let allowed = ctx.origins.allows(request.headers())
        || super::router::is_cluster_page(request.headers(), ctx);
    allowed.then(|| origin.clone())
}

/// The answer to a CORS preflight: which methods and headers a cross-origin page may use.
fn preflight(origin: Option<HeaderValue>) -> Response<Body> {
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::NO_CONTENT;
    if let Some(origin) = origin {
        allow_origin(&mut response, origin);
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, authorization"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    response
}

fn allow_origin(response: &mut Response<Body>, origin: HeaderValue) {
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-skirmish-node-url"),
    );
}

fn open(request: &Request<Incoming>, ctx: &HttpContext, peer: SocketAddr) -> Response<Body> {
    if request.method() != Method::POST {
        return method_not_allowed(ctx, "POST");
    }
    if let Some(refusal) = admit_handshake(request, ctx, peer) {
        let reason = if refusal.status() == StatusCode::FORBIDDEN {
            PollRefusal::Origin
        } else {
            PollRefusal::Auth
        };
        ctx.polling.stats.refused(reason);
        return refusal;
    }
    let permit = match ctx.caps.admit(peer.ip()) {
        Ok(permit) => permit,
        Err(refusal) => {
            return refuse(
                ctx,
                PollRefusal::TooMany,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("no session opened: {refusal}"),
            );
        }
    };
    let session = ctx.polling.open(peer, permit);
    let limits = &ctx.polling.limits;
    let body = serde_json::json!({
        "sid": session.sid,
        "hold_ms": limits.hold.as_millis() as u64,
        "max_body": limits.max_body,
    })
    .to_string();
    with_body(Bytes::from(body), "application/json")
}

async fn with_session(
    request: Request<Incoming>,
    ctx: &HttpContext,
    peer: SocketAddr,
    sid: &str,
) -> Response<Body> {
    if let Some(response) = other_node(ctx, sid) {
        return response;
    }
    let session = match ctx.polling.sessions.get(sid).map(|entry| entry.clone()) {
        Some(session) if sid.len() <= MAX_SID => session,
        _ => {
            return refuse(
                ctx,
                PollRefusal::UnknownSession,
                StatusCode::NOT_FOUND,
                "unknown or ended session: open a new one with POST /poll",
            );
        }
    };
    if session.peer != peer.ip() {
        return refuse(
            ctx,
            PollRefusal::OtherAddress,
            StatusCode::FORBIDDEN,
            "this session was opened from another address",
        );
    }
    if session.is_attached() && *request.method() != Method::DELETE {
        return refuse(
            ctx,
            PollRefusal::Overlapping,
            StatusCode::CONFLICT,
            "this session moved to a WebSocket (Upgrade): use that",
        );
    }
    match *request.method() {
        Method::GET => fetch(&request, ctx, &session).await,
        Method::POST => send(request, ctx, &session).await,
        Method::DELETE => {
            session.handle.kick.kick(CloseReason::Leave);
            no_content()
        }
        _ => method_not_allowed(ctx, "GET, POST, DELETE"),
    }
}

/// A session id of another cluster node: 421, naming the node and its URL.
fn other_node(ctx: &HttpContext, sid: &str) -> Option<Response<Body>> {
    let (node, _) = sid.split_once('.')?;
    let cluster = ctx.cluster.as_ref();
    if cluster.is_some_and(|cluster| cluster.node().as_str() == node) {
        return None;
    }
    let url = cluster.and_then(|cluster| {
        cluster
            .live_nodes()
            .into_iter()
            .find(|live| live.id == node)
            .map(|live| live.url)
    });
    let reason = match &url {
        Some(url) => format!("this session lives on node {node:?}, at {url}"),
        None if cluster.is_some() => {
            format!("this session lives on node {node:?}, which is not in the cluster now")
        }
        None => "unknown or ended session: open a new one with POST /poll".to_owned(),
    };
    let (refusal, status) = match (cluster, &url) {
        (None, _) => (PollRefusal::UnknownSession, StatusCode::NOT_FOUND),
        _ => (PollRefusal::OtherNode, StatusCode::MISDIRECTED_REQUEST),
    };
    let mut response = refuse(ctx, refusal, status, &reason);
    if let Some(url) = url.and_then(|url| HeaderValue::from_str(&url).ok()) {
        response.headers_mut().insert("x-skirmish-node-url", url);
    }
    Some(response)
}

async fn fetch(
    request: &Request<Incoming>,
    ctx: &HttpContext,
    session: &PollSession,
) -> Response<Body> {
    let (ack, tick) = match parse_down_query(request.uri().query()) {
        Ok(query) => query,
        Err(reason) => {
            return refuse(
                ctx,
                PollRefusal::Malformed,
                StatusCode::BAD_REQUEST,
                &reason,
            );
        }
    };
    let (body, with_snapshot) = session.get(ack, tick, ctx.polling.limits.hold).await;
    if with_snapshot {
        ctx.polling
            .delivery
            .snapshots_sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    ctx.polling
        .net
        .bytes_out
        .fetch_add(body.len() as u64, std::sync::atomic::Ordering::Relaxed);
    with_body(body, "application/octet-stream")
}

async fn send(
    request: Request<Incoming>,
    ctx: &HttpContext,
    session: &PollSession,
) -> Response<Body> {
    let binary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim() == "application/octet-stream");
    if !binary {
        return refuse(
            ctx,
            PollRefusal::ContentType,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST bodies are application/octet-stream",
        );
    }
    // Taken before the body is read: a POST that is still arriving is in flight.
    let Some(post) = session.begin_post() else {
        return refuse(
            ctx,
            PollRefusal::Overlapping,
            StatusCode::CONFLICT,
            "another POST of this session is in flight: one at a time",
        );
    };
    let limits = &ctx.polling.limits;
    let body = match Limited::new(request.into_body(), limits.max_body)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return refuse(
                ctx,
                PollRefusal::TooLarge,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("a POST body is at most {} bytes", limits.max_body),
            );
        }
    };
    ctx.polling
        .net
        .bytes_in
        .fetch_add(body.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let up = match decode_up(&body, limits.max_message_bytes) {
        Ok(up) => up,
        Err(error @ crate::transport::polling::wire::UpError::TooLarge { .. }) => {
            return refuse(
                ctx,
                PollRefusal::TooLarge,
                StatusCode::PAYLOAD_TOO_LARGE,
                &error.to_string(),
            );
        }
        Err(error) => {
            return refuse(
                ctx,
                PollRefusal::Malformed,
                StatusCode::BAD_REQUEST,
                &error.to_string(),
            );
        }
    };
    match post.apply(up) {
        Posted::Applied { .. } => no_content(),
        Posted::Overlapping => refuse(
            ctx,
            PollRefusal::Overlapping,
            StatusCode::CONFLICT,
            "another POST of this session is in flight: one at a time",
        ),
        Posted::Busy => refuse(
            ctx,
            PollRefusal::Busy,
            StatusCode::TOO_MANY_REQUESTS,
            "the session has not read what came before: send the rest again",
        ),
        Posted::Ended => refuse(
            ctx,
            PollRefusal::UnknownSession,
            StatusCode::NOT_FOUND,
            "the session has ended: fetch its close with GET",
        ),
    }
}

fn with_body(body: Bytes, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::new(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

fn method_not_allowed(ctx: &HttpContext, allow: &'static str) -> Response<Body> {
    let mut response = refuse(
        ctx,
        PollRefusal::Method,
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("use {allow}"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

fn refuse(
    ctx: &HttpContext,
    refusal: PollRefusal,
    status: StatusCode,
    reason: &str,
) -> Response<Body> {
    ctx.polling.stats.refused(refusal);
    text(status, &format!("{reason}\n"))
}

fn no_store(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
