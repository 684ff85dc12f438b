//! Message bodies as markdown: parses a body once (pulldown-cmark) into a
//! width-independent [`Doc`] of prose lines, code lines (highlighted) and
//! links, cached per body text, so a message version is parsed and
//! highlighted once however often it is drawn. `body_layout` wraps a `Doc`
//! to a width each frame.
//!
//! The subset and its rules (README "Using the TUI" repeats them):
//! - emphasis `*a*`/`_a_`, strong `**a**`, strikethrough `~~a~~`: styled, the
//!   markers hidden — but only when the markers stand at word boundaries; an
//!   intraword run (`a*b*c`, `snake_case`) shows every character as typed;
//! - inline code and fenced code blocks (language tag after the fence);
//! - block quotes (`│ ` bar), bullet and numbered lists;
//! - links `[text](url)`, `<url>` and bare `http(s)://` URLs: only http,
//!   https and mailto targets made of printable ASCII are links; a link whose
//!   text differs from its target shows the target too, so text can't hide
//!   where it goes; any other target shows as typed;
//! - everything else (headings, rules, indented code, HTML, images) shows
//!   exactly as typed; a line break in the body is a line break on screen.
//!
//! Every piece of text passes `sanitize::for_terminal` before it is stored.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;

use pulldown_cmark::{CodeBlockKind, Event, LinkType, Options, Parser, Tag, TagEnd};
use unicode_width::UnicodeWidthStr;

use super::highlight::{HlLine, Incremental};
use crate::sanitize::for_terminal;

/// Inline attribute bits.
pub const EM: u8 = 1;
pub const STRONG: u8 = 2;
pub const STRIKE: u8 = 4;
pub const CODE: u8 = 8;
pub const LINK: u8 = 16;
/// Secondary text added by the renderer (a link's target after its text).
pub const NOTE: u8 = 32;

/// A run of sanitized text with its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inline {
    pub text: String,
    pub attrs: u8,
    /// Index into [`Doc::links`] when this run is (part of) a link.
    pub link: Option<usize>,
}

/// One logical line of a rendered body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocLine {
    /// Wrapped text. `prefix` leads the first screen line, `cont` the lines
    /// it wraps onto (quote bars, list bullets / their indentation).
    Prose {
        prefix: String,
        cont: String,
        spans: Vec<Inline>,
    },
    /// The top border of a code block, naming its language.
    CodeHead {
        prefix: String,
        lang: String,
    },
    /// Line `row` of code block `block`: never wrapped, clipped with `…`;
    /// highlighted only when drawn ([`CodeBlock::runs`]).
    Code {
        prefix: String,
        block: usize,
        row: usize,
    },
    Blank,
}

/// A code block: its language tag and sanitized lines (also what the pager
/// shows), highlighted on demand.
#[derive(Debug)]
pub struct CodeBlock {
    pub lang: String,
    pub lines: Vec<String>,
    hl: RefCell<Incremental>,
}

impl CodeBlock {
    /// The highlighted runs of line `row` (parsing the lines above it once).
    pub fn runs(&self, row: usize) -> HlLine {
        self.hl.borrow_mut().line(&self.lines, row)
    }

    /// How many lines have been highlighted so far.
    pub fn highlighted(&self) -> usize {
        self.hl.borrow().highlighted()
    }
}

/// A parsed body.
#[derive(Debug, Default)]
pub struct Doc {
    pub lines: Vec<DocLine>,
    /// Link targets (allowed schemes only, printable ASCII), in order.
    pub links: Vec<String>,
    pub code_blocks: Vec<CodeBlock>,
}

/// Parsed bodies kept per text; cleared whole when it grows past this.
const CACHE_CAP: usize = 4096;

thread_local! {
    static CACHE: RefCell<HashMap<Box<str>, Rc<Doc>>> = RefCell::new(HashMap::new());
}

/// The parsed form of `body`, from the cache when this text was seen before.
pub fn doc(body: &str) -> Rc<Doc> {
    if let Some(d) = CACHE.with(|c| c.borrow().get(body).cloned()) {
        return d;
    }
    let d = Rc::new(parse(body));
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_CAP {
            c.clear();
        }
        c.insert(body.into(), d.clone());
    });
    d
}

