//! Turns untrusted text (bodies, names, titles) into terminal-safe text.
//!
//! Everything that reaches the terminal — ratatui cells, the window title,
//! OSC 9 notifications, anything printed after exit — goes through here first.
//! Rules (each replacement is visible and harmless, never silently dropped, so
//! a reader can see that something odd was sent):
//! - C0 controls and DEL become Unicode "control pictures" (ESC → `␛`, BEL → `␇`,
//!   CR → `␍`, tab → `␉`); in the multi-line variant `\n` stays a line break.
//! - C1 controls (U+0080–U+009F, e.g. the 8-bit CSI U+009B) become `<U+009B>`.
//! - Bidi overrides/isolates/marks and other invisible format characters that
//!   can reorder or hide text become `<U+202E>`-style tags.
//! - A combining mark with nothing to combine with (start of text or line)
//!   becomes a tag, because on its own it would merge into whatever cell the
//!   terminal drew before it and shift the columns after it.
//!
//! ZWJ, ZWNJ, variation selectors and emoji tag characters are kept: emoji
//! sequences and some scripts need them, and they only ever join to the
//! preceding base character.

use std::borrow::Cow;
use std::fmt::Write as _;

use unicode_width::UnicodeWidthChar;

/// Sanitizes a single-line string (names, titles, previews): every control
/// character, newlines included, becomes a visible replacement.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    sanitize(s, false)
}

/// Sanitizes a message body: `\n` is kept as a line break (a `\r\n` pair
/// becomes one break), everything else is escaped as in [`for_terminal`].
pub fn for_terminal_multiline(s: &str) -> Cow<'_, str> {
    sanitize(s, true)
}

/// What to do with one character.
enum Class {
    Keep,
    /// A replacement that is always visible.
    Replace(char),
    /// Shown as `<U+XXXX>`.
    Tag,
    /// A zero-width combining mark: kept after a base character, tagged otherwise.
    Combining,
}

fn classify(c: char, multiline: bool) -> Class {
    let cp = c as u32;
    match cp {
        0x0A if multiline => Class::Keep,
        // C0 controls map onto U+2400..U+241F, which mirror them one to one.
        0x00..=0x1F => Class::Replace(char::from_u32(0x2400 + cp).unwrap_or('\u{FFFD}')),
        0x7F => Class::Replace('\u{2421}'),
        0x80..=0x9F => Class::Tag,
        // Bidi embeddings/overrides, isolates, marks and the Arabic letter mark.
        0x202A..=0x202E | 0x2066..=0x2069 | 0x200E | 0x200F | 0x061C => Class::Tag,
        // Invisible format characters: soft hyphen, Mongolian vowel separator,
        // zero-width space, line/paragraph separators (some terminals break the
        // line), word joiner & invisible operators, BOM, interlinear annotation.
        0x00AD | 0x180E | 0x200B | 0x2028 | 0x2029 | 0x2060..=0x2064 | 0xFEFF => Class::Tag,
        0xFFF9..=0xFFFB => Class::Tag,
        // Kept joiners/selectors: ZWNJ, ZWJ, variation selectors, emoji tags.
        0x200C | 0x200D | 0xFE00..=0xFE0F | 0xE0020..=0xE007F | 0xE0100..=0xE01EF => Class::Keep,
        _ if c.width() == Some(0) => Class::Combining,
        _ => Class::Keep,
    }
}

fn sanitize(s: &str, multiline: bool) -> Cow<'_, str> {
    // Fast path: most text is plain and is returned borrowed.
    let mut base_before = false;
    let mut clean = true;
    for c in s.chars() {
        match classify(c, multiline) {
            Class::Keep => base_before = c != '\n',
            Class::Combining if base_before => {}
            _ => {
                clean = false;
                break;
            }
        }
    }
    if clean {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut base_before = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if multiline && c == '\r' && chars.peek() == Some(&'\n') {
            // A CRLF line ending is just a line break; a lone CR is escaped.
            continue;
        }
        match classify(c, multiline) {
            Class::Keep => {
                out.push(c);
                base_before = c != '\n';
            }
            Class::Replace(r) => {
                out.push(r);
                base_before = true;
            }
            Class::Combining if base_before => out.push(c),
            Class::Tag | Class::Combining => {
                let _ = write!(out, "<U+{:04X}>", c as u32);
                base_before = true;
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let s = "hello, 世界 👋🏽 café";
        assert!(matches!(for_terminal(s), Cow::Borrowed(_)));
        assert_eq!(for_terminal(s), s);
    }

    #[test]
    fn escape_sequences_become_control_pictures() {
        assert_eq!(for_terminal("a\x1b[31mred\x07"), "a␛[31mred␇");
        assert_eq!(for_terminal("\x1b]52;c;AAAA\x1b\\"), "␛]52;c;AAAA␛\\");
        assert_eq!(for_terminal("x\ry\tz\x7f"), "x␍y␉z␡");
    }

    #[test]
    fn c1_and_bidi_become_tags() {
        assert_eq!(for_terminal("a\u{9b}31m"), "a<U+009B>31m");
        assert_eq!(for_terminal("abc\u{202E}fed"), "abc<U+202E>fed");
        assert_eq!(for_terminal("\u{2066}x\u{2069}"), "<U+2066>x<U+2069>");
    }

    #[test]
    fn newlines_kept_only_in_multiline() {
        assert_eq!(for_terminal("a\nb"), "a␊b");
        assert_eq!(for_terminal_multiline("a\nb\r\nc\rd"), "a\nb\nc␍d");
    }

    #[test]
    fn lone_combining_marks_are_tagged_but_attached_ones_kept() {
        assert_eq!(for_terminal("e\u{301}"), "e\u{301}");
        assert_eq!(for_terminal("\u{301}x"), "<U+0301>x");
        assert_eq!(for_terminal_multiline("a\n\u{301}"), "a\n<U+0301>");
    }

    #[test]
    fn emoji_sequences_survive() {
        let family = "👨\u{200D}👩\u{200D}👧";
        assert_eq!(for_terminal(family), family);
        assert_eq!(for_terminal("❤\u{FE0F}"), "❤\u{FE0F}");
    }
}
