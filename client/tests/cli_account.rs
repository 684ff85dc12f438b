//! `convo passwd` and `convo logout --all` (protocol §9.6 `account`) through
//! the real binary, with a second device of the same user watched through
//! sync-core: it is signed out (4001) while the device that changed the
//! password stays logged in.
#![cfg(feature = "wired")]

mod cli_support;

use std::time::Duration;

use cli_support::{TestServer, convo_cmd, ok, register};
use sync_core::{ClientBuilder, ConnState};

const OLD: &str = "correct horse battery";
const NEW: &str = "a much better password";

/// A second device of `user`, logged in with `password` and Live.
fn second_device(
    rt: &tokio::runtime::Runtime,
    url: &str,
    dir: &std::path::Path,
    user: &str,
    password: &str,
) -> sync_core::Client {
    rt.block_on(async {
        let (c, _events) = ClientBuilder::new(url, dir.join("phone.db"), "phone")
            .open()
            .unwrap();
        c.login(user, password).await.unwrap();
        c.wait_live(Duration::from_secs(10)).await.unwrap();
        c
    })
}

fn wait_logged_out(rt: &tokio::runtime::Runtime, c: &sync_core::Client) {
    rt.block_on(async {
        let t0 = std::time::Instant::now();
        while c.state() != ConnState::LoggedOut {
            assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", c.state());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

#[test]
fn passwd_changes_the_password_and_signs_out_the_other_devices() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // §9.6 `account`, whatever CONVO_TEST_SERVER_FEATURES says (cli_v1.rs
    // checks the answer of a server without it).
    let server = TestServer::start_features(server_mock::Features::ALL);
    let url = server.url.clone();
    let a = tempfile::tempdir().unwrap();
    register(a.path(), &url, "alice");
    let phone = second_device(&rt, &url, a.path(), "alice", OLD);

    // A wrong current password changes nothing.
    let out = convo_cmd(a.path())
        .args(["--server", &url, "--user", "alice", "passwd"])
        .env("CONVO_PASSWORD", "not the password")
        .env("CONVO_NEW_PASSWORD", NEW)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "convo: error: the current password is wrong; nothing was changed\n"
    );
    assert_eq!(phone.state(), ConnState::Live);

    let out = convo_cmd(a.path())
        .args(["--server", &url, "--user", "alice", "passwd"])
        .env("CONVO_PASSWORD", OLD)
        .env("CONVO_NEW_PASSWORD", NEW)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The other device is signed out; this one still works.
    wait_logged_out(&rt, &phone);
    assert_eq!(
        ok(a.path(), &url, "alice", &["list", "--json"]).trim(),
        "[]"
    );
    // The old password fails, the new one works.
    let login = |pw: &str| {
        let d = tempfile::tempdir().unwrap();
        convo_cmd(d.path())
            .args(["--server", &url, "--user", "alice", "login"])
            .env("CONVO_PASSWORD", pw)
            .output()
            .unwrap()
    };
    assert_eq!(login(OLD).status.code(), Some(1));
    assert!(login(NEW).status.success());
}

#[test]
fn logout_all_signs_out_every_device() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // §9.6 `account`, whatever CONVO_TEST_SERVER_FEATURES says (cli_v1.rs
    // checks the answer of a server without it).
    let server = TestServer::start_features(server_mock::Features::ALL);
    let url = server.url.clone();
    let a = tempfile::tempdir().unwrap();
    register(a.path(), &url, "alice");
    let phone = second_device(&rt, &url, a.path(), "alice", OLD);
    let out = ok(a.path(), &url, "alice", &["logout", "--all"]);
    assert_eq!(
        out,
        format!("logged out alice from {url} on every device\n")
    );
    wait_logged_out(&rt, &phone);
    // This device forgot its session too: anything online needs a log-in.
    let out = convo_cmd(a.path())
        .args(["--server", &url, "--user", "alice", "sync"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("convo login"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
