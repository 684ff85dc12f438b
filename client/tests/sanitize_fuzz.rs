//! The stable, bounded twin of `fuzz/fuzz_targets/sanitize.rs`: whatever
//! text comes in, nothing that can drive a terminal comes out — no C0 or C1
//! control, no DEL, no ESC, no bidi override — and the function never
//! panics. (Multi-line keeps `\n` only.)

use client::sanitize::{for_terminal, for_terminal_multiline};
use proptest::prelude::*;

fn dangerous(c: char) -> bool {
    let u = c as u32;
    u < 0x20
        || (0x7f..=0x9f).contains(&u)
        || (0x202a..=0x202e).contains(&u)
        || (0x2066..=0x2069).contains(&u)
}

/// Strings rich in escapes, controls, bidi marks and emoji.
fn hostile() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            any::<char>(),
            Just('\u{1b}'),
            Just('\u{9b}'),
            Just('\u{7f}'),
            Just('\r'),
            Just('\n'),
            Just('\u{202e}'),
            Just('\u{2067}'),
            Just('\u{1f44d}'),
            Just('\u{1f3fd}'),
            Just('\u{200d}'),
            Just('\u{fe0f}'),
            Just('['),
            Just(']'),
            Just(';'),
        ],
        0..80,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn nothing_that_drives_a_terminal_comes_out(s in hostile()) {
        let one = for_terminal(&s);
        prop_assert!(!one.chars().any(dangerous), "{:?} -> {:?}", s, one);
        let many = for_terminal_multiline(&s);
        prop_assert!(
            !many.chars().any(|c| c != '\n' && dangerous(c)),
            "{:?} -> {:?}", s, many
        );
    }
}
