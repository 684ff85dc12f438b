//! Markdown in the timeline: code blocks (highlighted, bordered, clipped,
//! never wrapped), inline code and emphasis, links, and `NO_COLOR`. Screens
//! are compared to snapshots in `tests/snapshots/md_*.txt`; colours and
//! modifiers, which a text snapshot can't show, are asserted per cell.

mod ui_support;

use client::ui::state::AppState;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ui_support::*;

/// Opens "Team chat" showing `bodies` (bob, one minute apart), all read.
fn show(w: u16, h: u16, colors: bool, bodies: &[&str]) -> AppState {
    let mut s = state(w, h);
    s.colors = colors;
    open_team(&mut s);
    show_bodies(&mut s, DAY1, bodies);
    s
}

/// Position of the first occurrence of `needle` on screen (column, row).
fn find(buf: &Buffer, needle: &str) -> (u16, u16) {
    let text = buffer_text(buf);
    for (y, line) in text.lines().enumerate() {
        if let Some(byte) = line.find(needle) {
            let x = unicode_width::UnicodeWidthStr::width(&line[..byte]);
            return (x as u16, y as u16);
        }
    }
    panic!("{needle:?} not on screen:\n{text}");
}

const RUST: &str = "```rust\nfn main() {\n    // greet\n    let name = \"world\";\n\n    println!(\"hi {name}\");\n}\n```";
const PYTHON: &str = "```python\ndef add(a, b):\n    return a + b  # sum\n```";
const UNTAGGED: &str = "```\n$ cargo test\n  ok: 12 passed\n```";

#[test]
fn rust_python_and_untagged_code_blocks() {
    let s = show(80, 30, true, &[RUST, PYTHON, UNTAGGED]);
    let buf = buffer(&s);
    assert_snapshot("md_code_blocks_80x30", &buffer_text(&buf));
    // Highlighted with the theme's named colours.
    let (x, y) = find(&buf, "fn main");
    assert_eq!(buf[(x, y)].fg, Color::Magenta, "keyword `fn`");
    let (x, y) = find(&buf, "\"world\"");
    assert_eq!(buf[(x, y)].fg, Color::Green, "string");
    let (x, y) = find(&buf, "// greet");
    assert_eq!(buf[(x, y)].fg, Color::DarkGray, "comment");
    let (x, y) = find(&buf, "def add");
    assert_eq!(buf[(x, y)].fg, Color::Magenta, "python keyword `def`");
    let (x, y) = find(&buf, "# sum");
    assert_eq!(buf[(x, y)].fg, Color::DarkGray, "python comment");
    // The untagged block is a block (border) but not coloured.
    let (x, y) = find(&buf, "$ cargo test");
    assert_eq!(buf[(x, y)].fg, Color::Reset);
    assert_eq!(buf[(x - 2, y)].symbol(), "│");
}

#[test]
fn a_long_code_line_is_clipped_not_wrapped() {
    let long = format!("```sh\necho {}end\nls\n```", "x".repeat(80));
    let s = show(60, 12, true, &[&long]);
    let text = screen(&s);
    assert_snapshot("md_code_clipped_60x12", &text);
    let row = text.lines().find(|l| l.contains("echo")).unwrap();
    assert!(row.ends_with('…'), "{row:?}");
    assert!(
        !text.contains("end"),
        "the clipped tail must not wrap:\n{text}"
    );
    // The next code line follows directly.
    let rows: Vec<&str> = text.lines().collect();
    let i = rows.iter().position(|l| l.contains("echo")).unwrap();
    assert!(rows[i + 1].ends_with("│ ls"), "{:?}", rows[i + 1]);
}

