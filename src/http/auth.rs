//! Who may open a WebSocket: the authentication hook a library user implements, the ready
//! token check behind `--auth-token`/`--auth-tokens-file`, and the `Origin` policy behind
//! `--allowed-origins` (the defence against cross-site WebSocket hijacking; the origins
//! themselves are parsed in [`super::origin`]). Both run on the HTTP request, before the
//! upgrade, so a refused client never gets a socket.

use std::net::SocketAddr;

use hyper::HeaderMap;
use hyper::header::{AUTHORIZATION, HOST, ORIGIN};

use super::origin::{AllowedOrigin, Origin, Scheme};

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

/// Which `Origin` headers may open a WebSocket: the server's own origin always (the origin of
/// the pages it serves, as the browser's same-origin rule has it), plus what `--allowed-origins`
/// adds. Origins are compared whole, as (scheme, host, port) tuples.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    /// The scheme our pages are served over (`https` with TLS): with the request's `Host`
    /// header, the server's own origin.
    scheme: Scheme,
    /// `*` was given: any origin, `null` and garbage included.
    any: bool,
    /// `localhost` was given: `http` or `https` on a loopback name, any port.
    localhost: bool,
    /// The exact origins given.
    listed: Vec<Origin>,
}

impl OriginPolicy {
    /// The policy of `--allowed-origins` (already parsed, so a bad value stopped the server at
    /// start), for a server that speaks TLS or not.
    pub fn new(allowed: &[AllowedOrigin], tls: bool) -> OriginPolicy {
        let mut policy = OriginPolicy {
            scheme: if tls { Scheme::Https } else { Scheme::Http },
            any: false,
            localhost: false,
            listed: Vec::new(),
        };
        for entry in allowed {
            match entry {
                AllowedOrigin::Any => policy.any = true,
                AllowedOrigin::Localhost => policy.localhost = true,
                AllowedOrigin::Exact(origin) => policy.listed.push(origin.clone()),
            }
        }
        policy
    }

    /// Whether a request with these headers may upgrade. No `Origin` means a non-browser
    /// client (a bot, a test, a native client), which cross-site hijacking cannot involve. An
    /// `Origin` that does not parse (`null`, garbage, a path) matches nothing but `*`.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(ORIGIN) else {
            return true;
        };
        if self.any {
            return true;
        }
        let Some(origin) = origin.to_str().ok().and_then(|o| Origin::parse(o).ok()) else {
            return false;
        };
        self.is_own_origin(&origin, headers)
            || (self.localhost && origin.is_localhost())
            || self.listed.contains(&origin)
    }

    /// Whether `origin` is the origin of a page this server served to this request's `Host`.
    fn is_own_origin(&self, origin: &Origin, headers: &HeaderMap) -> bool {
        let own = headers
            .get(HOST)
            .and_then(|host| host.to_str().ok())
            .and_then(|host| Origin::of_host(self.scheme, host).ok());
        own.as_ref() == Some(origin)
    }
}

