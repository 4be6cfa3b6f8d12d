//! WebSocket admission, tried against the real server as a hostile client would: as strict as
//! RFC 6455 section 4.2.1 (a method other than GET, a key that is not base64 of 16 bytes), and
//! the `Origin` check, whose origins are compared whole (scheme, host, port).

mod common;

use common::raw_socket::upgrade_with;
use common::{TestServer, UPGRADE_HEADERS, http_get, http_request, start_server};

const GOOD_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn upgrade_headers_with_key(key: &str) -> String {
    UPGRADE_HEADERS.replace(GOOD_KEY, key)
}

#[tokio::test]
async fn a_post_with_upgrade_headers_is_refused_with_405_allow_get() {
    let server = start_server(&[]).await;
    for method in ["POST", "PUT", "DELETE"] {
        let (status, head, body) = http_request(server.addr, method, "/ws", UPGRADE_HEADERS).await;
        assert_eq!(status, 405, "{method}: {head}");
        assert!(
            head.to_ascii_lowercase().contains("\r\nallow: get"),
            "{method}: {head}"
        );
        assert!(
            String::from_utf8_lossy(&body).contains("must be a GET"),
            "{method}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_key_that_is_not_sixteen_bytes_in_base64_is_refused_with_400() {
    let server = start_server(&[]).await;
    for key in [
        "not base64 at all!!!!!!!",
        "dGhlIHNhbXBsZSBub25j",
        "dGhlIHNhbXBsZSBub25jZWE=",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let headers = upgrade_headers_with_key(key);
        let (status, head, body) = http_request(server.addr, "GET", "/ws", &headers).await;
        assert_eq!(status, 400, "{key}: {head}");
        assert!(
            String::from_utf8_lossy(&body).contains("Sec-WebSocket-Key must be 16 bytes in base64"),
            "{key}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    server.stop().await;
}

// --- the Origin check -------------------------------------------------------------------------

/// What the server answers a browser page of `origin` asking for the WebSocket: 403 "origin not
/// allowed" if refused; 426 (the plain GET is told to upgrade) if the origin passed.
async fn answer_to_origin(server: &TestServer, origin: &str) -> (u16, String) {
    let headers = format!("Origin: {origin}\r\n");
    let (status, _, body) = http_get(server.addr, "/ws", &headers).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn assert_refused(server: &TestServer, origin: &str) {
    assert_eq!(
        answer_to_origin(server, origin).await,
        (403, "origin not allowed\n".to_owned()),
        "{origin}"
    );
    // The same with a real upgrade request: no socket for it.
    let headers = format!("{UPGRADE_HEADERS}Origin: {origin}\r\n");
    let (status, head, _) = http_get(server.addr, "/ws", &headers).await;
    assert_eq!(status, 403, "{origin}: {head}");
}

async fn assert_admitted(server: &TestServer, origin: &str) {
    assert_eq!(answer_to_origin(server, origin).await.0, 426, "{origin}");
}

/// A port nothing of ours listens on, for "localhost on another port".
fn other_port(server: &TestServer) -> u16 {
    if server.addr.port() == 3000 {
        3001
    } else {
        3000
    }
}

#[tokio::test]
async fn by_default_only_the_servers_own_origin_may_connect() {
    let server = start_server(&[]).await;
    let port = server.addr.port();
    // The requests carry `Host: 127.0.0.1:PORT`, as the browser of a page served here does.
    assert_admitted(&server, &format!("http://127.0.0.1:{port}")).await;
    assert_admitted(&server, &format!("HTTP://127.0.0.1:{port}")).await;
    // Without an Origin header (bots, native clients): admitted as before.
    assert_eq!(http_get(server.addr, "/ws", "").await.0, 426);
    // Cut at the first colon, this one used to pass for localhost.
    assert_refused(&server, &format!("http://127.0.0.1:{port}.evil.example")).await;
    assert_refused(&server, "http://127.0.0.1:8080.evil.example").await;
    // Localhost on another port, or by another name, is another origin.
    let other = other_port(&server);
    assert_refused(&server, &format!("http://127.0.0.1:{other}")).await;
    assert_refused(&server, &format!("http://localhost:{other}")).await;
    assert_refused(&server, &format!("http://localhost:{port}")).await;
    assert_refused(&server, &format!("http://[::1]:{port}")).await;
    // The other scheme is another origin too.
    assert_refused(&server, &format!("https://127.0.0.1:{port}")).await;
    // Garbage, opaque origins, and more than an origin match nothing.
    for garbage in [
        "null".to_owned(),
        "127.0.0.1".to_owned(),
        format!("http://127.0.0.1:{port}/"),
        format!("http://user@127.0.0.1:{port}"),
        format!("ws://127.0.0.1:{port}"),
    ] {
        assert_refused(&server, &garbage).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn the_servers_own_origin_opens_a_real_websocket() {
    let server = start_server(&[]).await;
    let own = format!("Origin: http://{}\r\n", server.addr);
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(upgrade_with(&mut stream, server.addr, &own).await, 101);
    server.stop().await;
}

#[tokio::test]
async fn allowed_origins_localhost_admits_localhost_on_any_port() {
    let server = start_server(&["--allowed-origins", "localhost"]).await;
    let other = other_port(&server);
    for origin in [
        format!("http://127.0.0.1:{other}"),
        format!("http://localhost:{other}"),
        "https://localhost".to_owned(),
        "http://[::1]:5173".to_owned(),
        format!("http://{}", server.addr),
    ] {
        assert_admitted(&server, &origin).await;
    }
    assert_refused(&server, "http://localhost.evil.example").await;
    assert_refused(&server, "http://127.0.0.1:8080.evil.example").await;
    assert_refused(&server, "https://evil.example").await;
    server.stop().await;
}

#[tokio::test]
async fn a_listed_origin_is_admitted_and_a_near_miss_is_not() {
    let server = start_server(&[
        "--allowed-origins",
        "https://friend.example:8443,http://ally.example",
    ])
    .await;
    assert_admitted(&server, "https://friend.example:8443").await;
    assert_admitted(&server, "https://FRIEND.example:8443").await;
    assert_admitted(&server, "http://ally.example:80").await;
    assert_admitted(&server, &format!("http://{}", server.addr)).await;
    assert_refused(&server, "https://friend.example:8444").await;
    assert_refused(&server, "https://friend.example").await;
    assert_refused(&server, "http://friend.example:8443").await;
    assert_refused(&server, "http://ally.example:8080").await;
    // Listing origins does not bring localhost back.
    assert_refused(
        &server,
        &format!("http://localhost:{}", other_port(&server)),
    )
    .await;
    server.stop().await;
}
