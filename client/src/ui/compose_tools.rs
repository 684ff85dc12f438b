//! The developer keys of the compose box and timeline: grapheme-aware
//! editing (every key from the key map), the draft in `$EDITOR`, `/code
//! LANG`, the rendered preview, the links of a message (open / copy) and its
//! code blocks in `$PAGER`. State changes only; drawing of the two overlays
//! is in [`render_links`] / [`render_preview`].

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use unicode_segmentation::GraphemeCursor;

use super::external::External;
use super::keys::KeyAction;
use super::markdown::{Doc, doc};
use super::model::TimelineItem;
use super::overlay::popup;
use super::state::{AppState, Effect, ItemKey, Overlay};
use super::style::{dim, highlight};
use crate::sanitize::for_terminal;

/// Byte offset of char index `ci`.
fn byte_of(text: &str, ci: usize) -> usize {
    text.char_indices().nth(ci).map_or(text.len(), |(b, _)| b)
}

/// Char index of the grapheme boundary before / after char index `ci`: a
/// skin-toned emoji or a ZWJ family is one step.
pub fn grapheme_step(text: &str, ci: usize, forward: bool) -> usize {
    let at = byte_of(text, ci);
    let mut cur = GraphemeCursor::new(at, text.len(), true);
    let next = if forward {
        cur.next_boundary(text, 0)
    } else {
        cur.prev_boundary(text, 0)
    };
    match next {
        Ok(Some(b)) => text[..b].chars().count(),
        _ => ci,
    }
}

/// The char index where the word before char index `ci` starts: back over
/// whitespace, then over the rest of the word (readline's word rubout).
pub fn word_start(text: &str, ci: usize) -> usize {
    let chars: Vec<char> = text.chars().take(ci).collect();
    let mut i = chars.len();
    while i > 0 && chars[i - 1].is_whitespace() {
        i -= 1;
    }
    while i > 0 && !chars[i - 1].is_whitespace() {
        i -= 1;
    }
    i
}

/// The char index just past the word after char index `ci`.
pub fn word_end(text: &str, ci: usize) -> usize {
    let rest: Vec<char> = text.chars().skip(ci).collect();
    let mut i = 0;
    while i < rest.len() && rest[i].is_whitespace() {
        i += 1;
    }
    while i < rest.len() && !rest[i].is_whitespace() {
        i += 1;
    }
    ci + i
}

/// A compose-box editing action; None when it isn't one.
pub fn edit_compose(state: &mut AppState, action: Option<KeyAction>) -> Option<()> {
    let c = &mut state.compose;
    let len = c.text.chars().count();
    match action? {
        KeyAction::CursorLeft => c.cursor = grapheme_step(&c.text, c.cursor, false),
        KeyAction::CursorRight => c.cursor = grapheme_step(&c.text, c.cursor, true).min(len),
        KeyAction::WordLeft => c.cursor = word_start(&c.text, c.cursor),
        KeyAction::WordRight => c.cursor = word_end(&c.text, c.cursor),
        KeyAction::DeleteWordBack => {
            let from = word_start(&c.text, c.cursor);
            let (a, b) = (byte_of(&c.text, from), byte_of(&c.text, c.cursor));
            c.text.replace_range(a..b, "");
            c.cursor = from;
        }
        KeyAction::LineStart => c.cursor = 0,
        KeyAction::LineEnd => c.cursor = len,
        KeyAction::DeleteBack if c.cursor > 0 => {
            let from = grapheme_step(&c.text, c.cursor, false);
            let (a, b) = (byte_of(&c.text, from), byte_of(&c.text, c.cursor));
            c.text.replace_range(a..b, "");
            c.cursor = from;
        }
        KeyAction::DeleteForward if c.cursor < len => {
            let to = grapheme_step(&c.text, c.cursor, true);
            let (a, b) = (byte_of(&c.text, c.cursor), byte_of(&c.text, to));
            c.text.replace_range(a..b, "");
        }
        KeyAction::DeleteBack | KeyAction::DeleteForward => {}
        // Clears the text only: an edit stays an edit (the box still says
        // `Edit message`, Esc cancels it), as after Backspace to empty.
        KeyAction::ClearCompose => {
            c.text.clear();
            c.cursor = 0;
        }
        _ => return None,
    }
    Some(())
}