/// Empties this thread's cache (benchmarks measure the first highlight).
pub fn clear_cache() {
    CACHE.with(|c| c.borrow_mut().clear());
}

/// Whether `url` may become a link: http, https or mailto, and only
/// printable ASCII (no space, no control, nothing a terminal could take as
/// the end of an OSC 8 sequence).
pub fn allowed_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let scheme_ok = lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("mailto:");
    scheme_ok
        && url.len() > 7
        && url.len() <= 2048
        && url.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

#[derive(Debug)]
enum Container {
    Quote,
    Item { marker: String, used: bool },
}

#[derive(Debug)]
struct Builder<'s> {
    src: &'s str,
    doc: Doc,
    containers: Vec<Container>,
    lists: Vec<Option<u64>>,
    /// The line being filled: (prefix, continuation prefix, spans).
    cur: Option<(String, String, Vec<Inline>)>,
    attrs: u8,
    link: Option<usize>,
    /// Closing text of open inline tags: Some(marker) when shown literally.
    inline_stack: Vec<(u8, Option<String>)>,
    /// Link target shown after the text (when it differs), and the text so far.
    link_note: Option<(String, String)>,
    text: String,
    /// Events before this offset belong to something shown as typed.
    skip_until: usize,
    /// Start of the last line whose preceding blank lines were emitted.
    last_end: Option<usize>,
    code: Option<(String, String)>,
}

fn parse(body: &str) -> Doc {
    let mut b = Builder {
        src: body,
        doc: Doc::default(),
        containers: Vec::new(),
        lists: Vec::new(),
        cur: None,
        attrs: 0,
        link: None,
        inline_stack: Vec::new(),
        link_note: None,
        text: String::new(),
        skip_until: 0,
        last_end: None,
        code: None,
    };
    let parser = Parser::new_ext(body, Options::ENABLE_STRIKETHROUGH).into_offset_iter();
    for (ev, range) in parser {
        if range.start < b.skip_until {
            continue;
        }
        b.event(ev, range);
    }
    b.flush_text();
    b.flush_line();
    b.doc
}

