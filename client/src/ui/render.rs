//! Drawing: `impl Widget for &View` paints the whole screen from `AppState`
//! (list, header, timeline, typing/notice line, compose box, status bar,
//! overlays). Every untrusted string passes through `sanitize` on its way.

use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use unicode_width::UnicodeWidthStr;

use super::keys::KeyAction;
use super::layout::{ROW_HEIGHT, areas, list_offset};
use super::model::{ConnState, ConvKind, EntryKind, Notify};
use super::overlay::render_overlay;
use super::scroll::{ctx_of, newer_below};
use super::state::AppState;
use super::style::{dim, error, highlight};
use super::timeline::{spinner, visible, wrap};
use crate::sanitize::{for_terminal, for_terminal_multiline};

/// The whole screen, borrowed from the state for one frame.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub state: &'a AppState,
}

impl Widget for &View<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let s = self.state;
        let a = areas(s, area);
        render_list(s, a.list, buf);
        render_header(s, a.header, buf);
        render_timeline(s, a.timeline, buf);
        render_info(s, a.info, buf);
        render_compose(s, a.compose, buf);
        render_status(s, a.status, buf);
        render_overlay(s, area, buf);
    }
}

impl View<'_> {
    /// Where the terminal cursor goes (in the compose box), if visible.
    pub fn cursor(&self, area: Rect) -> Option<Position> {
        let s = self.state;
        if s.overlay != super::state::Overlay::None {
            return None;
        }
        let c = areas(s, area).compose;
        if c.width < 3 || c.height < 3 {
            return None;
        }
        let before: String = s.compose.text.chars().take(s.compose.cursor).collect();
        let clean = for_terminal_multiline(&before);
        let inner_w = usize::from(c.width - 2);
        let mut row = 0usize;
        let mut col = 0usize;
        for (i, para) in clean.split('\n').enumerate() {
            let lines = wrap(para, inner_w - 1);
            if i > 0 {
                row += 1;
            }
            row += lines.len() - 1;
            col = lines.last().map_or(0, |l| l.width());
        }
        let max_row = usize::from(c.height - 3);
        let top = row.saturating_sub(max_row);
        let y = c.y + 1 + u16::try_from(row - top).unwrap_or(0);
        let x = c.x + 1 + u16::try_from(col.min(inner_w - 1)).unwrap_or(0);
        Some(Position::new(x, y))
    }
}

