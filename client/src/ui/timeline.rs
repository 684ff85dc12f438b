//! Timeline layout: turns timeline items into styled lines (sender groups,
//! day separators, the "new messages" line, gaps, pending/failed echoes) and
//! works out which items are visible for a scroll position — laying out only
//! those, so a 100,000-message window costs the same per frame as a 40 one.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use super::model::{
    EntryKind, LocalMessage, OutboxItem, OutboxKind, OutboxState, Seq, TimelineItem, order_seq,
};
use super::state::{ItemKey, ScrollPos};
use super::style::{dim, sender_style};
use crate::sanitize::for_terminal;

/// What stands for a redacted text (§9.5) in the timeline, a quote and
/// the list's preview.
pub(crate) const DELETED: &str = "‹message deleted›";

/// Width of the time gutter in front of message lines ("18:02 ").
const GUTTER: usize = 6;
/// A new sender header is drawn after this much silence even for the same sender.
const REGROUP_MS: i64 = 5 * 60 * 1000;
/// Braille spinner frames.
pub const SPINNER: [char; 8] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧'];

/// Everything item layout depends on besides the items themselves.
#[derive(Debug, Clone, Copy)]
pub struct LayoutCtx<'a> {
    pub user: &'a str,
    pub read_marker: Seq,
    pub colors: bool,
    pub width: u16,
    pub frame: u64,
    pub loading_older: bool,
    pub selected: Option<&'a ItemKey>,
    pub retry_key: &'a str,
    pub discard_key: &'a str,
    /// Direct conversations: the other member has read up to here (receipts).
    pub seen_up_to: Seq,
    /// Reply parents held in the store but not in the window.
    pub parents: Option<&'a std::collections::BTreeMap<Seq, LocalMessage>>,
}

/// A link's text on one line of an item: `line` indexes the item's lines,
/// `col`/`width` are columns on that line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineLink {
    pub line: usize,
    pub col: usize,
    pub width: usize,
    pub url: String,
}

/// A code line of an item, laid out plain: `line` indexes the item's lines,
/// `doc_line` the body's parsed lines. [`visible`] highlights the ones on
/// screen, so rows off screen are never highlighted.
#[derive(Debug, Clone)]
pub struct CodeLine {
    pub line: usize,
    pub doc: std::rc::Rc<super::markdown::Doc>,
    pub doc_line: usize,
}

/// An item's lines, where link text sits on them, and its code lines.
#[derive(Debug, Default)]
pub struct ItemLayout {
    pub lines: Vec<Line<'static>>,
    pub links: Vec<LineLink>,
    pub code: Vec<CodeLine>,
}

