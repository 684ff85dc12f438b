//! What the scriptable commands print: stable JSON shapes (`--json`) and
//! sanitized one-line human text. JSON strings are escaped by serde; human
//! text goes through [`crate::sanitize`] because bodies and titles are hostile.

use serde::Serialize;
use sync_core::protocol::{Message, Seq};
use sync_core::{ConvRow, LocalMessage, OutboxItem, OutboxState, SearchHit, TimelineItem};

/// One conversation of `convo list --json`.
#[derive(Debug, Serialize)]
pub struct ConvJson<'a> {
    /// Conversation id.
    pub conv: &'a str,
    /// `direct` or `group`.
    pub kind: &'static str,
    /// Group title, or the other member's name.
    pub title: &'a str,
    /// Unread texts by others.
    pub unread: u64,
    /// Newest seq known.
    pub last_seq: Seq,
    /// The user's read cursor.
    pub read_seq: Seq,
    /// Members now.
    pub member_count: u32,
    /// Messages still in the outbox.
    pub pending: u32,
    /// Newest text, if any.
    pub preview: Option<PreviewJson<'a>>,
    /// Unread texts mentioning the user (0 from a server without `mentions`).
    pub mentions: u64,
    /// `all`, `mentions` or `none` (`all` from a server without `settings`).
    pub notify: &'static str,
    /// Pinned to the top of the list.
    pub pinned: bool,
    /// Archived (listed only with `--archived` or `--all`).
    pub archived: bool,
}

/// The `preview` of a conversation.
#[derive(Debug, Serialize)]
pub struct PreviewJson<'a> {
    /// Its seq.
    pub seq: Seq,
    /// Who sent it.
    pub sender: &'a str,
    /// Server time, Unix ms.
    pub ts: i64,
    /// Its text (empty when deleted).
    pub body: &'a str,
    /// It was deleted (§9.5): its content is gone.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

impl<'a> From<&'a ConvRow> for ConvJson<'a> {
    fn from(r: &'a ConvRow) -> Self {
        ConvJson {
            conv: r.conv.as_str(),
            kind: r.kind.as_str(),
            title: &r.title,
            unread: r.unread,
            last_seq: r.last_seq,
            read_seq: r.read_seq,
            member_count: r.member_count,
            pending: r.pending,
            preview: r.last.as_ref().map(preview),
            mentions: r.mentions,
            notify: r.notify.as_str(),
            pinned: r.pinned,
            archived: r.archived,
        }
    }
}

fn preview(m: &Message) -> PreviewJson<'_> {
    PreviewJson {
        seq: m.seq,
        sender: &m.sender,
        ts: m.ts,
        body: m.body.as_deref().unwrap_or(""),
        redacted: m.redacted,
    }
}

/// One timeline line of `convo show --json` / `convo tail --json`.
#[derive(Debug, Serialize)]
pub struct ItemJson<'a> {
    /// Conversation id.
    pub conv: &'a str,
    /// Seq; null for a message still in the outbox.
    pub seq: Option<Seq>,
    /// Who sent it (the user for pending ones).
    pub sender: &'a str,
    /// Server time (creation time for pending ones), Unix ms.
    pub ts: i64,
    /// Entry kind (`text`, `create`, `join`, …).
    pub kind: &'a str,
    /// Text (edits applied); null for redacted texts and most events.
    pub body: Option<&'a str>,
    /// A later edit replaced the body.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub edited: bool,
    /// The text was redacted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
    /// `pending`, `sending` or `failed` while in the outbox.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    /// The sender's idempotency key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
    /// Subject of join/leave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    /// Title of create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    /// §9.1: the seq this text replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Seq>,
    /// §9.1: the root of the thread this text is a reply in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<Seq>,
    /// §9.1: replies in this root's thread (when it has any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replies: Option<u64>,
    /// §9.1: the newest reply of this root's thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reply_seq: Option<Seq>,
    /// §9.3: who the text mentions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<&'a str>,
    /// §9.3: the text (or an edit of it) mentioned the user.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mentions_me: bool,
    /// §9.2: standing reactions, by count then key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionJson<'a>>,
    /// §9.2: a `reaction` entry's key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a str>,
    /// §9.2: the text a `reaction` entry is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Seq>,
    /// `tail` only: `live` (pushed while connected) or `catch_up` (pulled
    /// after a reconnect or to fill a gap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival: Option<&'static str>,
}

/// One reaction total of a text.
#[derive(Debug, Serialize)]
pub struct ReactionJson<'a> {
    /// The emoji or `:shortcode:`.
    pub key: &'a str,
    /// How many members stand by it.
    pub count: u64,
    /// The user is one of them.
    pub mine: bool,
}

