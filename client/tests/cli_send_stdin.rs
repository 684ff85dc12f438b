//! `convo send TARGET -` (stdin), `--code LANG`, `--file PATH`, the size
//! limit, and `convo show` rendering markdown plainly or `--raw`.
#![cfg(feature = "wired")]

mod cli_support;

use std::io::Write;
use std::process::Stdio;

use cli_support::{TestServer, alice_and_bob, convo, convo_cmd, json, ok};

/// Runs `convo ARGS` as `user` with `input` on stdin.
fn with_stdin(
    data: &std::path::Path,
    url: &str,
    user: &str,
    args: &[&str],
    input: &[u8],
) -> std::process::Output {
    let mut child = convo_cmd(data)
        .args(["--server", url, "--user", user])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn bodies(data: &std::path::Path, url: &str, user: &str) -> Vec<String> {
    let shown = json(&ok(data, url, user, &["show", "ops", "--json"]));
    shown
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "text")
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn stdin_code_and_file_bodies_and_plain_show() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, b) = alice_and_bob(&url);
    assert_eq!(
        ok(a.path(), &url, "alice", &["create-group", "ops", "bob"]),
        "c1\n"
    );

    // Piped test output, fenced as text; the pipe's last newline is dropped.
    let out = with_stdin(
        a.path(),
        &url,
        "alice",
        &["send", "ops", "--code", "text", "-"],
        b"test a ... ok\n  test b ... FAILED\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sent to c1 as #2\n");

    // Plain stdin, markdown as typed.
    let out = with_stdin(
        a.path(),
        &url,
        "alice",
        &["send", "ops", "-"],
        b"see *this* and `x`\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A file: its language from the extension.
    let file = a.path().join("lib.rs");
    std::fs::write(&file, "fn main() {\n\tlet x = 1;\n}\n").unwrap();
    ok(
        a.path(),
        &url,
        "alice",
        &["send", "ops", "--file", file.to_str().unwrap()],
    );

    assert_eq!(
        bodies(b.path(), &url, "bob"),
        vec![
            "```text\ntest a ... ok\n  test b ... FAILED\n```",
            "see *this* and `x`",
            "```rust\nfn main() {\n\tlet x = 1;\n}\n```",
        ]
    );

    // Text output: markdown rendered plainly, code indented, no colour.
    let shown = ok(b.path(), &url, "bob", &["show", "ops"]);
    let expected = "\
#2     alice:
            test a ... ok
              test b ... FAILED
#3     alice: see this and `x`
#4     alice:
            fn main() {
                let x = 1;
            }
";
    assert!(shown.ends_with(expected), "{shown}");
    assert!(!shown.contains('\x1b'), "{shown:?}");
    // --raw: bodies exactly as sent (the tab shows as its control picture).
    let raw = ok(b.path(), &url, "bob", &["show", "ops", "--raw"]);
    assert!(
        raw.ends_with("#4     alice: ```rust\n        fn main() {\n        ␉let x = 1;\n        }\n        ```\n"),
        "{raw}"
    );
    assert!(raw.contains("#3     alice: see *this* and `x`\n"), "{raw}");
}

#[test]
fn an_over_limit_body_exits_1_and_sends_nothing() {
    let server = TestServer::start("127.0.0.1:0".parse().unwrap(), None);
    let url = server.url.clone();
    let (a, b) = alice_and_bob(&url);
    ok(a.path(), &url, "alice", &["create-group", "ops", "bob"]);
    let big = vec![b'x'; 20_000];
    let out = with_stdin(a.path(), &url, "alice", &["send", "ops", "-"], &big);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "convo: error: the message is 20000 bytes, over the limit of 16384 bytes; nothing was sent"
    );
    let file = a.path().join("big.py");
    std::fs::write(&file, "x = 1\n".repeat(3000)).unwrap();
    let out = convo(
        a.path(),
        &url,
        "alice",
        &["send", "ops", "--file", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the message is 18013 bytes, over the limit of 16384 bytes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(bodies(b.path(), &url, "bob").is_empty());
    // TEXT and --file exclude each other; neither is a usage error.
    assert_eq!(
        convo(a.path(), &url, "alice", &["send", "ops"])
            .status
            .code(),
        Some(2)
    );
    let both = convo(
        a.path(),
        &url,
        "alice",
        &["send", "ops", "x", "--file", "y"],
    );
    assert_eq!(both.status.code(), Some(2));
}
