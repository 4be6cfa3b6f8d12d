//! Reading `/metrics` as a scraper would: one sample's value, polled until it says what a test
//! waits for.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::http_get;

/// The value of one sample line of an exposition (`name` includes any labels).
pub fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .unwrap_or_else(|| panic!("{name} missing from:\n{metrics}"))
        .parse()
        .unwrap()
}

/// The value of one sample line of `/metrics` (`name` includes any labels), or `None` if the
/// scrape itself was refused (at a connection cap).
pub async fn try_metric(addr: SocketAddr, name: &str) -> Option<f64> {
    let (status, _, body) = http_get(addr, "/metrics", "").await;
    if status != 200 {
        return None;
    }
    let text = String::from_utf8(body).unwrap();
    Some(sample(&text, name))
}

pub async fn metric(addr: SocketAddr, name: &str) -> f64 {
    try_metric(addr, name).await.expect("/metrics answered")
}

/// Polls a metric until `accept` holds, failing after `patience`.
pub async fn wait_for_metric(
    addr: SocketAddr,
    name: &str,
    patience: Duration,
    accept: impl Fn(f64) -> bool,
) -> f64 {
    let deadline = Instant::now() + patience;
    loop {
        let value = try_metric(addr, name).await;
        if let Some(value) = value
            && accept(value)
        {
            return value;
        }
        assert!(Instant::now() < deadline, "{name} stuck at {value:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