impl<'a> ItemJson<'a> {
    /// A held message.
    pub fn held(conv: &'a str, m: &'a LocalMessage) -> Self {
        ItemJson {
            conv,
            seq: Some(m.seq),
            sender: &m.sender,
            ts: m.ts,
            kind: m.kind.as_str(),
            body: if m.redacted { None } else { m.body.as_deref() },
            edited: m.edited,
            redacted: m.redacted,
            state: None,
            client_id: m.client_id.as_deref(),
            user: m.user.as_deref(),
            title: m.title.as_deref(),
            reply_to: m.reply_to,
            thread: m.thread,
            replies: (m.replies > 0).then_some(m.replies),
            last_reply_seq: m.last_reply_seq,
            mentions: m.mentions.iter().map(String::as_str).collect(),
            mentions_me: m.mentions_me,
            reactions: m
                .reactions
                .iter()
                .map(|r| ReactionJson {
                    key: &r.key,
                    count: r.count,
                    mine: r.mine,
                })
                .collect(),
            key: m.key.as_deref(),
            target: m.key.as_ref().and(m.target),
            arrival: None,
        }
    }

    /// A message in the outbox (local echo).
    pub fn pending(conv: &'a str, me: &'a str, o: &'a OutboxItem) -> Self {
        ItemJson {
            conv,
            seq: None,
            sender: me,
            ts: o.created_ts,
            kind: "text",
            body: o.body.as_deref(),
            edited: false,
            redacted: false,
            state: Some(outbox_state(&o.state)),
            client_id: Some(&o.client_id),
            user: None,
            title: None,
            reply_to: outbox_reply_to(&o.kind),
            thread: None,
            replies: None,
            last_reply_seq: None,
            mentions: Vec::new(),
            mentions_me: false,
            reactions: Vec::new(),
            key: None,
            target: None,
            arrival: None,
        }
    }
}

/// The text a queued reply answers.
fn outbox_reply_to(kind: &sync_core::OutboxKind) -> Option<Seq> {
    match kind {
        sync_core::OutboxKind::Reply { reply_to } => Some(*reply_to),
        _ => None,
    }
}

/// The word for an outbox state.
pub fn outbox_state(s: &OutboxState) -> &'static str {
    match s {
        OutboxState::Pending => "pending",
        OutboxState::Sending => "sending",
        OutboxState::Failed { .. } => "failed",
    }
}

/// One hit of `convo search --json`.
#[derive(Debug, Serialize)]
pub struct HitJson<'a> {
    /// Conversation id.
    pub conv: &'a str,
    /// Its title (as the list shows it).
    pub title: &'a str,
    /// Seq of the message.
    pub seq: Seq,
    /// Who sent it.
    pub sender: &'a str,
    /// Server time, Unix ms.
    pub ts: i64,
    /// The text.
    pub body: &'a str,
}

impl<'a> HitJson<'a> {
    /// A hit with its conversation's title.
    pub fn new(h: &'a SearchHit, title: &'a str) -> Self {
        HitJson {
            conv: h.conv.as_str(),
            title,
            seq: h.seq,
            sender: &h.sender,
            ts: h.ts,
            body: &h.body,
        }
    }
}

/// Terminal-safe single-line text.
pub fn safe(s: &str) -> String {
    crate::sanitize::for_terminal(s).replace(['\n', '\r'], " ")
}

/// Characters of a text `list` shows (its first line).
const PREVIEW_CHARS: usize = 60;

/// Human line for `convo list`: a marker column (`P` pinned, `A`
/// archived, `L` left), then id, kind, title, unread count with the mention badge
/// (`3 unread @1`), newest seq and preview.
pub fn conv_line(r: &ConvRow) -> String {
    let mark = if r.left {
        'L'
    } else if r.archived {
        'A'
    } else if r.pinned {
        'P'
    } else {
        ' '
    };
    let mut unread = if r.unread > 0 {
        format!("{} unread", r.unread)
    } else {
        "-".to_owned()
    };
    if r.mentions > 0 {
        unread.push_str(&format!(" @{}", r.mentions));
    }
    let preview = r
        .last
        .as_ref()
        .map(|m| {
            // One line, as wide as a terminal's (the whole of a long
            // single-line text made a 16,000-column row).
            let body = if m.redacted {
                "(deleted)".to_owned()
            } else {
                first_line(m.body.as_deref().unwrap_or(""), PREVIEW_CHARS)
            };
            format!("{}: {body}", safe(&m.sender))
        })
        .unwrap_or_default();
    format!(
        "{mark} {:<6} {:<6} {:<20} {:>12} #{:<5} {}",
        r.conv.as_str(),
        r.kind.as_str(),
        safe(&r.title),
        unread,
        r.last_seq,
        preview
    )
}

