//! Modal overlays: help, the Ctrl+K fuzzy quick switcher and search results —
//! their key handling and their drawing.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use super::commands::USAGE;
use super::keys::KeyAction;
use super::navigate::switch_to;
use super::state::{AppState, Effect, Overlay};

/// Hits PgUp/PgDn move by in the search results.
const SEARCH_PAGE: usize = 10;
use super::style::{dim, highlight};
use super::timeline::format_time;
use super::update::open_conv;
use crate::sanitize::for_terminal;

/// Keys while an overlay is shown.
pub fn overlay_key(state: &mut AppState, ev: KeyEvent, action: Option<KeyAction>) -> Vec<Effect> {
    let typed = match ev.code {
        KeyCode::Char(c)
            if !ev
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            Some(c)
        }
        _ => None,
    };
    match &mut state.overlay {
        Overlay::None => Vec::new(),
        Overlay::React { .. } => super::features::react_key(state, ev, action),
        Overlay::ConvMenu { .. } => super::features::menu_key(state, ev, action),
        Overlay::Links { .. } => super::compose_tools::links_key(state, ev, action),
        Overlay::Preview => {
            if matches!(
                action,
                Some(KeyAction::Cancel | KeyAction::Preview | KeyAction::Send)
            ) {
                state.overlay = Overlay::None;
            }
            Vec::new()
        }
        Overlay::Login {
            password,
            error,
            busy,
            invite,
        } => {
            if *busy {
                return Vec::new();
            }
            let mut register =
                ev.code == KeyCode::Char('r') && ev.modifiers == KeyModifiers::CONTROL;
            // Asked for an invite code: typing goes to the code, and Enter
            // registers too.
            if let Some(code) = invite.as_mut() {
                register |= action == Some(KeyAction::Send);
                match (ev.code, action) {
                    _ if register => {}
                    (_, Some(KeyAction::Cancel)) => {}
                    (KeyCode::Backspace, _) => {
                        code.pop();
                        return Vec::new();
                    }
                    _ => {
                        if let Some(c) = typed {
                            code.push(c);
                        }
                        return Vec::new();
                    }
                }
            }
            match (ev.code, action) {
                _ if register || action == Some(KeyAction::Send) => {
                    if password.0.is_empty() {
                        *error = Some("type your password first".into());
                        return Vec::new();
                    }
                    if invite.as_ref().is_some_and(String::is_empty) {
                        *error = Some("type the invite code first".into());
                        return Vec::new();
                    }
                    *busy = true;
                    *error = None;
                    return vec![Effect::Login {
                        password: password.clone(),
                        register,
                        invite: invite.clone().filter(|_| register),
                    }];
                }
                (_, Some(KeyAction::Cancel)) => {
                    state.overlay = Overlay::None;
                    state.set_info("not logged in: showing the local store; /login to log in");
                }
                (KeyCode::Backspace, _) => {
                    password.0.pop();
                }
                (_, Some(KeyAction::ClearCompose)) => password.0.clear(),
                _ => {
                    if let Some(c) = typed {
                        // After a refusal the password stays for Ctrl+R
                        // (register with it), but typing starts a new one:
                        // appended to the refused one, it could never be
                        // right.
                        if error.take().is_some() {
                            password.0.clear();
                        }
                        password.0.push(c);
                    }
                }
            }
            Vec::new()
        }
        Overlay::Passwd {
            fields,
            at,
            error,
            busy,
        } => {
            if *busy {
                return Vec::new();
            }
            match (ev.code, action) {
                (_, Some(KeyAction::Cancel)) => state.overlay = Overlay::None,
                (KeyCode::Tab | KeyCode::Down, _) => *at = (*at + 1) % 3,
                (KeyCode::BackTab | KeyCode::Up, _) => *at = (*at + 2) % 3,
                (KeyCode::Backspace, _) => {
                    fields[*at].0.pop();
                }
                (_, Some(KeyAction::Send)) if *at < 2 => *at += 1,
                (_, Some(KeyAction::Send)) => {
                    let [old, new, again] = &fields;
                    let problem = if old.0.is_empty() {
                        Some("type your current password")
                    } else if new.0 != again.0 {
                        Some("the two new passwords differ")
                    } else if sync_core::protocol::validate::password(&new.0).is_err() {
                        Some("a password is 8 to 256 bytes")
                    } else {
                        None
                    };
                    if let Some(p) = problem {
                        *error = Some(p.into());
                        return Vec::new();
                    }
                    *busy = true;
                    *error = None;
                    return vec![Effect::Passwd {
                        old: old.clone(),
                        new: new.clone(),
                    }];
                }
                _ => {
                    if let Some(c) = typed {
                        fields[*at].0.push(c);
                    }
                }
            }
            Vec::new()
        }
        Overlay::Help => {
            match ev.code {
                KeyCode::Up => state.help_scroll = state.help_scroll.saturating_sub(1),
                KeyCode::PageUp => state.help_scroll = state.help_scroll.saturating_sub(10),
                KeyCode::Down => {
                    state.help_scroll = (state.help_scroll + 1).min(help_max_scroll(state))
                }
                KeyCode::PageDown => {
                    state.help_scroll = (state.help_scroll + 10).min(help_max_scroll(state))
                }
                _ => {}
            }
            if matches!(
                action,
                Some(KeyAction::Cancel | KeyAction::Help | KeyAction::Send)
            ) || typed == Some('q')
            {
                state.overlay = Overlay::None;
                state.help_scroll = 0;
            }
            Vec::new()
        }
        Overlay::Switcher { query, selected } => {
            match (ev.code, action) {
                (_, Some(KeyAction::Cancel)) => state.overlay = Overlay::None,
                (_, Some(KeyAction::Send)) => {
                    let (q, s) = (query.clone(), *selected);
                    return switch_to(state, &q, s);
                }
                (KeyCode::Up, _) => *selected = selected.saturating_sub(1),
                (KeyCode::Down, _) => *selected += 1,
                (KeyCode::Backspace, _) => {
                    query.pop();
                    *selected = 0;
                }
                _ => {
                    if let Some(c) = typed {
                        query.push(c);
                        *selected = 0;
                    }
                }
            }
            // Clamp the selection to the matches.
            if let Overlay::Switcher { query, selected } = &state.overlay {
                let n = switcher_matches(state, query).len();
                let clamped = (*selected).min(n.saturating_sub(1));
                if let Overlay::Switcher { selected, .. } = &mut state.overlay {
                    *selected = clamped;
                }
            }
            Vec::new()
        }
        Overlay::Search { hits, selected, .. } => match (ev.code, action) {
            (_, Some(KeyAction::Cancel)) => {
                state.overlay = Overlay::None;
                Vec::new()
            }
            (KeyCode::PageUp, _) => {
                *selected = selected.saturating_sub(SEARCH_PAGE);
                Vec::new()
            }
            (KeyCode::PageDown, _) => {
                *selected = (*selected + SEARCH_PAGE).min(hits.len().saturating_sub(1));
                Vec::new()
            }
            (KeyCode::Up, _) => {
                *selected = selected.saturating_sub(1);
                Vec::new()
            }
            (KeyCode::Down, _) => {
                *selected = (*selected + 1).min(hits.len().saturating_sub(1));
                Vec::new()
            }
            (_, Some(KeyAction::Send)) => {
                let hit = hits.get(*selected).cloned();
                state.overlay = Overlay::None;
                match hit {
                    Some(h) => open_conv(state, h.conv, Some(h.seq)),
                    None => Vec::new(),
                }
            }
            _ => Vec::new(),
        },
    }
}

