//! HTTP routing: the game's files, `/healthz`, `/metrics`, the lobby's `/rooms`, the operator's
//! `/admin`, and the WebSocket upgrade at `/ws`. Everything
//! that is not a WebSocket is answered here in one response; upgrades are handed to
//! [`serve_player`] on their own task.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::assets;
use super::auth::Handshake;
use super::context::HttpContext;
use crate::metrics::{PoolCounts, Readings};
use crate::transport::caps::{ConnectionPermit, Refusal};
use crate::transport::websocket::connection::serve_player;
use crate::transport::websocket::handshake::{HandshakeError, check_upgrade_request};

pub type Body = Full<Bytes>;

pub async fn route(
    request: Request<Incoming>,
    ctx: Arc<HttpContext>,
    peer: SocketAddr,
    permit: Arc<ConnectionPermit>,
) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path();
    let response = match (request.method(), path) {
        (_, path) if path == ctx.path => upgrade(request, ctx, peer, permit),
        (_, path) if path == super::polling::POLL_PATH || path.starts_with("/poll/") => {
            super::polling::serve(request, &ctx, peer).await
        }
        (_, path) if super::admin::is_admin_path(path) => super::admin::serve(request, &ctx, peer),
        (&Method::GET | &Method::HEAD, "/healthz") => health(&ctx),
        (&Method::GET | &Method::HEAD, "/metrics") => metrics(&ctx),
        (&Method::GET | &Method::HEAD, "/rooms") => rooms(&ctx).await,
        (&Method::GET | &Method::HEAD, _) if ctx.serve_client => static_file(&request),
        (&Method::GET | &Method::HEAD, _) => text(StatusCode::NOT_FOUND, "not found\n"),
        _ => only_get_and_head(),
    };
    Ok(response)
}

/// 405 for a path that is only read.
pub(super) fn only_get_and_head() -> Response<Body> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

fn upgrade(
    mut request: Request<Incoming>,
    ctx: Arc<HttpContext>,
    peer: SocketAddr,
    permit: Arc<ConnectionPermit>,
) -> Response<Body> {
    // Checked for plain requests too, so a browser whose WebSocket failed (the API hides the
    // HTTP status) can fetch the same URL to learn why.
    if let Some(refusal) = admit_handshake(&request, &ctx, peer) {
        return refusal;
    }
    if request.method() != Method::GET {
        ctx.websocket
            .net
            .upgrades_refused
            .fetch_add(1, Ordering::Relaxed);
        return refuse_upgrade(HandshakeError::MethodNotGet);
    }
    if !fastwebsockets::upgrade::is_upgrade_request(&request) {
        let mut response = text(
            StatusCode::UPGRADE_REQUIRED,
            "this is the game's WebSocket endpoint; connect with a WebSocket client\n",
        );
        response
            .headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return response;
    }
    if let Err(error) = check_upgrade_request(request.method(), request.headers()) {
        ctx.websocket
            .net
            .upgrades_refused
            .fetch_add(1, Ordering::Relaxed);
        return refuse_upgrade(error);
    }
    match fastwebsockets::upgrade::upgrade(&mut request) {
        Ok((response, upgrade)) => {
            ctx.websocket
                .net
                .connections_accepted
                .fetch_add(1, Ordering::Relaxed);
            let websocket = Arc::clone(&ctx.websocket);
            let shutdown = websocket.shutdown.clone();
            shutdown.spawn(serve_player(upgrade, websocket, peer, permit));
            response.map(|_| Body::default())
        }
        Err(error) => {
            ctx.websocket
                .net
                .upgrades_refused
                .fetch_add(1, Ordering::Relaxed);
            text(
                StatusCode::BAD_REQUEST,
                &format!("bad upgrade request: {error}\n"),
            )
        }
    }
}

/// 405 with `Allow: GET` for another method, 400 with the reason for a bad key.
fn refuse_upgrade(error: HandshakeError) -> Response<Body> {
    let body = format!("bad upgrade request: {error}\n");
    match error {
        HandshakeError::MethodNotGet => {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, &body);
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET"));
            response
        }
        HandshakeError::MissingKey | HandshakeError::BadKey => text(StatusCode::BAD_REQUEST, &body),
    }
}

/// The origin check, then the authenticator: 403 or 401 with the reason, before any upgrade.
/// Returns the refusal to send, if any.
pub(super) fn admit_handshake(
    request: &Request<Incoming>,
    ctx: &HttpContext,
    peer: SocketAddr,
) -> Option<Response<Body>> {
    if !ctx.origins.allows(request.headers()) && !is_cluster_page(request.headers(), ctx) {
        ctx.websocket
            .net
            .refused_origin
            .fetch_add(1, Ordering::Relaxed);
        return Some(text(StatusCode::FORBIDDEN, "origin not allowed\n"));
    }
    let authenticator = ctx.authenticator.as_ref()?;
    let handshake = Handshake {
        query: request.uri().query(),
        headers: request.headers(),
        peer,
    };
    let reason = authenticator.authenticate(&handshake).err()?;
    ctx.websocket
        .net
        .refused_auth
        .fetch_add(1, Ordering::Relaxed);
    let mut response = text(StatusCode::UNAUTHORIZED, &format!("{reason}\n"));
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"skirmish\""),
    );
    Some(response)
}

