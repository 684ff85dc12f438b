//! Client-frame decoding (what the server runs on every frame) and
//! server-frame decoding (what sync-core runs): must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sync_core::protocol::decode_client_frame(text);
        let _ = sync_core::protocol::decode_server_frame(text);
    }
});