/// Indices into `state.convs` matching `query`, best first, scored by
/// nucleo-matcher (helix's fuzzy matcher: case-insensitive, Unicode-aware,
/// word starts and contiguous runs score higher; each space-separated word
/// must match). Ties keep activity order.
pub fn switcher_matches(state: &AppState, query: &str) -> Vec<usize> {
    use nucleo_matcher::pattern::{AtomKind, CaseMatching, Normalization, Pattern};
    use nucleo_matcher::{Config, Matcher, Utf32Str};
    thread_local! {
        static MATCHER: std::cell::RefCell<Matcher> =
            std::cell::RefCell::new(Matcher::new(Config::DEFAULT));
    }
    let pattern = Pattern::new(
        query,
        CaseMatching::Ignore,
        Normalization::Smart,
        AtomKind::Fuzzy,
    );
    let mut buf = Vec::new();
    let mut scored: Vec<(u32, usize)> = MATCHER.with(|m| {
        let mut m = m.borrow_mut();
        state
            .convs
            .iter()
            .enumerate()
            .filter_map(|(i, row)| {
                pattern
                    .score(Utf32Str::new(&row.title, &mut buf), &mut m)
                    .map(|s| (s, i))
            })
            .collect()
    });
    scored.sort_by_key(|&(s, i)| (std::cmp::Reverse(s), i));
    scored.into_iter().map(|(_, i)| i).collect()
}

