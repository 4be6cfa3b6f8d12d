//! The operator's page over HTTP (docs/ADMIN.md): its files under `/admin`, its socket at
//! `/admin/ws` (Origin checked like `/ws`, sockets limited per address), and
//! `GET /admin/api/state` for scripts (a Bearer token). Everything is 404 unless
//! `--admin-token` is set. Must never: serve a byte of data without the token, or let a
//! browser frame the page.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::assets;
use super::context::HttpContext;
use super::router::{Body, embedded_body, only_get_and_head, text};
use crate::admin::AdminContext;
use crate::admin::socket::serve_admin_socket;

/// Where the page lives.
pub const ADMIN_PATH: &str = "/admin";
const SOCKET_PATH: &str = "/admin/ws";
const STATE_PATH: &str = "/admin/api/state";
/// The page loads only its own files and talks only to its own server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// Whether `path` is the operator page's.
pub fn is_admin_path(path: &str) -> bool {
    path == ADMIN_PATH || path.starts_with("/admin/")
}

/// Answers a request below `/admin`.
pub fn serve(request: Request<Incoming>, ctx: &HttpContext, peer: SocketAddr) -> Response<Body> {
    let Some(admin) = ctx.admin.as_ref() else {
        return text(StatusCode::NOT_FOUND, "not found\n");
    };
    let path = request.uri().path().to_owned();
    match (request.method(), path.as_str()) {
        (_, SOCKET_PATH) => upgrade(request, ctx, admin, peer),
        (&Method::GET | &Method::HEAD, STATE_PATH) => state(&request, admin, peer),
        (&Method::GET | &Method::HEAD, _) => page_file(&path),
        _ => only_get_and_head(),
    }
}

fn upgrade(
    mut request: Request<Incoming>,
    ctx: &HttpContext,
    admin: &Arc<AdminContext>,
    peer: SocketAddr,
) -> Response<Body> {
    if !ctx.origins.allows(request.headers()) {
        return text(StatusCode::FORBIDDEN, "origin not allowed\n");
    }
    if !fastwebsockets::upgrade::is_upgrade_request(&request) {
        return text(
            StatusCode::UPGRADE_REQUIRED,
            "the operator page's WebSocket; open /admin\n",
        );
    }
    let Some(slot) = admin.gate.open_socket(peer.ip()) else {
        return text(
            StatusCode::TOO_MANY_REQUESTS,
            "too many admin sockets open\n",
        );
    };
    match fastwebsockets::upgrade::upgrade(&mut request) {
        Ok((response, upgrade)) => {
            let admin = Arc::clone(admin);
            let shutdown = admin.shutdown.clone();
            shutdown.spawn(serve_admin_socket(upgrade, admin, peer, slot));
            response.map(|_| Body::default())
        }
        Err(error) => text(
            StatusCode::BAD_REQUEST,
            &format!("bad upgrade request: {error}\n"),
        ),
    }
}

/// `GET /admin/api/state` with `Authorization: Bearer <token>`.
fn state(request: &Request<Incoming>, admin: &AdminContext, peer: SocketAddr) -> Response<Body> {
    let now = Instant::now();
    if !admin.gate.may_try(peer.ip(), now) {
        return text(StatusCode::TOO_MANY_REQUESTS, "too many attempts\n");
    }
    let offered = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if !offered.is_some_and(|token| admin.token.matches(token)) {
        admin.gate.failed(peer.ip(), now);
        let mut response = text(StatusCode::UNAUTHORIZED, "unauthorized\n");
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"skirmish admin\""),
        );
        return response;
    }
    admin.gate.succeeded(peer.ip());
    let mut response = Response::new(Body::new(Bytes::from(admin.state_now())));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// One of the page's files (no data in any of them).
fn page_file(path: &str) -> Response<Body> {
    let below = path.strip_prefix(ADMIN_PATH).unwrap_or_default();
    let Some(asset) = assets::lookup_admin(below) else {
        return text(StatusCode::NOT_FOUND, "not found\n");
    };
    let mut response = Response::new(embedded_body(asset.body));
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, asset.content_type),
        (header::CACHE_CONTROL, "no-cache"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
