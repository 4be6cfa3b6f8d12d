//! The admin socket's messages (docs/ADMIN.md): what the page may ask, parsed strictly and
//! bounded, and the answers' shapes. Pure. Must never: accept a request larger than
//! [`MAX_REQUEST_BYTES`], or echo a token.

use serde::{Deserialize, Serialize};

use super::sampler::Sample;
use super::view::StateView;

/// The largest message the page may send, in bytes of JSON.
pub const MAX_REQUEST_BYTES: usize = 4096;
/// An operator's name, like a player's: 1 to 32 characters.
const MAX_OPERATOR_CHARS: usize = 32;

/// What the page may ask.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The first message: who is acting, with the token.
    Auth {
        token: String,
        operator: String,
    },
    Kick {
        id: Option<u32>,
        player: u32,
        node: Option<String>,
        #[serde(default)]
        reason: String,
    },
    CloseRoom {
        id: Option<u32>,
        room: u32,
        node: Option<String>,
        #[serde(default)]
        reason: String,
    },
    Notice {
        id: Option<u32>,
        text: String,
    },
}

/// Why a request was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("message larger than {MAX_REQUEST_BYTES} bytes")]
    TooLarge,
    #[error("not a request: {0}")]
    Malformed(String),
    #[error("operator must be 1 to {MAX_OPERATOR_CHARS} printable characters")]
    BadOperator,
}

impl Request {
    /// Parses one text frame from the page.
    pub fn parse(text: &str) -> Result<Request, RequestError> {
        if text.len() > MAX_REQUEST_BYTES {
            return Err(RequestError::TooLarge);
        }
        let request: Request =
            serde_json::from_str(text).map_err(|e| RequestError::Malformed(e.to_string()))?;
        if let Request::Auth { operator, .. } = &request {
            check_operator(operator)?;
        }
        Ok(request)
    }

    /// The page's number for this action, echoed in its result.
    pub fn id(&self) -> Option<u32> {
        match self {
            Request::Auth { .. } => None,
            Request::Kick { id, .. }
            | Request::CloseRoom { id, .. }
            | Request::Notice { id, .. } => *id,
        }
    }
}

fn check_operator(operator: &str) -> Result<(), RequestError> {
    let chars = operator.chars().count();
    let printable = operator.chars().all(|c| !c.is_control());
    if chars == 0 || chars > MAX_OPERATOR_CHARS || !printable || operator.trim().is_empty() {
        return Err(RequestError::BadOperator);
    }
    Ok(())
}

/// The first answer to a good `auth`.
#[derive(Debug, Serialize)]
pub struct Hello<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub node: &'a str,
    pub cluster: bool,
    pub version: &'static str,
    pub protocol: u16,
    pub interval_ms: u64,
    pub history: Vec<&'a Sample>,
}

/// A sample as sent every interval.
#[derive(Debug, Serialize)]
pub struct SampleMessage<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(flatten)]
    pub sample: &'a Sample,
}

/// The rooms, players and nodes as sent every interval.
#[derive(Debug, Serialize)]
pub struct StateMessage<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(flatten)]
    pub state: &'a StateView,
}

/// The answer to one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionResult {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: Option<u32>,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ActionResult {
    pub fn ok(id: Option<u32>, message: String) -> ActionResult {
        ActionResult {
            kind: "result",
            id,
            ok: true,
            message: Some(message),
            error: None,
        }
    }

    pub fn failed(id: Option<u32>, error: String) -> ActionResult {
        ActionResult {
            kind: "result",
            id,
            ok: false,
            message: None,
            error: Some(error),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_as_the_contract_writes_them() {
        let kick = r#"{"type":"kick","id":7,"player":12,"node":"eu-1","reason":"abusive chat"}"#;
        assert_eq!(
            Request::parse(kick).unwrap(),
            Request::Kick {
                id: Some(7),
                player: 12,
                node: Some("eu-1".into()),
                reason: "abusive chat".into()
            }
        );
        let close = r#"{"type":"close_room","room":3}"#;
        assert_eq!(Request::parse(close).unwrap().id(), None);
        let notice = r#"{"type":"notice","id":9,"text":"restart soon"}"#;
        assert_eq!(Request::parse(notice).unwrap().id(), Some(9));
        let auth = r#"{"type":"auth","token":"t","operator":"alice"}"#;
        assert!(matches!(Request::parse(auth), Ok(Request::Auth { .. })));
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let huge = format!(r#"{{"type":"notice","text":"{}"}}"#, "x".repeat(5000));
        assert_eq!(Request::parse(&huge), Err(RequestError::TooLarge));
        for bad in [
            "",
            "null",
            r#"{"type":"shutdown"}"#,
            r#"{"type":"kick","player":-1}"#,
            r#"{"type":"kick","player":1,"extra":true}"#,
            r#"{"type":"notice"}"#,
        ] {
            assert!(
                matches!(Request::parse(bad), Err(RequestError::Malformed(_))),
                "{bad}"
            );
        }
        for operator in ["", "   ", "a\u{7}b", &"x".repeat(33)] {
            let auth = serde_json::json!({"type": "auth", "token": "t", "operator": operator});
            assert_eq!(
                Request::parse(&auth.to_string()),
                Err(RequestError::BadOperator),
                "{operator:?}"
            );
        }
    }

    #[test]
    fn results_carry_the_actions_id() {
        let ok = ActionResult::ok(Some(7), "kicked player 12".into()).to_json();
        assert_eq!(
            ok,
            r#"{"type":"result","id":7,"ok":true,"message":"kicked player 12"}"#
        );
        let failed = ActionResult::failed(None, "no such room".into()).to_json();
        assert_eq!(
            failed,
            r#"{"type":"result","id":null,"ok":false,"error":"no such room"}"#
        );
    }
}
