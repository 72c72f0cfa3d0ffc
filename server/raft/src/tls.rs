//! Mutual TLS for the cluster port.
//!
//! This module owns the cluster's certificates and the rustls configurations
//! built from them. Every member presents a certificate signed by the cluster
//! CA and accepts a peer only if the peer's certificate chains to that CA (and
//! to nothing else: the trust store holds the cluster CA only, never the
//! system roots). Both sides use TLS 1.3 with the aws-lc-rs provider.
//!
//! Certificates are not bound to addresses: members dial each other by
//! whatever `cluster_addr` the membership records and verify the fixed server
//! name [`CLUSTER_SERVER_NAME`], which every node certificate carries. The
//! node id goes into the certificate's common name for operators' benefit.
//!
//! [`ClusterCa::generate`] and [`ClusterCa::issue`] are pure functions: the
//! server makes the CA at init, keeps it behind the barrier and hands each
//! member its [`ClusterTls`].

use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use zeroize::Zeroizing;

/// The DNS name every node certificate carries and every client verifies.
pub const CLUSTER_SERVER_NAME: &str = "coffer-cluster";

/// Validity of a cluster CA made by [`ClusterCa::generate`]: ten years.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Validity of a node certificate made by [`ClusterCa::issue`]: five years.
pub const NODE_CERT_VALIDITY: Duration = Duration::from_secs(5 * 365 * 24 * 3600);

/// `notBefore` is backdated by this much so members with a slightly slow clock
/// accept a fresh certificate.
const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

const CA_COMMON_NAME: &str = "Coffer cluster CA";
const ORGANIZATION: &str = "Coffer";

/// Why cluster TLS material could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rcgen failed to make a key or certificate.
    #[error("generating a cluster certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A PEM input holds no usable certificate or key.
    #[error("cluster TLS: {0}")]
    Pem(String),
    /// rustls refused the material.
    #[error("cluster TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The time arithmetic for the validity period overflowed.
    #[error("certificate validity out of range")]
    Time,
}

/// The cluster certificate authority: its certificate and private key (PEM).
///
/// The key is zeroized on drop and never printed.
#[derive(Clone)]
pub struct ClusterCa {
    /// The CA certificate, PEM.
    pub cert_pem: String,
    /// The CA private key, PEM (PKCS#8).
    pub key_pem: Zeroizing<String>,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// One member's TLS material: the cluster CA certificate(s) it trusts and its
/// own certificate and key.
///
/// `ca_cert_pem` may hold several certificates (e.g. the old and the new CA
/// while rotating); a peer is accepted if it chains to any of them.
#[derive(Clone)]
pub struct ClusterTls {
    /// The trusted cluster CA certificate(s), PEM.
    pub ca_cert_pem: String,
    /// This node's certificate (optionally followed by intermediates), PEM.
    pub node_cert_pem: String,
    /// This node's private key, PEM; zeroized on drop.
    pub node_key_pem: Zeroizing<String>,
}

impl std::fmt::Debug for ClusterTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterTls")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .field("node_cert_pem", &self.node_cert_pem)
            .field("node_key_pem", &"<redacted>")
            .finish()
    }
}

fn offset(at: std::time::SystemTime) -> Result<time::OffsetDateTime, TlsError> {
    let secs = match at.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).map_err(|_| TlsError::Time)?,
        Err(_) => return Err(TlsError::Time),
    };
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(|_| TlsError::Time)
}

fn validity(params: &mut CertificateParams, valid_for: Duration) -> Result<(), TlsError> {
    let now = std::time::SystemTime::now();
    let from = now.checked_sub(CLOCK_SKEW).ok_or(TlsError::Time)?;
    let to = now.checked_add(valid_for).ok_or(TlsError::Time)?;
    params.not_before = offset(from)?;
    params.not_after = offset(to)?;
    Ok(())
}

/// The CA's parameters. Issuing rebuilds the issuer from these and the stored
/// key: the distinguished name and the key identifier (derived from the public
/// key) are what a child certificate refers to, so they match the stored CA.
fn ca_params() -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