fn health(ctx: &HttpContext) -> Response<Body> {
    let totals = ctx.rooms.total_stats();
    let body = format!(
        "{{\"status\":\"ok\",\"players\":{},\"rooms\":{},\"tick\":{},\"last_tick_us\":{}}}\n",
        ctx.rooms.player_count(),
        ctx.rooms.room_count(),
        totals.tick.load(Ordering::Relaxed),
        totals.last_tick_micros.load(Ordering::Relaxed),
    );
    uncached(body, "application/json")
}

/// A cluster node's readings of its directory, for `/metrics`.
fn cluster_counts(
    cluster: &crate::cluster::ClusterDirectory,
    rooms: &crate::session::RoomDirectory,
) -> crate::metrics::ClusterCounts {
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let stats = &cluster.stats;
    crate::metrics::ClusterCounts {
        reachable: cluster.is_reachable(),
        nodes: cluster.live_nodes().len() as u64,
        calls: load(&stats.calls),
        failures: load(&stats.failures),
        heartbeats: load(&stats.heartbeats),
        seated_here: load(&stats.seats_here),
        redirected: load(&stats.redirects),
        claimed: load(&stats.claims),
        refused: load(&stats.refusals),
        bus_applied: load(&stats.bus_applied),
        bus_malformed: load(&stats.bus_malformed),
        bus_limited: load(&stats.bus_limited),
        token_changes_dropped: load(&rooms.token_changes.dropped),
    }
}

/// Whether the request comes from a page a node of this cluster served (a player sent here
/// from another node's lobby).
pub(super) fn is_cluster_page(headers: &hyper::HeaderMap, ctx: &HttpContext) -> bool {
    ctx.cluster.as_ref().is_some_and(|cluster| {
        let nodes = cluster.live_nodes();
        super::auth::origin_is_one_of(headers, nodes.iter().map(|node| node.url.as_str()))
    })
}

/// The public rooms, for a lobby (public data: any origin may read it): the cluster's on a
/// cluster node (503 with the reason while its directory is unreachable).
async fn rooms(ctx: &HttpContext) -> Response<Body> {
    let body = match &ctx.cluster {
        None => super::lobby::room_list_json(ctx.rooms.listing()),
        Some(cluster) => match cluster.listing().await {
            Ok(rooms) => super::lobby::cluster_room_list_json(
                rooms,
                cluster.node().as_str(),
                &ctx.rooms.listing(),
            ),
            Err(error) => {
                let body = serde_json::json!({ "error": error.to_string() }).to_string() + "\n";
                let mut response = uncached(body, "application/json");
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                return response;
            }
        },
    };
    let mut response = uncached(body, "application/json");
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

fn metrics(ctx: &HttpContext) -> Response<Body> {
    match crate::metrics::render(gather_readings(ctx)) {
        Ok(body) => uncached(body, crate::metrics::CONTENT_TYPE),
        Err(error) => {
            tracing::error!(%error, "metrics not encoded");
            text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{error}\n"))
        }
    }
}

/// What a scrape reports, read from every layer now.
fn gather_readings(ctx: &HttpContext) -> Readings {
    let refused = Refusal::ALL
        .map(|refusal| {
            let count = ctx.caps.refused[refusal.index()].load(Ordering::Relaxed);
            (refusal.label(), count)
        })
        .to_vec();
    Readings {
        players: ctx.rooms.player_count() as u64,
        open_connections: ctx.caps.open() as u64,
        refused,
        net: Arc::clone(&ctx.websocket.net),
        delivery: Arc::clone(&ctx.websocket.delivery),
        room: ctx.rooms.total_stats(),
        room_kinds: ctx.rooms.room_kinds(),
        lobby: ctx.rooms.lobby_counts(),
        pool: PoolCounts {
            threads: ctx.tick_threads as u64,
            rooms_overrunning: ctx.pool.rooms_overrunning.load(Ordering::Relaxed),
            rooms_moved: ctx.pool.rooms_moved.load(Ordering::Relaxed),
        },
        cluster: ctx
            .cluster
            .as_deref()
            .map(|cluster| cluster_counts(cluster, &ctx.rooms)),
        polling: crate::metrics::PollingCounts {
            open: ctx.polling.sessions.len() as u64,
            opened: ctx.polling.stats.opened.load(Ordering::Relaxed),
            refused: ctx.polling.stats.refusals(),
        },
        process: crate::metrics::read_process(),
    }
}

/// A response that is never cached: a reading of the server's state now.
fn uncached(body: String, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from(body)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn static_file(request: &Request<Incoming>) -> Response<Body> {
    let Some(asset) = assets::lookup(request.uri().path()) else {
        return text(StatusCode::NOT_FOUND, "not found\n");
    };
    let fresh = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == asset.etag));
    let mut response = if fresh {
        let mut response = Response::new(Body::default());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else if request.method() == Method::HEAD {
        Response::new(Body::default())
    } else {
        Response::new(embedded_body(asset.body))
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    // No build step means no hashed file names: let browsers keep files but revalidate each
    // use, which costs a 304 when nothing changed.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// An embedded file's bytes as a body (no copy of a file compiled in).
pub(super) fn embedded_body(body: std::borrow::Cow<'static, [u8]>) -> Body {
    Body::new(match body {
        std::borrow::Cow::Borrowed(bytes) => Bytes::from_static(bytes),
        std::borrow::Cow::Owned(bytes) => Bytes::from(bytes),
    })
}

/// 503 with `reason`, for connections over the caps; the client may retry later.
pub fn unavailable(reason: &str) -> Response<Body> {
    let mut response = text(StatusCode::SERVICE_UNAVAILABLE, &format!("{reason}\n"));
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

pub(super) fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
