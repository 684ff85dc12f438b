//! Drawing protocol 1.1 (§9): the reply quote above a reply, reactions and
//! the reply count under a message, mentions of me highlighted, the
//! reaction picker, the conversation menu and the thread panel. Every text
//! here came from the network: it goes through `for_terminal` first.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::features::{COMMON_EMOJI, MENU, first_line, typed_key};
use super::keys::KeyAction;
use super::model::{LocalMessage, Notify, Seq};
use super::overlay::popup;
use super::render::truncate as clip;
use super::state::{AppState, ItemKey, ThreadPanel};
use super::style::{dim, highlight};
use super::thread_panel::thread_items;
use super::timeline::{LayoutCtx, format_time, item_lines};
use crate::sanitize::for_terminal;

/// `↳ bob: the first line…` above a reply (dim). `None`: the parent is not
/// held in the window.
pub fn quote_line(parent: Option<&LocalMessage>, width: usize, colors: bool) -> Line<'static> {
    let text = match parent {
        None => "↳ message not loaded".to_owned(),
        Some(p) if p.redacted => format!(
            "↳ {}: {}",
            for_terminal(&p.sender),
            super::timeline::DELETED
        ),
        Some(p) => format!(
            "↳ {}: {}",
            for_terminal(&p.sender),
            for_terminal(&first_line(p.body.as_deref()))
        ),
    };
    Line::from(Span::styled(
        clip(&text, width),
        dim(colors).add_modifier(Modifier::ITALIC),
    ))
}

fn mention_style(colors: bool) -> Style {
    if colors {
        Style::new()
            .fg(Color::Black)
            .bg(Color::Yellow)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }
}

/// Restyles every `@user` in `lines` that §9.3 counts as a mention of
/// `user` (`@bob.` and `@bob-` are; `@bobby` and `x@bob` are not).
pub fn highlight_mention(lines: &mut [Line<'static>], user: &str, colors: bool) {
    let needle = format!("@{user}");
    for line in lines.iter_mut() {
        if !line.spans.iter().any(|s| s.content.contains(&needle)) {
            continue;
        }
        let mut spans = Vec::with_capacity(line.spans.len() + 2);
        for span in line.spans.drain(..) {
            let text = span.content.to_string();
            let mut rest = text.as_str();
            let mut pieces = Vec::new();
            while let Some(at) = rest.find(&needle) {
                let end = at + needle.len();
                // §9.3: the name ends at a character that cannot be part of
                // one, or at `.` / `-`; the `@` starts the body or follows
                // such a character (so `x@alice` and `@alicex` are not me).
                let next = rest[end..].chars().next();
                let prev = rest[..at].chars().next_back();
                let name_char = |c: char| c.is_alphanumeric() || c == '_';
                if next.is_some_and(name_char) || prev.is_some_and(|c| name_char(c) || c == '.') {
                    pieces.push((rest[..end].to_owned(), span.style));
                    rest = &rest[end..];
                    continue;
                }
                if at > 0 {
                    pieces.push((rest[..at].to_owned(), span.style));
                }
                pieces.push((needle.clone(), span.style.patch(mention_style(colors))));
                rest = &rest[end..];
            }
            if !rest.is_empty() {
                pieces.push((rest.to_owned(), span.style));
            }
            spans.extend(pieces.into_iter().map(|(t, st)| Span::styled(t, st)));
        }
        line.spans = spans;
    }
}

/// The lines under a message: its reactions (`👍 3  🎉 1`, mine reversed)
/// and, for a thread root, `N replies · last HH:MM`.
pub fn under_message(m: &LocalMessage, width: usize, colors: bool) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    if !m.reactions.is_empty() {
        let mut spans: Vec<Span<'static>> = Vec::new();
        let mut w = 0;
        for r in &m.reactions {
            let text = format!("{} {}", clip(&for_terminal(&r.key), 16), r.count);
            let tw = text.width() + 2;
            if w + tw > width && !spans.is_empty() {
                out.push(Line::from(std::mem::take(&mut spans)));
                w = 0;
            }
            if !spans.is_empty() {
                spans.push(Span::raw("  "));
            }
            let style = if r.mine {
                Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
            } else {
                dim(colors)
            };
            spans.push(Span::styled(text, style));
            w += tw;
        }
        out.push(Line::from(spans));
    }
    if m.replies > 0 && !m.redacted {
        let noun = if m.replies == 1 { "reply" } else { "replies" };
        let mut text = format!("💬 {} {noun}", m.replies);
        if let Some(ts) = m.last_reply_ts {
            text.push_str(&format!(" · last {}", format_time(ts)));
        }
        out.push(Line::from(Span::styled(text, highlight(colors))));
    }
    out
}

