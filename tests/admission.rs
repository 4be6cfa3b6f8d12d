//! WebSocket admission as strict as RFC 6455 section 4.2.1, tried against the real server as a
//! hostile client would: a method other than GET, a key that is not base64 of 16 bytes.

mod common;

use common::{UPGRADE_HEADERS, http_request, start_server};

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