/// The lines of item `idx`, including the separators that precede it (day
/// change, "new messages", sender header), which depend on item `idx - 1`.
/// Code lines are plain here (enough for heights and scrolling).
pub fn item_lines(items: &[TimelineItem], idx: usize, ctx: &LayoutCtx<'_>) -> Vec<Line<'static>> {
    item_layout(items, idx, ctx).lines
}

/// The columns a body gets right of the gutter.
fn body_width(ctx: &LayoutCtx<'_>) -> usize {
    usize::from(ctx.width).max(GUTTER + 8) - GUTTER
}

/// [`item_lines`] with link positions and code lines.
pub fn item_layout(items: &[TimelineItem], idx: usize, ctx: &LayoutCtx<'_>) -> ItemLayout {
    let mut lay = ItemLayout::default();
    let Some(item) = items.get(idx) else {
        return lay;
    };
    let ItemLayout {
        lines: out,
        links,
        code,
    } = &mut lay;
    let mut extra = (links, code);
    let prev = idx.checked_sub(1).and_then(|i| items.get(i));
    let width = usize::from(ctx.width).max(GUTTER + 8);
    let selected = ctx.selected.is_some_and(|k| *k == ItemKey::of(item));
    // Where the highlight of a selected item starts: after the separators
    // drawn above a message (they belong to no message).
    let mut start = out.len();
    match item {
        TimelineItem::Gap { from, to } => {
            // A gap counts timeline entries, which include events (the
            // `create` at seq 1, joins, edits): call them entries, not messages.
            let n = to.saturating_sub(*from) + 1;
            let noun = if n == 1 { "entry" } else { "entries" };
            let state = if idx == 0 && ctx.loading_older {
                format!("loading {}", spinner(ctx.frame))
            } else if idx == 0 {
                "scroll up to load".to_owned()
            } else {
                "not loaded yet".to_owned()
            };
            out.push(centered(
                &format!(" {n} earlier {noun} — {state} "),
                '┄',
                width,
                dim(ctx.colors),
            ));
        }
        TimelineItem::Message(m) => {
            if idx == 0 && m.seq == 1 {
                out.push(centered(
                    " start of conversation ",
                    '─',
                    width,
                    dim(ctx.colors),
                ));
            } else if idx == 0 && ctx.loading_older {
                let text = format!(" {} loading earlier entries ", spinner(ctx.frame));
                out.push(centered(&text, '┄', width, dim(ctx.colors)));
            }
            let prev_ts = prev.and_then(item_ts);
            if prev_ts.is_none_or(|p| day_of(p) != day_of(m.ts)) {
                out.push(centered(
                    &format!(" {} ", format_day(m.ts)),
                    '─',
                    width,
                    dim(ctx.colors),
                ));
            }
            let prev_unread = prev.is_some_and(|p| match p {
                TimelineItem::Message(pm) => pm.seq > ctx.read_marker,
                _ => false,
            });
            if m.seq > ctx.read_marker && m.sender != ctx.user && !prev_unread {
                let style = if ctx.colors {
                    Style::new().fg(Color::Red)
                } else {
                    Style::new().add_modifier(Modifier::BOLD)
                };
                out.push(centered(" new messages ", '─', width, style));
            }
            start = out.len();
            let parent = m.reply_to.map(|p| {
                find_message(items, p).or_else(|| ctx.parents.and_then(|all| all.get(&p)))
            });
            message_lines(m, prev, parent, width, ctx, out, &mut extra);
        }
        TimelineItem::Pending(p) => {
            let target = match &p.kind {
                OutboxKind::Edit { target }
                | OutboxKind::Redact { target }
                | OutboxKind::React { target, .. } => Some(*target),
                OutboxKind::Send | OutboxKind::Reply { .. } => None,
            };
            let target = target.and_then(|t| {
                find_message(items, t).or_else(|| ctx.parents.and_then(|all| all.get(&t)))
            });
            pending_lines(p, prev, target, width, ctx, out, &mut extra)
        }
    }
    if selected {
        for line in &mut out[start..] {
            *line = std::mem::take(line).patch_style(Style::new().add_modifier(Modifier::REVERSED));
        }
    }
    lay
}

/// Where `body_lines` records link text and code lines.
type Extra<'a> = (&'a mut Vec<LineLink>, &'a mut Vec<CodeLine>);

/// The held message `seq` among `items` (sorted by seq), if any.
pub fn find_message(items: &[TimelineItem], seq: Seq) -> Option<&LocalMessage> {
    let i = items.partition_point(|i| order_seq(i) < seq);
    match items.get(i) {
        Some(TimelineItem::Message(m)) if m.seq == seq => Some(m),
        _ => None,
    }
}

fn message_lines(
    m: &LocalMessage,
    prev: Option<&TimelineItem>,
    parent: Option<Option<&LocalMessage>>,
    width: usize,
    ctx: &LayoutCtx<'_>,
    out: &mut Vec<Line<'static>>,
    extra: &mut Extra<'_>,
) {
    let sender = for_terminal(&m.sender).into_owned();
    let time = format_time(m.ts);
    let system = |text: String, out: &mut Vec<Line<'static>>| {
        let body = wrap(&text, width - GUTTER);
        for (i, l) in body.into_iter().enumerate() {
            let g = if i == 0 {
                format!("{time} ")
            } else {
                " ".repeat(GUTTER)
            };
            out.push(Line::from(vec![
                Span::styled(g, dim(ctx.colors)),
                Span::styled(l, dim(ctx.colors)),
            ]));
        }
    };
    let clean = |s: &Option<String>| for_terminal(s.as_deref().unwrap_or("")).into_owned();
    match m.kind {
        EntryKind::Text => {}
        EntryKind::Create => {
            let text = match &m.title {
                Some(t) => format!("✦ {sender} created “{}”", for_terminal(t)),
                None => format!("✦ {sender} started the conversation"),
            };
            return system(text, out);
        }
        EntryKind::Join => return system(format!("→ {} joined", clean(&m.user)), out),
        EntryKind::Leave => return system(format!("← {} left", clean(&m.user)), out),
        EntryKind::Title => {
            return system(
                format!("✎ {sender} renamed the group to “{}”", clean(&m.body)),
                out,
            );
        }
        // Filtered out of the window before layout (they mark their target,
        // or are of a kind this client does not know); drawn as nothing
        // should one slip through.
        EntryKind::Edit | EntryKind::Redact | EntryKind::Reaction | EntryKind::Unknown => return,
    }
    if starts_group(prev, &m.sender, m.ts) {
        out.push(Line::from(Span::styled(
            sender,
            sender_style(&m.sender, ctx.colors),
        )));
    }
    let mut lines = Vec::new();
    if let Some(parent) = parent {
        lines.push(super::features_view::quote_line(
            parent,
            width - GUTTER,
            ctx.colors,
        ));
    }
    if m.redacted {
        lines.push(Line::from(Span::styled(
            DELETED,
            dim(ctx.colors).add_modifier(Modifier::ITALIC),
        )));
    } else {
        let first = out.len() + lines.len();
        let mut body = body_lines(
            m.body.as_deref().unwrap_or(""),
            width,
            ctx.colors,
            first,
            extra,
        );
        if m.mentions_me {
            super::features_view::highlight_mention(&mut body, ctx.user, ctx.colors);
        }
        lines.extend(body);
    }
    let mut marks = Vec::new();
    if m.edited && !m.redacted {
        marks.push(Span::styled(" (edited)", dim(ctx.colors)));
    }
    if m.sender == ctx.user {
        // ✓ stored by the server; ✓✓ read by the other member (receipts
        // exist only in direct conversations).
        let mark = if m.seq <= ctx.seen_up_to {
            " ✓✓"
        } else {
            " ✓"
        };
        marks.push(Span::styled(mark, dim(ctx.colors)));
    }
    let code_last = ends_in_code(out.len() + lines.len(), extra);
    append_marks(&mut lines, marks, width, code_last);
    lines.extend(super::features_view::under_message(
        m,
        width - GUTTER,
        ctx.colors,
    ));
    push_with_gutter(out, lines, &time, ctx);
}

