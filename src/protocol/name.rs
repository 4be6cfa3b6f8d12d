//! Player name and chat text rules, shared by the server (which enforces them) and documented for clients
//! (which check them before sending, to show a helpful message).

/// Longest accepted name, in characters (not bytes).
pub const MAX_NAME_CHARS: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("name is empty")]
    Empty,
    #[error("name is longer than {MAX_NAME_CHARS} characters")]
    TooLong,
    #[error("name contains {0:?}; use letters, digits, spaces, '-', '_' or '.'")]
    BadCharacter(char),
}

/// Trims surrounding whitespace and checks what remains: 1 to [`MAX_NAME_CHARS`] characters,
/// each a letter or digit (any script), a space, `-`, `_` or `.`. Returns the trimmed name.
pub fn validate_name(raw: &str) -> Result<&str, NameError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    if let Some(bad) = name.chars().find(|&c| !is_name_char(c)) {
        return Err(NameError::BadCharacter(bad));
    }
    Ok(name)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChatError {
    #[error("message is empty")]
    Empty,
    #[error(
        "message is longer than {} characters",
        crate::protocol::MAX_CHAT_CHARS
    )]
    TooLong,
    #[error("message contains a control character")]
    ControlCharacter,
}

/// Trims a chat line and checks it: 1 to `MAX_CHAT_CHARS` characters, no control characters.
/// Any other text is allowed: clients must display it as text, never as markup.
pub fn validate_chat(raw: &str) -> Result<&str, ChatError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(ChatError::Empty);
    }
    if text.chars().count() > crate::protocol::MAX_CHAT_CHARS {
        return Err(ChatError::TooLong);
    }
    if text.chars().any(|c| c.is_control()) {
        return Err(ChatError::ControlCharacter);
    }
    Ok(text)
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_trims_ordinary_names() {
        assert_eq!(validate_name("  Alice "), Ok("Alice"));
        assert_eq!(validate_name("Zoë_2.0-x"), Ok("Zoë_2.0-x"));
        assert_eq!(validate_name("ロボット"), Ok("ロボット"));
    }

    #[test]
    fn chat_is_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(validate_chat("  <b>hi</b> "), Ok("<b>hi</b>"));
        assert_eq!(validate_chat(" "), Err(ChatError::Empty));
        assert_eq!(validate_chat(&"x".repeat(201)), Err(ChatError::TooLong));
        assert_eq!(validate_chat("a\u{7}b"), Err(ChatError::ControlCharacter));
    }

    #[test]
    fn refuses_empty_long_and_odd_names() {
        assert_eq!(validate_name("   "), Err(NameError::Empty));
        assert_eq!(validate_name(&"a".repeat(17)), Err(NameError::TooLong));
        assert_eq!(validate_name(&"é".repeat(16)), Ok("éééééééééééééééé"));
        assert_eq!(validate_name("<b>"), Err(NameError::BadCharacter('<')));
        assert_eq!(
            validate_name("a\u{0}b"),
            Err(NameError::BadCharacter('\u{0}'))
        );
        assert_eq!(
            validate_name("a\u{202e}b"),
            Err(NameError::BadCharacter('\u{202e}'))
        );
    }
}