fn render_list(s: &AppState, area: Rect, buf: &mut Buffer) {
    if area.width == 0 {
        return;
    }
    let block = Block::default().borders(Borders::RIGHT);
    let inner = block.inner(area);
    block.render(area, buf);
    if s.convs.is_empty() && s.archived.is_empty() {
        let hint = vec![
            Line::from(Span::styled("No conversations", dim(s.colors))),
            Line::from(Span::styled("/dm USER to start", dim(s.colors))),
        ];
        Paragraph::new(hint).render(inner, buf);
        return;
    }
    let offset = list_offset(s, inner);
    let rows = usize::from(inner.height / ROW_HEIGHT);
    let w = usize::from(inner.width);
    let open = s.open.as_ref().map(|o| &o.conv);
    // The archived section's header row sits after the main rows; its
    // rows (when expanded) follow it.
    let main = s.main_len();
    let section = !s.archived.is_empty();
    let display = |k: usize| k + usize::from(section && k >= main);
    let pins = s.convs.iter().any(|r| r.pinned);
    if section && (offset..offset + rows).contains(&main) {
        let y = inner.y + u16::try_from(main - offset).unwrap_or(0) * ROW_HEIGHT;
        let arrow = if s.archived_open { "▾" } else { "▸" };
        let key = s.keys.describe_keys(KeyAction::ToggleArchived);
        // Unread mentions inside stay visible while the section is closed.
        let mentions: u64 = s.archived.iter().map(|r| r.mentions).sum();
        let badge = if mentions > 0 {
            format!(" @{mentions}")
        } else {
            String::new()
        };
        let text = format!("{arrow} Archived ({}){badge} {key}", s.archived.len());
        Paragraph::new(Line::from(Span::styled(truncate(&text, w), dim(s.colors)))).render(
            Rect {
                y,
                height: 1,
                ..inner
            },
            buf,
        );
    }
    for (k, row) in s.convs.iter().enumerate() {
        let d = display(k);
        if d < offset || d >= offset + rows {
            continue;
        }
        let y = inner.y + u16::try_from(d - offset).unwrap_or(0) * ROW_HEIGHT;
        // Kind, then a pin column while any conversation is pinned, then a
        // space: the name never touches a mark, and names line up.
        let kind = if row.kind == ConvKind::Group {
            "#"
        } else {
            "@"
        };
        let pin = match (pins, row.pinned) {
            (false, _) => "",
            (true, true) => "★",
            (true, false) => " ",
        };
        let mark = format!("{kind}{pin} ");
        let badge = match (row.unread, row.pending) {
            (0, 0) => String::new(),
            (0, p) => format!("⋯{p}"),
            (n, _) => n.to_string(),
        };
        let mention = if row.mentions > 0 {
            format!("@{}", row.mentions)
        } else {
            String::new()
        };
        // Muted and mentions-only conversations say so after the title.
        let notify = match row.notify {
            Notify::All => "",
            Notify::Mentions => "🔔@",
            Notify::None => "🔕",
        };
        // Each mark after the name takes a space before it (unstyled, so a
        // coloured badge never touches the name or the badge before it).
        let spaced = |m: &str| if m.is_empty() { 0 } else { m.width() + 1 };
        let marks_w = spaced(notify) + spaced(&badge) + spaced(&mention);
        let title_w = w.saturating_sub(mark.width() + marks_w);
        let title = if title_w == 0 {
            String::new()
        } else {
            truncate(&for_terminal(&row.title), title_w)
        };
        let mut title_style = Style::new();
        if row.unread > 0 {
            title_style = title_style.add_modifier(Modifier::BOLD);
        }
        let pad = w.saturating_sub(mark.width() + title.width() + marks_w);
        let mention_style = if s.colors {
            Style::new()
                .fg(ratatui::style::Color::White)
                .bg(ratatui::style::Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        };
        let badge_style = if row.unread == 0 {
            dim(s.colors)
        } else if s.colors {
            Style::new()
                .fg(ratatui::style::Color::Black)
                .bg(ratatui::style::Color::Yellow)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        };
        let space = |m: &str| Span::raw(if m.is_empty() { "" } else { " " });
        let mut line1 = Line::from(vec![
            Span::styled(mark.clone(), dim(s.colors)),
            Span::styled(title, title_style),
            space(notify),
            Span::styled(notify, dim(s.colors)),
            Span::raw(" ".repeat(pad)),
            space(&mention),
            Span::styled(mention, mention_style),
            space(&badge),
            Span::styled(badge, badge_style),
        ]);
        let preview = match &row.last {
            Some(m) if m.kind == EntryKind::Text && m.redacted => {
                format!("{}: {}", for_terminal(&m.sender), super::timeline::DELETED)
            }
            Some(m) if m.kind == EntryKind::Text => {
                // Fence lines are markup: the preview shows the code.
                // A lone CR breaks the line as in the timeline (not `␍`).
                let body = m.body.as_deref().unwrap_or("").replace('\r', "\n");
                let body = body
                    .lines()
                    .filter(|l| {
                        let t = l.trim_start();
                        !(t.starts_with("```") || t.starts_with("~~~"))
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                format!("{}: {}", for_terminal(&m.sender), for_terminal(&body))
            }
            _ if row.left => "(left)".to_owned(),
            _ => String::new(),
        };
        // Under the name.
        let indent = mark.width();
        let mut line2 = Line::from(Span::styled(
            format!(
                "{}{}",
                " ".repeat(indent),
                truncate(&preview, w.saturating_sub(indent))
            ),
            dim(s.colors),
        ));
        if open == Some(&row.conv) || (open.is_none() && k == s.selected) {
            line1 = line1.patch_style(highlight(s.colors));
            line2 = line2.patch_style(highlight(s.colors));
        }
        let r1 = Rect {
            y,
            height: 1,
            ..inner
        };
        Paragraph::new(line1).render(r1, buf);
        if y + 1 < inner.bottom() {
            let r2 = Rect {
                y: y + 1,
                height: 1,
                ..inner
            };
            Paragraph::new(line2).render(r2, buf);
        }
    }
}

fn render_header(s: &AppState, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    let line = match (s.open.as_ref(), s.open_row()) {
        (Some(_), Some(row)) => {
            let w = usize::from(area.width);
            let kind = match row.kind {
                ConvKind::Group => {
                    // The title gives way first, so the count stays; with no
                    // room for 8 columns of title, the count goes instead.
                    let title = for_terminal(&row.title);
                    // A group I left: its count is no longer mine to know
                    // (the server does not tell a former member).
                    let count = match row.member_count {
                        _ if row.left => " · you left (read-only)".to_owned(),
                        1 => " · 1 member".to_owned(),
                        n => format!(" · {n} members"),
                    };
                    let room = w.saturating_sub(2 + count.width());
                    if title.width() <= room || room < 8 {
                        format!("# {title}{count}")
                    } else {
                        format!("# {}{count}", truncate(&title, room))
                    }
                }
                ConvKind::Direct => format!("@ {}", for_terminal(&row.title)),
            };
            let kind = truncate(&kind, w);
            Line::from(Span::styled(
                kind,
                Style::new().add_modifier(Modifier::BOLD),
            ))
        }
        (Some(open), None) => Line::from(Span::styled(
            for_terminal(open.conv.as_str()).into_owned(),
            Style::new().add_modifier(Modifier::BOLD),
        )),
        (None, _) => Line::from(Span::styled(
            "convo",
            Style::new().add_modifier(Modifier::BOLD),
        )),
    };
    Paragraph::new(line.patch_style(Style::new().add_modifier(Modifier::UNDERLINED)))
        .render(area, buf);
}

fn render_timeline(s: &AppState, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    if s.open.is_none() {
        // Wrapped, so a narrow pane loses none of it.
        let w = usize::from(area.width);
        let pick = format!(
            "Pick a conversation: {}, {}, or click.",
            s.keys.conversation_keys(),
            s.keys.first_key(super::keys::KeyAction::Switcher)
        );
        let help = format!(
            "Press {} for help.",
            s.keys.first_key(super::keys::KeyAction::Help)
        );
        let hint: Vec<Line> = std::iter::once(Line::from(""))
            .chain(
                [pick, help]
                    .iter()
                    .flat_map(|t| wrap(t, w))
                    .map(|l| Line::from(Span::styled(l, dim(s.colors)))),
            )
            .collect();
        Paragraph::new(hint).render(area, buf);
        return;
    }
    if s.thread.is_some() {
        let retry = s.keys.describe_keys(KeyAction::Retry);
        let discard = s.keys.describe_keys(KeyAction::Discard);
        if let Some(mut ctx) = ctx_of(s, &retry, &discard) {
            ctx.selected = None;
            ctx.read_marker = u64::MAX;
            super::features_view::render_thread(s, area, buf, &ctx);
        }
        return;
    }
    let Some(vis) = timeline_visible(s, area) else {
        return;
    };
    let mut lines = vis.lines;

    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            format!("{} loading…", spinner(s.frame)),
            dim(s.colors),
        )));
    }
    // Chat timelines sit at the bottom of the pane when short.
    let n = u16::try_from(lines.len())
        .unwrap_or(area.height)
        .min(area.height);
    let rect = Rect {
        y: area.bottom() - n,
        height: n,
        ..area
    };
    Paragraph::new(lines).render(rect, buf);
}