/// Characters of a message a queued row quotes (its first line).
const QUOTED_CHARS: usize = 30;

/// A queued row's target: `NAME’s “first words”`, or `an earlier message`
/// when it is not loaded.
fn quoted(target: Option<&LocalMessage>) -> String {
    match target {
        Some(m) if m.redacted => format!("{}’s deleted message", for_terminal(&m.sender)),
        Some(m) => format!(
            "{}’s “{}”",
            for_terminal(&m.sender),
            crate::output::first_line(m.body.as_deref().unwrap_or(""), QUOTED_CHARS)
        ),
        None => "an earlier message".to_owned(),
    }
}

fn pending_lines(
    p: &OutboxItem,
    prev: Option<&TimelineItem>,
    target: Option<&LocalMessage>,
    width: usize,
    ctx: &LayoutCtx<'_>,
    out: &mut Vec<Line<'static>>,
    extra: &mut Extra<'_>,
) {
    let time = format_time(p.created_ts);
    let mut lines = match &p.kind {
        OutboxKind::Send | OutboxKind::Reply { .. } => {
            if starts_group(prev, ctx.user, p.created_ts) {
                out.push(Line::from(Span::styled(
                    for_terminal(ctx.user).into_owned(),
                    sender_style(ctx.user, ctx.colors),
                )));
            }
            body_lines(
                p.body.as_deref().unwrap_or(""),
                width,
                ctx.colors,
                out.len(),
                extra,
            )
        }
        // Which message, as the timeline shows it (seq numbers appear
        // nowhere else in the TUI): its first words, quoted.
        OutboxKind::Edit { .. } => vec![Line::from(Span::styled(
            format!(
                "✎ edit of {}: {}",
                quoted(target),
                crate::output::first_line(p.body.as_deref().unwrap_or(""), QUOTED_CHARS)
            ),
            dim(ctx.colors),
        ))],
        OutboxKind::Redact { .. } => vec![Line::from(Span::styled(
            format!("✗ delete {}", quoted(target)),
            dim(ctx.colors),
        ))],
        OutboxKind::React { key, .. } => vec![Line::from(Span::styled(
            format!("{} on {}", for_terminal(key), quoted(target)),
            dim(ctx.colors),
        ))],
    };
    let mark = match &p.state {
        OutboxState::Pending => Span::styled(" ⋯ queued", dim(ctx.colors)),
        OutboxState::Sending => Span::styled(" ⋯ sending", dim(ctx.colors)),
        OutboxState::Failed { code, message } => {
            let style = if ctx.colors {
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
            } else {
                Style::new().add_modifier(Modifier::BOLD)
            };
            // On lines of their own, wrapped: the keys must stay readable when narrow.
            let text = format!(
                "✗ failed: {} ({}) — {} retry, {} discard",
                for_terminal(message),
                for_terminal(code.as_str()),
                ctx.retry_key,
                ctx.discard_key
            );
            lines.extend(
                wrap(&text, width - GUTTER)
                    .into_iter()
                    .map(|l| Line::from(Span::styled(l, style))),
            );
            push_with_gutter(out, lines, &time, ctx);
            return;
        }
    };
    let code_last = ends_in_code(out.len() + lines.len(), extra);
    append_marks(&mut lines, vec![mark], width, code_last);
    push_with_gutter(out, lines, &time, ctx);
}

