//! Scrolling and reading long histories through the real `update`: jumps,
//! the first unread of a long stretch, Home, search paging, wrapping.

mod ui_support;

use client::ui::engine::{EngineCommand, EngineRequest};
use client::ui::model::{TimelineItem, TimelineQuery};
use client::ui::state::{Action, AppState, Effect};
use client::ui::update::update;
use crossterm::event::{KeyCode, KeyModifiers};
use ui_support::*;

const NONE: KeyModifiers = KeyModifiers::NONE;

fn around_window(anchor: u64) -> Vec<TimelineItem> {
    bob_msgs(anchor - 200..=anchor + 199)
}

fn big_team(s: &mut AppState) {
    let mut rows = ui_support::convs();
    rows[0].last_seq = 2000;
    rows[0].read_seq = 2000;
    rows[0].unread = 0;
    update(s, Action::Conversations(rows));
}

fn jump_to(s: &mut AppState, seq: u64) -> TimelineQuery {
    update(
        s,
        Action::SearchResults {
            query: "msg".into(),
            hits: vec![client::ui::model::SearchHit {
                conv: team(),
                seq,
                sender: "bob".into(),
                ts: DAY2,
                body: format!("msg {seq}"),
            }],
            coverage: (1, 3),
        },
    );
    key(s, KeyCode::Enter, NONE);
    let around = TimelineQuery::Around {
        seq,
        before: 200,
        after: 200,
    };
    update(
        s,
        Action::Timeline {
            conv: team(),
            query: around,
            items: around_window(seq),
            total: 2000,
        },
    );
    around
}

#[test]
fn after_a_jump_end_reaches_the_newest_message() {
    let mut s = state(80, 24);
    big_team(&mut s);
    jump_to(&mut s, 1234);
    let text = screen(&s);
    assert!(text.contains("msg 1234"), "{text}");
    // Newer messages stay visible under the hit, and the rest is announced.
    assert!(text.contains("msg 1238"), "{text}");
    assert!(text.contains("newer messages ↓"), "{text}");
    // End re-reads the newest window instead of stopping at the window's end.
    let fx = key(&mut s, KeyCode::End, NONE);
    assert_eq!(
        fx,
        vec![Effect::LoadTimeline {
            conv: team(),
            query: TimelineQuery::Latest { limit: 200 }
        }]
    );
}

#[test]
fn after_a_jump_page_down_reads_past_the_window() {
    let mut s = state(80, 24);
    big_team(&mut s);
    jump_to(&mut s, 1234);
    let mut asked = None;
    for _ in 0..200 {
        let fx = key(&mut s, KeyCode::PageDown, NONE);
        if let Some(Effect::LoadTimeline { query, .. }) = fx.first() {
            asked = Some(*query);
            break;
        }
    }
    match asked {
        Some(TimelineQuery::Around { seq, .. }) => assert_eq!(seq, 1433),
        other => panic!("PgDn at the window's end asked for {other:?}"),
    }
}

#[test]
fn skin_tone_and_zwj_emoji_survive_with_their_width() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let mut items = team_timeline();
    items.insert(
        9,
        TimelineItem::Message(client::ui::model::text_message(
            321,
            "bob",
            DAY2 + 14 * MIN,
            "👍🏽 ok 👨\u{200D}👩\u{200D}👧 fam ❤\u{FE0F}",
        )),
    );
    update(
        &mut s,
        Action::Timeline {
            conv: team(),
            query: TimelineQuery::Latest { limit: 200 },
            items,
            total: 10,
        },
    );
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    client::ui::driver::draw(&mut term, &s).unwrap();
    let buf = term.backend().buffer();
    let row = (0..24)
        .find(|&y| {
            (0..80).any(|x| buf[(x, y)].symbol() == "o")
                && (0..80).any(|x| buf[(x, y)].symbol().starts_with('👍'))
        })
        .expect("the emoji line is drawn");
    let cells: Vec<&str> = (0..80).map(|x| buf[(x, row)].symbol()).collect();
    let at = cells.iter().position(|c| c.starts_with('👍')).unwrap();
    // One two-column cell holds the whole grapheme, modifier included.
    assert_eq!(cells[at], "👍🏽");
    assert_eq!(cells[at + 2], " ");
    assert_eq!(cells[at + 3], "o");
    let fam = cells.iter().position(|c| c.starts_with('👨')).unwrap();
    assert_eq!(cells[fam], "👨\u{200D}👩\u{200D}👧");
    assert_eq!(cells[fam + 2], " ");
    assert_eq!(cells[fam + 3], "f");
}