/// Editor, preview, links, code view. None when `action` is none of them.
pub fn dev_key(state: &mut AppState, action: Option<KeyAction>) -> Option<Vec<Effect>> {
    let action = action?;
    if matches!(action, KeyAction::Links | KeyAction::ViewCode) && state.open.is_none() {
        state.set_error(state.keys.no_conversation());
        return Some(Vec::new());
    }
    match action {
        KeyAction::Editor => Some(vec![Effect::External(External::Editor {
            draft: state.compose.text.clone(),
        })]),
        KeyAction::Preview => {
            if state.compose.text.trim().is_empty() {
                state.set_info("nothing to preview: the draft is empty");
            } else {
                state.overlay = Overlay::Preview;
            }
            Some(Vec::new())
        }
        KeyAction::Links => {
            match target_doc(state, |d| !d.links.is_empty()) {
                Some(d) => {
                    state.overlay = Overlay::Links {
                        urls: d.links.clone(),
                        selected: 0,
                    }
                }
                None => state.set_info(format!(
                    "no links in the selected message (select one with {})",
                    state.keys.first_key(super::keys::KeyAction::SelectUp)
                )),
            }
            Some(Vec::new())
        }
        KeyAction::ViewCode => Some(match target_doc(state, |d| !d.code_blocks.is_empty()) {
            Some(d) => {
                let text = d
                    .code_blocks
                    .iter()
                    .map(|b| b.lines.join("\n"))
                    .collect::<Vec<_>>()
                    .join("\n\n");
                vec![Effect::External(External::Pager { text: text + "\n" })]
            }
            None => {
                state.set_info(format!(
                    "no code block in the selected message (select one with {})",
                    state.keys.first_key(super::keys::KeyAction::SelectUp)
                ));
                Vec::new()
            }
        }),
        _ => None,
    }
}

/// The parsed body of the selected message, or else of the newest message
/// in the window that has what `wanted` asks for.
fn target_doc(state: &AppState, wanted: impl Fn(&Doc) -> bool) -> Option<std::rc::Rc<Doc>> {
    let open = state.open.as_ref()?;
    let body_of = |item: &TimelineItem| match item {
        TimelineItem::Message(m) if !m.redacted => m.body.clone(),
        TimelineItem::Pending(p) => p.body.clone(),
        _ => None,
    };
    if let Some(sel) = &open.selected {
        let item = open.items.iter().find(|i| ItemKey::of(i) == *sel)?;
        return Some(doc(&body_of(item)?)).filter(|d| wanted(d));
    }
    open.items
        .iter()
        .rev()
        .filter_map(body_of)
        .map(|b| doc(&b))
        .find(|d| wanted(d))
}

/// The editor's answer: the text replaces the draft (to review before
/// sending), or the draft stays and the reason shows.
pub fn editor_done(state: &mut AppState, result: Result<String, String>) {
    match result {
        Ok(text) => {
            state.compose.cursor = text.chars().count();
            state.compose.text = text;
            state.overlay = Overlay::None;
        }
        Err(why) => state.set_error(why),
    }
}

/// `/code LANG` on the first line of the draft: the lines after it become
/// a fenced block tagged LANG. None when the draft is not a `/code` command.
pub fn code_command(text: &str) -> Option<Result<String, String>> {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let args = first.strip_prefix("/code")?;
    if !(args.is_empty() || args.starts_with(' ')) {
        return None;
    }
    let lang = args.trim();
    if lang.contains(char::is_whitespace) || lang.contains('`') {
        return Some(Err(
            "usage: /code LANG, then the code on the next lines".into()
        ));
    }
    if rest.trim().is_empty() {
        return Some(Err(
            "nothing to wrap: put the code on the lines after /code LANG (Alt+Enter, or paste it)"
                .into(),
        ));
    }
    Some(Ok(super::markdown::fence(rest, lang)))
}

