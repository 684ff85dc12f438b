//! TLS to PostgreSQL with rustls (`--db postgres://…?sslmode=require`).
//!
//! The URL's `sslmode` is PostgreSQL's, with one difference that only makes
//! it safer: whenever TLS is used, the server's certificate and host name
//! are verified, against the system's roots or against the PEM file named
//! by `sslrootcert` (libpq's parameter name). So `disable` is plain TCP,
//! `prefer` (the default) uses TLS when the server offers it, and
//! `require` (or libpq's `verify-full`) refuses to connect without it.
//! libpq's `verify-ca` (a certificate for any host name) is refused with a
//! message rather than quietly checked as `verify-full`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::Config;
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsConnector;

/// Why a `postgres://` URL's TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// `sslrootcert` names a file that cannot be read or holds no
    /// certificate.
    #[error("sslrootcert {path}: {reason}")]
    RootCert { path: String, reason: String },
    /// An `sslmode` this server does not implement.
    #[error(
        "sslmode={0} is not supported: use disable, prefer, require or verify-full \
         (with TLS the certificate and host name are always verified)"
    )]
    Mode(String),
    /// The rest of the URL did not parse.
    #[error("the database URL: {0}")]
    Url(#[from] postgres::Error),
    /// Connecting failed; the driver's reasons, outermost first, and what
    /// to do when the certificate was not trusted.
    #[error("{0}")]
    Connect(String),
}

/// A failed connection as one line with every reason in the chain (the
/// driver's own message is only "error performing TLS handshake").
pub fn connect_error(e: postgres::Error) -> TlsSetupError {
    let mut line = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        line.push_str(": ");
        line.push_str(&s.to_string());
        source = s.source();
    }
    if line.contains("certificate") {
        line.push_str(
            " (name the CA that signed the database server's certificate with \
             sslrootcert=FILE in the URL, or connect without TLS with sslmode=disable)",
        );
    }
    TlsSetupError::Connect(line)
}

/// The connection settings of `url` and the TLS connector they call for.
pub fn settings(url: &str) -> Result<(Config, RustlsConnector), TlsSetupError> {
    let (url, root_cert) = take_tls_params(url)?;
    let config = Config::from_str(&url)?;
    let roots = match &root_cert {
        Some(path) => roots_from_file(path)?,
        None => system_roots(),
    };
    #[allow(deprecated)] // ring: no post-quantum key exchange; see sync-core's tls.rs
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::RootCert {
            path: root_cert.clone().unwrap_or_default(),
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((config, RustlsConnector(Arc::new(tls))))
}

/// `url` without the parameters the PostgreSQL driver does not know
/// (`sslrootcert`), with `sslmode=verify-full` spelled `require`; and the
/// `sslrootcert` path, if any.
fn take_tls_params(url: &str) -> Result<(String, Option<String>), TlsSetupError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut kept = Vec::new();
    let mut root_cert = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match (key, value) {
            ("sslrootcert", path) => root_cert = Some(percent_decode(path)),
            ("sslmode", "verify-full") => kept.push("sslmode=require".to_owned()),
            ("sslmode", mode @ ("verify-ca" | "allow")) => {
                return Err(TlsSetupError::Mode(mode.to_owned()));
            }
            _ => kept.push(pair.to_owned()),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, root_cert))
}

/// `%XX` escapes decoded (a path in a URL may hold `%2F` or `%20`).
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn roots_from_file(path: &str) -> Result<rustls::RootCertStore, TlsSetupError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let fail = |reason: String| TlsSetupError::RootCert {
        path: path.to_owned(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| fail(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(fail("no usable certificate in the file".to_owned()));
    }
    Ok(roots)
}

fn system_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    roots
}

/// [`MakeTlsConnect`] with rustls: verifies the server's certificate for
/// the host name of the URL.
#[derive(Debug, Clone)]
pub struct RustlsConnector(Arc<ClientConfig>);

impl<S> MakeTlsConnect<S> for RustlsConnector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = rustls_pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, host: &str) -> Result<RustlsConnect, Self::Error> {
        Ok(RustlsConnect {
            name: ServerName::try_from(host.to_owned())?,
            config: self.0.clone(),
        })
    }
}

/// One connection's TLS handshake.
#[derive(Debug)]
pub struct RustlsConnect {
    name: ServerName<'static>,
    config: Arc<ClientConfig>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let connector = TlsConnector::from(self.config);
        Box::pin(async move {
            let tls = connector.connect(self.name, stream).await?;
            Ok(RustlsStream(tls))
        })
    }
}

/// A TLS stream to PostgreSQL.
pub struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S> std::fmt::Debug for RustlsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RustlsStream")
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    /// No channel binding: SCRAM's `-PLUS` variant is not offered (libpq's
    /// `channel_binding=prefer` then uses plain SCRAM).
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_parameters_leave_the_url_the_driver_reads() {
        let (url, root) =
            take_tls_params("postgres://u@h:5/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x")
                .unwrap();
        assert_eq!(
            url,
            "postgres://u@h:5/db?sslmode=require&application_name=x"
        );
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
        let (url, root) = take_tls_params("postgres://u@h:5/db?sslrootcert=ca.pem").unwrap();
        assert_eq!(
            (url.as_str(), root.as_deref()),
            ("postgres://u@h:5/db", Some("ca.pem"))
        );
        let (url, root) = take_tls_params("postgres://u@h:5/db").unwrap();
        assert_eq!((url.as_str(), root), ("postgres://u@h:5/db", None));
    }

    #[test]
    fn a_mode_that_would_check_less_is_refused_with_the_reason() {
        let e = take_tls_params("postgres://u@h/db?sslmode=verify-ca").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("sslmode=verify-ca is not supported"),
            "{e}"
        );
        assert!(settings("postgres://u@h/db?sslmode=allow").is_err());
    }

    #[test]
    fn a_root_certificate_file_that_holds_none_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let url = format!("postgres://u@h/db?sslrootcert={}", path.display());
        let Err(e) = settings(&url) else {
            panic!("a file without a certificate was accepted");
        };
        assert!(e.to_string().contains("no usable certificate"), "{e}");
        let Err(e) = settings("postgres://u@h/db?sslrootcert=/nonexistent/ca.pem") else {
            panic!("a missing file was accepted");
        };
        assert!(
            e.to_string()
                .starts_with("sslrootcert /nonexistent/ca.pem: "),
            "{e}"
        );
    }
}