/// Whether a message by `sender` at `ts` needs a sender header after `prev`.
fn starts_group(prev: Option<&TimelineItem>, sender: &str, ts: i64) -> bool {
    match prev {
        Some(TimelineItem::Message(pm)) => {
            pm.kind != EntryKind::Text
                || pm.sender != sender
                || ts - pm.ts > REGROUP_MS
                || day_of(pm.ts) != day_of(ts)
        }
        Some(TimelineItem::Pending(pp)) => {
            !matches!(pp.kind, OutboxKind::Send) || ts - pp.created_ts > REGROUP_MS
        }
        _ => true,
    }
}

fn item_ts(item: &TimelineItem) -> Option<i64> {
    match item {
        TimelineItem::Message(m) => Some(m.ts),
        TimelineItem::Pending(p) => Some(p.created_ts),
        TimelineItem::Gap { .. } => None,
    }
}

/// A message body as markdown (parsed once per body text, cached), laid out
/// in the columns right of the gutter.
/// Links and code lines are recorded for lines placed from `first_line` on,
/// after the gutter.
fn body_lines(
    body: &str,
    width: usize,
    colors: bool,
    first_line: usize,
    (links, code): &mut Extra<'_>,
) -> Vec<Line<'static>> {
    let doc = super::markdown::doc(body);
    let laid = super::body_layout::layout(&doc, width - GUTTER, colors);
    links.extend(laid.links.iter().filter_map(|l| {
        Some(LineLink {
            line: first_line + l.line,
            col: GUTTER + l.col,
            width: l.width,
            url: doc.links.get(l.link)?.clone(),
        })
    }));
    code.extend(laid.code_rows.iter().map(|r| CodeLine {
        line: first_line + r.line,
        doc: doc.clone(),
        doc_line: r.doc_line,
    }));
    laid.lines
}

