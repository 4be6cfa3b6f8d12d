//! A cluster node's identity and the directory's timings, as values. Pure. Must never: accept a
//! node id that could break a Redis key or be mistaken for another.

use std::fmt;
use std::time::Duration;

/// Longest node id, in characters.
pub const MAX_NODE_ID_CHARS: usize = 32;

/// A node's name in the cluster: 1 to [`MAX_NODE_ID_CHARS`] of `a-z`, `0-9` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NodeIdError {
    #[error("node id is empty")]
    Empty,
    #[error("node id is longer than {MAX_NODE_ID_CHARS} characters")]
    TooLong,
    #[error("node id contains {0:?}; node ids use lowercase letters, digits and '-'")]
    BadCharacter(char),
}

impl NodeId {
    pub fn parse(raw: &str) -> Result<NodeId, NodeIdError> {
        if raw.is_empty() {
            return Err(NodeIdError::Empty);
        }
        if raw.chars().count() > MAX_NODE_ID_CHARS {
            return Err(NodeIdError::TooLong);
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(NodeIdError::BadCharacter(bad));
        }
        Ok(NodeId(raw.to_owned()))
    }

    /// A fresh id, `node-` and 8 random hexadecimal digits.
    pub fn from_random(value: u32) -> NodeId {
        NodeId(format!("node-{value:08x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a node joins its cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `redis://HOST:PORT[/DB]`.
    pub redis_url: String,
    /// How players reach this node (`http://` or `https://`, no path).
    pub public_url: String,
    pub node: NodeId,
    /// A node that has not renewed its lease for this long has left, with its rooms.
    pub lease: Duration,
    /// How often the node renews its lease and its rooms (a fraction of the lease).
    pub heartbeat_every: Duration,
    /// How long one call to Redis may take before the directory counts as unreachable.
    pub call_timeout: Duration,
    /// Keys' prefix, so that several games can share one Redis.
    pub prefix: String,
    /// How long a seat reserved for a joiner waits for it.
    pub seat_timeout: Duration,
    /// Private rooms one address may have open at once, cluster-wide.
    pub max_private_rooms_per_address: u32,
    /// Quick play's mode when a joiner names none: this node's first mode.
    pub default_mode: String,
}

impl ClusterConfig {
    /// The heartbeat for a lease: three renewals per lease, at most one a second.
    pub fn heartbeat_for(lease: Duration) -> Duration {
        (lease / 3).min(Duration::from_secs(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_labels() {
        assert_eq!(NodeId::parse("eu-1").unwrap().as_str(), "eu-1");
        assert_eq!(NodeId::parse(""), Err(NodeIdError::Empty));
        assert_eq!(NodeId::parse("a:b"), Err(NodeIdError::BadCharacter(':')));
        assert_eq!(NodeId::parse("EU"), Err(NodeIdError::BadCharacter('E')));
        assert_eq!(NodeId::parse(&"a".repeat(33)), Err(NodeIdError::TooLong));
        assert_eq!(NodeId::from_random(0xab).as_str(), "node-000000ab");
    }

    #[test]
    fn the_heartbeat_renews_three_times_per_lease_at_most_once_a_second() {
        assert_eq!(
            ClusterConfig::heartbeat_for(Duration::from_secs(6)),
            Duration::from_secs(1)
        );
        assert_eq!(
            ClusterConfig::heartbeat_for(Duration::from_millis(1500)),
            Duration::from_millis(500)
        );
    }
}