/// The compose box's title while replying or in a thread, fitted to
/// `width` columns: who and what the next message answers (Alt+R's target,
/// or in the thread panel its selection, else its newest reply, else its
/// root), its first line cut to fit, then how to leave. The way out is cut
/// before the name is.
pub fn compose_banner(s: &AppState, width: usize) -> Option<String> {
    let esc = s.keys.describe_keys(KeyAction::Cancel);
    let (sender, preview, way_out) = if let Some(r) = &s.compose.reply_to {
        (
            r.sender.clone(),
            r.preview.clone(),
            format!("{esc} cancels"),
        )
    } else {
        let panel = s.thread.as_ref()?;
        let root = || super::features::message(s, panel.root);
        match super::thread_panel::thread_target(panel).or_else(root) {
            Some(m) => (
                m.sender.clone(),
                preview_of(m),
                format!("{esc} closes the thread"),
            ),
            None => {
                let text = format!("replying in the thread ({esc} closes it)");
                return Some(clip(&text, width));
            }
        }
    };
    let head = format!("replying to {}: ", clip(&for_terminal(&sender), 20));
    let preview = for_terminal(&preview);
    // The first line gets what is left, at least a few columns, else the
    // way out goes.
    for tail in [format!(" ({way_out})"), String::new()] {
        let room = width.saturating_sub(head.width() + tail.width());
        if room >= 8 || (tail.is_empty() && room > 0) {
            return Some(format!("{head}{}{tail}", clip(&preview, room)));
        }
    }
    Some(clip(head.trim_end(), width))
}

/// A message's first line as a quote shows it (deleted: the placeholder).
fn preview_of(m: &LocalMessage) -> String {
    if m.redacted {
        super::timeline::DELETED.to_owned()
    } else {
        first_line(m.body.as_deref())
    }
}

/// The reaction picker for message `target`.
pub fn render_picker(
    s: &AppState,
    area: Rect,
    buf: &mut Buffer,
    target: Seq,
    typed: &str,
    selected: usize,
) {
    let rect = popup(area, 52, 7);
    super::overlay::clear_popup(rect, buf);
    let block = Block::default().borders(Borders::ALL).title(" React ");
    let inner = block.inner(rect);
    block.render(rect, buf);
    // Which message the reaction goes to: `to bob: release at 10?`.
    let about = super::features::message(s, target).map_or_else(
        || format!("to message {target}"),
        |m| {
            format!(
                "to {}: {}",
                clip(&for_terminal(&m.sender), 20),
                for_terminal(&first_line(m.body.as_deref()))
            )
        },
    );
    let mut spans = Vec::new();
    for (i, e) in COMMON_EMOJI.iter().enumerate() {
        let style = if i == selected && typed.is_empty() {
            highlight(s.colors)
        } else {
            Style::new()
        };
        spans.push(Span::styled(format!(" {e} "), style));
    }
    let shown = for_terminal(typed).into_owned();
    let hint = match typed_key(typed) {
        Some(k) if !typed.is_empty() => format!("→ {}", for_terminal(&k)),
        _ if typed.is_empty() => String::new(),
        _ => "(unknown)".to_owned(),
    };
    let esc = s.keys.describe_keys(KeyAction::Cancel);
    let lines = vec![
        Line::from(Span::styled(
            clip(&about, usize::from(inner.width)),
            dim(s.colors),
        )),
        Line::from(spans),
        Line::from(vec![
            Span::raw("or type: "),
            Span::styled(shown, Style::new().add_modifier(Modifier::UNDERLINED)),
            Span::raw(" "),
            Span::styled(hint, dim(s.colors)),
        ]),
        Line::from(""),
        Line::from(Span::styled(
            // The longest that fits the box.
            [
                format!("←/→ choose · Enter react (again: remove) · {esc}"),
                format!("←/→ choose · Enter react · {esc}"),
            ]
            .into_iter()
            .find(|h| h.width() <= usize::from(inner.width))
            .unwrap_or_else(|| format!("←/→ · Enter · {esc}")),
            dim(s.colors),
        )),
    ];
    Paragraph::new(lines).render(inner, buf);
}