impl Builder<'_> {
    fn event(&mut self, ev: Event<'_>, range: Range<usize>) {
        if let (Some(code), Event::Text(t)) = (self.code.as_mut(), &ev) {
            code.1.push_str(t);
            return;
        }
        if !matches!(ev, Event::Text(_)) {
            self.flush_text();
        }
        match ev {
            Event::Text(t) => self.text.push_str(&t),
            Event::Code(t) => self.push(&t, self.attrs | CODE),
            Event::SoftBreak | Event::HardBreak => self.flush_line(),
            Event::Html(t) | Event::InlineHtml(t) => self.push_lines_as_typed(&t),
            Event::Rule => self.block_as_typed(range),
            Event::Start(tag) => self.start(tag, range),
            Event::End(tag) => self.end(tag),
            _ => self.as_typed(range),
        }
    }

    fn start(&mut self, tag: Tag<'_>, range: Range<usize>) {
        match tag {
            Tag::Paragraph => {
                self.flush_line();
                self.blank_lines_before(range.start);
            }
            Tag::BlockQuote(_) => {
                self.flush_line();
                self.blank_lines_before(range.start);
                self.containers.push(Container::Quote);
            }
            Tag::List(first) => {
                self.flush_line();
                self.blank_lines_before(range.start);
                self.lists.push(first);
            }
            Tag::Item => {
                self.flush_line();
                self.blank_lines_before(range.start);
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => "• ".to_owned(),
                };
                self.containers.push(Container::Item {
                    marker,
                    used: false,
                });
            }
            Tag::CodeBlock(CodeBlockKind::Fenced(info)) => {
                self.flush_line();
                self.blank_lines_before(range.start);
                let lang = info.split_whitespace().next().unwrap_or("");
                self.code = Some((for_terminal(lang).into_owned(), String::new()));
            }
            Tag::Emphasis | Tag::Strong | Tag::Strikethrough => {
                let bit = match tag {
                    Tag::Emphasis => EM,
                    Tag::Strong => STRONG,
                    _ => STRIKE,
                };
                self.start_inline(bit, range);
            }
            Tag::Link {
                link_type,
                dest_url,
                ..
            } if self.link.is_none() && allowed_url(&dest_url) => {
                let i = self.doc.links.len();
                self.doc.links.push(dest_url.to_string());
                self.link = Some(i);
                self.attrs |= LINK;
                let autolink = matches!(link_type, LinkType::Autolink | LinkType::Email);
                if !autolink {
                    self.link_note = Some((dest_url.to_string(), String::new()));
                }
            }
            // Links to other schemes, images: inline, as typed.
            Tag::Link { .. } | Tag::Image { .. } => self.as_typed(range),
            // Headings, indented code, HTML blocks, …
            _ => self.block_as_typed(range),
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.flush_line(),
            TagEnd::BlockQuote(_) | TagEnd::Item => {
                self.flush_line();
                self.containers.pop();
            }
            TagEnd::List(_) => {
                self.lists.pop();
            }
            TagEnd::CodeBlock => {
                if let Some((lang, text)) = self.code.take() {
                    self.code_block(lang, &text);
                }
            }
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => {
                if let Some((bit, literal)) = self.inline_stack.pop() {
                    match literal {
                        Some(m) => self.push(&m, self.attrs),
                        None => self.attrs &= !bit,
                    }
                }
            }
            TagEnd::Link if self.link.take().is_some() => {
                self.attrs &= !LINK;
                if let Some((url, text)) = self.link_note.take()
                    && text != url
                {
                    self.push(&format!(" ({url})"), self.attrs | NOTE);
                }
            }
            _ => {}
        }
    }

    /// Emphasis-like tags style their text only when the markers stand at
    /// word boundaries; otherwise the markers are shown as typed.
    fn start_inline(&mut self, bit: u8, range: Range<usize>) {
        let before = self.src[..range.start].chars().next_back();
        let after = self.src[range.end..].chars().next();
        let intraword =
            before.is_some_and(char::is_alphanumeric) || after.is_some_and(char::is_alphanumeric);
        if intraword {
            let s = &self.src[range.clone()];
            let first = s.chars().next().unwrap_or('*');
            let n = s.chars().take_while(|c| *c == first).count();
            let n = match bit {
                EM => 1,
                STRONG => 2,
                _ => n.min(2),
            };
            let open: String = s.chars().take(n).collect();
            let close: String = s.chars().rev().take(n).collect();
            self.push(&open, self.attrs);
            self.inline_stack.push((bit, Some(close)));
        } else {
            self.attrs |= bit;
            self.inline_stack.push((bit, None));
        }
    }

    /// An inline element shown exactly as typed.
    fn as_typed(&mut self, range: Range<usize>) {
        let s = self.src[range.clone()].to_owned();
        self.push_lines_as_typed(&s);
        self.skip_until = self.skip_until.max(range.end);
    }

    /// A block shown exactly as typed, line by line.
    fn block_as_typed(&mut self, range: Range<usize>) {
        self.flush_line();
        self.blank_lines_before(range.start);
        let s = self.src[range.clone()].trim_end_matches('\n').to_owned();
        self.push_lines_as_typed(&s);
        self.flush_line();
        self.skip_until = self.skip_until.max(range.end);
    }

    fn push_lines_as_typed(&mut self, s: &str) {
        for (i, line) in s.split('\n').enumerate() {
            if i > 0 {
                self.flush_line();
            }
            let line = line.strip_suffix('\r').unwrap_or(line);
            self.push(line, self.attrs);
        }
    }

    /// Blank lines typed right before the line holding `start` (a line of
    /// only spaces and quote markers counts as blank), once per line.
    fn blank_lines_before(&mut self, start: usize) {
        let line_start = self.src[..start].rfind('\n').map_or(0, |i| i + 1);
        if self.doc.lines.is_empty() || self.last_end == Some(line_start) {
            return;
        }
        self.last_end = Some(line_start);
        let before = &self.src[..line_start];
        let n = before
            .strip_suffix('\n')
            .unwrap_or(before)
            .split('\n')
            .rev()
            .take_while(|l| l.chars().all(|c| c == '>' || c.is_whitespace()))
            .count();
        let n = if line_start == 0 { 0 } else { n };
        for _ in 0..n {
            self.doc.lines.push(DocLine::Blank);
        }
    }

    /// Text of consecutive `Text` events, with bare URLs made links.
    fn flush_text(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let text = std::mem::take(&mut self.text);
        if self.link.is_some() {
            if let Some((_, seen)) = self.link_note.as_mut() {
                seen.push_str(&text);
            }
            self.push(&text, self.attrs);
            return;
        }
        let mut rest = text.as_str();
        while let Some((at, len)) = find_url(rest) {
            self.push(&rest[..at], self.attrs);
            let url = &rest[at..at + len];
            let i = self.doc.links.len();
            self.doc.links.push(url.to_owned());
            let attrs = self.attrs | LINK;
            self.open_line().2.push(Inline {
                text: url.to_owned(),
                attrs,
                link: Some(i),
            });
            rest = &rest[at + len..];
        }
        self.push(rest, self.attrs);
    }

    fn push(&mut self, text: &str, attrs: u8) {
        if text.is_empty() {
            return;
        }
        let link = if attrs & LINK != 0 { self.link } else { None };
        let clean = for_terminal(text).into_owned();
        let spans = &mut self.open_line().2;
        match spans.last_mut() {
            Some(last) if last.attrs == attrs && last.link == link => last.text.push_str(&clean),
            _ => spans.push(Inline {
                text: clean,
                attrs,
                link,
            }),
        }
    }

    fn prefixes(&mut self) -> (String, String) {
        let mut first = String::new();
        let mut cont = String::new();
        for c in &mut self.containers {
            match c {
                Container::Quote => {
                    first.push_str("│ ");
                    cont.push_str("│ ");
                }
                Container::Item { marker, used } => {
                    let pad = " ".repeat(marker.width());
                    if *used {
                        first.push_str(&pad);
                    } else {
                        first.push_str(marker);
                        *used = true;
                    }
                    cont.push_str(&pad);
                }
            }
        }
        (first, cont)
    }

    fn open_line(&mut self) -> &mut (String, String, Vec<Inline>) {
        if self.cur.is_none() {
            let (first, cont) = self.prefixes();
            self.cur = Some((first, cont, Vec::new()));
        }
        self.cur.get_or_insert_with(Default::default)
    }

    fn flush_line(&mut self) {
        self.flush_text();
        if let Some((prefix, cont, spans)) = self.cur.take() {
            self.doc.lines.push(DocLine::Prose {
                prefix,
                cont,
                spans,
            });
        }
    }

    fn code_block(&mut self, lang: String, text: &str) {
        let text = text.strip_suffix('\n').unwrap_or(text);
        let lines: Vec<String> = text
            .split('\n')
            .map(|l| for_terminal(&expand_tabs(l.strip_suffix('\r').unwrap_or(l))).into_owned())
            .collect();
        let (prefix, _) = self.prefixes();
        self.doc.lines.push(DocLine::CodeHead {
            prefix: prefix.clone(),
            lang: lang.clone(),
        });
        let block = self.doc.code_blocks.len();
        for row in 0..lines.len() {
            self.doc.lines.push(DocLine::Code {
                prefix: prefix.clone(),
                block,
                row,
            });
        }
        let hl = RefCell::new(Incremental::new(&lang));
        self.doc.code_blocks.push(CodeBlock { lang, lines, hl });
    }
}

