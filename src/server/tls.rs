//! TLS for HTTPS and wss://: reads the PEM certificate chain and key named by `--tls-cert` and
//! `--tls-key` into a rustls acceptor (ring as the crypto provider: no system library needed),
//! offering HTTP/1.1 by ALPN. The accept loop wraps each TCP connection with it before HTTP
//! starts; everything after (routes, upgrade, connection tasks) is the same as over plain TCP.
//!
//! Must never: start without a usable certificate and key (the server refuses to start, with
//! the file and the reason), or wait on a client's handshake beyond the handshake timeout.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// Why the certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate chain {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("cannot read the private key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// An acceptor serving the chain in `cert` with the key in `key`.
pub fn load_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let chain = read_chain(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let unreadable = |e: rustls::pki_types::pem::Error| TlsError::Certificate {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(unreadable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_empty_files_are_refused_with_their_path() {
        let dir = std::env::temp_dir().join(format!("skirmish-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let missing = dir.join("missing.pem");
        let error = load_acceptor(&missing, &missing).err().unwrap();
        assert!(error.to_string().contains("missing.pem"), "{error}");
        let error = load_acceptor(&empty, &empty).err().unwrap();
        assert!(matches!(error, TlsError::NoCertificate { .. }), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