#[test]
fn wrapping_counts_a_grapheme_once_and_never_splits_it() {
    use client::ui::timeline::wrap;
    // Three skin-toned thumbs are six columns, so they fit a six-column line.
    assert_eq!(wrap("👍🏽👍🏽👍🏽", 6), vec!["👍🏽👍🏽👍🏽".to_owned()]);
    assert_eq!(
        wrap("👍🏽👍🏽👍🏽👍🏽", 6),
        vec!["👍🏽👍🏽👍🏽".to_owned(), "👍🏽".to_owned()]
    );
    let fam = "👨\u{200D}👩\u{200D}👧";
    assert_eq!(
        wrap(&format!("{fam}{fam}"), 3),
        vec![fam.to_owned(), fam.to_owned()]
    );
}

fn bob_msgs(seqs: std::ops::RangeInclusive<u64>) -> Vec<TimelineItem> {
    seqs.map(|seq| {
        TimelineItem::Message(client::ui::model::text_message(
            seq,
            "bob",
            DAY2 + seq as i64,
            &format!("msg {seq}"),
        ))
    })
    .collect()
}

#[test]
fn home_loads_history_until_the_oldest_message_and_shows_it() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let around_1 = TimelineQuery::Around {
        seq: 1,
        before: 200,
        after: 200,
    };
    assert_eq!(
        key(&mut s, KeyCode::Home, NONE),
        vec![
            Effect::Request(EngineRequest::LoadOlder { conv: team() }),
            Effect::LoadTimeline {
                conv: team(),
                query: around_1
            }
        ]
    );
    // The store still has the gap over seq 1: the spinner shows at the top
    // and no second load starts while one runs.
    let fx = update(
        &mut s,
        Action::Timeline {
            conv: team(),
            query: around_1,
            items: team_timeline(),
            total: 8,
        },
    );
    assert_eq!(fx, vec![]);
    assert!(
        screen(&s).contains("312 earlier entries — loading"),
        "{}",
        screen(&s)
    );
    update(
        &mut s,
        Action::OlderLoaded {
            conv: team(),
            error: None,
        },
    );
    // The re-read window keeps asking around seq 1 until it is held; the
    // next page is asked for while it is not.
    assert_eq!(s.window_query(), Some((team(), around_1)));
    let fx = update(
        &mut s,
        Action::Timeline {
            conv: team(),
            query: around_1,
            items: team_timeline(),
            total: 8,
        },
    );
    assert_eq!(
        fx,
        vec![Effect::Request(EngineRequest::LoadOlder { conv: team() })]
    );
    update(
        &mut s,
        Action::OlderLoaded {
            conv: team(),
            error: None,
        },
    );
    let mut items = bob_msgs(1..=40);
    items.push(TimelineItem::Gap { from: 41, to: 312 });
    items.extend(team_timeline().into_iter().skip(1));
    update(
        &mut s,
        Action::Timeline {
            conv: team(),
            query: around_1,
            items,
            total: 48,
        },
    );
    let text = screen(&s);
    assert!(text.contains("start of conversation"), "{text}");
    assert!(
        text.contains("msg 1\n") || text.contains("msg 1 "),
        "{text}"
    );
    assert_eq!(s.open.as_ref().unwrap().top_on, None);
}

#[test]
fn a_long_unread_stretch_opens_at_the_first_unread_and_is_read_as_it_scrolls() {
    let mut s = state(80, 24);
    let mut rows = ui_support::convs();
    rows[0].last_seq = 2101;
    rows[0].read_seq = 100;
    rows[0].unread = 2001;
    update(&mut s, Action::Conversations(rows));
    let fx = key(&mut s, KeyCode::Down, KeyModifiers::ALT);
    let around = TimelineQuery::Around {
        seq: 101,
        before: 200,
        after: 200,
    };
    assert_eq!(
        fx,
        vec![
            Effect::Command(EngineCommand::Open { conv: team() }),
            Effect::LoadTimeline {
                conv: team(),
                query: around
            }
        ]
    );
    let fx = update(
        &mut s,
        Action::Timeline {
            conv: team(),
            query: around,
            items: bob_msgs(1..=300),
            total: 300,
        },
    );
    // The first unread sits at the top, under the "new messages" line.
    let text = timeline_rows(&s);
    assert!(text[0].contains("new messages"), "{text:?}");
    assert!(text[1..3].iter().any(|l| l.contains("msg 101")), "{text:?}");
    // What is on screen is read, not the whole stretch: the badge stays.
    let Some(Effect::Command(EngineCommand::MarkRead { seq, .. })) = fx.first().cloned() else {
        panic!("{fx:?}")
    };
    assert!((110..130).contains(&seq), "read up to {seq}");
    assert_eq!(s.convs[0].unread, 2001);
    let fx = key(&mut s, KeyCode::PageDown, NONE);
    let Some(Effect::Command(EngineCommand::MarkRead { seq: later, .. })) = fx.last().cloned()
    else {
        panic!("{fx:?}")
    };
    assert!(later > seq + 10, "{later} after {seq}");
    // End jumps to the newest and marks everything read.
    let fx = key(&mut s, KeyCode::End, NONE);
    assert_eq!(
        fx,
        vec![Effect::LoadTimeline {
            conv: team(),
            query: TimelineQuery::Latest { limit: 200 }
        }]
    );
    let fx = update(
        &mut s,
        Action::Timeline {
            conv: team(),
            query: TimelineQuery::Latest { limit: 200 },
            items: bob_msgs(1902..=2101),
            total: 2101,
        },
    );
    assert_eq!(
        fx,
        vec![Effect::Command(EngineCommand::MarkRead {
            conv: team(),
            seq: 2101
        })]
    );
    assert_eq!(s.convs[0].unread, 0);
}