/// The conversation menu, with the current values.
pub fn render_menu(s: &AppState, area: Rect, buf: &mut Buffer, selected: usize) {
    let rect = popup(area, 46, u16::try_from(MENU.len() + 2).unwrap_or(12));
    super::overlay::clear_popup(rect, buf);
    let row = s.open_row();
    let title = row.map_or(" Conversation ".to_owned(), |r| {
        format!(" {} ", clip(&for_terminal(&r.title), 30))
    });
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(rect);
    block.render(rect, buf);
    let current = |i: usize| -> bool {
        row.is_some_and(|r| match i {
            0 => r.notify == Notify::All,
            1 => r.notify == Notify::Mentions,
            2 => r.notify == Notify::None,
            3 => r.pinned,
            4 => r.archived,
            5 => s.archived_open,
            _ => false,
        })
    };
    let lines: Vec<Line> = MENU
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let mark = if current(i) { "✓ " } else { "  " };
            let text = format!("{mark}{label}");
            if i == selected {
                Line::from(Span::styled(text, highlight(s.colors)))
            } else {
                Line::from(text)
            }
        })
        .collect();
    Paragraph::new(lines).render(inner, buf);
}

/// The thread panel's lines, and where its selected message's lines are.
pub fn thread_lines(
    s: &AppState,
    panel: &ThreadPanel,
    ctx: &LayoutCtx<'_>,
) -> (Vec<Line<'static>>, Option<std::ops::Range<usize>>) {
    let items = thread_items(panel);
    let complete = panel.window.as_ref().is_some_and(|w| w.complete);
    // The panel's own selection, not the timeline's.
    let key = panel.selected.map(ItemKey::Seq);
    let ctx = LayoutCtx {
        selected: key.as_ref(),
        ..*ctx
    };
    let mut lines: Vec<Line<'static>> = Vec::new();
    if panel.window.as_ref().is_none_or(|w| w.root.is_none()) {
        lines.push(Line::from(Span::styled(
            format!("root #{} not loaded", panel.root),
            dim(s.colors),
        )));
    }
    let mut selected = None;
    // A reply to another reply quotes it, as in the timeline.
    for idx in 0..items.len() {
        let start = lines.len();
        lines.extend(item_lines(&items, idx, &ctx));
        if key.as_ref().is_some_and(|k| *k == ItemKey::of(&items[idx])) {
            selected = Some(start..lines.len());
        }
    }
    if panel.loading || !complete {
        let text = if panel.loading {
            "loading replies…"
        } else {
            "some replies may not be loaded"
        };
        lines.push(Line::from(Span::styled(text.to_owned(), dim(s.colors))));
    }
    (lines, selected)
}

/// The thread panel in the timeline's place: the root, then the replies
/// (the newest at the bottom, as the timeline).
pub fn render_thread(s: &AppState, area: Rect, buf: &mut Buffer, ctx: &LayoutCtx<'_>) {
    let Some(panel) = &s.thread else {
        return;
    };
    let block = Block::default().borders(Borders::TOP).title(format!(
        " Thread — {} closes ",
        s.keys.describe_keys(KeyAction::Cancel)
    ));
    let inner = block.inner(area);
    block.render(area, buf);
    let (lines, _) = thread_lines(s, panel, ctx);
    // Scrolled up by `panel.scroll` lines (never past the root).
    let h = usize::from(inner.height);
    let bottom = lines
        .len()
        .saturating_sub(panel.scroll)
        .max(h.min(lines.len()));
    let lines: Vec<Line> = lines
        .into_iter()
        .take(bottom)
        .skip(bottom.saturating_sub(h))
        .collect();
    let n = u16::try_from(lines.len()).unwrap_or(inner.height);
    let rect = Rect {
        y: inner.bottom() - n.min(inner.height),
        height: n.min(inner.height),
        ..inner
    };
    Paragraph::new(lines).render(rect, buf);
}
