//! Web origins as values: the `Origin` header a browser sends with a WebSocket upgrade (RFC 6454
//! section 7: `scheme://host[:port]`, nothing more), the server's own origin rebuilt from the
//! `Host` header, and the entries of `--allowed-origins`. Parsed into a (scheme, host, port)
//! tuple, default port filled in, so that origins are compared whole and never as text: cutting
//! at the first colon would take `http://127.0.0.1:8080.evil.example` for localhost.
//!
//! A leaf: pure parsing, no headers and no I/O, so that `config.rs` can parse the flag with it.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// The schemes a page that may open our WebSocket is served over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// The port an origin of this scheme means when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A tuple origin: scheme, host (lowercase; an IPv6 literal in its brackets, in canonical
/// form) and port (the scheme's default filled in). Two origins are the same origin exactly
/// when they are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: Scheme,
    host: String,
    port: u16,
}

/// Why a text is not an origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// What a browser sends for a page with no origin of its own (a sandboxed frame, a file, a
    /// redirect across origins): it is the same origin as nothing.
    #[error("\"null\" is an opaque origin, the same as no other")]
    Null,
    #[error("the scheme must be http:// or https://")]
    Scheme,
    #[error("an origin is scheme://host[:port] only, without user info, path, query or fragment")]
    NotBare,
    #[error("the host is empty or not a valid host name or IP address")]
    Host,
    #[error("the port must be a number from 1 to 65535")]
    Port,
}

impl Origin {
    /// Parses a serialized origin, as a browser sends it in an `Origin` header. Scheme and host
    /// are case-insensitive; anything beyond `scheme://host[:port]` is refused.
    pub fn parse(text: &str) -> Result<Origin, OriginError> {
        if text == "null" {
            return Err(OriginError::Null);
        }
        let (scheme, authority) = text.split_once("://").ok_or(OriginError::Scheme)?;
        let scheme = if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            return Err(OriginError::Scheme);
        };
        if authority.contains(['/', '?', '#', '@', '\\']) {
            return Err(OriginError::NotBare);
        }
        Origin::of_authority(scheme, authority)
    }

    /// The origin of a page served over `scheme` to a request with this `Host` header
    /// (`host[:port]`): the origin that page's browser sends back.
    pub fn of_host(scheme: Scheme, host: &str) -> Result<Origin, OriginError> {
        Origin::of_authority(scheme, host)
    }

    fn of_authority(scheme: Scheme, authority: &str) -> Result<Origin, OriginError> {
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            Some(port) => parse_port(port)?,
            None => scheme.default_port(),
        };
        Ok(Origin { scheme, host, port })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host, lowercase; an IPv6 address in brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the host is this machine by its loopback names: `localhost`, `127.0.0.1` or
    /// `[::1]` (any scheme, any port).
    pub fn is_localhost(&self) -> bool {
        matches!(self.host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
    }
}

impl FromStr for Origin {
    type Err = OriginError;

    fn from_str(text: &str) -> Result<Origin, OriginError> {
        Origin::parse(text)
    }
}

impl fmt::Display for Origin {
    /// The serialization a browser would send: the port only when it is not the default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// `host[:port]` split, the host checked and normalized, the port left as text.
fn split_host_port(authority: &str) -> Result<(String, Option<&str>), OriginError> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (literal, rest) = bracketed.split_once(']').ok_or(OriginError::Host)?;
        let address: Ipv6Addr = literal.parse().map_err(|_| OriginError::Host)?;
        let port = match rest {
            "" => None,
            _ => Some(rest.strip_prefix(':').ok_or(OriginError::Host)?),
        };
        return Ok((format!("[{address}]"), port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if !valid {
        return Err(OriginError::Host);
    }
    Ok((host.to_ascii_lowercase(), port))
}

/// 1 to 5 ASCII digits naming a port from 1 to 65535 (`8080.evil.example` is no port).
fn parse_port(text: &str) -> Result<u16, OriginError> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(OriginError::Port);
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(OriginError::Port),
        Ok(port) => Ok(port),
    }
}

/// One entry of `--allowed-origins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigin {
    /// `*`: any origin at all, `null` included.
    Any,
    /// `localhost`: `http` or `https` on `localhost`, `127.0.0.1` or `[::1]`, on any port (a
    /// development server of the client on another port).
    Localhost,
    /// `scheme://host[:port]`: exactly that origin.
    Exact(Origin),
}

impl FromStr for AllowedOrigin {
    type Err = OriginError;

