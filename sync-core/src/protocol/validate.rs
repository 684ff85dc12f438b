//! Field rules of PROTOCOL.md (names, passwords, devices, titles, bodies,
//! client ids), shared so that server and clients reject the same input.

use super::{ErrorCode, MAX_BODY_BYTES};

/// A rule violation: the error code to answer with and a human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// `bad_request` or `too_large`.
    pub code: ErrorCode,
    /// Human text.
    pub message: String,
}

fn bad(message: impl Into<String>) -> Invalid {
    Invalid {
        code: ErrorCode::BadRequest,
        message: message.into(),
    }
}

/// User names: 1–32 chars of `a-z 0-9 _ . -`, starting with a letter or digit.
pub fn user_name(name: &str) -> Result<(), Invalid> {
    let ok_len = (1..=32).contains(&name.len());
    let ok_first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'));
    if ok_len && ok_first && ok_chars {
        Ok(())
    } else {
        Err(bad(
            "user names are 1-32 chars of a-z 0-9 _ . - starting with a letter or digit",
        ))
    }
}

/// Passwords: 8–256 bytes.
pub fn password(pw: &str) -> Result<(), Invalid> {
    if (8..=256).contains(&pw.len()) {
        Ok(())
    } else {
        Err(bad("passwords are 8-256 bytes"))
    }
}

/// Printable ASCII (0x20..=0x7e: the space is one, as for C's `isprint`)
/// of 1..=max chars. Used for device ids and client ids.
fn printable_ascii(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len()) && s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Device ids: 1–64 printable ASCII chars (spaces included).
pub fn device(d: &str) -> Result<(), Invalid> {
    if printable_ascii(d, 64) {
        Ok(())
    } else {
        Err(bad("device ids are 1-64 printable ASCII chars"))
    }
}

/// Client ids: 1–64 printable ASCII chars (spaces included).
pub fn client_id(id: &str) -> Result<(), Invalid> {
    if printable_ascii(id, 64) {
        Ok(())
    } else {
        Err(bad("client_id must be 1-64 printable ASCII chars"))
    }
}

/// Titles: 1–256 bytes with at least one non-whitespace character.
pub fn title(t: &str) -> Result<(), Invalid> {
    if t.len() > 256 {
        return Err(Invalid {
            code: ErrorCode::TooLarge,
            message: "titles are at most 256 bytes".into(),
        });
    }
    if t.trim().is_empty() {
        return Err(bad("titles need at least one non-whitespace character"));
    }
    Ok(())
}

/// Bodies: 1 to `max` bytes (normally [`MAX_BODY_BYTES`]) with at least one
/// non-whitespace character. Empty or blank is `bad_request`, longer is `too_large`.
pub fn body(b: &str, max: usize) -> Result<(), Invalid> {
    if b.len() > max {
        return Err(Invalid {
            code: ErrorCode::TooLarge,
            message: format!("body is {} bytes; the limit is {max}", b.len()),
        });
    }
    if b.trim().is_empty() {
        return Err(bad("body needs at least one non-whitespace character"));
    }
    Ok(())
}

/// [`body`] with the protocol's default limit.
pub fn default_body(b: &str) -> Result<(), Invalid> {
    body(b, MAX_BODY_BYTES)
}

/// §9.2 reaction keys: 1–64 bytes of UTF-8 with no whitespace or control
/// characters (an emoji or a `:shortcode:`). Anything else, a too long key
/// included, is `bad_request`.
pub fn reaction_key(k: &str) -> Result<(), Invalid> {
    if k.is_empty() || k.len() > 64 {
        return Err(bad("reaction keys are 1-64 bytes"));
    }
    if k.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "reaction keys cannot hold whitespace or control characters",
        ));
    }
    Ok(())
}

/// The size of the largest `send` frame that carries `body` (request id,
/// conversation id, client id and `reply_to` at their longest): what a
/// server's `max_frame_bytes` is compared with. JSON writes each control
/// character in 6 bytes, so it can be up to 6 times `body.len()`.
pub fn encoded_send_len(body: &str) -> usize {
    // `{"type":"send","id":…,"conv":"…","client_id":"…","body":…,"reply_to":…}`
    // with a 20-digit id, a 64-byte conversation id and client id.
    const AROUND: usize = 160 + 3 * 20 + 2 * 64;
    serde_json::to_string(body).map_or(usize::MAX, |b| b.len()) + AROUND
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaction_keys() {
        assert!(reaction_key("👍").is_ok());
        assert!(reaction_key(":tada:").is_ok());
        assert!(reaction_key(&"x".repeat(64)).is_ok());
        assert!(reaction_key(&"x".repeat(65)).is_err());
        // 16 four-byte emoji are 64 bytes; one more is 68.
        assert!(reaction_key(&"👍".repeat(16)).is_ok());
        assert!(reaction_key(&"👍".repeat(17)).is_err());
        for bad_key in ["", "a b", "\u{a0}", "x\ty", "\u{7}", "\u{85}"] {
            assert_eq!(
                reaction_key(bad_key).unwrap_err().code,
                ErrorCode::BadRequest
            );
        }
    }

    #[test]
    fn user_names() {
        assert!(user_name("alice").is_ok());
        assert!(user_name("9lives_.-").is_ok());
        assert!(user_name("").is_err());
        assert!(user_name("_alice").is_err());
        assert!(user_name("Alice").is_err());
        assert!(user_name(&"a".repeat(32)).is_ok());
        assert!(user_name(&"a".repeat(33)).is_err());
    }

    #[test]
    fn bodies() {
        assert_eq!(body(" \n\t", 10).unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(body("", 10).unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(
            body("12345678901", 10).unwrap_err().code,
            ErrorCode::TooLarge
        );
        assert!(body("\u{1b}[31mx", 10).is_ok());
    }

    #[test]
    fn titles_and_ids() {
        assert!(title("rust").is_ok());
        assert_eq!(title("   ").unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(
            title(&"x".repeat(257)).unwrap_err().code,
            ErrorCode::TooLarge
        );
        assert!(client_id("01JD-abc").is_ok());
        // Printable ASCII includes the space (0x20), not tabs or DEL.
        assert!(client_id("has space").is_ok());
        assert!(device("Alice laptop").is_ok());
        assert!(client_id("tab\there").is_err());
        assert!(client_id("del\u{7f}").is_err());
        assert!(device(&"d".repeat(65)).is_err());
    }
}
