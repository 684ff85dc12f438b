//! A renewed certificate is served without a restart: after
//! `RunningServer::reload_tls`, after the files change (the poll), and after
//! SIGHUP to the real binary, a client trusting only the new CA connects, one
//! trusting only the old CA is refused, and a connection opened before keeps
//! working. A broken replacement leaves the previous certificate in service.
//! Files are replaced as certbot does: written beside, renamed over.

mod common;

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Client, HANG, test_config};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::json;
use sha2::Digest;
use tokio_tungstenite::tungstenite::Error as WsError;

/// A CA and a certificate for 127.0.0.1 it signed, as PEM text.
struct Pki {
    ca: String,
    cert: String,
    key: String,
}

impl Pki {
    fn new(ca_name: &str) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &Issuer::from_params(&ca_params, &ca_key))
            .unwrap();
        Pki {
            ca: ca.pem(),
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// The leaf's SHA-256, as the server reports it.
    fn sha256(&self) -> String {
        let der = CertificateDer::from_pem_slice(self.cert.as_bytes()).unwrap();
        hex::encode(sha2::Sha256::digest(der.as_ref()))
    }
}

/// Writes `text` beside `path` and renames it over, as certbot does.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// `cert.pem` and `key.pem` in `dir`, holding `pki`'s pair.
fn tls_files(dir: &Path, pki: &Pki) -> server_mock::TlsFiles {
    let files = server_mock::TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    replace(&files.cert, &pki.cert);
    replace(&files.key, &pki.key);
    files
}

/// A client that trusts only the CA in `ca_pem` (not the system's roots).
/// A `wss://` server-mock on `files`, checking them every `check_every`
/// (None: the default interval).
async fn serve(
    files: &server_mock::TlsFiles,
    check_every: Option<Duration>,
) -> server_mock::RunningServer {
    let config = test_config(server_mock::DbLocation::Memory);
    server_mock::start(server_mock::Config {
        tls: Some(files.clone()),
        tls_check_every: check_every.unwrap_or(config.tls_check_every),
        ..config
    })
    .await
    .unwrap()
}

fn trusting(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    #[allow(deprecated)] // ring, as the server and convo use
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Opens `url` trusting only `ca_pem`; `Ok` once `hello` arrived.
async fn connect(url: &str, ca_pem: &str) -> Result<Client, WsError> {
    let connector = tokio_tungstenite::Connector::Rustls(trusting(ca_pem));
    let (ws, _) = tokio::time::timeout(
        HANG,
        tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector)),
    )
    .await
    .expect("connect hangs")?;
    Ok(Client::from_ws(ws).await)
}

/// Whether `e` is the handshake refusing a certificate from an unknown CA.
fn unknown_issuer(e: &WsError) -> bool {
    use rustls::{CertificateError, Error as TlsError};
    use tokio_tungstenite::tungstenite::error::TlsError as WsTls;
    let rustls: Option<&TlsError> = match e {
        WsError::Io(io) => io.get_ref().and_then(|inner| inner.downcast_ref()),
        WsError::Tls(WsTls::Rustls(r)) => Some(&**r),
        _ => None,
    };
    matches!(
        rustls,
        Some(TlsError::InvalidCertificate(
            CertificateError::UnknownIssuer
        ))
    )
}

/// Asserts that a client trusting only `ca_pem` is refused for the
/// certificate's issuer.
async fn assert_refused(url: &str, ca_pem: &str, what: &str) {
    match connect(url, ca_pem).await {
        Ok(_) => panic!("{what}: connected"),
        Err(e) => assert!(
            unknown_issuer(&e),
            "{what}: refused for another reason: {e}"
        ),
    }
}

