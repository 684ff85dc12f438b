//! convo over wss:// with a real TLS handshake: a throwaway CA and server
//! certificate (rcgen), server-mock serving them, and the real `convo`
//! binary trusting the CA through `--ca-file` — and refusing without it, or
//! when the certificate names another host.
#![cfg(feature = "wired")]

mod cli_support;

use std::path::Path;

use cli_support::{TestServer, convo_cmd};

/// `ca.pem`, `cert.pem` and `key.pem` for `names` in `dir`.
fn make_pki(dir: &Path, names: &[&str]) {
    conformance::pki::make(dir, names).unwrap();
}

fn run(data: &Path, args: &[&str]) -> std::process::Output {
    convo_cmd(data)
        .env("CONVO_PASSWORD", "correct horse battery")
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn register_send_and_list_over_wss_with_a_private_ca() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path(), &["localhost"]);
    let server = TestServer::start_tls(pki.path().join("cert.pem"), pki.path().join("key.pem"));
    assert!(server.url.starts_with("wss://127.0.0.1:"), "{}", server.url);
    // The certificate names localhost: connect by that name.
    let url = server.url.replace("127.0.0.1", "localhost");
    let ca = pki.path().join("ca.pem");
    let ca = ca.to_str().unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    // Each command as alice or bob, trusting the test CA.
    let as_user = |dir: &Path, user: &str, args: &[&str]| {
        let mut all = vec!["--server", &url, "--user", user, "--ca-file", ca];
        all.extend_from_slice(args);
        let out = run(dir, &all);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        out
    };
    as_user(a.path(), "alice", &["register"]);
    as_user(b.path(), "bob", &["register"]);
    let out = as_user(a.path(), "alice", &["send", "@bob", "over tls"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sent to c1 as #2\n");
    // The CA also comes from the environment (or config.toml's ca_file).
    let out = convo_cmd(b.path())
        .env("CONVO_CA_FILE", ca)
        .args(["--server", &url, "--user", "bob", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("over tls"), "{list}");
    // No warning about clear text on wss://.
    assert!(!stderr(&out).contains("not encrypted"), "{}", stderr(&out));

    // Without the CA: one line naming the host and the unknown issuer.
    let c = tempfile::tempdir().unwrap();
    let out = run(c.path(), &["--server", &url, "--user", "carol", "register"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("the certificate of localhost is from an unknown issuer"),
        "{err}"
    );
}

#[test]
fn a_certificate_for_another_name_is_refused_with_the_wrong_name() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path(), &["chat.example.org"]);
    let server = TestServer::start_tls(pki.path().join("cert.pem"), pki.path().join("key.pem"));
    let url = server.url.replace("127.0.0.1", "localhost");
    let ca = pki.path().join("ca.pem");
    let d = tempfile::tempdir().unwrap();
    let out = run(
        d.path(),
        &[
            "--server",
            &url,
            "--user",
            "dave",
            "--ca-file",
            ca.to_str().unwrap(),
            "register",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("the certificate is not valid for the name localhost (wrong name)"),
        "{err}"
    );
}

#[test]
fn plain_ws_to_a_remote_host_warns_once_and_a_bad_ca_file_is_one_line() {
    let d = tempfile::tempdir().unwrap();
    // 192.0.2.1 (TEST-NET-1) is never reachable; nothing is sent there
    // before the warning, and the log-in fails on the connection.
    let out = convo_cmd(d.path())
        .args(["--server", "ws://192.0.2.1:9/v1", "--user", "erin", "login"])
        .env("CONVO_PASSWORD", "long enough secret")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(err.matches("is not encrypted (ws://)").count(), 1, "{err}");
    // Loopback is fine.
    let out = convo_cmd(d.path())
        .args(["--server", "ws://127.0.0.1:9/v1", "--user", "erin", "login"])
        .env("CONVO_PASSWORD", "long enough secret")
        .output()
        .unwrap();
    assert!(!stderr(&out).contains("not encrypted"), "{}", stderr(&out));
    // A CA file that is not there.
    let out = convo_cmd(d.path())
        .args([
            "--server",
            "wss://localhost:9/v1",
            "--user",
            "erin",
            "--ca-file",
            "/nonexistent/ca.pem",
            "login",
        ])
        .env("CONVO_PASSWORD", "long enough secret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}

/// `server-mock check` against a `wss://` server says what is wrong with
/// its certificate as convo does (it printed rustls's `IO error: invalid
/// peer certificate: UnknownIssuer`), and passes with `--ca-file`.
#[test]
fn server_mock_check_names_the_certificate_problem() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path(), &["localhost"]);
    let server = TestServer::start_tls(pki.path().join("cert.pem"), pki.path().join("key.pem"));
    let url = server.url.replace("127.0.0.1", "localhost");
    let bin = conformance::cluster::debug_server_bin().unwrap();
    let check = |extra: &[&str]| {
        std::process::Command::new(&bin)
            .args(["check", "--server", &url])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("the certificate of localhost is from an unknown issuer"),
        "{err}"
    );
    let ca = pki.path().join("ca.pem");
    let out = check(&["--ca-file", ca.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}
