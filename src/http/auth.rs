//! Who may open a WebSocket: the authentication hook a library user implements, the ready
//! token check behind `--auth-token`/`--auth-tokens-file`, and the `Origin` policy behind
//! `--allowed-origins` (the defence against cross-site WebSocket hijacking). Both run on the
//! HTTP request, before the upgrade, so a refused client never gets a socket.

use std::net::SocketAddr;

use hyper::HeaderMap;
use hyper::header::{AUTHORIZATION, HOST, ORIGIN};

/// What an authenticator sees of a connection attempt.
#[derive(Debug)]
pub struct Handshake<'a> {
    /// The upgrade URL's query string, without the `?`.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub peer: SocketAddr,
}

impl Handshake<'_> {
    /// A query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }
}

/// Decides whether a connection attempt may proceed. `Err` carries the reason the client is
/// told (HTTP 401 with that text).
pub trait Authenticator: Send + Sync + 'static {
    fn authenticate(&self, handshake: &Handshake<'_>) -> Result<(), String>;
}

/// Accepts connections that present one of a fixed set of tokens, in the `token` query
/// parameter (browsers cannot set headers on a WebSocket) or an `Authorization: Bearer` header.
pub struct TokenAuth {
    tokens: Vec<Vec<u8>>,
}

impl TokenAuth {
    pub fn new(tokens: impl IntoIterator<Item = String>) -> TokenAuth {
        TokenAuth {
            tokens: tokens
                .into_iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .map(String::into_bytes)
                .collect(),
        }
    }

    /// Reads tokens from a file, one per line; blank lines and `#` comments are ignored.
    pub fn from_file(path: &std::path::Path) -> std::io::Result<TokenAuth> {
        let text = std::fs::read_to_string(path)?;
        let tokens = text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .map(str::to_owned);
        Ok(TokenAuth::new(tokens))
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

impl Authenticator for TokenAuth {
    fn authenticate(&self, handshake: &Handshake<'_>) -> Result<(), String> {
        let presented = handshake
            .query_param("token")
            .or_else(|| handshake.bearer_token().map(str::to_owned))
            .ok_or("missing token")?;
        // Compare against every token without stopping early, each in constant time.
        let mut accepted = false;
        for token in &self.tokens {
            accepted |= constant_time_eq(token, presented.as_bytes());
        }
        if accepted {
            Ok(())
        } else {
            Err("invalid token".to_owned())
        }
    }
}

/// Equality whose time depends only on the lengths, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// Which `Origin` headers may open a WebSocket.
#[derive(Debug, Clone)]
pub enum OriginPolicy {
    /// Any origin (`--allowed-origins '*'`).
    Any,
    /// The server's own origin, plus these (`scheme://host[:port]`, exact). With an empty
    /// list, localhost on any port stands in for them.
    Listed(Vec<String>),
}

impl OriginPolicy {
    pub fn from_config(origins: &[String]) -> OriginPolicy {
        if origins.iter().any(|o| o.trim() == "*") {
            return OriginPolicy::Any;
        }
        let listed = origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_owned());
        OriginPolicy::Listed(listed.filter(|o| !o.is_empty()).collect())
    }

    /// Whether a request with these headers may upgrade. No `Origin` means a non-browser
    /// client, which cross-site hijacking cannot involve.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
            return true;
        };
        match self {
            OriginPolicy::Any => true,
            OriginPolicy::Listed(list) => {
                let host = headers.get(HOST).and_then(|h| h.to_str().ok());
                is_same_origin(origin, host)
                    || list
                        .iter()
                        .any(|allowed| allowed.eq_ignore_ascii_case(origin))
                    || (list.is_empty() && is_localhost(origin))
            }
        }
    }
}

fn origin_host(origin: &str) -> Option<&str> {
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
}

fn is_same_origin(origin: &str, host: Option<&str>) -> bool {
    matches!((origin_host(origin), host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

fn is_localhost(origin: &str) -> bool {
    let Some(host) = origin_host(origin) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    matches!(name, "localhost" | "127.0.0.1" | "::1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn handshake<'a>(query: Option<&'a str>, headers: &'a HeaderMap) -> Handshake<'a> {
        Handshake {
            query,
            headers,
            peer: "127.0.0.1:1".parse().unwrap(),
        }
    }

    #[test]
    fn tokens_come_from_the_query_or_a_bearer_header() {
        let auth = TokenAuth::new(["s3cret".to_owned(), "other".to_owned()]);
        let none = HeaderMap::new();
        assert_eq!(
            auth.authenticate(&handshake(Some("token=s3cret"), &none)),
            Ok(())
        );
        assert_eq!(
            auth.authenticate(&handshake(Some("a=1&token=other"), &none)),
            Ok(())
        );
        let bearer = headers(&[("authorization", "Bearer s3cret")]);
        assert_eq!(auth.authenticate(&handshake(None, &bearer)), Ok(()));
        assert_eq!(
            auth.authenticate(&handshake(None, &none)),
            Err("missing token".into())
        );
        assert_eq!(
            auth.authenticate(&handshake(Some("token=s3cre"), &none)),
            Err("invalid token".into())
        );
        let encoded = TokenAuth::new(["a b&c".to_owned()]);
        assert_eq!(
            encoded.authenticate(&handshake(Some("token=a%20b%26c"), &none)),
            Ok(())
        );
    }

    #[test]
    fn origins_default_to_self_and_localhost() {
        let policy = OriginPolicy::from_config(&[]);
        assert!(policy.allows(&HeaderMap::new()));
        assert!(policy.allows(&headers(&[("origin", "http://localhost:3000")])));
        assert!(policy.allows(&headers(&[("origin", "http://127.0.0.1:8080")])));
        assert!(policy.allows(&headers(&[
            ("origin", "https://game.example"),
            ("host", "game.example")
        ])));
        assert!(!policy.allows(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "game.example")
        ])));
        assert!(!policy.allows(&headers(&[("origin", "http://localhost.evil.example")])));
    }

    #[test]
    fn listed_origins_replace_localhost_and_star_allows_all() {
        let policy = OriginPolicy::from_config(&["https://friend.example/".to_owned()]);
        assert!(policy.allows(&headers(&[("origin", "https://friend.example")])));
        assert!(!policy.allows(&headers(&[("origin", "http://localhost:3000")])));
        let any = OriginPolicy::from_config(&["*".to_owned()]);
        assert!(any.allows(&headers(&[("origin", "https://anyone.example")])));
    }
}
