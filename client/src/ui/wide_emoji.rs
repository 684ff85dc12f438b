//! Emoji whose width terminals disagree on: a text-default character made
//! an emoji by U+FE0F (`❤️` = U+2764 U+FE0F). Unicode (and `unicode-width`,
//! so ratatui) count it 2 columns; tmux 3.3a and other wcwidth-based
//! terminals draw it in 1. ratatui then skips the covered column, which such
//! a terminal never overwrote: a stale character shows after the heart.
//! After each frame these cells are written again, the covered column first
//! (a space) and then the emoji over it, which is right for either width.

use ratatui::buffer::{Buffer, Cell};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Whether terminals may draw `sym` narrower than its string width.
pub fn is_ambiguous(sym: &str) -> bool {
    sym.contains('\u{FE0F}')
        && sym.width() > sym.chars().map(|c| c.width().unwrap_or(0)).sum::<usize>()
}

/// The cells to write after the frame, in order: for each ambiguous emoji
/// at `(x, y)`, a blank at `(x + 1, y)` then the emoji at `(x, y)`.
pub fn rewrite_cells(buf: &Buffer) -> Vec<(u16, u16, Cell)> {
    let area = buf.area;
    let mut out = Vec::new();
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let cell = &buf[(x, y)];
            if !is_ambiguous(cell.symbol()) {
                continue;
            }
            if x + 1 < area.right() {
                let mut blank = cell.clone();
                blank.set_symbol(" ");
                out.push((x + 1, y, blank));
            }
            out.push((x, y, cell.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vs16_emoji_from_text_characters_are_ambiguous() {
        assert!(is_ambiguous("❤️"));
        assert!(is_ambiguous("✔️"));
        assert!(!is_ambiguous("👍"));
        assert!(!is_ambiguous("😂"));
        assert!(!is_ambiguous("a"));
        // U+FE0F after an emoji that is already wide changes nothing.
        assert!(!is_ambiguous("👍\u{FE0F}"));
    }
}
