//! Bytes written to the terminal outside ratatui: the bell, OSC 9 desktop
//! notifications and the window title. All text is sanitized first, so a
//! hostile title cannot end the OSC early and inject its own sequence.

use std::io::{self, Write};

use unicode_segmentation::UnicodeSegmentation;

use crate::sanitize::for_terminal;

/// Longest notification body we send, in graphemes (terminals truncate
/// anyway; cutting by grapheme never splits an emoji sequence).
const MAX_NOTIFY_GRAPHEMES: usize = 200;

/// BEL.
pub fn write_bell(out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    out.write_all(b"\x07")?;
    out.flush()
}

/// `ESC ] 9 ; text BEL` (iTerm2/Windows Terminal/kitty/WezTerm desktop notification).
pub fn write_osc9(out: &mut (impl Write + ?Sized), title: &str, body: &str) -> io::Result<()> {
    let text = format!("{}: {}", for_terminal(title), for_terminal(body));
    let text: String = text.graphemes(true).take(MAX_NOTIFY_GRAPHEMES).collect();
    write!(out, "\x1b]9;{text}\x07")?;
    out.flush()
}

/// `ESC ] 2 ; title BEL`: the window title.
pub fn write_title(out: &mut (impl Write + ?Sized), title: &str) -> io::Result<()> {
    write!(out, "\x1b]2;{}\x07", for_terminal(title))?;
    out.flush()
}

/// The window title for a user and unread count.
pub fn window_title(user: &str, unread: u64) -> String {
    if unread > 0 {
        format!("convo — {user} ({unread} unread)")
    } else {
        format!("convo — {user}")
    }
}

#[cfg(test)]
mod tests {
    use super::write_osc9;

    #[test]
    fn a_long_notification_is_cut_between_graphemes() {
        // "a: " then 197 ZWJ families: the cut falls after whole families.
        let family = "👨\u{200d}👩\u{200d}👧";
        let mut out = Vec::new();
        write_osc9(&mut out, "a", &family.repeat(300)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let body = text
            .strip_prefix("\x1b]9;a: ")
            .and_then(|t| t.strip_suffix('\x07'))
            .unwrap();
        assert_eq!(body, family.repeat(197));
    }
}
