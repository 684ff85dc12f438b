//! End to end in tmux, for developers: Alice sends a 40-line Rust file with
//! `convo send ops --file`, Bob's screen shows it highlighted (colour
//! escapes read with `capture-pane -e`) and unwrapped (the long line is
//! clipped with `…`); Bob's editor key runs `$EDITOR` (a script writing a
//! known text) and the text lands in his compose box, unsent.
//! Skips, with a printed reason, only when tmux is not installed.
#![cfg(feature = "wired")]

mod cli_support;
mod tmux_support;

use tmux_support::Scene;

/// A 40-line Rust file; line 20 is 150 columns wide.
fn rust_file() -> String {
    let mut s = String::new();
    for i in 1..=40 {
        let line = match i {
            1 => "// e2e: a rust file".to_owned(),
            2 => "fn main() {".to_owned(),
            20 => format!("    let long_{i} = \"{}END\";", "x".repeat(120)),
            40 => "}".to_owned(),
            _ => format!("    let value_{i} = {i} * 2;"),
        };
        s.push_str(&line);
        s.push('\n');
    }
    s
}

#[test]
fn a_piped_rust_file_shows_highlighted_and_unwrapped_and_the_editor_key_fills_the_draft() {
    let Some(mut scene) = Scene::new("dev") else {
        return;
    };
    scene.users(&["alice", "bob"]);
    assert_eq!(scene.ok("alice", &["create-group", "ops", "bob"]), "c1\n");
    let file = scene.dir("alice").join("main.rs");
    std::fs::write(&file, rust_file()).unwrap();
    assert_eq!(
        scene.ok("alice", &["send", "ops", "--file", file.to_str().unwrap()]),
        "sent to c1 as #2\n"
    );

    // Bob's editor: a script that writes a known text into the draft file.
    let editor = scene.dir("bob").join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf 'written in the editor\\nsecond line\\n' > \"$1\"\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&editor)
        .status()
        .unwrap();

    let t = &scene.t;
    let shell = format!(
        "env VISUAL= EDITOR={} {}",
        editor.display(),
        scene.shell("bob")
    );
    t.session_sized("bob", 120, 60, &shell);
    t.wait_for("bob", "the conversation list", |s| s.contains("ops"));
    t.key("bob", "C-k");
    t.type_text("bob", "ops");
    t.key("bob", "Enter");
    let screen = t.wait_for("bob", "the whole code block", |s| {
        s.contains("┌─ rust") && s.contains("let value_39 = 39 * 2;")
    });

    // Unwrapped: the long line is one row, clipped with …; its tail is not
    // on any row; indentation is kept.
    let long: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains("let long_20"))
        .collect();
    assert_eq!(long.len(), 1, "{screen}");
    assert!(long[0].trim_end().ends_with('…'), "{:?}", long[0]);
    assert!(
        !screen.contains("END"),
        "the clipped tail wrapped:\n{screen}"
    );
    assert!(screen.contains("│     let value_3 = 3 * 2;"), "{screen}");

    // Highlighted (tmux reports colours as 256-colour indexes): `let` in
    // magenta (5), numbers in cyan (6), the string in green (2), the comment
    // in dark grey italic (8, 3).
    let colours = t.capture_escapes("bob");
    let row = |needle: &str| {
        colours
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} not in\n{colours}"))
            .to_owned()
    };
    let value_row = row("value_5");
    assert!(
        value_row.contains("\x1b[38;5;5mlet\x1b[39m value_5 = \x1b[38;5;6m5"),
        "{value_row:?}"
    );
    let long_row = row("long_20");
    assert!(long_row.contains("\x1b[38;5;2m\"xxx"), "{long_row:?}");
    // The list's preview (top row) shows the same first line of code: the
    // timeline's row is the lowest one.
    let comment = colours
        .lines()
        .rev()
        .find(|l| l.contains("e2e: a rust file"))
        .unwrap_or_else(|| panic!("no comment row in\n{colours}"))
        .to_owned();
    assert!(
        // Grey carries on from the border; the comment adds italic (3).
        comment.contains("\x1b[38;5;8m      │ \x1b[3m// e2e: a rust file"),
        "{comment:?}"
    );

    // The editor key: the script's text is in the compose box, not sent.
    t.type_text("bob", "draft before");
    t.key("bob", "M-e");
    let screen = t.wait_for("bob", "the editor's text in the compose box", |s| {
        s.contains("written in the editor") && s.contains("second line")
    });
    assert!(!screen.contains("draft before"), "{screen}");
    let rows: Vec<&str> = screen.lines().collect();
    let box_top = rows
        .iter()
        .rposition(|l| l.contains("┌ Message"))
        .expect("compose box");
    assert!(
        rows[box_top + 1].contains("written in the editor"),
        "{screen}"
    );
    assert!(rows[box_top + 2].contains("second line"), "{screen}");
    // Nothing was sent: the timeline holds only the code block.
    let shown = scene.ok("alice", &["show", "ops", "--json"]);
    assert!(!shown.contains("written in the editor"), "{shown}");
    t.key("bob", "C-c");
    t.wait_for("bob", "convo to exit cleanly", |s| {
        s.contains("[convo exited: 0]")
    });
}
