//! Operator-made server TLS: a per-cluster CA and a server certificate signed by it, and the pure
//! decisions about when to (re)issue them.
//!
//! Nothing here talks to Kubernetes or reads the clock: every function takes "now" as an argument,
//! so renewal is tested by moving time rather than by waiting. Keys are ECDSA P-256, made with
//! rcgen on the aws-lc-rs provider. The CA lives in the Secret `<cluster>-ca` (never mounted into
//! pods); the server certificate, its key and the CA certificate live in `<cluster>-tls`
//! (`kubernetes.io/tls` layout plus `ca.crt`, as cert-manager writes it).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use time::OffsetDateTime;
use x509_parser::extensions::{GeneralName, ParsedExtension};

/// How long an operator-made CA is valid: ten years.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Backdating of `notBefore`, so that a node whose clock is a little behind accepts a new
/// certificate.
const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// Errors making or reading certificates.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("reading a PEM certificate: {0}")]
    Pem(String),
    #[error("time out of range: {0}")]
    Time(String),
    #[error("invalid duration {0:?}: use Go syntax with h, m and s, e.g. \"720h\" or \"1h30m\"")]
    Duration(String),
}

/// A CA certificate and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateAuthority {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A server certificate and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerCertificate {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Everything the TLS Secrets hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsMaterial {
    pub ca: CertificateAuthority,
    pub server: ServerCertificate,
}

/// What [`plan`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsPlan {
    pub material: TlsMaterial,
    /// A new CA was made (none existed, or it was due for renewal).
    pub issued_ca: bool,
    /// A new server certificate was made.
    pub issued_server: bool,
    /// Why the server certificate was (re)issued, for events and logs.
    pub reason: Option<String>,
    /// When the next renewal is due (the earlier of the two certificates' expiry minus
    /// `renew_before`).
    pub renew_at: SystemTime,
}

/// Parses a Go-style duration as the CRD accepts it (`"720h"`, `"1h30m"`, `"90s"`).
pub fn parse_duration(text: &str) -> Result<Duration, TlsError> {
    let bad = || TlsError::Duration(text.to_owned());
    if text.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            let n = number.unwrap_or(0);
            number = Some(
                n.checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(d)))
                    .ok_or_else(bad)?,
            );
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n = number.take().ok_or_else(bad)?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(bad)?;
    }
    if number.is_some() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

fn to_offset(t: SystemTime) -> Result<OffsetDateTime, TlsError> {
    Ok(OffsetDateTime::from(t))
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Coffer");
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// Makes a new CA named `common_name`, valid from `now` (minus a little clock skew) for
/// `validity`.
pub fn new_ca(
    common_name: &str,
    now: SystemTime,
    validity: Duration,
) -> Result<CertificateAuthority, TlsError> {
    let key = KeyPair::generate()?;
    let mut params = ca_params(common_name);
    params.not_before = to_offset(now - CLOCK_SKEW)?;
    params.not_after = to_offset(now + validity)?;
    let cert = params.self_signed(&key)?;
    Ok(CertificateAuthority {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Issues a server certificate for `names` (DNS names or IP addresses), signed by `ca`, valid
/// from `now` for `validity`. Good for both server and client authentication, since Raft peers
/// use it both ways.
pub fn issue_server_certificate(
    ca: &CertificateAuthority,
    common_name: &str,
    names: &[String],
    now: SystemTime,
    validity: Duration,
) -> Result<ServerCertificate, TlsError> {
    let ca_key = KeyPair::from_pem(&ca.key_pem)?;
    // rcgen signs with an issuer `Certificate`; rebuilding one from the same distinguished
    // name and key gives the same issuer name and authority key identifier as the stored CA.
    let ca_subject = subject_common_name(&ca.cert_pem)?;
    let issuer = ca_params(&ca_subject).self_signed(&ca_key)?;

    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Coffer");
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    params.not_before = to_offset(now - CLOCK_SKEW)?;
    params.not_after = to_offset(now + validity)?;
    let cert = params.signed_by(&key, &issuer, &ca_key)?;
    Ok(ServerCertificate {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// What this module reads from a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateInfo {
    pub not_after: SystemTime,
    pub subject_common_name: String,
    pub issuer_common_name: String,
    pub dns_names: BTreeSet<String>,
    pub ip_addresses: BTreeSet<IpAddr>,
    pub subject_key_id: Option<Vec<u8>>,
    pub authority_key_id: Option<Vec<u8>>,
}

/// Reads the first certificate of a PEM text.
pub fn inspect(cert_pem: &str) -> Result<CertificateInfo, TlsError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    let cert = pem.parse_x509().map_err(|e| TlsError::Pem(e.to_string()))?;
    let not_after = cert.validity().not_after.timestamp();
    let not_after = u64::try_from(not_after)
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
        .map_err(|e| TlsError::Time(e.to_string()))?;
    let cn = |name: &x509_parser::x509::X509Name<'_>| {
        name.iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut info = CertificateInfo {
        not_after,
        subject_common_name: cn(cert.subject()),
        issuer_common_name: cn(cert.issuer()),
        dns_names: BTreeSet::new(),
        ip_addresses: BTreeSet::new(),
        subject_key_id: None,
        authority_key_id: None,
    };
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(dns) => {
                            info.dns_names.insert((*dns).to_owned());
                        }
                        GeneralName::IPAddress(bytes) => {
                            if let Some(ip) = ip_from_bytes(bytes) {
                                info.ip_addresses.insert(ip);
                            }
                        }
                        _ => {}
                    }
                }
            }
            ParsedExtension::SubjectKeyIdentifier(id) => info.subject_key_id = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                info.authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
            }
            _ => {}
        }
    }
    Ok(info)
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

