//! The checker against hand-written logs: a clean session passes, and each rule fires on the
//! frame that breaks it.

use std::time::Duration;

use serde_json::{Value, json};

use super::check;
use crate::proxy::{Direction, Logged, WireEvent, WireFrame};

const HELLO_11: &str = r#"{"type":"hello","protocol":1,"server":"s/1","server_id":"x","max_frame_bytes":65536,"max_body_bytes":16384,"features":["reply","reactions","mentions","settings","redaction","account"]}"#;
const HELLO_1: &str = r#"{"type":"hello","protocol":1,"server":"s/1","server_id":"x","max_frame_bytes":65536,"max_body_bytes":16384}"#;

/// A log of one connection: `>` lines go up, `<` lines come down, 10 ms apart.
fn log(frames: &[(&str, Value)]) -> Vec<Logged> {
    let mut out = vec![Logged {
        conn: 1,
        at: Duration::ZERO,
        event: WireEvent::Opened,
    }];
    for (i, (dir, v)) in frames.iter().enumerate() {
        let dir = if *dir == ">" {
            Direction::Up
        } else {
            Direction::Down
        };
        let text = match v {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        out.push(Logged {
            conn: 1,
            at: Duration::from_millis(10 * (i as u64 + 1)),
            event: WireEvent::Frame(dir, WireFrame::Text(text)),
        });
    }
    out
}

fn details(frames: &[(&str, Value)]) -> Vec<String> {
    check(&log(frames)).into_iter().map(|f| f.detail).collect()
}

fn session(hello: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("<", Value::String(hello.to_owned())),
        (">", json!({"type":"auth","id":1,"token":"t","device":"d"})),
        (
            "<",
            json!({"type":"session","re":1,"user":"alice","device":"d","token":"t"}),
        ),
    ]
}

fn text(seq: u64) -> Value {
    json!({"seq":seq,"sender":"bob","ts":1,"kind":"text","body":"hi"})
}

#[test]
fn a_clean_session_has_no_findings() {
    let mut f = session(HELLO_11);
    f.push((
        ">",
        json!({"type":"pull","id":2,"conv":"c1","after":0,"limit":2}),
    ));
    f.push((
        "<",
        json!({"type":"messages","re":2,"conv":"c1","messages":[text(1), text(2)],"last_seq":3}),
    ));
    f.push((
        ">",
        json!({"type":"pull","id":3,"conv":"c1","after":2,"limit":2}),
    ));
    f.push((
        "<",
        json!({"type":"messages","re":3,"conv":"c1","messages":[text(3)],"last_seq":3}),
    ));
    f.push((
        ">",
        json!({"type":"react","id":4,"conv":"c1","client_id":"k1","target":3,"key":"👍"}),
    ));
    f.push((
        "<",
        json!({"type":"sent","re":4,"conv":"c1","client_id":"k1","seq":4,"ts":5}),
    ));
    assert_eq!(details(&f), Vec::<String>::new());
}

#[test]
fn unknown_and_missing_fields_are_named() {
    let mut f = session(HELLO_11);
    f.push((
        ">",
        json!({"type":"send","id":2,"conv":"c1","body":"hi","extra":1}),
    ));
    assert_eq!(
        details(&f),
        ["missing `client_id`", "field `extra` is not in the spec"]
    );
}

#[test]
fn v1_server_gets_no_section_9_requests_or_fields() {
    let mut f = session(HELLO_1);
    f.push((
        ">",
        json!({"type":"send","id":2,"conv":"c1","client_id":"a","body":"hi","reply_to":1}),
    ));
    f.push((
        ">",
        json!({"type":"react","id":3,"conv":"c1","client_id":"b","target":1,"key":"x"}),
    ));
    f.push(("<", json!({"type":"message","conv":"c1","message":{"seq":5,"sender":"b","ts":1,"kind":"text","body":"x","mentions":["alice"]}})));
    assert_eq!(
        details(&f),
        [
            "`reply_to` without the `reply` feature",
            "`react` but hello.features lacks `reactions`",
            "text entry 5: `mentions` without the `mentions` feature",
        ]
    );
}