/// Whether the request's `Origin` is the origin of one of `urls` (a cluster's nodes' public
/// URLs). No `Origin` is not one of them.
pub fn origin_is_one_of<'a>(headers: &HeaderMap, urls: impl IntoIterator<Item = &'a str>) -> bool {
    let Some(origin) = headers
        .get(ORIGIN)
        .and_then(|origin| origin.to_str().ok())
        .and_then(|origin| Origin::parse(origin).ok())
    else {
        return false;
    };
    urls.into_iter()
        .any(|url| Origin::parse(url).is_ok_and(|node| node == origin))
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

    fn policy(allowed: &[&str], tls: bool) -> OriginPolicy {
        let allowed: Vec<AllowedOrigin> = allowed.iter().map(|a| a.parse().unwrap()).collect();
        OriginPolicy::new(&allowed, tls)
    }

    /// Whether `policy` lets a page of `origin` connect to the server named by `host`.
    fn allows(policy: &OriginPolicy, origin: &'static str, host: &'static str) -> bool {
        policy.allows(&headers(&[("origin", origin), ("host", host)]))
    }

    #[test]
    fn by_default_only_the_servers_own_origin_is_allowed() {
        let plain = policy(&[], false);
        assert!(plain.allows(&HeaderMap::new()));
        assert!(plain.allows(&headers(&[("host", "127.0.0.1:8080")])));
        assert!(allows(&plain, "http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(allows(&plain, "HTTP://GAME.example", "game.example"));
        assert!(allows(&plain, "http://game.example:80", "game.example"));
        assert!(allows(&plain, "http://game.example", "game.example:80"));
        assert!(allows(&plain, "http://[::1]:8080", "[::1]:8080"));
        // The other scheme, another port, another host: other origins.
        assert!(!allows(&plain, "https://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(!allows(&plain, "http://127.0.0.1:3000", "127.0.0.1:8080"));
        assert!(!allows(&plain, "http://localhost:8080", "127.0.0.1:8080"));
        assert!(!allows(&plain, "https://evil.example", "game.example"));
        assert!(!allows(
            &plain,
            "http://game.example.evil.example",
            "game.example"
        ));
        // Cutting at the first colon took this for localhost.
        assert!(!allows(
            &plain,
            "http://127.0.0.1:8080.evil.example",
            "127.0.0.1:8080"
        ));
        assert!(!allows(&plain, "http://localhost:3000", "localhost:8080"));
        assert!(!plain.allows(&headers(&[("origin", "http://127.0.0.1:8080")])));
        for garbage in ["null", "", "127.0.0.1:8080", "http://127.0.0.1:8080/"] {
            assert!(!allows(&plain, garbage, "127.0.0.1:8080"), "{garbage:?}");
        }
        let mut bytes = headers(&[("host", "127.0.0.1:8080")]);
        bytes.insert(ORIGIN, HeaderValue::from_bytes(b"http://\xff").unwrap());
        assert!(!plain.allows(&bytes));

        let tls = policy(&[], true);
        assert!(allows(&tls, "https://game.example", "game.example"));
        assert!(allows(
            &tls,
            "https://game.example:8443",
            "game.example:8443"
        ));
        assert!(!allows(&tls, "http://game.example", "game.example"));
        assert!(!allows(&tls, "https://game.example", "game.example:8443"));
    }

    #[test]
    fn localhost_on_any_port_only_when_asked_for() {
        let local = policy(&["localhost"], false);
        for origin in [
            "http://localhost:3000",
            "https://localhost",
            "http://127.0.0.1:5173",
            "http://[::1]:8000",
        ] {
            assert!(allows(&local, origin, "game.example"), "{origin}");
        }
        assert!(allows(&local, "http://game.example", "game.example"));
        assert!(!allows(
            &local,
            "http://localhost.evil.example",
            "game.example"
        ));
        assert!(!allows(
            &local,
            "http://127.0.0.1:8080.evil.example",
            "game.example"
        ));
        assert!(!allows(&local, "https://evil.example", "game.example"));
    }

    #[test]
    fn listed_origins_are_matched_whole_and_star_allows_all() {
        let listed = policy(
            &["https://friend.example/", "http://ally.example:8080"],
            false,
        );
        assert!(allows(&listed, "https://friend.example", "game.example"));
        assert!(allows(
            &listed,
            "https://FRIEND.example:443",
            "game.example"
        ));
        assert!(allows(&listed, "http://ally.example:8080", "game.example"));
        assert!(allows(&listed, "http://game.example", "game.example"));
        assert!(!allows(
            &listed,
            "https://friend.example:8443",
            "game.example"
        ));
        assert!(!allows(&listed, "http://friend.example", "game.example"));
        assert!(!allows(&listed, "http://ally.example", "game.example"));
        assert!(!allows(&listed, "http://localhost:3000", "game.example"));
        let any = policy(&["*"], false);
        assert!(allows(&any, "https://anyone.example", "game.example"));
        assert!(allows(&any, "null", "game.example"));
    }
}