fn subject_common_name(cert_pem: &str) -> Result<String, TlsError> {
    Ok(inspect(cert_pem)?.subject_common_name)
}

/// True when `cert_pem` expires within `renew_before` of `now` (or already has).
pub fn needs_renewal(
    cert_pem: &str,
    now: SystemTime,
    renew_before: Duration,
) -> Result<bool, TlsError> {
    let info = inspect(cert_pem)?;
    Ok(now + renew_before >= info.not_after)
}

/// True when the certificate lists every one of `names` (DNS names or IP addresses).
pub fn covers(info: &CertificateInfo, names: &[String]) -> bool {
    names.iter().all(|n| match n.parse::<IpAddr>() {
        Ok(ip) => info.ip_addresses.contains(&ip),
        Err(_) => info.dns_names.contains(n),
    })
}

/// Whether `server` was issued by `ca`: the authority key identifier matches the CA's subject key
/// identifier (or, without those extensions, the issuer name matches).
pub fn issued_by(server: &CertificateInfo, ca: &CertificateInfo) -> bool {
    match (&server.authority_key_id, &ca.subject_key_id) {
        (Some(aki), Some(ski)) => aki == ski,
        _ => server.issuer_common_name == ca.subject_common_name,
    }
}

/// Inputs of [`plan`] that come from the VaultCluster.
#[derive(Clone, Debug)]
pub struct TlsPolicy {
    pub ca_common_name: String,
    pub server_common_name: String,
    pub names: Vec<String>,
    pub validity: Duration,
    pub renew_before: Duration,
}