/// Whether the line before `end` (an index into the timeline's lines) is
/// a code block row: those are drawn over later, highlighted, so nothing
/// may be appended to them.
fn ends_in_code(end: usize, (_, code): &Extra<'_>) -> bool {
    code.last().is_some_and(|c| c.line + 1 == end)
}

/// Appends marks ("(edited)", "✓", "⋯ queued") to the last line, or on a
/// new line if they don't fit or the last line is a code row (`code_last`).
fn append_marks(
    lines: &mut Vec<Line<'static>>,
    marks: Vec<Span<'static>>,
    width: usize,
    code_last: bool,
) {
    if marks.is_empty() {
        return;
    }
    let extra: usize = marks.iter().map(|s| s.width()).sum();
    match lines.last_mut() {
        Some(last) if !code_last && last.width() + extra <= width - GUTTER => {
            last.spans.extend(marks)
        }
        _ => lines.push(Line::from(marks)),
    }
}

fn push_with_gutter(
    out: &mut Vec<Line<'static>>,
    lines: Vec<Line<'static>>,
    time: &str,
    ctx: &LayoutCtx<'_>,
) {
    for (i, mut line) in lines.into_iter().enumerate() {
        let g = if i == 0 {
            format!("{time} ")
        } else {
            " ".repeat(GUTTER)
        };
        line.spans.insert(0, Span::styled(g, dim(ctx.colors)));
        out.push(line);
    }
}

/// Word-wraps already-sanitized text to `width` display columns; words longer
/// than a line are broken. Always returns at least one (possibly empty) line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_w = 0;
    // Byte index in `line` just after the last space, and the width up to it.
    let mut last_space: Option<(usize, usize)> = None;
    // By grapheme: a skin-toned emoji or a ZWJ family is one 2-column cell,
    // not the sum of its code points, and never split across lines.
    for c in text.graphemes(true) {
        let cw = UnicodeWidthStr::width(c);
        if line_w + cw > width && line_w > 0 {
            match last_space {
                Some((at, w_at)) if at < line.len() => {
                    let rest = line.split_off(at);
                    lines.push(line.trim_end().to_owned());
                    line = rest;
                    line_w -= w_at;
                }
                _ => {
                    lines.push(std::mem::take(&mut line).trim_end().to_owned());
                    line_w = 0;
                }
            }
            last_space = None;
            if c == " " && line.is_empty() {
                continue;
            }
        }
        line.push_str(c);
        line_w += cw;
        if c == " " {
            last_space = Some((line.len(), line_w));
        }
    }
    lines.push(line);
    lines
}

fn centered(text: &str, fill: char, width: usize, style: Style) -> Line<'static> {
    let tw = UnicodeWidthStr::width(text);
    let side = width.saturating_sub(tw) / 2;
    let left = fill.to_string().repeat(side.min(width));
    let right = fill.to_string().repeat(width.saturating_sub(tw + side));
    Line::from(Span::styled(format!("{left}{text}{right}"), style))
}

pub fn spinner(frame: u64) -> char {
    SPINNER[(frame % SPINNER.len() as u64) as usize]
}

fn day_of(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(86_400_000)
}