/// The first line of a body, cut to `max` characters (with `…` when cut or
/// when more lines follow), sanitized.
pub(crate) fn first_line(body: &str, max: usize) -> String {
    let line = body.lines().next().unwrap_or("");
    let mut out: String = line.chars().take(max).collect();
    if line.chars().count() > max || body.lines().nth(1).is_some() {
        out.push('…');
    }
    safe(&out)
}

/// `convo show`/`thread` text of one item with its §9 annotations: a
/// one-line reply marker above a reply (`  ↳ reply to #12 alice: first
/// line`, the quote when #12 is among `items`), then the item, then its
/// reactions (`👍 2  [🎉 1]`, the user's own in brackets) and its thread
/// (`3 replies, last #17`), indented under the body.
pub fn annotated_text(item: &TimelineItem, items: &[TimelineItem], raw: bool) -> String {
    let mut out = String::new();
    let (reply_to, msg) = match item {
        TimelineItem::Message(m) => (m.reply_to, Some(m)),
        TimelineItem::Pending(o) => (outbox_reply_to(&o.kind), None),
        TimelineItem::Gap { .. } => (None, None),
    };
    if let Some(parent) = reply_to {
        let quote = items.iter().find_map(|it| match it {
            TimelineItem::Message(p) if p.seq == parent => Some(p),
            _ => None,
        });
        out.push_str(&format!("  ↳ reply to #{parent}"));
        if let Some(p) = quote {
            let body = if p.redacted {
                "(deleted)".to_owned()
            } else {
                first_line(p.body.as_deref().unwrap_or(""), 40)
            };
            out.push_str(&format!(" {}: {body}", safe(&p.sender)));
        }
        out.push('\n');
    }
    out.push_str(&item_text(item, raw));
    let Some(m) = msg else {
        return out;
    };
    if !m.reactions.is_empty() {
        let parts: Vec<String> = m
            .reactions
            .iter()
            .map(|r| {
                let one = format!("{} {}", safe(&r.key), r.count);
                if r.mine { format!("[{one}]") } else { one }
            })
            .collect();
        out.push('\n');
        out.push_str(BODY_INDENT);
        out.push_str(&parts.join("  "));
    }
    if m.replies > 0 {
        let noun = if m.replies == 1 { "reply" } else { "replies" };
        out.push('\n');
        out.push_str(BODY_INDENT);
        out.push_str(&format!("{} {noun}", m.replies));
        if let Some(last) = m.last_reply_seq {
            out.push_str(&format!(", last #{last}"));
        }
    }
    out
}

/// Human line for one timeline item of `convo show` (None for gaps the
/// caller reports separately).
pub fn item_line(item: &TimelineItem) -> String {
    match item {
        TimelineItem::Message(m) => {
            // A deleted text or reaction reads as `list` and the TUI say it;
            // an edit of a deleted text still says what it was.
            let what = match (m.kind.as_str(), m.redacted) {
                (kind, true) if kind != "edit" => "(deleted)".to_owned(),
                ("text", _) => {
                    let body = safe(m.body.as_deref().unwrap_or(""));
                    if m.edited {
                        format!("{body} (edited)")
                    } else {
                        body
                    }
                }
                ("create", _) => format!(
                    "* created {}",
                    safe(m.title.as_deref().unwrap_or("the conversation"))
                ),
                ("join", _) => format!("* {} joined", safe(m.user.as_deref().unwrap_or("?"))),
                ("leave", _) => format!("* {} left", safe(m.user.as_deref().unwrap_or("?"))),
                ("title", _) => format!("* renamed to {}", safe(m.body.as_deref().unwrap_or(""))),
                ("reaction", _) => format!(
                    "* reacted {} to #{}",
                    safe(m.key.as_deref().unwrap_or("?")),
                    m.target.map_or_else(|| "?".to_owned(), |t| t.to_string())
                ),
                // What a deletion or an edit changed, not the protocol's
                // entry kind (`* redact` said nothing to a reader).
                ("redact" | "edit", _) => format!(
                    "* {} #{}",
                    if m.kind.as_str() == "redact" {
                        "deleted"
                    } else {
                        "edited"
                    },
                    m.target.map_or_else(|| "?".to_owned(), |t| t.to_string())
                ),
                ("unknown", _) => "* (an entry of a kind this convo does not know)".to_owned(),
                (other, _) => format!("* {other}"),
            };
            format!("#{:<5} {}: {}", m.seq, safe(&m.sender), what)
        }
        TimelineItem::Gap { from, to } => {
            let n = to - from + 1;
            let noun = if n == 1 { "message" } else { "messages" };
            format!("… {n} {noun} not loaded (#{from}–#{to}) …")
        }
        TimelineItem::Pending(o) => format!(
            "[{}] {}",
            outbox_state(&o.state),
            safe(o.body.as_deref().unwrap_or(""))
        ),
    }
}

