//! Durability: restart on the same database and port keeps seqs, tokens,
//! server_id and client_id dedup; kill -9 of the real binary during a burst
//! never skips or repeats a seq and loses no acknowledged send.

mod common;

use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Client, test_config};
use futures_util::SinkExt;
use serde_json::json;
use server_mock::DbLocation;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn restart_keeps_seqs_tokens_and_dedup() {
    let dir = tempfile::tempdir().unwrap();
    let db = DbLocation::Path(dir.path().join("timeline.db"));
    let s1 = server_mock::start(test_config(db.clone())).await.unwrap();
    let addr = s1.local_addr();
    let id1 = s1.server_id().to_owned();
    let mut alice = Client::register(&s1.url(), "alice").await;
    let conv = alice.create_group("durable", &[]).await;
    let mut sent = Vec::new();
    for k in 1..=3 {
        sent.push(
            alice
                .send_msg(&conv, &format!("k{k}"), &format!("m{k}"))
                .await,
        );
    }
    s1.shutdown().await;

    // Same path, same port, right away.
    let mut cfg = test_config(db);
    cfg.listen = addr;
    let s2 = server_mock::start(cfg).await.unwrap();
    assert_eq!(s2.local_addr(), addr);
    assert_eq!(s2.server_id(), id1, "server_id lives in the database");
    let mut again = alice.again(&s2.url()).await;
    let repeat = again.send_msg(&conv, "k2", "m2 retried").await;
    assert_eq!(
        (repeat["seq"].clone(), repeat["ts"].clone()),
        (sent[1]["seq"].clone(), sent[1]["ts"].clone())
    );
    let new = again.send_msg(&conv, "k4", "m4").await;
    assert_eq!(new["seq"], 5);
    let all = again.pull_all(&conv).await;
    let bodies: Vec<&str> = all
        .iter()
        .skip(1)
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, vec!["m1", "m2", "m3", "m4"]);
    s2.shutdown().await;
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the real binary and returns it with its announced URL.
fn spawn_binary(db: &std::path::Path) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server-mock"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--send-rate",
            "1000000/1000000",
            "--db",
        ])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect(&line)
        .to_owned();
    assert!(
        url.starts_with("ws://127.0.0.1:") && url.ends_with("/v1"),
        "{url}"
    );
    (Proc(child), url)
}

#[tokio::test]
async fn kill_9_during_a_burst_loses_no_acknowledged_send() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.db");
    let (mut proc, url) = spawn_binary(&db);
    let mut alice = Client::register(&url, "alice").await;
    let conv = alice.create_group("chaos", &[]).await;

    let acked = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for k in 0..4 {
        let mut c = alice.again(&url).await;
        let (conv, acked) = (conv.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = HashMap::new();
            for i in 0..400u64 {
                let cid = format!("w{k}-{i}");
                let frame = json!({"type":"send","id":i,"conv":conv,"client_id":cid,"body":cid});
                // The kill may land mid-burst: stop sending, keep the acks.
                if c.ws
                    .send(Message::Text(frame.to_string().into()))
                    .await
                    .is_err()
                {
                    break;
                }
                ids.insert(i, cid);
            }
            // Collect acks until the server dies.
            let mut got: HashMap<String, (u64, i64)> = HashMap::new();
            while let Some(f) = c.read_wire().await {
                if f["type"] == "sent" {
                    let cid = ids[&f["re"].as_u64().unwrap()].clone();
                    got.insert(cid, (f["seq"].as_u64().unwrap(), f["ts"].as_i64().unwrap()));
                    acked.fetch_add(1, Ordering::SeqCst);
                }
            }
            got
        }));
    }
    while acked.load(Ordering::SeqCst) < 100 {
        tokio::task::yield_now().await;
    }
    proc.0.kill().unwrap();
    proc.0.wait().unwrap();
    let mut acks: HashMap<String, (u64, i64)> = HashMap::new();
    for t in tasks {
        acks.extend(t.await.unwrap());
    }
    assert!(acks.len() >= 100);

    let (_proc2, url2) = spawn_binary(&db);
    let mut after = alice.again(&url2).await;
    let all = after.pull_all(&conv).await;
    let seqs: Vec<u64> = all.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=all.len() as u64).collect::<Vec<_>>(),
        "no skipped or repeated seq"
    );
    let mut stored: HashMap<String, (u64, i64)> = HashMap::new();
    for m in all.iter().skip(1) {
        let cid = m["client_id"].as_str().unwrap().to_owned();
        let prev = stored.insert(
            cid.clone(),
            (m["seq"].as_u64().unwrap(), m["ts"].as_i64().unwrap()),
        );
        assert!(prev.is_none(), "client_id {cid} stored twice");
    }
    for (cid, ack) in &acks {
        assert_eq!(
            stored.get(cid),
            Some(ack),
            "acknowledged {cid} must survive kill -9"
        );
    }
    // Retrying an acknowledged send after the crash returns the first reply.
    let (cid, (seq, _)) = acks.iter().next().unwrap();
    let r = after.send_msg(&conv, cid, "retry").await;
    assert_eq!(r["seq"].as_u64(), Some(*seq));
}
