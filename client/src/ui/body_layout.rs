//! Lays a parsed body ([`Doc`]) out at a width: prose is word-wrapped with
//! its styles, code lines are never wrapped (clipped with a visible `…`),
//! code blocks get a border. Records where link text lands so the renderer
//! can emit OSC 8 hyperlinks over exactly those cells.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use super::highlight::HlClass;
use super::markdown::{CODE, Doc, DocLine, EM, Inline, LINK, NOTE, STRIKE, STRONG};
use super::style::dim;

/// Link text on a laid-out line: `col` and `width` in columns from the
/// start of the body line, `link` an index into [`Doc::links`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkMark {
    pub line: usize,
    pub col: usize,
    pub width: usize,
    pub link: usize,
}

/// A code line on a laid-out body: `line` indexes [`BodyLines::lines`],
/// `doc_line` the [`Doc`]'s lines. Laid out plain; [`highlight_row`] colours
/// it once it is known to be on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRow {
    pub line: usize,
    pub doc_line: usize,
}

/// A body laid out at a width.
#[derive(Debug, Default)]
pub struct BodyLines {
    pub lines: Vec<Line<'static>>,
    pub links: Vec<LinkMark>,
    pub code_rows: Vec<CodeRow>,
}

impl BodyLines {
    /// Highlights every code row (for views that show a whole body).
    pub fn highlight_all(&mut self, doc: &Doc, width: usize, colors: bool) {
        for r in &self.code_rows {
            if let Some(spans) = highlight_row(doc, r.doc_line, width, colors) {
                self.lines[r.line].spans = spans;
            }
        }
    }
}

/// The spans of code line `doc_line` of `doc`, highlighted, laid out as
/// [`layout`] lays it out at `width` (None if it is not a code line).
pub fn highlight_row(
    doc: &Doc,
    doc_line: usize,
    width: usize,
    colors: bool,
) -> Option<Vec<Span<'static>>> {
    let DocLine::Code { prefix, block, row } = doc.lines.get(doc_line)? else {
        return None;
    };
    let runs = doc.code_blocks.get(*block)?.runs(*row);
    Some(code_line(prefix, &runs, width.max(4), colors))
}

/// A code line: prefix, border, the runs clipped to the width with `…`.
fn code_line(
    prefix: &str,
    runs: &[(HlClass, String)],
    width: usize,
    colors: bool,
) -> Vec<Span<'static>> {
    let mut spans = vec![
        Span::styled(prefix.to_owned(), dim(colors)),
        Span::styled("│ ", border(colors)),
    ];
    let avail = width.saturating_sub(prefix.width() + 2);
    let total: usize = runs.iter().map(|(_, t)| t.width()).sum();
    if total <= avail {
        spans.extend(
            runs.iter()
                .map(|(c, t)| Span::styled(t.clone(), c.style(colors))),
        );
        return spans;
    }
    // Clip to avail - 1 columns, then a visible ellipsis.
    let mut room = avail.saturating_sub(1);
    for (c, t) in runs {
        if room == 0 {
            break;
        }
        let part = clip(t, room);
        room -= part.width();
        let done = part.len() < t.len();
        spans.push(Span::styled(part, c.style(colors)));
        if done {
            break;
        }
    }
    spans.push(Span::styled("…", border(colors)));
    spans
}

/// The style of link text.
pub fn link_style(colors: bool) -> Style {
    let s = Style::new().add_modifier(Modifier::UNDERLINED);
    if colors { s.fg(Color::Blue) } else { s }
}

fn inline_style(attrs: u8, colors: bool) -> Style {
    let mut s = Style::new();
    if attrs & NOTE != 0 {
        return dim(colors);
    }
    if attrs & EM != 0 {
        s = s.add_modifier(Modifier::ITALIC);
    }
    if attrs & STRONG != 0 {
        s = s.add_modifier(Modifier::BOLD);
    }
    if attrs & STRIKE != 0 {
        s = s.add_modifier(Modifier::CROSSED_OUT);
    }
    if attrs & CODE != 0 && colors {
        s = s.fg(Color::Yellow);
    }
    if attrs & LINK != 0 {
        s = s.patch(link_style(colors));
    }
    s
}

/// The code-block border colour.
fn border(colors: bool) -> Style {
    dim(colors)
}

/// Lays `doc` out in `width` columns.
pub fn layout(doc: &Doc, width: usize, colors: bool) -> BodyLines {
    let width = width.max(4);
    let mut out = BodyLines::default();
    for (doc_line, line) in doc.lines.iter().enumerate() {
        match line {
            DocLine::Blank => out.lines.push(Line::default()),
            DocLine::Prose {
                prefix,
                cont,
                spans,
            } => prose(&mut out, prefix, cont, spans, width, colors),
            DocLine::CodeHead { prefix, lang } => {
                let label = if lang.is_empty() {
                    "┌─".to_owned()
                } else {
                    format!("┌─ {lang}")
                };
                let label = clip(&label, width.saturating_sub(prefix.width()));
                out.lines.push(Line::from(vec![
                    Span::styled(prefix.clone(), dim(colors)),
                    Span::styled(label, border(colors)),
                ]));
            }
            DocLine::Code { prefix, block, row } => {
                let text = doc
                    .code_blocks
                    .get(*block)
                    .and_then(|b| b.lines.get(*row))
                    .cloned()
                    .unwrap_or_default();
                out.code_rows.push(CodeRow {
                    line: out.lines.len(),
                    doc_line,
                });
                let plain = [(HlClass::Plain, text)];
                out.lines
                    .push(Line::from(code_line(prefix, &plain, width, colors)));
            }
        }
    }
    if out.lines.is_empty() {
        out.lines.push(Line::default());
    }
    out
}