/// "18:02" (UTC).
pub fn format_time(ts_ms: i64) -> String {
    let secs = ts_ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

/// "Mon 23 Nov 2026" (UTC), from days since the epoch (Howard Hinnant's civil_from_days).
pub fn format_day(ts_ms: i64) -> String {
    let days = day_of(ts_ms);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MN: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let wd = WD[days.rem_euclid(7) as usize];
    format!("{wd} {d} {} {y}", MN[(m - 1) as usize])
}

/// Index of the item a scroll position refers to (nearest by seq if it left the window).
pub fn anchor_index(items: &[TimelineItem], scroll: &ScrollPos) -> Option<(usize, usize)> {
    let last = items.len().checked_sub(1)?;
    match scroll {
        ScrollPos::Bottom => Some((last, 0)),
        ScrollPos::Anchored { item, below } => {
            let idx = match item {
                ItemKey::Pending(id) => items
                    .iter()
                    .rposition(|i| matches!(i, TimelineItem::Pending(p) if &p.client_id == id)),
                ItemKey::Seq(s) | ItemKey::Gap(s) => {
                    let p = items.partition_point(|i| order_seq(i) < *s);
                    Some(p.min(last))
                }
            };
            Some(idx.map_or((last, 0), |i| (i, *below)))
        }
    }
}

/// What a frame shows: lines top to bottom, and facts update needs.
#[derive(Debug)]
pub struct Visible {
    pub lines: Vec<Line<'static>>,
    /// The oldest item in the window is (at least partly) on screen.
    pub top_reached: bool,
    /// Index of the newest item (partly) on screen.
    pub bottom_index: Option<usize>,
    /// Link text on screen: `line` indexes `lines`.
    pub links: Vec<LineLink>,
}

/// Lays out only the items needed to fill `height` rows ending at `scroll`.
pub fn visible(
    items: &[TimelineItem],
    scroll: &ScrollPos,
    height: usize,
    ctx: &LayoutCtx<'_>,
) -> Visible {
    let Some((anchor, below)) = anchor_index(items, scroll) else {
        return Visible {
            lines: Vec::new(),
            top_reached: true,
            bottom_index: None,
            links: Vec::new(),
        };
    };
    let mut chunks: Vec<ItemLayout> = Vec::new();
    let mut count = 0;
    let mut idx = anchor;
    let mut top_reached = false;
    loop {
        let mut lay = item_layout(items, idx, ctx);
        if idx == anchor {
            let keep = lay.lines.len().saturating_sub(below).max(1);
            lay.lines.truncate(keep);
            lay.links.retain(|l| l.line < keep);
            lay.code.retain(|c| c.line < keep);
        }
        count += lay.lines.len();
        chunks.push(lay);
        if idx == 0 {
            top_reached = true;
            break;
        }
        if count >= height {
            break;
        }
        idx -= 1;
    }
    let mut lines: Vec<Line<'static>> = Vec::with_capacity(count);
    let mut links = Vec::new();
    let mut code = Vec::new();
    for chunk in chunks.into_iter().rev() {
        let base = lines.len();
        links.extend(chunk.links.into_iter().map(|l| LineLink {
            line: base + l.line,
            ..l
        }));
        code.extend(chunk.code.into_iter().map(|c| CodeLine {
            line: base + c.line,
            ..c
        }));
        lines.extend(chunk.lines);
    }
    let cut = lines.len().saturating_sub(height);
    if cut > 0 {
        lines.drain(..cut);
        links.retain(|l| l.line >= cut);
        for l in &mut links {
            l.line -= cut;
        }
    }
    // Only now, with the rows on screen known, are code lines highlighted.
    for c in code.iter().filter(|c| c.line >= cut) {
        let spans =
            super::body_layout::highlight_row(&c.doc, c.doc_line, body_width(ctx), ctx.colors);
        if let (Some(spans), Some(line)) = (spans, lines.get_mut(c.line - cut)) {
            let gutter = line.spans.first().cloned();
            line.spans = gutter.into_iter().chain(spans).collect();
        }
    }
    Visible {
        lines,
        top_reached,
        bottom_index: Some(anchor),
        links,
    }
}