fn timeline_rows(s: &AppState) -> Vec<String> {
    screen(s)
        .lines()
        .skip(1)
        .map(|l| l.split_once('│').map_or("", |(_, r)| r).to_owned())
        .collect()
}

#[test]
fn search_shows_the_true_total_pages_through_every_hit_and_says_what_it_covered() {
    let mut s = state(80, 24);
    let hits: Vec<client::ui::model::SearchHit> = (1..=2000u64)
        .rev()
        .map(|seq| client::ui::model::SearchHit {
            conv: team(),
            seq,
            sender: "bob".into(),
            ts: DAY2 + seq as i64,
            body: format!("msg {seq}"),
        })
        .collect();
    update(
        &mut s,
        Action::SearchResults {
            query: "msg".into(),
            hits,
            coverage: (2, 3),
        },
    );
    let text = screen(&s);
    assert!(text.contains("Search: msg (1 of 2000)"), "{text}");
    assert!(
        text.contains("searched 2 of 3 conversations fully"),
        "{text}"
    );
    for _ in 0..200 {
        key(&mut s, KeyCode::PageDown, NONE);
    }
    key(&mut s, KeyCode::Down, NONE);
    key(&mut s, KeyCode::Down, NONE);
    let text = screen(&s);
    assert!(text.contains("Search: msg (2000 of 2000)"), "{text}");
    assert!(
        text.contains("bob: msg 1\n") || text.contains("bob: msg 1 "),
        "{text}"
    );
    key(&mut s, KeyCode::PageUp, NONE);
    assert!(screen(&s).contains("(1990 of 2000)"));
}

/// bob's newest text is deleted: the deletion (an entry of its own, never a
/// line) is the newest entry. Reading the conversation to the bottom reads
/// it too, so the deleted text does not stay unread in the list.
#[test]
fn reading_to_the_bottom_reads_a_deletion_after_the_last_line() {
    let mut s = state(80, 24);
    open_team(&mut s);
    let mut deleted = client::ui::model::text_message(321, "bob", DAY2 + 13 * 60_000, "");
    deleted.redacted = true;
    deleted.body = None;
    let mut redact = client::ui::model::text_message(322, "bob", DAY2 + 14 * 60_000, "");
    redact.kind = sync_core::protocol::EntryKind::Redact;
    redact.target = Some(321);
    redact.body = None;
    let mut rows = convs();
    let mut last = sync_core::protocol::Message::text(321, "bob", DAY2 + 13 * 60_000, "");
    last.body = None;
    last.redacted = true;
    rows[0].last = Some(last);
    rows[0].last_seq = 322;
    rows[0].unread = 1;
    update(&mut s, Action::Conversations(rows));
    let mut items = ui_support::team_timeline();
    items.push(TimelineItem::Message(deleted));
    items.push(TimelineItem::Message(redact));
    let fx = show_items(&mut s, items);
    assert_eq!(
        fx,
        vec![Effect::Command(EngineCommand::MarkRead {
            conv: team(),
            seq: 322
        })]
    );
    assert_eq!((s.convs[0].read_seq, s.convs[0].unread), (322, 0));
    assert!(screen(&s).contains("‹message deleted›"), "{}", screen(&s));
    // The list's preview says so too (it showed the text before).
    assert!(screen(&s).contains("bob: ‹message"), "{}", screen(&s));
}