/// The longest prefix of `s` (whole graphemes) at most `w` columns wide.
pub fn clip(s: &str, w: usize) -> String {
    let mut used = 0;
    let mut out = String::new();
    for g in s.graphemes(true) {
        let gw = g.width();
        if used + gw > w {
            break;
        }
        used += gw;
        out.push_str(g);
    }
    out
}

struct Cell<'a> {
    g: &'a str,
    w: usize,
    span: usize,
}

fn prose(
    out: &mut BodyLines,
    prefix: &str,
    cont: &str,
    spans: &[Inline],
    width: usize,
    colors: bool,
) {
    let no_color_code: Vec<String>;
    let texts: Vec<&str> = if colors {
        spans.iter().map(|s| s.text.as_str()).collect()
    } else {
        // Without colour inline code keeps its backticks: nothing else
        // would set it apart.
        no_color_code = spans
            .iter()
            .map(|s| {
                if s.attrs & CODE != 0 {
                    format!("`{}`", s.text)
                } else {
                    s.text.clone()
                }
            })
            .collect();
        no_color_code.iter().map(String::as_str).collect()
    };
    let cells: Vec<Cell<'_>> = texts
        .iter()
        .enumerate()
        .flat_map(|(span, t)| {
            t.graphemes(true).map(move |g| Cell {
                g,
                w: g.width(),
                span,
            })
        })
        .collect();
    let mut first = true;
    for (start, end) in wrap_ranges(&cells, width.saturating_sub(prefix.width()).max(1)) {
        let p = if first { prefix } else { cont };
        first = false;
        let line_no = out.lines.len();
        let mut line = vec![Span::styled(p.to_owned(), dim(colors))];
        let mut col = p.width();
        let mut i = start;
        while i < end {
            let span = cells[i].span;
            let mut text = String::new();
            let mut w = 0;
            while i < end && cells[i].span == span {
                text.push_str(cells[i].g);
                w += cells[i].w;
                i += 1;
            }
            if let Some(link) = spans[span].link.filter(|_| spans[span].attrs & LINK != 0) {
                out.links.push(LinkMark {
                    line: line_no,
                    col,
                    width: w,
                    link,
                });
            }
            col += w;
            line.push(Span::styled(text, inline_style(spans[span].attrs, colors)));
        }
        out.lines.push(Line::from(line));
    }
}

/// Greedy word wrap over grapheme cells: (start, end) per screen line;
/// spaces at a break are dropped, words longer than a line are broken.
fn wrap_ranges(cells: &[Cell<'_>], width: usize) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut w = 0;
    let mut last_space: Option<usize> = None;
    let mut i = 0;
    while i < cells.len() {
        let c = &cells[i];
        if w + c.w > width && i > start {
            let (end, next) = match last_space {
                Some(sp) if sp > start => (sp, sp + 1),
                _ => (i, i),
            };
            let mut e = end;
            while e > start && cells[e - 1].g == " " {
                e -= 1;
            }
            lines.push((start, e));
            start = next;
            while start < i && cells[start].g == " " {
                start += 1;
            }
            if start == i && c.g == " " {
                start += 1;
                i += 1;
            }
            w = cells[start..i].iter().map(|c| c.w).sum();
            last_space = (start..i).rev().find(|&k| cells[k].g == " ");
            continue;
        }
        if c.g == " " {
            last_space = Some(i);
        }
        w += c.w;
        i += 1;
    }
    lines.push((start, cells.len()));
    lines
}

#[cfg(test)]
mod tests {
    use super::super::markdown::doc;
    use super::*;

    fn plain(b: &BodyLines) -> Vec<String> {
        b.lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn prose_wraps_at_spaces_and_keeps_styles() {
        let b = layout(&doc("one **two** three four"), 9, true);
        assert_eq!(plain(&b), vec!["one two", "three", "four"]);
        assert_eq!(b.lines[0].spans[2].content, "two");
        assert!(
            b.lines[0].spans[2]
                .style
                .add_modifier
                .contains(Modifier::BOLD)
        );
    }

    #[test]
    fn code_lines_clip_with_ellipsis_and_never_wrap() {
        let b = layout(&doc("```\nabcdefghijkl\nab\n```"), 10, false);
        assert_eq!(plain(&b), vec!["┌─", "│ abcdefg…", "│ ab"]);
    }

    #[test]
    fn link_marks_follow_wrapping() {
        let b = layout(&doc("go to https://x.example/abc now"), 20, true);
        assert_eq!(plain(&b), vec!["go to", "https://x.example/ab", "c now"]);
        assert_eq!(
            b.links,
            vec![
                LinkMark {
                    line: 1,
                    col: 0,
                    width: 20,
                    link: 0
                },
                LinkMark {
                    line: 2,
                    col: 0,
                    width: 1,
                    link: 0
                }
            ]
        );
    }
}
