//! TLS for client connections: a rustls acceptor (ring provider) from PEM certificate and key
//! files, offered to clients that send SSLRequest (`sslmode=require`) and to direct TLS
//! connections (PostgreSQL 17's `sslnegotiation=direct`, ALPN `postgresql`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pgwire::tokio::tokio_rustls::rustls;
use pgwire::tokio::TlsAcceptor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The certificate chain and private key files, PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why the TLS files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS {what} file {path}: {source}")]
    Read {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the TLS certificate file {path} holds no PEM certificate ({reason})")]
    NoCertificate { path: String, reason: String },
    #[error("the TLS key file {path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1): {reason}")]
    NoKey { path: String, reason: String },
    #[error("the TLS certificate {cert} and key {key} cannot be used together: {reason}")]
    Rejected {
        cert: String,
        key: String,
        reason: String,
    },
}

/// Build the acceptor from `files`.
pub fn load_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let read = |what: &'static str, path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            what,
            path: path.display().to_string(),
            source,
        })
    };
    let cert_pem = read("certificate", &files.cert)?;
    let key_pem = read("key", &files.key)?;
    let no_certificate = |reason: String| TlsError::NoCertificate {
        path: files.cert.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| no_certificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(no_certificate("no CERTIFICATE section".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::NoKey {
        path: files.key.display().to_string(),
        reason: e.to_string(),
    })?;
    let rejected = |e: rustls::Error| TlsError::Rejected {
        cert: files.cert.display().to_string(),
        key: files.key.display().to_string(),
        reason: e.to_string(),
    };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(rejected)?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(rejected)?;
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
