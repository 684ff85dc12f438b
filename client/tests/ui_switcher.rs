//! The quick switcher ranks with nucleo-matcher; list titles are clipped
//! by grapheme.

mod ui_support;

use client::ui::model::ConvKind;
use client::ui::overlay::switcher_matches;
use client::ui::state::Action;
use client::ui::update::update;
use ui_support::*;

fn titled(titles: &[&str]) -> client::ui::state::AppState {
    let mut s = state(80, 20);
    let mut rows = Vec::new();
    for (i, t) in titles.iter().enumerate() {
        let mut r = convs()[0].clone();
        r.conv = client::ui::model::ConvId::from(format!("c{}", i + 1).as_str());
        r.title = (*t).to_owned();
        r.kind = ConvKind::Group;
        rows.push(r);
    }
    update(&mut s, Action::Conversations(rows));
    s
}

#[test]
fn word_starts_and_runs_rank_first_and_every_word_must_match() {
    let s = titled(&["backend-ops", "Team chat", "ops", "release tc"]);
    // "ops" exactly beats "ops" inside a longer title.
    assert_eq!(switcher_matches(&s, "ops"), vec![2, 0]);
    // Word starts: T(eam) c(hat) and "tc" as a run both match; the run wins.
    assert_eq!(switcher_matches(&s, "tc"), vec![3, 1]);
    assert_eq!(switcher_matches(&s, "team CHAT"), vec![1]);
    assert_eq!(switcher_matches(&s, "zz"), Vec::<usize>::new());
    // Empty query: everything, in activity order.
    assert_eq!(switcher_matches(&s, ""), vec![0, 1, 2, 3]);
}

#[test]
fn a_long_title_is_clipped_before_a_zwj_family_not_inside_it() {
    let family = "👨\u{200D}👩\u{200D}👧";
    let s = titled(&[&format!("abcdefghijklmnopq{family}xyz")]);
    let text = screen(&s);
    let row = text.lines().next().unwrap();
    assert!(row.contains("abcdefghijklmnopq…"), "{row:?}");
    assert!(!row.contains('\u{200D}'), "no part of the family: {row:?}");
}
