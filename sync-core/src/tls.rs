//! TLS for `wss://` (the `tls` feature, on by default): rustls with the ring
//! provider, the platform's root certificates (rustls-native-certs: what the
//! OS trusts, kept up to date by the OS, rather than a root list frozen into
//! the binary like webpki-roots) plus an optional CA file for private or
//! self-signed CAs. No OpenSSL. [`client_config`] is public so that tools
//! speaking the protocol directly (the conformance runner, benchmarks)
//! verify servers exactly as the client does.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::error::{ConnectError, Error};

/// The client TLS configuration: platform roots plus the certificates in
/// `ca_file` (PEM). A CA file that cannot be read or holds no certificate is
/// an error at once, not at the first connection.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(target: "sync_core", added, errors = native.errors.len(), "platform root certificates");
    if let Some(path) = ca_file {
        let invalid = |message: String| Error::Invalid {
            field: "ca_file",
            message,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| invalid(format!("reading {}: {e}", path.display())))?
            .collect::<Result<_, _>>()
            .map_err(|e| invalid(format!("reading {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(invalid(format!(
                "{} holds no PEM certificate",
                path.display()
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(ring_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Invalid {
            field: "tls",
            message: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// rustls's ring provider: deprecated since 0.23.48 only because it has no
/// post-quantum key exchange (it negotiates X25519/P-256). Chosen over
/// aws-lc-rs to keep the build free of aws-lc's C toolchain.
#[allow(deprecated)]
pub(crate) fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// A TLS failure as one line naming the host and the reason (what
/// [`crate::Client`] reports; public for tools that open their own
/// connections, such as `server-mock check`).
pub fn describe(e: &rustls::Error, host: &str) -> ConnectError {
    use rustls::CertificateError as C;
    let why = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => {
                format!(
                    "the certificate of {host} is from an unknown issuer (not a trusted CA; give a private CA as the CA file)"
                )
            }
            C::Expired | C::ExpiredContext { .. } => {
                format!("the certificate of {host} has expired")
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("the certificate of {host} is not valid yet")
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("the certificate is not valid for the name {host} (wrong name)")
            }
            C::Revoked => format!("the certificate of {host} was revoked"),
            other => format!("the certificate of {host} was rejected: {other:?}"),
        },
        other => format!("with {host}: {other}"),
    };
    ConnectError::Tls(why)
}

/// The rustls error inside an I/O error from the TLS handshake, if any,
/// described as [`describe`] does.
pub fn from_io(io: &std::io::Error, host: &str) -> Option<ConnectError> {
    let inner = io.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(describe(inner, host))
}