impl ClusterCa {
    /// Makes a new cluster CA (ECDSA P-256, valid for [`CA_VALIDITY`]).
    pub fn generate() -> Result<ClusterCa, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = ca_params()?;
        validity(&mut params, CA_VALIDITY)?;
        let cert = params.self_signed(&key)?;
        Ok(ClusterCa {
            cert_pem: cert.pem(),
            key_pem: Zeroizing::new(key.serialize_pem()),
        })
    }

    /// Issues the TLS material for member `node_id`: a fresh key and a
    /// certificate for [`CLUSTER_SERVER_NAME`] (client and server use) signed
    /// by this CA, valid for [`NODE_CERT_VALIDITY`].
    pub fn issue(&self, node_id: &str) -> Result<ClusterTls, TlsError> {
        let ca_key = KeyPair::from_pem(&self.key_pem)?;
        let issuer = ca_params()?.self_signed(&ca_key)?;

        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![CLUSTER_SERVER_NAME.to_string()])?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, ORGANIZATION);
        dn.push(DnType::CommonName, node_id);
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, NODE_CERT_VALIDITY)?;
        let cert = params.signed_by(&key, &issuer, &ca_key)?;
        Ok(ClusterTls {
            ca_cert_pem: self.cert_pem.clone(),
            node_cert_pem: cert.pem(),
            node_key_pem: Zeroizing::new(key.serialize_pem()),
        })
    }
}

/// The rustls configurations built from one [`ClusterTls`].
pub(crate) struct TlsConfigs {
    pub(crate) client: Arc<ClientConfig>,
    pub(crate) server: Arc<ServerConfig>,
    /// The name clients verify on the server's certificate.
    pub(crate) server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsConfigs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfigs").finish_non_exhaustive()
    }
}

fn certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem(format!("{what}: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::Pem(format!("{what}: no PEM certificate found")));
    }
    Ok(certs)
}

fn key(pem: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    rustls_pemfile::private_key(&mut pem.as_bytes())
        .map_err(|e| TlsError::Pem(format!("node key: {e}")))?
        .ok_or_else(|| TlsError::Pem("node key: no PEM private key found".into()))
}

impl TlsConfigs {
    /// Builds both sides: TLS 1.3 only, aws-lc-rs, the cluster CA as the only
    /// trust anchor, client certificates required.
    pub(crate) fn build(tls: &ClusterTls) -> Result<TlsConfigs, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        for ca in certs(&tls.ca_cert_pem, "cluster CA")? {
            roots.add(ca)?;
        }
        let roots = Arc::new(roots);
        let chain = certs(&tls.node_cert_pem, "node certificate")?;
        let versions = &[&rustls::version::TLS13];

        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| TlsError::Pem(format!("client verifier: {e}")))?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key(&tls.node_key_pem)?)?;

        let client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key(&tls.node_key_pem)?)?;

        let server_name = ServerName::try_from(CLUSTER_SERVER_NAME)
            .map_err(|e| TlsError::Pem(format!("server name: {e}")))?;
        Ok(TlsConfigs {
            client: Arc::new(client),
            server: Arc::new(server),
            server_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_material_builds_configs() {
        let ca = ClusterCa::generate().expect("ca");
        assert!(ca.cert_pem.contains("BEGIN CERTIFICATE"));
        assert!(!format!("{ca:?}").contains("PRIVATE KEY"));
        let tls = ca.issue("node1").expect("issue");
        assert_eq!(tls.ca_cert_pem, ca.cert_pem);
        assert!(!format!("{tls:?}").contains("PRIVATE KEY"));
        TlsConfigs::build(&tls).expect("configs");
        // A second certificate from the same CA is issued by the same issuer.
        let other = ca.issue("node2").expect("issue");
        assert_ne!(other.node_cert_pem, tls.node_cert_pem);
    }

    #[test]
    fn garbage_is_rejected() {
        let ca = ClusterCa::generate().expect("ca");
        let mut tls = ca.issue("node1").expect("issue");
        tls.node_key_pem = Zeroizing::new("not a key".into());
        assert!(TlsConfigs::build(&tls).is_err());
        let mut tls = ca.issue("node1").expect("issue");
        tls.ca_cert_pem = String::new();
        assert!(TlsConfigs::build(&tls).is_err());
    }
}