#[test]
fn ids_pre_auth_requests_and_repeated_pulls() {
    let f = vec![
        ("<", Value::String(HELLO_11.to_owned())),
        (">", json!({"type":"sync","id":1})),
        (
            ">",
            json!({"type":"login","id":1,"user":"a","password":"p","device":"d"}),
        ),
        (
            "<",
            json!({"type":"session","re":1,"user":"a","device":"d","token":"t"}),
        ),
        (">", json!({"type":"pull","id":2,"conv":"c1","after":0})),
        (">", json!({"type":"pull","id":3,"conv":"c1","after":0})),
    ];
    assert_eq!(
        details(&f),
        [
            "`sync` before a `session` reply",
            "request id 1 reused on one connection",
            "a second pull of c1 after 0 on one connection",
        ]
    );
}

#[test]
fn pages_must_match_their_request() {
    let mut f = session(HELLO_11);
    f.push((
        ">",
        json!({"type":"pull","id":2,"conv":"c1","after":3,"limit":2}),
    ));
    f.push((
        "<",
        json!({"type":"messages","re":2,"conv":"c2","messages":[text(5)],"last_seq":9}),
    ));
    f.push((
        "<",
        json!({"type":"message","conv":"c1","message":text(10)}),
    ));
    f.push((
        "<",
        json!({"type":"message","conv":"c1","message":text(12)}),
    ));
    assert_eq!(
        details(&f),
        [
            "`conv` differs from the request's",
            "not contiguous from 4",
            "push c1#12 after #10",
        ]
    );
}

#[test]
fn summaries_carry_section_9_fields_exactly_when_listed() {
    let summary = json!({"conv":"c1","kind":"group","title":"t","member_count":2,"last_seq":0,
        "read_seq":0,"unread":0,"last":null,"left":false,"mentions":0});
    let mut f = session(HELLO_11);
    f.push((">", json!({"type":"sync","id":2})));
    f.push(("<", json!({"type":"sync","re":2,"since":"s1","full":true,"more":false,"conversations":[summary]})));
    assert_eq!(
        details(&f),
        [
            "summary: missing `notify` (the server lists `settings`)",
            "summary: missing `pinned` (the server lists `settings`)",
            "summary: missing `archived` (the server lists `settings`)",
        ]
    );
}

#[test]
fn a_fetch_overlapping_one_in_flight_is_reported() {
    let mut f = session(HELLO_11);
    f.push((
        ">",
        json!({"type":"pull","id":2,"conv":"c1","after":0,"limit":72}),
    ));
    f.push((
        ">",
        json!({"type":"history","id":3,"conv":"c1","before":73,"limit":50}),
    ));
    f.push((
        ">",
        json!({"type":"history","id":4,"conv":"c2","before":73,"limit":50}),
    ));
    assert_eq!(
        details(&f),
        ["history of 23..=72 overlaps a pull of 1..=72 still in flight"]
    );
}

#[test]
fn a_write_left_unanswered_at_close_is_reported_when_asked() {
    use super::{Limits, check_with};
    let mut f = session(HELLO_11);
    f.push((">", json!({"type":"read","id":2,"conv":"c1","seq":3})));
    f.push((">", json!({"type":"sync","id":3})));
    let mut lines = log(&f);
    lines.push(Logged {
        conn: 1,
        at: Duration::from_secs(1),
        event: WireEvent::Frame(Direction::Up, WireFrame::Close(Some(1000), String::new())),
    });
    assert_eq!(check(&lines), vec![]);
    let strict = Limits {
        unanswered_writes: true,
        ..Limits::default()
    };
    let found: Vec<String> = check_with(&lines, &strict)
        .into_iter()
        .map(|f| f.detail)
        .collect();
    assert_eq!(found, ["closed with writes unanswered: read 2"]);
}

#[test]
fn page_totals_must_cover_what_the_page_holds() {
    let root = json!({"seq":2,"sender":"bob","ts":1,"kind":"text","body":"root","replies":1,"last_reply_seq":3});
    let reply =
        json!({"seq":3,"sender":"bob","ts":1,"kind":"text","body":"r","reply_to":2,"thread":2});
    let reply2 =
        json!({"seq":4,"sender":"bob","ts":1,"kind":"text","body":"r","reply_to":2,"thread":2});
    let react = json!({"seq":5,"sender":"bob","ts":1,"kind":"reaction","target":2,"key":"👍"});
    let mut f = session(HELLO_11);
    f.push((">", json!({"type":"pull","id":2,"conv":"c1","after":1})));
    f.push(("<", json!({"type":"messages","re":2,"conv":"c1","messages":[root, reply, reply2, react],"last_seq":5})));
    assert_eq!(
        details(&f),
        [
            "text 2: reactions[👍] None, the page holds 1",
            "text 2: replies Some(1) / last_reply_seq Some(3), but the page holds 2 replies up to 4",
        ]
    );
}
