//! `client::sanitize`: never panics, and nothing that drives a terminal
//! (C0/C1 controls, DEL, bidi overrides) survives it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fn dangerous(c: char) -> bool {
    let u = c as u32;
    u < 0x20
        || (0x7f..=0x9f).contains(&u)
        || (0x202a..=0x202e).contains(&u)
        || (0x2066..=0x2069).contains(&u)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let one = client::sanitize::for_terminal(&text);
    assert!(!one.chars().any(dangerous));
    let many = client::sanitize::for_terminal_multiline(&text);
    assert!(!many.chars().any(|c| c != '\n' && dangerous(c)));
});
