//! HTTPS and wss:// with `--tls-cert` and `--tls-key`: a self-signed certificate made for the
//! test (rcgen), the real server, and a rustls client that trusts only that certificate. The
//! game and the plain routes work over TLS exactly as over TCP; a client that does not speak
//! TLS is dropped and counted.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use skirmish::client::{GameClient, handshake_websocket};
use skirmish::protocol::{ClientMessage, Join, PROTOCOL_VERSION, RoomRequest, ServerMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// A fresh self-signed certificate for `localhost`, written as PEM files for the server.
struct TestCertificate {
    dir: PathBuf,
    der: CertificateDer<'static>,
}

impl TestCertificate {
    fn generate(name: &str) -> TestCertificate {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("a self-signed certificate");
        let dir = std::env::temp_dir().join(format!("skirmish-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).unwrap();
        TestCertificate {
            der: certified.cert.der().clone(),
            dir,
        }
    }

    fn flags(&self) -> [String; 4] {
        [
            "--tls-cert".to_owned(),
            self.dir.join("cert.pem").display().to_string(),
            "--tls-key".to_owned(),
            self.dir.join("key.pem").display().to_string(),
        ]
    }

    /// A client that trusts this certificate and nothing else.
    fn connector(&self) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsConnector::from(Arc::new(config))
    }
}

impl Drop for TestCertificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start_tls_server(certificate: &TestCertificate) -> TestServer {
    let flags = certificate.flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    start_server(&flags).await
}

async fn connect_tls(certificate: &TestCertificate, addr: SocketAddr) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    certificate
        .connector()
        .connect(name, tcp)
        .await
        .expect("the TLS handshake")
}

/// A GET over TLS: status code and body.
async fn https_get(certificate: &TestCertificate, addr: SocketAddr, path: &str) -> (u16, String) {
    https_get_with(certificate, addr, path, "Host: localhost\r\n").await
}

/// [`https_get`] with these header lines (each ending in `\r\n`; a `Host` among them).
async fn https_get_with(
    certificate: &TestCertificate,
    addr: SocketAddr,
    path: &str,
    headers: &str,
) -> (u16, String) {
    let mut stream = connect_tls(certificate, addr).await;
    let request = format!("GET {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    // The server closes after answering; a missing close_notify would be its bug, not ours.
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response))
        .await
        .expect("a response in time")
        .expect("a clean TLS close");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (status, body.unwrap_or_default())
}

#[tokio::test]
async fn wss_plays_the_game_and_https_serves_health() {
    let certificate = TestCertificate::generate("wss");
    let server = start_tls_server(&certificate).await;

    let (status, body) = https_get(&certificate, server.addr, "/healthz").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"status\":\"ok\""), "{body}");

    let stream = connect_tls(&certificate, server.addr).await;
    let authority = format!("localhost:{}", server.addr.port());
    let ws = handshake_websocket(stream, &authority, "/ws")
        .await
        .unwrap();
    let mut client = GameClient::from_websocket(ws);
    let join = Join {
        protocol_version: PROTOCOL_VERSION,
        request_id: 7,
        name: "Secure".to_owned(),
        resume_token: None,
        baseline_tick: None,
        room: RoomRequest::default(),
    };
    client.send(&ClientMessage::Join(join)).await.unwrap();
    let welcome = wait_for(&mut client, "the welcome", |m| match m {
        ServerMessage::Welcome(w) => Some(w.clone()),
        _ => None,
    })
    .await;
    assert_eq!(welcome.request_id, 7);
    wait_for_snapshot(&mut client, "a snapshot with me in it", |s| {
        s.players.iter().any(|p| p.id == welcome.player_id)
    })
    .await;
    client.leave().await.unwrap();
    let (code, _, _) = expect_close(&mut client).await;
    assert_eq!(code, 1000);
    server.stop().await;
}

#[tokio::test]
async fn with_tls_the_servers_own_origin_is_its_https_origin() {
    let certificate = TestCertificate::generate("origin");
    let server = start_tls_server(&certificate).await;
    let port = server.addr.port();
    let other = if port == 3000 { 3001 } else { 3000 };
    // 426: past the origin check, the plain GET is told to upgrade; 403: refused.
    for (origin, expected) in [
        (format!("https://localhost:{port}"), 426),
        (format!("http://localhost:{port}"), 403),
        (format!("https://localhost:{other}"), 403),
        ("https://localhost".to_owned(), 403),
    ] {
        let headers = format!("Host: localhost:{port}\r\nOrigin: {origin}\r\n");
        let (status, body) = https_get_with(&certificate, server.addr, "/ws", &headers).await;
        assert_eq!(status, expected, "{origin}: {body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_client_without_tls_is_dropped_and_counted() {
    let certificate = TestCertificate::generate("plain");
    let server = start_tls_server(&certificate).await;
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, plain.read_to_end(&mut response))
        .await
        .expect("the server drops a client that does not speak TLS");
    assert!(
        !response.starts_with(b"HTTP/1.1 200"),
        "served in plain text"
    );

    let (status, metrics) = https_get(&certificate, server.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("skirmish_tls_handshakes_failed_total 1"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_bad_certificate_file_stops_the_server_from_starting() {
    let dir = std::env::temp_dir().join(format!("skirmish-badcert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    std::fs::write(&cert, "not a certificate\n").unwrap();
    let args = [
        "skirmish",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        cert.to_str().unwrap(),
    ];
    let config = <skirmish::config::Config as clap::Parser>::try_parse_from(args).unwrap();
    let error = skirmish::server::Server::from_config(config)
        .err()
        .expect("a server without a usable certificate");
    assert!(error.to_string().contains("cert.pem"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}