    /// Surrounding spaces and one trailing `/` (as copied from an address bar) are ignored.
    fn from_str(text: &str) -> Result<AllowedOrigin, OriginError> {
        let text = text.trim();
        if text == "*" {
            return Ok(AllowedOrigin::Any);
        }
        if text.eq_ignore_ascii_case("localhost") {
            return Ok(AllowedOrigin::Localhost);
        }
        let text = text.strip_suffix('/').unwrap_or(text);
        Origin::parse(text).map(AllowedOrigin::Exact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(scheme: Scheme, host: &str, port: u16) -> Origin {
        Origin {
            scheme,
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn origins_parse_into_a_tuple_with_the_default_port_filled_in() {
        use Scheme::*;
        let cases = [
            ("http://game.example", origin(Http, "game.example", 80)),
            ("https://game.example", origin(Https, "game.example", 443)),
            ("http://game.example:80", origin(Http, "game.example", 80)),
            (
                "https://game.example:8443",
                origin(Https, "game.example", 8443),
            ),
            (
                "HTTPS://Game.EXAMPLE:443",
                origin(Https, "game.example", 443),
            ),
            ("http://127.0.0.1:8080", origin(Http, "127.0.0.1", 8080)),
            ("http://localhost:3000", origin(Http, "localhost", 3000)),
            ("http://[::1]:8080", origin(Http, "[::1]", 8080)),
            ("http://[0:0:0:0:0:0:0:1]", origin(Http, "[::1]", 80)),
            ("https://[2001:DB8::1]", origin(Https, "[2001:db8::1]", 443)),
            (
                "http://my_host-1.example",
                origin(Http, "my_host-1.example", 80),
            ),
            ("http://a:65535", origin(Http, "a", 65535)),
        ];
        for (text, expected) in cases {
            assert_eq!(Origin::parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn anything_but_a_bare_http_origin_is_refused() {
        use OriginError::*;
        let cases = [
            ("null", Null),
            ("", Scheme),
            ("game.example", Scheme),
            ("ws://game.example", Scheme),
            ("file://", Scheme),
            ("chrome-extension://abcdef", Scheme),
            ("http:game.example", Scheme),
            ("http://", Host),
            ("http://:8080", Host),
            ("http://127.0.0.1:8080.evil.example", Port),
            ("http://localhost:", Port),
            ("http://localhost:0", Port),
            ("http://localhost:65536", Port),
            ("http://localhost:008080", Port),
            ("http://localhost:+80", Port),
            ("http://localhost:80:80", Port),
            ("http://game.example/", NotBare),
            ("http://game.example/path", NotBare),
            ("http://game.example?x=1", NotBare),
            ("http://game.example#top", NotBare),
            ("http://user@game.example", NotBare),
            ("http://user:pass@game.example", NotBare),
            ("http://localhost@evil.example", NotBare),
            ("http://game.example\\x", NotBare),
            ("http://game example", Host),
            ("http://gäme.example", Host),
            ("http://game.example%2e", Host),
            (" http://game.example", Scheme),
            ("http://game.example ", Host),
            ("http://[::1", Host),
            ("http://[::1]x", Host),
            ("http://[not-an-address]", Host),
            ("http://[fe80::1%25eth0]", Host),
            ("http://[::1]:", Port),
            ("http://::1", Host),
        ];
        for (text, expected) in cases {
            assert_eq!(Origin::parse(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn an_origin_prints_as_a_browser_serializes_it() {
        for text in [
            "http://game.example",
            "https://game.example:8443",
            "http://[::1]:8080",
        ] {
            assert_eq!(Origin::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            Origin::parse("HTTPS://Game.Example:443")
                .unwrap()
                .to_string(),
            "https://game.example"
        );
    }

    #[test]
    fn the_host_header_gives_the_origin_of_our_own_pages() {
        assert_eq!(
            Origin::of_host(Scheme::Http, "127.0.0.1:8080"),
            Origin::parse("http://127.0.0.1:8080")
        );
        assert_eq!(
            Origin::of_host(Scheme::Https, "Game.Example"),
            Origin::parse("https://game.example:443")
        );
        assert_eq!(
            Origin::of_host(Scheme::Http, "[::1]:9000"),
            Origin::parse("http://[::1]:9000")
        );
        assert_eq!(
            Origin::of_host(Scheme::Http, "game.example:8080.evil.example"),
            Err(OriginError::Port)
        );
        assert_eq!(Origin::of_host(Scheme::Http, ""), Err(OriginError::Host));
    }

    #[test]
    fn only_loopback_names_are_localhost() {
        for local in [
            "http://localhost",
            "https://LOCALHOST:3000",
            "http://127.0.0.1:8080",
            "http://[::1]:1",
            "http://[0::1]",
        ] {
            assert!(Origin::parse(local).unwrap().is_localhost(), "{local}");
        }
        for foreign in [
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example",
            "http://evil.localhost",
            "http://127.0.0.2",
            "http://[::2]",
        ] {
            assert!(!Origin::parse(foreign).unwrap().is_localhost(), "{foreign}");
        }
    }

    #[test]
    fn allowed_origins_are_star_localhost_or_one_origin() {
        assert_eq!("*".parse(), Ok(AllowedOrigin::Any));
        assert_eq!(" * ".parse(), Ok(AllowedOrigin::Any));
        assert_eq!("localhost".parse(), Ok(AllowedOrigin::Localhost));
        assert_eq!("LocalHost".parse(), Ok(AllowedOrigin::Localhost));
        assert_eq!(
            " https://friend.example/ ".parse(),
            Ok(AllowedOrigin::Exact(
                Origin::parse("https://friend.example").unwrap()
            ))
        );
        assert_eq!(
            "https://friend.example//".parse::<AllowedOrigin>(),
            Err(OriginError::NotBare)
        );
        assert_eq!("".parse::<AllowedOrigin>(), Err(OriginError::Scheme));
        assert_eq!(
            "friend.example".parse::<AllowedOrigin>(),
            Err(OriginError::Scheme)
        );
        assert_eq!("null".parse::<AllowedOrigin>(), Err(OriginError::Null));
    }
}