/// Decides what TLS material the cluster should have, given what exists: keeps what is still
/// good, makes a CA when there is none (or it is due for renewal or unreadable), and (re)issues
/// the server certificate when it is missing, unreadable, due, missing a name, or not signed by
/// the current CA.
pub fn plan(
    existing_ca: Option<CertificateAuthority>,
    existing_server: Option<ServerCertificate>,
    policy: &TlsPolicy,
    now: SystemTime,
) -> Result<TlsPlan, TlsError> {
    // A CA lasts ten years; renew it when it has less than twice a server certificate's
    // lifetime left, so no server certificate outlives its CA.
    let ca_margin = policy.validity * 2;
    let mut issued_ca = false;
    let ca = match existing_ca {
        Some(ca)
            if KeyPair::from_pem(&ca.key_pem).is_ok()
                && matches!(needs_renewal(&ca.cert_pem, now, ca_margin), Ok(false)) =>
        {
            ca
        }
        _ => {
            issued_ca = true;
            new_ca(&policy.ca_common_name, now, CA_VALIDITY)?
        }
    };
    let ca_info = inspect(&ca.cert_pem)?;

    let reason = match &existing_server {
        None => Some("no server certificate".to_owned()),
        Some(_) if issued_ca => Some("new CA".to_owned()),
        Some(server) => match inspect(&server.cert_pem) {
            Err(e) => Some(format!("unreadable server certificate: {e}")),
            Ok(info) if now + policy.renew_before >= info.not_after => {
                Some("server certificate due for renewal".to_owned())
            }
            Ok(info) if !covers(&info, &policy.names) => {
                Some("server certificate does not cover every name".to_owned())
            }
            Ok(info) if !issued_by(&info, &ca_info) => {
                Some("server certificate not issued by the current CA".to_owned())
            }
            Ok(_) if KeyPair::from_pem(&server.key_pem).is_err() => {
                Some("unreadable server key".to_owned())
            }
            Ok(_) => None,
        },
    };
    let server = match (reason.is_some(), existing_server) {
        (false, Some(server)) => server,
        _ => issue_server_certificate(
            &ca,
            &policy.server_common_name,
            &policy.names,
            now,
            policy.validity,
        )?,
    };
    let server_info = inspect(&server.cert_pem)?;
    let renew_at = std::cmp::min(
        server_info
            .not_after
            .checked_sub(policy.renew_before)
            .unwrap_or(UNIX_EPOCH),
        ca_info
            .not_after
            .checked_sub(ca_margin)
            .unwrap_or(UNIX_EPOCH),
    );
    Ok(TlsPlan {
        issued_server: reason.is_some(),
        reason,
        issued_ca,
        renew_at,
        material: TlsMaterial { ca, server },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }
    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn policy(names: &[&str]) -> TlsPolicy {
        TlsPolicy {
            ca_common_name: "vault CA".into(),
            server_common_name: "vault.sec.svc".into(),
            names: names.iter().map(|s| (*s).to_owned()).collect(),
            validity: 90 * DAY,
            renew_before: 30 * DAY,
        }
    }

    #[test]
    fn parses_go_durations() {
        assert_eq!(
            parse_duration("720h").ok(),
            Some(720 * 3600 * Duration::from_secs(1))
        );
        assert_eq!(
            parse_duration("1h30m10s").ok(),
            Some(Duration::from_secs(5410))
        );
        for bad in ["", "h", "10", "10d", "1.5h", "-1h", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn issues_a_ca_and_a_server_certificate_covering_the_names() {
        let names = [
            "vault-0.vault-internal.sec.svc",
            "*.vault-internal",
            "127.0.0.1",
        ];
        let plan = plan(None, None, &policy(&names), now()).expect("plan");
        assert!(plan.issued_ca && plan.issued_server);
        let ca = inspect(&plan.material.ca.cert_pem).expect("ca");
        let server = inspect(&plan.material.server.cert_pem).expect("server");
        assert!(covers(&server, &policy(&names).names));
        assert!(issued_by(&server, &ca));
        assert_eq!(server.issuer_common_name, "vault CA");
        assert_eq!(server.not_after, now() + 90 * DAY);
        assert_eq!(plan.renew_at, now() + 60 * DAY);
    }

    #[test]
    fn keeps_good_material_and_renews_when_due() {
        let p = policy(&["a.example"]);
        let first = plan(None, None, &p, now()).expect("first");
        let m = first.material.clone();

        let later = plan(
            Some(m.ca.clone()),
            Some(m.server.clone()),
            &p,
            now() + 59 * DAY,
        )
        .expect("later");
        assert!(
            !later.issued_ca && !later.issued_server,
            "{:?}",
            later.reason
        );
        assert_eq!(later.material, m);

        let due = plan(
            Some(m.ca.clone()),
            Some(m.server.clone()),
            &p,
            now() + 60 * DAY,
        )
        .expect("due");
        assert!(!due.issued_ca);
        assert!(due.issued_server);
        assert_eq!(
            due.reason.as_deref(),
            Some("server certificate due for renewal")
        );
        assert_eq!(
            due.material.ca, m.ca,
            "the CA is kept, so clients keep trusting it"
        );
        let renewed = inspect(&due.material.server.cert_pem).expect("renewed");
        assert!(issued_by(&renewed, &inspect(&m.ca.cert_pem).expect("ca")));
    }

    #[test]
    fn needs_renewal_is_a_pure_function_of_now() {
        let p = policy(&["a.example"]);
        let m = plan(None, None, &p, now()).expect("plan").material;
        let pem = &m.server.cert_pem;
        assert!(!needs_renewal(pem, now(), 30 * DAY).expect("parse"));
        assert!(
            !needs_renewal(pem, now() + 60 * DAY - Duration::from_secs(1), 30 * DAY).expect("p")
        );
        assert!(needs_renewal(pem, now() + 60 * DAY, 30 * DAY).expect("parse"));
        assert!(needs_renewal(pem, now() + 365 * DAY, Duration::ZERO).expect("parse"));
        assert!(needs_renewal("not a certificate", now(), DAY).is_err());
    }

    #[test]
    fn reissues_when_a_name_is_added_or_the_ca_changes() {
        let m = plan(None, None, &policy(&["a.example"]), now())
            .expect("plan")
            .material;
        let more = plan(
            Some(m.ca.clone()),
            Some(m.server.clone()),
            &policy(&["a.example", "b.example"]),
            now(),
        )
        .expect("more names");
        assert_eq!(
            more.reason.as_deref(),
            Some("server certificate does not cover every name")
        );

        let other_ca = new_ca("vault CA", now(), CA_VALIDITY).expect("ca");
        let foreign = plan(
            Some(other_ca),
            Some(m.server.clone()),
            &policy(&["a.example"]),
            now(),
        )
        .expect("foreign");
        assert_eq!(
            foreign.reason.as_deref(),
            Some("server certificate not issued by the current CA")
        );
    }

    #[test]
    fn replaces_garbage_and_an_expiring_ca() {
        let p = policy(&["a.example"]);
        let garbage = CertificateAuthority {
            cert_pem: "garbage".into(),
            key_pem: "garbage".into(),
        };
        let fresh = plan(Some(garbage), None, &p, now()).expect("garbage CA replaced");
        assert!(fresh.issued_ca);

        let old_ca = new_ca("vault CA", now(), 100 * DAY).expect("short CA");
        let renewed = plan(Some(old_ca.clone()), None, &p, now()).expect("plan");
        assert!(
            renewed.issued_ca,
            "a CA with less than 2x the server validity left is renewed"
        );
        assert_ne!(renewed.material.ca, old_ca);
    }
}