/// What the timeline pane shows in `area` (None: no conversation open).
fn timeline_visible(s: &AppState, area: Rect) -> Option<super::timeline::Visible> {
    let open = s.open.as_ref()?;
    let retry = s.keys.describe_keys(KeyAction::Retry);
    let discard = s.keys.describe_keys(KeyAction::Discard);
    let ctx = ctx_of(s, &retry, &discard)?;
    Some(visible(
        &open.items,
        &open.scroll,
        usize::from(area.height),
        &ctx,
    ))
}

/// Link text on screen in a frame of size `screen`: (x, y, width, url),
/// for the driver to re-emit as OSC 8 hyperlinks.
pub fn timeline_links(s: &AppState, screen: Rect) -> Vec<(u16, u16, u16, String)> {
    if s.overlay != super::state::Overlay::None {
        return Vec::new();
    }
    let area = areas(s, screen).timeline;
    if area.height == 0 || area.width == 0 {
        return Vec::new();
    }
    let Some(vis) = timeline_visible(s, area) else {
        return Vec::new();
    };
    let n = vis.lines.len().min(usize::from(area.height));
    let top = usize::from(area.bottom()) - n;
    vis.links
        .into_iter()
        .filter(|l| l.line < n)
        .filter_map(|l| {
            let x = usize::from(area.x) + l.col;
            let w = l.width.min(usize::from(area.right()).saturating_sub(x));
            Some((
                u16::try_from(x).ok()?,
                u16::try_from(top + l.line).ok()?,
                u16::try_from(w).ok().filter(|w| *w > 0)?,
                l.url,
            ))
        })
        .collect()
}

