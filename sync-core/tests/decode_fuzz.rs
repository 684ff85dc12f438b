//! The stable, bounded twin of `fuzz/fuzz_targets/decode_frames.rs`: frame
//! decoding never panics, whatever the text — arbitrary strings and JSON
//! shaped like frames (known types, wrong field types, huge numbers, deep
//! nesting). Regressions found by the fuzzer are pinned below.

use proptest::prelude::*;
use sync_core::protocol::{CLIENT_TYPES, decode_client_frame, decode_server_frame};

/// JSON values of bounded depth, biased towards frame-like objects.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        ".{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("id".to_owned()),
                    Just("re".to_owned()),
                    Just("conv".to_owned()),
                    Just("seq".to_owned()),
                    Just("body".to_owned()),
                    Just("messages".to_owned()),
                    ".{0,6}",
                ],
                inner,
                0..8,
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = decode_client_frame(&text);
        let _ = decode_server_frame(&text);
    }

    #[test]
    fn frame_shaped_json_never_panics(
        mut v in json(),
        ty in prop::sample::select(CLIENT_TYPES.to_vec()),
        id in any::<i64>(),
    ) {
        if let serde_json::Value::Object(m) = &mut v {
            m.insert("type".into(), ty.into());
            m.insert("id".into(), id.into());
        }
        let text = v.to_string();
        let _ = decode_client_frame(&text);
        let _ = decode_server_frame(&text);
    }
}

#[test]
fn pinned_inputs_decode_without_panicking() {
    for text in [
        "",
        "null",
        "[]",
        "{\"type\":\"send\",\"id\":18446744073709551615}",
        "{\"type\":\"pull\",\"id\":1,\"conv\":\"c1\",\"after\":-1}",
        "{\"type\":\"messages\",\"re\":1,\"last_seq\":1e400,\"messages\":[]}",
        &format!("{}1{}", "[".repeat(200), "]".repeat(200)),
    ] {
        let _ = decode_client_frame(text);
        let _ = decode_server_frame(text);
    }
}
