//! What an upgrade request must be before it becomes a WebSocket (RFC 6455 section 4.2.1),
//! beyond what fastwebsockets checks: the method is GET, and `Sec-WebSocket-Key` is base64 of
//! exactly 16 bytes. Pure: reads the request's method and headers only.

use base64::Engine;
use hyper::{HeaderMap, Method};

/// Why an upgrade request is refused before any upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Answered 405 with `Allow: GET`.
    #[error("the WebSocket handshake must be a GET request")]
    MethodNotGet,
    /// Answered 400.
    #[error("Sec-WebSocket-Key is missing")]
    MissingKey,
    /// Answered 400.
    #[error("Sec-WebSocket-Key must be 16 bytes in base64")]
    BadKey,
}

/// Checks the parts of an upgrade request that fastwebsockets lets through.
pub fn check_upgrade_request(method: &Method, headers: &HeaderMap) -> Result<(), HandshakeError> {
    if method != Method::GET {
        return Err(HandshakeError::MethodNotGet);
    }
    let key = headers
        .get(hyper::header::SEC_WEBSOCKET_KEY)
        .ok_or(HandshakeError::MissingKey)?;
    // A 16-byte nonce is 24 base64 characters; anything longer is refused before decoding.
    if key.len() != 24 {
        return Err(HandshakeError::BadKey);
    }
    match base64::engine::general_purpose::STANDARD.decode(key.as_bytes()) {
        Ok(nonce) if nonce.len() == 16 => Ok(()),
        _ => Err(HandshakeError::BadKey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn with_key(key: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("sec-websocket-key", HeaderValue::from_static(key));
        headers
    }

    #[test]
    fn only_a_get_with_a_sixteen_byte_key_passes() {
        let good = with_key("dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(check_upgrade_request(&Method::GET, &good), Ok(()));
        assert_eq!(
            check_upgrade_request(&Method::POST, &good),
            Err(HandshakeError::MethodNotGet)
        );
        assert_eq!(
            check_upgrade_request(&Method::GET, &HeaderMap::new()),
            Err(HandshakeError::MissingKey)
        );
        for bad in [
            "not base64 at all!!!!!!!",
            "dGhlIHNhbXBsZSBub25j",         // 15 bytes, shorter text
            "dGhlIHNhbXBsZSBub25jZWE=",     // 24 characters, but 17 bytes
            "dGhlIHNhbXBsZSBub25jZQ==dGhl", // too long
            "",
        ] {
            assert_eq!(
                check_upgrade_request(&Method::GET, &with_key(bad)),
                Err(HandshakeError::BadKey),
                "{bad}"
            );
        }
    }
}