fn render_info(s: &AppState, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    if let Some(n) = &s.notice {
        let style = if n.error {
            error(s.colors)
        } else {
            dim(s.colors)
        };
        // Wrapped whole (the layout gave it the rows it needs); should the
        // screen be too small even so, the last row says it goes on.
        let rows = usize::from(area.height);
        let mut lines = wrap(&for_terminal(&n.text), usize::from(area.width));
        if lines.len() > rows {
            lines.truncate(rows);
            if let Some(last) = lines.last_mut() {
                *last = truncate(&format!("{last} …"), usize::from(area.width));
            }
        }
        let lines: Vec<Line> = lines
            .into_iter()
            .map(|l| Line::from(Span::styled(l, style)))
            .collect();
        Paragraph::new(lines).render(area, buf);
        return;
    }
    let line = if let Some(open) = &s.open {
        let users: Vec<String> = s
            .typing_in(&open.conv)
            .iter()
            .map(|u| for_terminal(u).into_owned())
            .collect();
        // Not under the thread panel: the timeline is hidden behind it.
        let newer = if s.thread.is_some() {
            0
        } else {
            newer_below(s)
        };
        match users.len() {
            // The line under the timeline tells that it goes on below the screen.
            0 if newer > 0 => {
                let noun = if newer == 1 { "message" } else { "messages" };
                let end = s.keys.describe_keys(KeyAction::Bottom);
                let esc = s.keys.describe_keys(KeyAction::Cancel);
                // The longest that fits: a narrow pane keeps the count and key.
                let text = [
                    format!("{newer} newer {noun} ↓  ({end} or {esc}: newest)"),
                    format!("{newer} newer {noun} ↓  ({end}: newest)"),
                    format!("{newer} newer ↓ ({end})"),
                ]
                .into_iter()
                .find(|t| t.width() <= usize::from(area.width))
                .unwrap_or_else(|| format!("{newer} newer ↓"));
                Line::from(Span::styled(text, highlight(s.colors)))
            }
            0 => Line::from(""),
            // Cut with "…" in a narrow pane, so the cut shows.
            1 => Line::from(Span::styled(
                truncate(&format!("{} is typing…", users[0]), usize::from(area.width)),
                dim(s.colors),
            )),
            _ => Line::from(Span::styled(
                truncate(
                    &format!("{} are typing…", users.join(", ")),
                    usize::from(area.width),
                ),
                dim(s.colors),
            )),
        }
    } else {
        Line::from("")
    };
    Paragraph::new(line).render(area, buf);
}

