//! The stable, bounded twin of `fuzz/fuzz_targets/decode_frames.rs` for the
//! server: arbitrary and frame-shaped texts, before and after
//! authentication, on a real connection. The server answers each with a
//! reply or an error, never panics, and the connection stays usable.

mod common;

use common::{Client, memory_server};
use proptest::prelude::*;

fn frame_text() -> impl Strategy<Value = String> {
    let ty = prop::sample::select(sync_core::protocol::CLIENT_TYPES.to_vec());
    prop_oneof![
        ".{0,120}",
        (ty, any::<i64>(), ".{0,12}", any::<i64>()).prop_map(|(t, id, s, n)| {
            serde_json::json!({"type": t, "id": id, "conv": s, "seq": n, "after": n,
                               "limit": n, "body": s, "client_id": s, "user": s,
                               "password": s, "device": s, "token": s, "members": [s]})
            .to_string()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn arbitrary_frames_never_break_the_server(frames in prop::collection::vec(frame_text(), 40..80)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let server = memory_server().await;
            let url = server.url();
            let mut anon = Client::connect(&url).await;
            let mut alice = Client::register(&url, "alice").await;
            for (i, text) in frames.iter().enumerate() {
                // Five `unauthorized` close a connection (1008): expected;
                // the server must survive and keep serving others.
                let c = if i % 2 == 0 { &mut anon } else { &mut alice };
                c.send_text(text.clone()).await;
            }
            let mut fresh = Client::connect(&url).await;
            let r = fresh.request(serde_json::json!({"type":"ping"})).await;
            assert_eq!(r["type"], "pong");
            server.shutdown().await;
        });
    }
}