/// Wraps `content` in a fence longer than any backtick run inside it, so
/// the content can't close it early. Its last newline is the fence's.
pub fn fence(content: &str, lang: &str) -> String {
    let content = content.strip_suffix('\n').unwrap_or(content);
    let longest = content.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let ticks = "`".repeat(longest.max(2) + 1);
    format!("{ticks}{lang}\n{content}\n{ticks}")
}

/// Tabs become spaces to the next multiple of 4 (a tab would otherwise be
/// shown as the visible `␉`, and its width is the terminal's guess).
pub fn expand_tabs(line: &str) -> String {
    if !line.contains('\t') {
        return line.to_owned();
    }
    let mut out = String::with_capacity(line.len() + 8);
    let mut col = 0;
    // By grapheme, as the buffer measures: `❤️` (U+2764 U+FE0F) is 2 columns
    // as a string though its chars sum to 1.
    for g in unicode_segmentation::UnicodeSegmentation::graphemes(line, true) {
        if g == "\t" {
            let n = 4 - col % 4;
            out.extend(std::iter::repeat_n(' ', n));
            col += n;
        } else {
            out.push_str(g);
            col += unicode_width::UnicodeWidthStr::width(g);
        }
    }
    out
}

/// The first bare http(s) URL in `s`: (byte offset, length). It starts at a
/// word boundary and runs over printable ASCII other than `<>"`; trailing
/// punctuation and an unbalanced `)` are left out.
pub fn find_url(s: &str) -> Option<(usize, usize)> {
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("http").map(|i| i + from) {
        let boundary = s[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let rest = &lower[i..];
        let scheme = if rest.starts_with("https://") {
            8
        } else if rest.starts_with("http://") {
            7
        } else {
            0
        };
        if boundary && scheme > 0 {
            let mut len = s[i..]
                .bytes()
                .take_while(|b| (0x21..=0x7e).contains(b) && !matches!(b, b'<' | b'>' | b'"'))
                .count();
            loop {
                let url = &s[i..i + len];
                let opens = url.matches('(').count();
                let closes = url.matches(')').count();
                match url.as_bytes().last() {
                    Some(b'.' | b',' | b';' | b':' | b'!' | b'?' | b'\'' | b'*' | b'_' | b'~') => {
                        len -= 1;
                    }
                    Some(b')') if closes > opens => len -= 1,
                    _ => break,
                }
            }
            if len > scheme {
                return Some((i, len));
            }
        }
        from = i + 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(d: &Doc) -> Vec<String> {
        d.lines
            .iter()
            .map(|l| match l {
                DocLine::Prose { prefix, spans, .. } => {
                    let body: String = spans.iter().map(|s| s.text.as_str()).collect();
                    format!("{prefix}{body}")
                }
                DocLine::CodeHead { prefix, lang } => format!("{prefix}```{lang}"),
                DocLine::Code { prefix, block, row } => {
                    format!("{prefix}{}", d.code_blocks[*block].lines[*row])
                }
                DocLine::Blank => String::new(),
            })
            .collect()
    }

    #[test]
    fn intraword_markers_show_as_typed() {
        assert_eq!(texts(&parse("a*b*c")), vec!["a*b*c"]);
        assert_eq!(texts(&parse("snake_case_name")), vec!["snake_case_name"]);
        assert_eq!(texts(&parse("2*3*4 = 24")), vec!["2*3*4 = 24"]);
        let d = parse("an *emphatic* word");
        assert_eq!(texts(&d), vec!["an emphatic word"]);
        let DocLine::Prose { spans, .. } = &d.lines[0] else {
            panic!()
        };
        assert_eq!(spans[1].attrs, EM);
    }

    #[test]
    fn unsupported_blocks_show_as_typed_and_breaks_are_kept() {
        assert_eq!(
            texts(&parse("# Title\nline one\nline two\n\n\nafter")),
            vec!["# Title", "line one", "line two", "", "", "after"]
        );
        assert_eq!(texts(&parse("---")), vec!["---"]);
    }

    #[test]
    fn code_blocks_keep_indentation_and_blank_lines() {
        let d = parse("look:\n```rust\nfn a() {\n\n\tx();\n}\n```\nok");
        assert_eq!(
            texts(&d),
            vec!["look:", "```rust", "fn a() {", "", "    x();", "}", "ok"]
        );
        assert_eq!(d.code_blocks[0].lang, "rust");
    }

    #[test]
    fn links_bare_and_markdown() {
        let d = parse("see https://a.example/x_(y). and [docs](https://d.example)");
        assert_eq!(
            d.links,
            vec!["https://a.example/x_(y)", "https://d.example"]
        );
        assert_eq!(
            texts(&d),
            vec!["see https://a.example/x_(y). and docs (https://d.example)"]
        );
        let bad = parse("[click](javascript:alert(1)) <https://ok.example>");
        assert_eq!(bad.links, vec!["https://ok.example"]);
        assert_eq!(
            texts(&bad),
            vec!["[click](javascript:alert(1)) https://ok.example"]
        );
    }

    #[test]
    fn lists_and_quotes_get_prefixes() {
        assert_eq!(
            texts(&parse("- one\n- two\n\n> quoted\n\n3. three")),
            vec!["• one", "• two", "", "│ quoted", "", "3. three"]
        );
    }
}