/// Continuation lines of a body in `convo show` start in this column.
const BODY_INDENT: &str = "        ";

/// Text of one timeline item for `convo show`: like [`item_line`], but a text
/// body keeps its lines. Rendered from markdown plainly (emphasis markers
/// dropped, inline code in backticks, links as text and target, code blocks
/// indented four more columns, no colour), or with `raw` exactly as sent
/// (sanitized). Continuation lines are indented under the first.
pub fn item_text(item: &TimelineItem, raw: bool) -> String {
    let TimelineItem::Message(m) = item else {
        return item_line(item);
    };
    if m.kind.as_str() != "text" || m.redacted {
        return item_line(item);
    }
    let body = m.body.as_deref().unwrap_or("");
    let lines: Vec<String> = if raw {
        crate::sanitize::for_terminal_multiline(body)
            .split('\n')
            .map(str::to_owned)
            .collect()
    } else {
        plain_markdown(body)
    };
    let mut out = format!("#{:<5} {}:", m.seq, safe(&m.sender));
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(BODY_INDENT);
        } else if !line.is_empty() {
            out.push(' ');
        }
        out.push_str(line);
    }
    if m.edited {
        out.push_str(" (edited)");
    }
    out
}

/// A body's markdown as plain lines (the TUI's parse, without styles).
pub fn plain_markdown(body: &str) -> Vec<String> {
    use crate::ui::markdown::{CODE, DocLine, doc};
    let d = doc(body);
    let mut out = Vec::new();
    // A body that opens with a code block starts it on its own line.
    if matches!(d.lines.first(), Some(DocLine::CodeHead { .. })) {
        out.push(String::new());
    }
    for line in &d.lines {
        match line {
            DocLine::Blank => out.push(String::new()),
            DocLine::Prose { prefix, spans, .. } => {
                let mut s = prefix.clone();
                for span in spans {
                    if span.attrs & CODE != 0 {
                        s.push('`');
                        s.push_str(&span.text);
                        s.push('`');
                    } else {
                        s.push_str(&span.text);
                    }
                }
                out.push(s);
            }
            DocLine::CodeHead { .. } => {}
            DocLine::Code { prefix, block, row } => {
                let code = &d.code_blocks[*block].lines[*row];
                out.push(format!("{prefix}    {code}").trim_end().to_owned());
            }
        }
    }
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// Prints `value` as one JSON line on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let line = serde_json::to_string(value)?;
    println!("{line}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deleted newest text: the preview says so instead of its (now
    /// empty) body.
    #[test]
    fn a_deleted_preview_reads_deleted() {
        let mut last = Message::text(7, "bob", 0, "");
        last.body = None;
        last.redacted = true;
        let row = ConvRow {
            conv: "c1".into(),
            kind: sync_core::protocol::ConvKind::Direct,
            title: "bob".into(),
            member_count: 2,
            last_seq: 8,
            read_seq: 8,
            unread: 0,
            last: Some(last),
            left: false,
            last_activity_ts: 0,
            pending: 0,
            mentions: 0,
            notify: sync_core::Notify::All,
            pinned: false,
            archived: false,
        };
        assert!(
            conv_line(&row).ends_with("bob: (deleted)"),
            "{}",
            conv_line(&row)
        );
        // A long one-line text: its first 60 characters; a left group: `L`.
        let long = format!("{}tail", "x".repeat(60));
        let row = ConvRow {
            last: Some(Message::text(7, "bob", 0, long)),
            left: true,
            ..row
        };
        assert_eq!(
            conv_line(&row),
            format!(
                "L c1     direct bob                             - #8     bob: {}…",
                "x".repeat(60)
            )
        );
    }

    /// `show`: a deleted text reads `(deleted)`, an edit of it still says
    /// what it was.
    #[test]
    fn deleted_entries_read_deleted_and_edits_stay_edits() {
        let item = |m: Message| {
            let mut local = LocalMessage::from_entry(&m);
            local.body = None;
            local.redacted = true;
            item_line(&TimelineItem::Message(local))
        };
        assert_eq!(
            item(Message::text(2, "bob", 0, "")),
            "#2     bob: (deleted)"
        );
        let mut edit = Message::new(3, "bob", 0, sync_core::protocol::EntryKind::Edit);
        edit.target = Some(2);
        assert_eq!(item(edit), "#3     bob: * edited #2");
    }
}
