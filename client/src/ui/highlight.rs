//! Syntax highlighting of code blocks by language tag, with syntect (its
//! pure-Rust `fancy-regex` engine, default syntaxes, no themes).
//!
//! Highlighting yields *classes* (keyword, string, comment, …), not colours:
//! the timeline maps classes onto the app's own palette (named ANSI colours,
//! so the terminal's theme applies) and onto bold/dim under `NO_COLOR`.
//! The input is already-sanitized text, so nothing here can emit a control
//! byte whatever the grammar does.

use std::sync::OnceLock;

use ratatui::style::{Color, Modifier, Style};
use syntect::parsing::{ParseState, Scope, ScopeStack, SyntaxReference, SyntaxSet};

/// What a piece of code is, as far as colouring goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HlClass {
    Plain,
    Keyword,
    String,
    Comment,
    Number,
    Type,
    Function,
    Macro,
}

impl HlClass {
    /// The style of a class: named colours with `colors`, else only
    /// bold (keywords) and dim (comments).
    pub fn style(self, colors: bool) -> Style {
        if !colors {
            return match self {
                HlClass::Keyword => Style::new().add_modifier(Modifier::BOLD),
                HlClass::Comment => Style::new().add_modifier(Modifier::DIM),
                _ => Style::new(),
            };
        }
        match self {
            HlClass::Plain => Style::new(),
            HlClass::Keyword => Style::new().fg(Color::Magenta),
            HlClass::String => Style::new().fg(Color::Green),
            HlClass::Comment => Style::new()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::ITALIC),
            HlClass::Number => Style::new().fg(Color::Cyan),
            HlClass::Type => Style::new().fg(Color::Yellow),
            HlClass::Function => Style::new().fg(Color::Blue),
            HlClass::Macro => Style::new().fg(Color::LightMagenta),
        }
    }
}

/// One line of highlighted code: runs of text with their class.
pub type HlLine = Vec<(HlClass, String)>;

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

/// Scope prefixes, most specific first; the innermost scope that matches wins.
fn classes() -> &'static [(Scope, HlClass)] {
    static CLASSES: OnceLock<Vec<(Scope, HlClass)>> = OnceLock::new();
    CLASSES.get_or_init(|| {
        [
            ("comment", HlClass::Comment),
            ("string", HlClass::String),
            ("constant.character", HlClass::String),
            ("constant.numeric", HlClass::Number),
            ("constant.language", HlClass::Number),
            ("support.function.macro", HlClass::Macro),
            ("entity.name.macro", HlClass::Macro),
            ("meta.annotation", HlClass::Macro),
            ("entity.name.function", HlClass::Function),
            ("support.function", HlClass::Function),
            ("entity.name.type", HlClass::Type),
            ("entity.name.class", HlClass::Type),
            ("entity.name.struct", HlClass::Type),
            ("entity.name.enum", HlClass::Type),
            ("support.type", HlClass::Type),
            ("support.class", HlClass::Type),
            ("storage.type", HlClass::Keyword),
            ("storage.modifier", HlClass::Keyword),
            ("keyword.operator", HlClass::Plain),
            ("keyword", HlClass::Keyword),
            ("variable.language", HlClass::Keyword),
        ]
        .into_iter()
        .filter_map(|(s, c)| Scope::new(s).ok().map(|s| (s, c)))
        .collect()
    })
}

/// Short names people type after a fence that the default syntaxes spell
/// differently (syntect matches names and file extensions).
fn alias(lang: &str) -> &str {
    match lang {
        "rust" => "rs",
        "python" | "py3" => "py",
        "javascript" | "node" => "js",
        "typescript" | "ts" => "js",
        "shell" | "bash" | "zsh" | "console" => "sh",
        "c++" | "cxx" => "cpp",
        "golang" => "go",
        "yml" => "yaml",
        "toml" => "ini",
        other => other,
    }
}

/// The grammar for a fence's language tag, or None (plain block).
pub fn syntax_for(lang: &str) -> Option<&'static SyntaxReference> {
    let lang = lang.trim().to_ascii_lowercase();
    if lang.is_empty() || lang == "text" || lang == "txt" || lang == "plain" {
        return None;
    }
    let set = syntaxes();
    set.find_syntax_by_token(alias(&lang))
}

/// Whether a language tag names a grammar we highlight.
pub fn knows(lang: &str) -> bool {
    syntax_for(lang).is_some()
}

fn class_of(stack: &ScopeStack) -> HlClass {
    let table = classes();
    for scope in stack.as_slice().iter().rev() {
        if let Some((_, c)) = table.iter().find(|(p, _)| p.is_prefix_of(*scope)) {
            return *c;
        }
    }
    HlClass::Plain
}

