//! `wss://` for server-mock: a rustls acceptor (ring provider, no OpenSSL)
//! from a PEM certificate chain and a PEM private key, re-read without a
//! restart ([`ServerTls::reload`]: on SIGHUP, and when the files change, see
//! [`watch_files`]) so a renewed certificate (certbot) is served before the
//! old one expires.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::Digest;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::error::ServerError;

/// The certificate chain and key files of `--tls-cert` / `--tls-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

fn bad(path: &Path, why: impl std::fmt::Display) -> ServerError {
    ServerError::Tls(format!("{}: {why}", path.display()))
}

/// A PEM reading error in words (the library's own text prints the
/// expected marker as a list of bytes: `missing section end marker: [45, …]`).
fn pem_error(e: rustls_pki_types::pem::Error, what: &str) -> String {
    use rustls_pki_types::pem::Error as E;
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_owned();
    match e {
        E::MissingSectionEnd { end_marker } => format!(
            "the file ends inside a PEM section (no \"-----END {}-----\" line): is it cut short, or still being written?",
            text(&end_marker)
        ),
        E::IllegalSectionStart { line } => {
            format!("a malformed PEM section start: \"{}\"", text(&line))
        }
        E::Base64Decode(why) => format!("the PEM data is not valid base64: {why}"),
        E::Io(e) => e.to_string(),
        E::NoItemsFound => format!("no PEM {what} in the file"),
        other => other.to_string(),
    }
}

/// Reads both files and checks that the key fits the certificate; any
/// problem is one line naming the file.
fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, ServerError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| bad(&files.cert, pem_error(e, "certificate")))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(&files.cert, pem_error(e, "certificate")))?;
    if certs.is_empty() {
        return Err(bad(&files.cert, "no PEM certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| bad(&files.key, pem_error(e, "private key")))?;
    // What `with_single_cert` does: load the key, compare its public key with
    // the leaf's.
    CertifiedKey::from_der(certs, key, provider)
        .map_err(|e| bad(&files.key, format!("does not fit the certificate: {e}")))
}

/// What a (re)load put in service, for the log: the files and the leaf
/// certificate's SHA-256 fingerprint (what `openssl x509 -noout -fingerprint
/// -sha256` prints, without the colons). Subject and expiry would need an
/// X.509 parser, which the server does not otherwise carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedCertificate {
    /// The certificate chain file.
    pub cert: PathBuf,
    /// The key file.
    pub key: PathBuf,
    /// Certificates in the chain, leaf included.
    pub chain_len: usize,
    /// SHA-256 of the leaf certificate's DER, lower-case hex.
    pub sha256: String,
}

impl ServedCertificate {
    fn of(files: &TlsFiles, key: &CertifiedKey) -> ServedCertificate {
        ServedCertificate {
            cert: files.cert.clone(),
            key: files.key.clone(),
            chain_len: key.cert.len(),
            sha256: key
                .cert
                .first()
                .map(|leaf| hex::encode(sha2::Sha256::digest(leaf.as_ref())))
                .unwrap_or_default(),
        }
    }
}

/// Hands every new handshake the current certificate. A std lock, not a
/// tokio one: rustls asks synchronously, and the lock is held only to clone
/// an `Arc`. A handshake keeps the `Arc` it got, so a swap never touches a
/// connection already set up.
#[derive(Debug)]
struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl Resolver {
    fn get(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = key;
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// How a file looked at one moment: a change of any part means it was
/// rewritten. The inode (unix) catches a rename-over (certbot) even within
/// one tick of a coarse modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// `None` when the file cannot be looked at (missing, no permission).
fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

fn stamps(files: &TlsFiles) -> [Option<FileStamp>; 2] {
    [stamp(&files.cert), stamp(&files.key)]
}

/// The server's TLS: the acceptor every connection goes through and the
/// certificate it currently presents.
pub struct ServerTls {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    resolver: Arc<Resolver>,
    acceptor: TlsAcceptor,
    /// The files' stamps taken just before the last load, successful or
    /// not: the poll reloads when they differ, so a broken file is reported
    /// once, not every minute. The lock also keeps two reloads (SIGHUP and
    /// the poll) from interleaving.
    seen: Mutex<[Option<FileStamp>; 2]>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // rustls's acceptor has no `Debug`.
        f.debug_struct("ServerTls")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Reads both files and builds the acceptor; any problem is one line
    /// naming the file.
    pub fn new(files: &TlsFiles) -> Result<ServerTls, ServerError> {
        #[allow(deprecated)] // ring: no post-quantum key exchange; see sync-core's tls.rs
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let seen = stamps(files);
        let resolver = Arc::new(Resolver {
            current: RwLock::new(Arc::new(load(files, &provider)?)),
        });
        let config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ServerError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        Ok(ServerTls {
            files: files.clone(),
            provider,
            resolver,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            seen: Mutex::new(seen),
        })
    }

    /// The acceptor for new connections.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// The certificate new connections get.
    pub fn served(&self) -> ServedCertificate {
        ServedCertificate::of(&self.files, &self.resolver.get())
    }

    /// Re-reads both files; new handshakes get the new certificate,
    /// connections already open keep theirs. On failure the previous
    /// certificate stays in service and the error names the file and the
    /// problem. Blocking (two small file reads).
    pub fn reload(&self) -> Result<ServedCertificate, ServerError> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        // Stamped before reading: a file rewritten during the read differs
        // from this stamp at the next poll and is read again.
        *seen = stamps(&self.files);
        let key = load(&self.files, &self.provider)?;
        let served = ServedCertificate::of(&self.files, &key);
        self.resolver.set(Arc::new(key));
        Ok(served)
    }

    /// [`ServerTls::reload`], logged: info with the new certificate, or one
    /// error with the reason. `trigger` says why it ran.
    pub fn reload_logged(&self, trigger: &str) -> Result<ServedCertificate, ServerError> {
        let r = self.reload();
        match &r {
            Ok(s) => tracing::info!(
                trigger,
                cert = %s.cert.display(),
                key = %s.key.display(),
                chain = s.chain_len,
                sha256 = %s.sha256,
                "TLS certificate reloaded; new connections get it"
            ),
            Err(e) => tracing::error!(
                trigger,
                "TLS certificate not reloaded, still serving the previous one: {e}"
            ),
        }
        r
    }

    /// Whether either file differs from what the last load saw.
    fn changed(&self) -> bool {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        *seen != stamps(&self.files)
    }
}

/// Every `every`, reloads when the certificate or key file changed (time,
/// size or inode), until `shutdown`. Stat and read run on the blocking pool.
pub(crate) async fn watch_files(
    tls: Arc<ServerTls>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = crate::connection::signalled(&mut shutdown, |s| *s) => return,
        }
        let tls = tls.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if tls.changed() {
                let _ = tls.reload_logged("files changed");
            }
        })
        .await;
    }
}