fn render_compose(s: &AppState, area: Rect, buf: &mut Buffer) {
    if area.height < 3 || area.width < 3 {
        return;
    }
    let mut title = match s.compose.editing {
        Some(_) => " Edit message ".to_owned(),
        None => {
            match super::features_view::compose_banner(s, usize::from(area.width).saturating_sub(4))
            {
                Some(banner) => format!(" {banner} "),
                None if s.open.is_some() => " Message ".to_owned(),
                None => " Command ".to_owned(),
            }
        }
    };
    // The byte count appears once the draft nears the body limit.
    let bytes = s.compose.text.len();
    let max = s.limits.max_body_bytes;
    if bytes * 10 >= max * 8 {
        let over = if bytes > max { " — too long" } else { "" };
        title.push_str(&format!("{bytes}/{max} bytes{over} "));
    }
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    block.render(area, buf);
    let clean = for_terminal_multiline(&s.compose.text);
    let w = usize::from(inner.width).saturating_sub(1);
    let lines: Vec<Line> = clean
        .split('\n')
        .flat_map(|p| wrap(p, w))
        .map(Line::from)
        .collect();
    // Keep the cursor's (last) lines visible when the text is taller than the box.
    let before: usize = {
        let b: String = s.compose.text.chars().take(s.compose.cursor).collect();
        let c = for_terminal_multiline(&b);
        c.split('\n').map(|p| wrap(p, w).len()).sum()
    };
    let top = before.saturating_sub(usize::from(inner.height));
    let lines: Vec<Line> = lines.into_iter().skip(top).collect();
    Paragraph::new(lines).render(inner, buf);
}

fn render_status(s: &AppState, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    let conn = match s.conn {
        ConnState::Live => "● Live".to_owned(),
        ConnState::CatchingUp { remaining } => {
            format!("{} Catching up {remaining}", spinner(s.frame))
        }
        ConnState::Reconnecting { in_ms, .. } => {
            // Counted down from when the state arrived, on every tick.
            let left = s.reconnect_at.map_or(in_ms, |at| {
                u64::try_from(at.saturating_sub(s.now_ms)).unwrap_or(0)
            });
            let now_key = s.keys.describe_keys(KeyAction::ReconnectNow);
            format!(
                "○ Reconnecting in {}s ({now_key}: now)",
                left.div_ceil(1000)
            )
        }
        ConnState::Offline => "○ Offline".to_owned(),
        ConnState::Failed { ref error } => {
            format!("✗ Stopped: {}", for_terminal(&error.to_string()))
        }
        ConnState::Connecting => format!("{} Connecting", spinner(s.frame)),
        ConnState::LoggedOut => "✗ Logged out".to_owned(),
    };
    let unread: u64 = s.convs.iter().map(|r| r.unread).sum();
    let user = for_terminal(&s.user);
    let width = usize::from(area.width);
    // Most important first: connection and queue; the server goes when short of room.
    let mut left = format!(
        " {user}@{} │ {conn} │ {} queued",
        for_terminal(&s.server),
        s.queued
    );
    if left.width() > width {
        left = format!(" {user} │ {conn} │ {} queued", s.queued);
    }
    // A stopped connection's reason is also the notice above: here it
    // goes when short of room, the state stays.
    if left.width() > width && matches!(s.conn, ConnState::Failed { .. }) {
        left = format!(" {user} │ ✗ Stopped │ {} queued", s.queued);
    }
    // Narrower still: an empty queue goes, then the end is cut, visibly.
    if left.width() > width && s.queued == 0 {
        left = format!(" {user} │ {conn}");
    }
    if left.width() > width {
        left = truncate(&left, width);
    }
    let help = s.keys.first_key(super::keys::KeyAction::Help);
    let mut right = if unread > 0 {
        format!("{unread} unread │ {help} help ")
    } else {
        format!("{help} help ")
    };
    if left.width() + right.width() > width {
        right = String::new();
    }
    let pad = width.saturating_sub(left.width() + right.width());
    let text = format!("{left}{}{right}", " ".repeat(pad));
    let style = if s.colors {
        let bg = match s.conn {
            ConnState::Live => ratatui::style::Color::Green,
            ConnState::LoggedOut => ratatui::style::Color::Red,
            _ => ratatui::style::Color::Yellow,
        };
        Style::new().bg(bg).fg(ratatui::style::Color::Black)
    } else {
        Style::new().add_modifier(Modifier::REVERSED)
    };
    Paragraph::new(Line::from(Span::styled(text, style))).render(area, buf);
}

/// Cuts already-sanitized text to `width` columns, with "…" when cut.
pub(super) fn truncate(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_owned();
    }
    // By grapheme: an emoji sequence is kept whole or cut whole.
    let mut out = super::body_layout::clip(s, width.saturating_sub(1));
    out.push('…');
    out
}