/// Highlights `lines` (sanitized, no newlines) as `lang`. Unknown languages
/// and grammar errors give plain lines with the same text.
pub fn highlight(lang: &str, lines: &[String]) -> Vec<HlLine> {
    let mut inc = Incremental::new(lang);
    (0..lines.len()).map(|n| inc.line(lines, n)).collect()
}

/// Highlighting of one block on demand: line `n` needs lines `0..n` parsed
/// (grammars carry state from line to line), never the lines after it. So
/// rows below the screen are never highlighted.
#[derive(Debug, Clone)]
pub struct Incremental {
    syntax: Option<&'static SyntaxReference>,
    state: Option<(ParseState, ScopeStack)>,
    done: Vec<HlLine>,
}

impl Incremental {
    pub fn new(lang: &str) -> Incremental {
        let syntax = syntax_for(lang);
        Incremental {
            syntax,
            state: syntax.map(|s| (ParseState::new(s), ScopeStack::new())),
            done: Vec::new(),
        }
    }

    /// How many lines have been highlighted so far.
    pub fn highlighted(&self) -> usize {
        self.done.len()
    }

    /// The runs of line `n` of `lines` (plain when out of range, for an
    /// unknown language or after a grammar error).
    pub fn line(&mut self, lines: &[String], n: usize) -> HlLine {
        let plain = |n: usize| {
            lines
                .get(n)
                .map(|l| vec![(HlClass::Plain, l.clone())])
                .unwrap_or_default()
        };
        if self.syntax.is_none() || n >= lines.len() {
            return plain(n);
        }
        let set = syntaxes();
        let mut buf = String::new();
        while self.done.len() <= n {
            let line = &lines[self.done.len()];
            let runs = match self.state.as_mut() {
                Some((state, stack)) => parse_line(state, stack, set, line, &mut buf),
                None => None,
            };
            match runs {
                Some(r) => self.done.push(r),
                None => {
                    // A grammar error: the rest of the block is plain.
                    self.state = None;
                    self.done.push(plain(self.done.len()));
                }
            }
        }
        self.done[n].clone()
    }
}

fn parse_line(
    state: &mut ParseState,
    stack: &mut ScopeStack,
    set: &SyntaxSet,
    line: &str,
    buf: &mut String,
) -> Option<HlLine> {
    buf.clear();
    buf.push_str(line);
    buf.push('\n');
    let ops = state.parse_line(buf, set).ok()?;
    let mut runs: HlLine = Vec::new();
    let mut at = 0;
    for (pos, op) in ops {
        let pos = pos.min(line.len());
        if pos > at {
            push_run(&mut runs, class_of(stack), &line[at..pos]);
            at = pos;
        }
        stack.apply(&op).ok()?;
    }
    if at < line.len() {
        push_run(&mut runs, class_of(stack), &line[at..]);
    }
    Some(runs)
}

fn push_run(runs: &mut HlLine, class: HlClass, text: &str) {
    match runs.last_mut() {
        Some((c, t)) if *c == class => t.push_str(text),
        _ => runs.push((class, text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_keywords_strings_and_comments_get_classes() {
        let lines = vec![
            "fn main() { // hi".to_owned(),
            "    let s = \"x\";".to_owned(),
        ];
        let hl = highlight("rust", &lines);
        assert_eq!(hl[0][0], (HlClass::Keyword, "fn".to_owned()));
        assert!(
            hl[0].contains(&(HlClass::Comment, "// hi".to_owned())),
            "{hl:?}"
        );
        assert!(
            hl[1].contains(&(HlClass::String, "\"x\"".to_owned())),
            "{hl:?}"
        );
        // Text is never changed, only classified.
        let joined: Vec<String> = hl
            .iter()
            .map(|l| l.iter().map(|(_, t)| t.as_str()).collect())
            .collect();
        assert_eq!(joined, lines);
    }

    #[test]
    fn incremental_highlights_only_up_to_the_line_asked_for() {
        let lines: Vec<String> = (0..100).map(|i| format!("let x{i} = {i};")).collect();
        let mut inc = Incremental::new("rs");
        let l5 = inc.line(&lines, 5);
        assert_eq!(inc.highlighted(), 6);
        assert_eq!(l5[0], (HlClass::Keyword, "let".to_owned()));
        assert_eq!(inc.line(&lines, 2), highlight("rust", &lines)[2]);
        assert_eq!(inc.highlighted(), 6);
    }

    #[test]
    fn unknown_language_is_plain() {
        let lines = vec!["a b".to_owned()];
        assert_eq!(
            highlight("nosuchlang", &lines),
            vec![vec![(HlClass::Plain, "a b".to_owned())]]
        );
        assert!(knows("python") && knows("Rust") && !knows("") && !knows("text"));
    }
}