#[test]
fn inline_code_and_emphasis() {
    let s = show(
        80,
        12,
        true,
        &["run `cargo fmt` *first*, then **push** ~~now~~ — but a*b*c stays"],
    );
    let buf = buffer(&s);
    assert_snapshot("md_inline_80x12", &buffer_text(&buf));
    let (x, y) = find(&buf, "cargo fmt");
    assert_eq!(buf[(x, y)].fg, Color::Yellow);
    let (x, y) = find(&buf, "first");
    assert!(buf[(x, y)].modifier.contains(Modifier::ITALIC));
    let (x, y) = find(&buf, "push");
    assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));
    let (x, y) = find(&buf, "now");
    assert!(buf[(x, y)].modifier.contains(Modifier::CROSSED_OUT));
    let (x, y) = find(&buf, "a*b*c");
    assert!(!buf[(x + 2, y)].modifier.contains(Modifier::ITALIC));
}

#[test]
fn a_markdown_link_and_a_bare_url() {
    let s = show(
        80,
        12,
        true,
        &["read [the guide](https://docs.example/guide) or https://example.com/a?b=1."],
    );
    let buf = buffer(&s);
    assert_snapshot("md_links_80x12", &buffer_text(&buf));
    let (x, y) = find(&buf, "the guide");
    assert!(buf[(x, y)].modifier.contains(Modifier::UNDERLINED));
    assert_eq!(buf[(x, y)].fg, Color::Blue);
    let (x, y) = find(&buf, "https://example.com/a?b=1");
    assert!(buf[(x, y)].modifier.contains(Modifier::UNDERLINED));
    // The full stop after the URL is not part of it.
    assert!(!buf[(x + 25, y)].modifier.contains(Modifier::UNDERLINED));
}

#[test]
fn no_color_code_blocks_use_bold_and_dim_only() {
    let s = show(80, 30, false, &[RUST, "`inline` and *em*"]);
    let buf = buffer(&s);
    assert_snapshot("md_no_color_80x30", &buffer_text(&buf));
    for cell in buf.content() {
        assert_eq!(cell.fg, Color::Reset, "coloured cell {cell:?}");
        assert_eq!(cell.bg, Color::Reset, "coloured cell {cell:?}");
    }
    let (x, y) = find(&buf, "fn main");
    assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));
    let (x, y) = find(&buf, "// greet");
    assert!(buf[(x, y)].modifier.contains(Modifier::DIM));
    // Without colour, inline code keeps its backticks.
    find(&buf, "`inline` and em");
}

#[test]
fn rows_below_the_screen_are_never_highlighted() {
    let mut block = String::from("```rust\n");
    for i in 0..300 {
        block.push_str(&format!("let v{i} = {i};\n"));
    }
    block.push_str("```");
    let mut s = show(80, 24, true, &[&block, "after the block"]);
    // Scroll to the top: the block's first rows are on screen.
    key(
        &mut s,
        crossterm::event::KeyCode::Home,
        crossterm::event::KeyModifiers::NONE,
    );
    let buf = buffer(&s);
    let (x, y) = find(&buf, "let v0 = 0;");
    assert_eq!(buf[(x, y)].fg, Color::Magenta, "on screen: highlighted");
    let shown = buffer_text(&buf).matches("let v").count();
    let doc = client::ui::markdown::doc(&block);
    let done = doc.code_blocks[0].highlighted();
    assert!(shown > 5, "{shown}");
    assert_eq!(done, shown, "only the rows on screen were highlighted");
}

/// My message that ends in a code block still shows that the server
/// stored it (`✓` on a line of its own under the block: the block's rows
/// fill the width).
#[test]
fn my_message_ending_in_a_code_block_shows_its_tick() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let mine =
        client::ui::model::text_message(313, "alice", DAY1, "look:\n```rust\nfn main() {}\n```");
    show_items(&mut s, vec![client::ui::model::TimelineItem::Message(mine)]);
    let text = screen(&s);
    let block_end = text
        .lines()
        .position(|l| l.contains("fn main() {}"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        text.lines()
            .skip(block_end + 1)
            .take(3)
            .any(|l| l.contains('✓')),
        "{text}"
    );
}