/// Keys in the links overlay: Up/Down pick, Enter opens, `c` copies.
pub fn links_key(state: &mut AppState, ev: KeyEvent, action: Option<KeyAction>) -> Vec<Effect> {
    let Overlay::Links { urls, selected } = &mut state.overlay else {
        return Vec::new();
    };
    let plain = !ev
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    match (ev.code, action) {
        (_, Some(KeyAction::Cancel | KeyAction::Links)) => state.overlay = Overlay::None,
        (KeyCode::Up, _) => *selected = selected.saturating_sub(1),
        (KeyCode::Down, _) => *selected = (*selected + 1).min(urls.len().saturating_sub(1)),
        (_, Some(KeyAction::Send)) => {
            let url = urls.get(*selected).cloned();
            state.overlay = Overlay::None;
            return url
                .map(External::OpenUrl)
                .map(Effect::External)
                .into_iter()
                .collect();
        }
        (KeyCode::Char('c' | 'y'), _) if plain => {
            let url = urls.get(*selected).cloned();
            state.overlay = Overlay::None;
            if let Some(u) = &url {
                state.set_info(format!("copied {}", for_terminal(u)));
            }
            return url
                .map(External::Copy)
                .map(Effect::External)
                .into_iter()
                .collect();
        }
        _ => {}
    }
    Vec::new()
}

/// The links overlay.
pub fn render_links(
    state: &AppState,
    area: Rect,
    buf: &mut Buffer,
    urls: &[String],
    selected: usize,
) {
    let h = u16::try_from(urls.len().min(12) + 4).unwrap_or(16);
    let rect = popup(area, 72, h);
    super::overlay::clear_popup(rect, buf);
    let block = Block::default().borders(Borders::ALL).title(" Links ");
    let inner = block.inner(rect);
    block.render(rect, buf);
    let rows = usize::from(inner.height.saturating_sub(1));
    let offset = selected.saturating_sub(rows.saturating_sub(1));
    let mut lines: Vec<Line> = urls
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows)
        .map(|(i, u)| {
            let text = format!("{}. {}", i + 1, for_terminal(u));
            if i == selected {
                Line::from(Span::styled(text, highlight(state.colors)))
            } else {
                Line::from(text)
            }
        })
        .collect();
    lines.push(Line::from(Span::styled(
        format!(
            "Enter open · c copy (OSC 52) · {} close",
            state.keys.describe_keys(KeyAction::Cancel)
        ),
        dim(state.colors),
    )));
    Paragraph::new(lines).render(inner, buf);
}

/// The draft as the timeline will show it.
pub fn render_preview(state: &AppState, area: Rect, buf: &mut Buffer) {
    let w = area.width.saturating_sub(4).max(10);
    let rect = popup(area, w, area.height.saturating_sub(2));
    super::overlay::clear_popup(rect, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(
            " Preview ({} closes) ",
            state.keys.describe_keys(KeyAction::Cancel)
        ))
        .title_style(Style::new().add_modifier(Modifier::BOLD));
    let inner = block.inner(rect);
    block.render(rect, buf);
    let d = doc(&state.compose.text);
    let width = usize::from(inner.width);
    let mut laid = super::body_layout::layout(&d, width, state.colors);
    laid.highlight_all(&d, width, state.colors);
    Paragraph::new(laid.lines).render(inner, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphemes_step_as_one() {
        let family = "a👨\u{200D}👩\u{200D}👧b👍🏽";
        // a | family (5 chars) | b | thumbs (2 chars)
        assert_eq!(grapheme_step(family, 1, true), 6);
        assert_eq!(grapheme_step(family, 6, false), 1);
        assert_eq!(grapheme_step(family, 9, false), 7);
        assert_eq!(grapheme_step(family, 9, true), 9);
    }

    #[test]
    fn code_command_wraps_the_lines_after_it() {
        assert_eq!(
            code_command("/code rust\nfn a() {}\n"),
            Some(Ok("```rust\nfn a() {}\n```".to_owned()))
        );
        assert_eq!(
            code_command("/code\nx ``` y"),
            Some(Ok("````\nx ``` y\n````".to_owned()))
        );
        assert!(matches!(code_command("/code rust"), Some(Err(_))));
        assert_eq!(code_command("/codex"), None);
        assert_eq!(code_command("hello"), None);
    }
}