/// A centred popup rectangle.
pub(super) fn popup(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Clears `rect` for an overlay. A wide (CJK, emoji) character just left
/// of it whose second half lies inside is blanked too: the terminal would
/// draw that half over the overlay's left border.
pub(super) fn clear_popup(rect: Rect, buf: &mut Buffer) {
    use unicode_width::UnicodeWidthStr;
    let area = buf.area;
    for y in rect.top()..rect.bottom() {
        for x in rect.x.saturating_sub(3).max(area.x)..rect.x {
            let cell = &mut buf[(x, y)];
            if usize::from(x) + cell.symbol().width() > usize::from(rect.x) {
                cell.set_symbol(" ");
            }
        }
    }
    Clear.render(rect, buf);
}

pub fn render_overlay(state: &AppState, area: Rect, buf: &mut Buffer) {
    match &state.overlay {
        Overlay::None => {}
        Overlay::React {
            target,
            typed,
            selected,
        } => super::features_view::render_picker(state, area, buf, *target, typed, *selected),
        Overlay::ConvMenu { selected } => {
            super::features_view::render_menu(state, area, buf, *selected)
        }
        Overlay::Links { urls, selected } => {
            super::compose_tools::render_links(state, area, buf, urls, *selected)
        }
        Overlay::Preview => super::compose_tools::render_preview(state, area, buf),
        Overlay::Login {
            password,
            error,
            busy,
            invite,
        } => render_login(
            state,
            area,
            buf,
            password.0.chars().count(),
            error,
            *busy,
            invite.as_deref(),
        ),
        Overlay::Help => render_help(state, area, buf),
        Overlay::Passwd {
            fields,
            at,
            error,
            busy,
        } => render_passwd(state, area, buf, fields, *at, error, *busy),
        Overlay::Switcher { query, selected } => {
            let rect = popup(area, 50, 14);
            clear_popup(rect, buf);
            let block = Block::default()
                .borders(Borders::ALL)
                .title(" Switch conversation ");
            let inner = block.inner(rect);
            block.render(rect, buf);
            let mut lines = vec![Line::from(vec![
                Span::raw("> "),
                Span::raw(for_terminal(query).into_owned()),
            ])];
            let matches = switcher_matches(state, query);
            let rows = usize::from(inner.height.saturating_sub(1));
            let offset = selected.saturating_sub(rows.saturating_sub(1));
            for (k, &i) in matches.iter().enumerate().skip(offset).take(rows) {
                let row = &state.convs[i];
                let mark = if row.kind == super::model::ConvKind::Group {
                    '#'
                } else {
                    '@'
                };
                let mut text = format!("{mark} {}", for_terminal(&row.title));
                if row.unread > 0 {
                    text.push_str(&format!(" ({})", row.unread));
                }
                let style = if k == *selected {
                    highlight(state.colors)
                } else {
                    Style::new()
                };
                lines.push(Line::from(Span::styled(text, style)));
            }
            if matches.is_empty() {
                lines.push(Line::from(Span::styled("no match", dim(state.colors))));
            }
            Paragraph::new(lines).render(inner, buf);
        }
        Overlay::Search {
            query,
            hits,
            selected,
            coverage: (full, of),
        } => {
            let rect = popup(area, area.width.saturating_sub(4).min(70), 16);
            clear_popup(rect, buf);
            let found = if hits.len() >= super::driver::SEARCH_LIMIT {
                format!("{}+", hits.len())
            } else {
                hits.len().to_string()
            };
            let title = format!(
                " Search: {} ({} of {found}) ",
                for_terminal(query),
                selected + 1
            );
            // Search covers the history held locally: say how much that is,
            // and how to get the rest (Home loads a conversation's history).
            let footer =
                format!(" searched {full} of {of} conversations fully · Home in one loads all ");
            let block = Block::default()
                .borders(Borders::ALL)
                .title(title)
                .title_bottom(footer);
            let inner = block.inner(rect);
            block.render(rect, buf);
            let rows = usize::from(inner.height);
            let offset = selected.saturating_sub(rows.saturating_sub(1));
            let lines: Vec<Line> = hits
                .iter()
                .enumerate()
                .skip(offset)
                .take(rows)
                .map(|(k, h)| {
                    let conv = state
                        .convs
                        .iter()
                        .find(|r| r.conv == h.conv)
                        .map_or_else(|| h.conv.to_string(), |r| r.title.clone());
                    let text = format!(
                        "{} {} {}: {}",
                        format_time(h.ts),
                        for_terminal(&conv),
                        for_terminal(&h.sender),
                        for_terminal(&h.body)
                    );
                    let style = if k == *selected {
                        highlight(state.colors)
                    } else {
                        Style::new()
                    };
                    Line::from(Span::styled(text, style))
                })
                .collect();
            Paragraph::new(lines).render(inner, buf);
        }
    }
}

fn render_passwd(
    state: &AppState,
    area: Rect,
    buf: &mut Buffer,
    fields: &[super::state::Password; 3],
    at: usize,
    error: &Option<String>,
    busy: bool,
) {
    let rect = popup(area, area.width.saturating_sub(2).min(64), 10);
    clear_popup(rect, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Change password ");
    let inner = block.inner(rect);
    block.render(rect, buf);
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let width = usize::from(inner.width.saturating_sub(16));
    let row = |i: usize, label: &str| {
        let dots = "•".repeat(fields[i].0.chars().count().min(width));
        let label = format!("{label:<14}");
        Line::from(vec![
            if i == at {
                Span::styled(label, bold)
            } else {
                Span::raw(label)
            },
            Span::raw(dots),
        ])
    };
    let status = status_line(state, busy, error);
    let lines = vec![
        row(0, "Current:"),
        row(1, "New:"),
        row(2, "New again:"),
        status,
        Line::from(""),
        Line::from(Span::styled(
            format!(
                "Enter next/change · Tab field · {} cancel · other devices get signed out",
                state.keys.describe_keys(KeyAction::Cancel)
            ),
            dim(state.colors),
        )),
    ];
    Paragraph::new(lines).render(inner, buf);
}

/// The line under a form: "talking to the server…" while a request is
/// out, else the last error (sanitised), else empty.
fn status_line(state: &AppState, busy: bool, error: &Option<String>) -> Line<'static> {
    match (busy, error) {
        (true, _) => Line::from(Span::styled("talking to the server…", dim(state.colors))),
        (false, Some(e)) => Line::from(Span::styled(
            for_terminal(e).into_owned(),
            super::style::error(state.colors),
        )),
        (false, None) => Line::from(""),
    }
}

fn render_login(
    state: &AppState,
    area: Rect,
    buf: &mut Buffer,
    typed: usize,
    error: &Option<String>,
    busy: bool,
    invite: Option<&str>,
) {
    let rect = popup(area, area.width.saturating_sub(2).min(64), 10);
    clear_popup(rect, buf);
    let block = Block::default().borders(Borders::ALL).title(" Log in ");
    let inner = block.inner(rect);
    block.render(rect, buf);
    let user = for_terminal(&state.user);
    let bold = Style::new().add_modifier(Modifier::BOLD);
    // One dot per character typed, capped so a long password does not wrap.
    let dots = "•".repeat(typed.min(usize::from(inner.width.saturating_sub(12))));
    let status = status_line(state, busy, error);
    let lines = vec![
        Line::from(vec![
            Span::styled(user.clone().into_owned(), bold),
            Span::raw(" on "),
            Span::raw(for_terminal(&state.server).into_owned()),
        ]),
        Line::from(""),
        Line::from(vec![Span::raw("Password: "), Span::raw(dots)]),
        match invite {
            Some(code) => Line::from(vec![
                Span::raw("Invite code: "),
                Span::raw(for_terminal(code).into_owned()),
            ]),
            None => Line::from(""),
        },
        status,
        Line::from(""),
        Line::from(Span::styled(
            format!(
                "Enter log in · Ctrl+R register {user} · {} offline",
                state.keys.describe_keys(KeyAction::Cancel)
            ),
            dim(state.colors),
        )),
    ];
    Paragraph::new(lines)
        .wrap(ratatui::widgets::Wrap { trim: false })
        .render(inner, buf);
}

/// The help's box in `area` and its lines: every key and command with its
/// description, wrapped under the description column when the box is
/// narrow (nothing is cut).
fn help_layout(state: &AppState, area: Rect) -> (Rect, Vec<Line<'static>>) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let keys: Vec<(String, &str)> = KeyAction::ALL
        .iter()
        .map(|&a| (state.keys.describe_keys(a), a.describe()))
        .chain([(
            "wheel / click".to_owned(),
            "scroll timeline / open conversation",
        )])
        .collect();
    // One column for keys and commands, two spaces wider than the widest.
    let col = keys
        .iter()
        .map(|(k, _)| unicode_width::UnicodeWidthStr::width(k.as_str()))
        .chain(
            USAGE
                .iter()
                .map(|(u, _)| unicode_width::UnicodeWidthStr::width(*u)),
        )
        .max()
        .unwrap_or(0)
        + 2;
    // As wide as an 80-column terminal allows: the longest description
    // fits beside the widest key or command.
    let width = usize::from(popup(area, 78, 1).width.saturating_sub(2));
    let room = width.saturating_sub(col).max(12);
    let row = |left: &str, right: &str| -> Vec<Line<'static>> {
        super::timeline::wrap(right, room)
            .into_iter()
            .enumerate()
            .map(|(i, part)| {
                let key = if i == 0 { left } else { "" };
                Line::from(vec![
                    Span::styled(format!("{key:<col$}"), bold),
                    Span::raw(part),
                ])
            })
            .collect()
    };
    let mut lines = vec![Line::from(Span::styled("Keys", bold))];
    lines.extend(keys.iter().flat_map(|(k, what)| row(k, what)));
    lines.push(Line::from(Span::styled("Commands", bold)));
    lines.extend(USAGE.iter().flat_map(|(usage, what)| row(usage, what)));
    let rect = popup(area, 78, u16::try_from(lines.len() + 2).unwrap_or(u16::MAX));
    (rect, lines)
}

/// How far Down can scroll the help on this screen.
fn help_max_scroll(state: &AppState) -> usize {
    let area = Rect::new(0, 0, state.size.0, state.size.1);
    let (rect, lines) = help_layout(state, area);
    lines
        .len()
        .saturating_sub(usize::from(rect.height.saturating_sub(2)))
}

fn render_help(state: &AppState, area: Rect, buf: &mut Buffer) {
    let (rect, lines) = help_layout(state, area);
    clear_popup(rect, buf);
    let fits = usize::from(rect.height.saturating_sub(2)) >= lines.len();
    let esc = state.keys.describe_keys(KeyAction::Cancel);
    let title = if fits {
        format!(" Help — {esc} closes ")
    } else {
        format!(" Help — Up/Down scroll, {esc} closes ")
    };
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(rect);
    block.render(rect, buf);
    let max_scroll = lines.len().saturating_sub(usize::from(inner.height));
    let lines: Vec<Line> = lines
        .into_iter()
        .skip(state.help_scroll.min(max_scroll))
        .collect();
    Paragraph::new(lines).render(inner, buf);
}
