//! OSC 8 hyperlinks. After ratatui has drawn a frame, the cells under link
//! text are written once more, wrapped in `ESC ] 8 ; ; URL ESC \` … `ESC ] 8
//! ; ; ESC \`, so terminals that support OSC 8 make them clickable (others
//! ignore the sequence). The sequences never enter ratatui's buffer, whose
//! diff would count their bytes as columns. The target is re-checked here:
//! only http, https and mailto URLs of printable ASCII are ever written.

use ratatui::buffer::{Buffer, Cell};
use unicode_width::UnicodeWidthStr;

use super::markdown::allowed_url;

/// `hyperlinks = auto|on|off` in config.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hyperlinks {
    /// On unless `TERM` names a terminal known not to understand OSC 8.
    #[default]
    Auto,
    On,
    Off,
}

impl Hyperlinks {
    /// Whether to emit OSC 8, given the `TERM` variable.
    pub fn enabled(self, term: Option<&str>) -> bool {
        match self {
            Hyperlinks::On => true,
            Hyperlinks::Off => false,
            Hyperlinks::Auto => {
                let term = term.unwrap_or("");
                !(term.is_empty() || term == "dumb" || term == "linux" || term.starts_with("vt"))
            }
        }
    }
}

/// Opens a hyperlink to `url` (None unless the URL is allowed).
pub fn open_seq(url: &str) -> Option<String> {
    allowed_url(url).then(|| format!("\x1b]8;;{url}\x1b\\"))
}

/// Closes a hyperlink.
pub const CLOSE: &str = "\x1b]8;;\x1b\\";

/// The cells to write again, as (x, y, cell) with the OSC 8 sequences in the
/// first and last cell of each link run. `links` are (x, y, width, url).
pub fn link_cells(buf: &Buffer, links: &[(u16, u16, u16, String)]) -> Vec<(u16, u16, Cell)> {
    let mut out = Vec::new();
    for (x0, y, w, url) in links {
        let Some(open) = open_seq(url) else {
            continue;
        };
        let area = buf.area;
        if *y < area.top() || *y >= area.bottom() {
            continue;
        }
        let start = out.len();
        let mut x = *x0;
        let end = x0.saturating_add(*w).min(area.right());
        while x < end {
            let cell = buf[(x, *y)].clone();
            // The cell after a wide character belongs to it: not written.
            let cw = u16::try_from(cell.symbol().width().max(1)).unwrap_or(1);
            out.push((x, *y, cell));
            x = x.saturating_add(cw);
        }
        if out.len() == start {
            continue;
        }
        let first = &mut out[start].2;
        let sym = format!("{open}{}", first.symbol());
        first.set_symbol(&sym);
        if let Some((_, _, last)) = out.last_mut() {
            let sym = format!("{}{CLOSE}", last.symbol());
            last.set_symbol(&sym);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;

    #[test]
    fn only_allowed_schemes_get_a_sequence() {
        assert_eq!(
            open_seq("https://a.example/x").as_deref(),
            Some("\x1b]8;;https://a.example/x\x1b\\")
        );
        assert!(open_seq("mailto:a@b.example").is_some());
        for bad in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "https://a\x1b]8;;x",
            "https://a\x07b",
            "https://a b",
            "http://",
        ] {
            assert_eq!(open_seq(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn link_runs_wrap_first_and_last_cell() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 1));
        buf.set_string(0, 0, "ab链c", ratatui::style::Style::new());
        let cells = link_cells(&buf, &[(0, 0, 5, "http://x.example".into())]);
        let syms: Vec<(u16, &str)> = cells.iter().map(|(x, _, c)| (*x, c.symbol())).collect();
        assert_eq!(
            syms,
            vec![
                (0, "\x1b]8;;http://x.example\x1b\\a"),
                (1, "b"),
                (2, "链"),
                (4, "c\x1b]8;;\x1b\\")
            ]
        );
        assert!(link_cells(&buf, &[(0, 0, 5, "javascript:x".into())]).is_empty());
    }

    #[test]
    fn auto_follows_term() {
        assert!(Hyperlinks::Auto.enabled(Some("xterm-256color")));
        assert!(!Hyperlinks::Auto.enabled(Some("linux")));
        assert!(!Hyperlinks::Auto.enabled(None));
        assert!(Hyperlinks::On.enabled(None));
        assert!(!Hyperlinks::Off.enabled(Some("xterm")));
    }
}
