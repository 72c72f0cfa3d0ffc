//! TLS for listeners: rustls with the aws-lc-rs provider only, the certificate
//! chain and key from PEM files, and a minimum protocol version.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The lowest TLS version a listener accepts (`tls_min_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMinVersion {
    #[default]
    Tls12,
    Tls13,
}

impl TlsMinVersion {
    /// Parses Vault's `tls_min_version` (`tls12`, `tls13`; `tls10` and `tls11`
    /// are not offered by rustls and are refused).
    pub fn parse(s: &str) -> Result<TlsMinVersion, TlsError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "tls12" => Ok(TlsMinVersion::Tls12),
            "tls13" => Ok(TlsMinVersion::Tls13),
            other => Err(TlsError::MinVersion(other.to_string())),
        }
    }
}

/// A listener's TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub min_version: TlsMinVersion,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate found")]
    NoCertificate { path: String },
    #[error("{path}: no PEM private key found")]
    NoKey { path: String },
    #[error("{path}: invalid PEM: {source}")]
    Pem {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("unsupported tls_min_version {0:?} (supported: tls12, tls13)")]
    MinVersion(String),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Installs aws-lc-rs as the process-wide rustls provider (once; later calls
/// and an already installed provider are fine).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Loads a PEM certificate chain.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            path: path.display().to_string(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.display().to_string(),
        });
    }
    Ok(certs)
}

/// Loads a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = zeroize::Zeroizing::new(read(path)?);
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|source| TlsError::Pem {
            path: path.display().to_string(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey {
            path: path.display().to_string(),
        })
}

/// The rustls server configuration for `settings` (HTTP/2 and HTTP/1.1 by ALPN).
pub fn server_config(settings: &TlsSettings) -> Result<rustls::ServerConfig, TlsError> {
    install_crypto_provider();
    let certs = load_certs(&settings.cert_file)?;
    let key = load_key(&settings.key_file)?;
    let versions: &[&'static rustls::SupportedProtocolVersion] = match settings.min_version {
        TlsMinVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsMinVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A TLS acceptor for `settings`.
pub fn acceptor(settings: &TlsSettings) -> Result<TlsAcceptor, TlsError> {
    Ok(TlsAcceptor::from(Arc::new(server_config(settings)?)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn min_versions() {
        assert_eq!(TlsMinVersion::parse("tls12").unwrap(), TlsMinVersion::Tls12);
        assert_eq!(TlsMinVersion::parse("TLS13").unwrap(), TlsMinVersion::Tls13);
        assert_eq!(TlsMinVersion::parse("").unwrap(), TlsMinVersion::Tls12);
        assert!(TlsMinVersion::parse("tls10").is_err());
        assert!(TlsMinVersion::parse("ssl3").is_err());
    }

    #[test]
    fn loads_generated_pem_files() {
        let dir = tempfile::tempdir().unwrap();
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
        for min_version in [TlsMinVersion::Tls12, TlsMinVersion::Tls13] {
            let s = TlsSettings {
                cert_file: cert.clone(),
                key_file: key.clone(),
                min_version,
            };
            server_config(&s).unwrap();
        }
        // Certificate and key swapped, a missing file, an empty file.
        let swapped = TlsSettings {
            cert_file: key.clone(),
            key_file: cert.clone(),
            min_version: TlsMinVersion::Tls12,
        };
        assert!(matches!(
            server_config(&swapped),
            Err(TlsError::NoCertificate { .. })
        ));
        let missing = TlsSettings {
            cert_file: dir.path().join("nope.pem"),
            key_file: key.clone(),
            min_version: TlsMinVersion::Tls12,
        };
        assert!(matches!(
            server_config(&missing),
            Err(TlsError::Read { .. })
        ));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let nokey = TlsSettings {
            cert_file: cert,
            key_file: empty,
            min_version: TlsMinVersion::Tls12,
        };
        assert!(matches!(server_config(&nokey), Err(TlsError::NoKey { .. })));
    }
}