async fn assert_pong(client: &mut Client) {
    assert_eq!(client.request(json!({"type":"ping"})).await["type"], "pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_serves_the_new_certificate_to_new_connections_only() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (Pki::new("old CA"), Pki::new("new CA"));
    let files = tls_files(dir.path(), &old);
    let server = serve(&files, None).await;
    let url = server.url();
    let mut before = connect(&url, &old.ca).await.expect("old CA before reload");
    assert_refused(&url, &new.ca, "new CA before reload").await;

    replace(&files.cert, &new.cert);
    replace(&files.key, &new.key);
    // Replaced but not yet reloaded (the poll is a minute away): still the old one.
    connect(&url, &old.ca)
        .await
        .expect("old CA before the reload call");
    let served = server
        .reload_tls()
        .await
        .expect("reload")
        .expect("serving TLS");
    assert_eq!(served.sha256, new.sha256());
    assert_eq!((served.cert, served.key), (files.cert, files.key));
    assert_eq!(served.chain_len, 1);

    let mut after = connect(&url, &new.ca).await.expect("new CA after reload");
    assert_pong(&mut after).await;
    assert_refused(&url, &old.ca, "old CA after reload").await;
    // The connection made with the old certificate is untouched.
    assert_pong(&mut before).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_files_are_served_within_the_check_interval() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (Pki::new("old CA"), Pki::new("new CA"));
    let files = tls_files(dir.path(), &old);
    let server = serve(&files, Some(Duration::from_millis(100))).await;
    let url = server.url();
    let mut before = connect(&url, &old.ca).await.expect("old CA before renewal");

    replace(&files.cert, &new.cert);
    replace(&files.key, &new.key);
    // No reload call: the poll notices. The deadline only guards a hang.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = loop {
        match connect(&url, &new.ca).await {
            Ok(c) => break c,
            Err(e) if unknown_issuer(&e) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the renewed certificate was not picked up: {e}"),
        }
    };
    assert_pong(&mut after).await;
    assert_refused(&url, &old.ca, "old CA after the poll").await;
    assert_pong(&mut before).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_replacement_keeps_the_previous_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (Pki::new("old CA"), Pki::new("new CA"));
    let files = tls_files(dir.path(), &old);
    // The poll sees every broken state too; it must not install it either.
    let server = serve(&files, Some(Duration::from_millis(100))).await;
    let url = server.url();
    let (cert, key) = (files.cert.display(), files.key.display());

    // Garbage where the certificate was.
    replace(&files.cert, "not a certificate\n");
    let e = server.reload_tls().await.unwrap_err().to_string();
    assert_eq!(e, format!("TLS: {cert}: no PEM certificate in the file"));
    connect(&url, &old.ca).await.expect("old CA after garbage");

    // A certificate cut off half-way.
    replace(&files.cert, &new.cert[..new.cert.len() / 2]);
    let e = server.reload_tls().await.unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "TLS: {cert}: the file ends inside a PEM section (no \"-----END CERTIFICATE-----\" line): is it cut short, or still being written?"
        )
    );
    connect(&url, &old.ca)
        .await
        .expect("old CA after a cut PEM");

    // Mid-renewal: the new certificate, the old key.
    replace(&files.cert, &new.cert);
    let e = server.reload_tls().await.unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("TLS: {key}: does not fit the certificate: ")),
        "{e}"
    );
    connect(&url, &old.ca)
        .await
        .expect("old CA after a mismatched key");
    assert_refused(&url, &new.ca, "new CA with a mismatched key").await;

    // The key file gone (renamed away, not yet back).
    std::fs::remove_file(&files.key).unwrap();
    let e = server.reload_tls().await.unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("TLS: {key}: ")) && e.contains("No such file or directory"),
        "{e}"
    );
    connect(&url, &old.ca)
        .await
        .expect("old CA without a key file");

    // A key file holding no key.
    replace(&files.key, "not a key\n");
    let e = server.reload_tls().await.unwrap_err().to_string();
    assert_eq!(e, format!("TLS: {key}: no PEM private key in the file"));

    // The renewal completes: now the new one is served.
    replace(&files.key, &new.key);
    let served = server.reload_tls().await.expect("reload").expect("tls");
    assert_eq!(served.sha256, new.sha256());
    connect(&url, &new.ca).await.expect("new CA once complete");
    assert_refused(&url, &old.ca, "old CA once complete").await;
    server.shutdown().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_makes_the_binary_serve_the_new_certificate() {
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (Pki::new("old CA"), Pki::new("new CA"));
    let files = tls_files(dir.path(), &old);
    let mut child = Command::new(env!("CARGO_BIN_EXE_server-mock"))
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("server.db"))
        .arg("--tls-cert")
        .arg(&files.cert)
        .arg("--tls-key")
        .arg(&files.key)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_owned();
    assert!(url.starts_with("wss://127.0.0.1:"), "{url}");
    let (log_tx, log_rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = log_tx.send(l);
        }
    });

    let mut before = connect(&url, &old.ca).await.expect("old CA before SIGHUP");
    replace(&files.cert, &new.cert);
    replace(&files.key, &new.key);
    let hup = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(hup.success());
    // Wait for the reload's log line (the poll is a minute away, so it is
    // the signal's).
    let reloaded = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + HANG;
        let mut seen = Vec::new();
        while let Ok(l) = log_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if l.contains("TLS certificate reloaded") {
                return Ok(l);
            }
            seen.push(l);
        }
        Err(seen.join("\n"))
    })
    .await
    .unwrap()
    .unwrap_or_else(|log| panic!("no reload logged after SIGHUP; stderr:\n{log}"));
    assert!(reloaded.contains(&new.sha256()), "{reloaded}");

    let mut after = connect(&url, &new.ca).await.expect("new CA after SIGHUP");
    assert_pong(&mut after).await;
    assert_refused(&url, &old.ca, "old CA after SIGHUP").await;
    assert_pong(&mut before).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP ended the server"
    );

    let term = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(term.success());
    drop((before, after));
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}
