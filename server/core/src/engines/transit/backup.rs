//! OpenBao's key backup format: base64 of the JSON `KeyData` —
//! `{"policy": Policy, "archived_keys": {"keys": [KeyEntry...]}}` — as Go's
//! `encoding/json` writes it. Big integers (ECDSA coordinates, RSA key parts)
//! are bare JSON numbers, which are carried through `RawValue` so no
//! precision is lost.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use zeroize::Zeroizing;

use super::crypto;
use super::gocompat;
use super::keytype::KeyType;
use super::policy::{KeyEntry, Policy, VersionStamp};
use crate::engines::kvutil;

/// Go's zero `time.Time`.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn go_time(t: &DateTime<Utc>) -> String {
    if t.timestamp() <= -62_135_596_800 {
        return GO_ZERO_TIME.to_string();
    }
    kvutil::go_time(t)
}

fn parse_time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn raw_number(digits: String) -> Result<Box<RawValue>, String> {
    RawValue::from_string(digits).map_err(|e| e.to_string())
}

fn big(bytes: &[u8]) -> Result<Option<Box<RawValue>>, String> {
    if bytes.is_empty() {
        return Ok(None);
    }
    raw_number(BigUint::from_bytes_be(bytes).to_str_radix(10)).map(Some)
}

fn big_of(v: &BigUint) -> Result<Box<RawValue>, String> {
    raw_number(v.to_str_radix(10))
}

/// A big integer from a JSON number (or a string of digits).
fn parse_big(raw: &RawValue) -> Result<BigUint, String> {
    let text = raw.get().trim().trim_matches('"');
    if text.starts_with('-') {
        return Err("negative big integer".into());
    }
    BigUint::parse_bytes(text.as_bytes(), 10).ok_or_else(|| format!("invalid big integer {text:?}"))
}

#[derive(Serialize, Deserialize, Default)]
struct GoPrecomputed {
    #[serde(rename = "Dp", default)]
    dp: Option<Box<RawValue>>,
    #[serde(rename = "Dq", default)]
    dq: Option<Box<RawValue>>,
    #[serde(rename = "Qinv", default)]
    qinv: Option<Box<RawValue>>,
    #[serde(rename = "CRTValues", default)]
    crt_values: Option<Vec<Box<RawValue>>>,
}

#[derive(Serialize, Deserialize)]
struct GoRsaPrivate {
    #[serde(rename = "N")]
    n: Box<RawValue>,
    #[serde(rename = "E")]
    e: i64,
    #[serde(rename = "D")]
    d: Box<RawValue>,
    #[serde(rename = "Primes")]
    primes: Vec<Box<RawValue>>,
    #[serde(rename = "Precomputed", default)]
    precomputed: GoPrecomputed,
}

#[derive(Serialize, Deserialize)]
struct GoRsaPublic {
    #[serde(rename = "N")]
    n: Box<RawValue>,
    #[serde(rename = "E")]
    e: i64,
}

/// `keysutil.KeyEntry` as JSON.
#[derive(Serialize, Deserialize)]
struct GoKeyEntry {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    hmac_key: Option<String>,
    #[serde(default = "zero_time")]
    time: String,
    #[serde(default)]
    ec_x: Option<Box<RawValue>>,
    #[serde(default)]
    ec_y: Option<Box<RawValue>>,
    #[serde(default)]
    ec_d: Option<Box<RawValue>>,
    #[serde(default)]
    rsa_key: Option<GoRsaPrivate>,
    #[serde(default)]
    rsa_public_key: Option<GoRsaPublic>,
    #[serde(default)]
    public_key: String,
    #[serde(default)]
    convergent_version: i64,
    #[serde(default)]
    creation_time: i64,
    #[serde(default)]
    certificate_chain: Option<Vec<String>>,
    #[serde(default)]
    external_key_ref: String,
}

fn zero_time() -> String {
    GO_ZERO_TIME.to_string()
}

#[derive(Serialize, Deserialize)]
struct GoStamp {
    time: String,
    version: i64,
}

/// `keysutil.Policy` as JSON (field order as Go writes it).
#[derive(Serialize, Deserialize)]
struct GoPolicy {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    key_size: i64,
    #[serde(default)]
    keys: BTreeMap<String, GoKeyEntry>,
    #[serde(default)]
    derived: bool,
    #[serde(default)]
    kdf: i64,
    #[serde(default)]
    convergent_encryption: bool,
    #[serde(default)]
    exportable: bool,
    #[serde(default)]
    min_decryption_version: i64,
    #[serde(default)]
    min_encryption_version: i64,
    #[serde(default)]
    latest_version: i64,
    #[serde(default)]
    archive_version: i64,
    #[serde(default)]
    archive_min_version: i64,
    #[serde(default)]
    min_available_version: i64,
    #[serde(default)]
    deletion_allowed: bool,
    #[serde(default)]
    convergent_version: i64,
    #[serde(rename = "type", default)]
    key_type: i64,
    #[serde(default)]
    backup_info: Option<GoStamp>,
    #[serde(default)]
    restore_info: Option<GoStamp>,
    #[serde(default)]
    allow_plaintext_backup: bool,
    #[serde(default)]
    version_template: String,
    #[serde(default)]
    storage_prefix: String,
    /// Nanoseconds (Go `time.Duration`).
    #[serde(default)]
    auto_rotate_period: i64,
    #[serde(rename = "Imported", default)]
    imported: bool,
    #[serde(rename = "AllowImportedKeyRotation", default)]
    allow_imported_key_rotation: bool,
    #[serde(default)]
    soft_deleted: bool,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

#[derive(Serialize, Deserialize)]
struct GoArchive {
    #[serde(default)]
    keys: Vec<GoKeyEntry>,
}

#[derive(Serialize, Deserialize)]
struct GoKeyData {
    #[serde(default)]
    policy: Option<GoPolicy>,
    #[serde(default)]
    archived_keys: Option<GoArchive>,
}

fn entry_to_go(kt: KeyType, e: &KeyEntry) -> Result<GoKeyEntry, String> {
    let bytes = |b: &[u8]| -> Option<String> {
        if b.is_empty() {
            None
        } else {
            Some(gocompat::b64(b))
        }
    };
    let (rsa_key, rsa_public_key) = if kt.is_rsa() {
        if !e.rsa_key.is_empty() {
            let k = crypto::rsa_private(&e.rsa_key)?;
            (Some(rsa_private_to_go(&k)?), None)
        } else if !e.rsa_public_key.is_empty() {
            let k = crypto::rsa_public(&e.rsa_public_key)?;
            (None, Some(rsa_public_to_go(&k)?))
        } else {
            (None, None)
        }
    } else {
        (None, None)
    };
    Ok(GoKeyEntry {
        key: bytes(&e.key),
        hmac_key: bytes(&e.hmac_key),
        time: go_time(&e.time),
        ec_x: big(&e.ec_x)?,
        ec_y: big(&e.ec_y)?,
        ec_d: big(&e.ec_d)?,
        rsa_key,
        rsa_public_key,
        public_key: e.public_key.clone(),
        convergent_version: e.convergent_version,
        creation_time: e.creation_time,
        certificate_chain: if e.certificate_chain.is_empty() {
            None
        } else {
            Some(
                e.certificate_chain
                    .iter()
                    .map(|c| gocompat::b64(c))
                    .collect(),
            )
        },
        external_key_ref: String::new(),
    })
}

fn blank_go_entry() -> GoKeyEntry {
    GoKeyEntry {
        key: None,
        hmac_key: None,
        time: zero_time(),
        ec_x: None,
        ec_y: None,
        ec_d: None,
        rsa_key: None,
        rsa_public_key: None,
        public_key: String::new(),
        convergent_version: 0,
        creation_time: 0,
        certificate_chain: None,
        external_key_ref: String::new(),
    }
}

/// A small big integer (the RSA public exponent) as an `i64`.
fn small(v: &BigUint) -> i64 {
    v.to_bytes_be().iter().fold(0i64, |acc, b| {
        acc.saturating_mul(256).saturating_add(i64::from(*b))
    })
}

fn rsa_private_to_go(k: &RsaPrivateKey) -> Result<GoRsaPrivate, String> {
    let e = small(k.e());
    Ok(GoRsaPrivate {
        n: big_of(k.n())?,
        e,
        d: big_of(k.d())?,
        primes: k.primes().iter().map(big_of).collect::<Result<_, _>>()?,
        precomputed: GoPrecomputed {
            dp: k.dp().map(big_of).transpose()?,
            dq: k.dq().map(big_of).transpose()?,
            qinv: k.crt_coefficient().as_ref().map(big_of).transpose()?,
            crt_values: Some(Vec::new()),
        },
    })
}

fn rsa_public_to_go(k: &RsaPublicKey) -> Result<GoRsaPublic, String> {
    let e = small(k.e());
    Ok(GoRsaPublic {
        n: big_of(k.n())?,
        e,
    })
}

/// The backup blob of a policy (`Policy.Backup`), as OpenBao encodes it.
pub fn encode(p: &Policy) -> Result<String, String> {
    let mut keys = BTreeMap::new();
    for (v, e) in p.visible() {
        keys.insert(v.to_string(), entry_to_go(p.key_type, e)?);
    }
    let mut archive = Vec::new();
    for v in p.min_available_version..=p.latest_version {
        match p.keys.get(&v) {
            Some(e) if v >= 1 => archive.push(entry_to_go(p.key_type, e)?),
            _ => archive.push(blank_go_entry()),
        }
    }
    let stamp = |s: &Option<VersionStamp>| {
        s.as_ref().map(|s| GoStamp {
            time: go_time(&s.time),
            version: s.version,
        })
    };
    let data = GoKeyData {
        policy: Some(GoPolicy {
            name: p.name.clone(),
            key: None,
            key_size: p.key_size,
            keys,
            derived: p.derived,
            kdf: p.kdf,
            convergent_encryption: p.convergent_encryption,
            exportable: p.exportable,
            min_decryption_version: p.min_decryption_version,
            min_encryption_version: p.min_encryption_version,
            latest_version: p.latest_version,
            archive_version: p.latest_version,
            archive_min_version: p.min_available_version,
            min_available_version: p.min_available_version,
            deletion_allowed: p.deletion_allowed,
            convergent_version: p.convergent_version,
            key_type: p.key_type.go_id(),
            backup_info: stamp(&p.backup_info),
            restore_info: stamp(&p.restore_info),
            allow_plaintext_backup: p.allow_plaintext_backup,
            version_template: p.version_template.clone(),
            storage_prefix: String::new(),
            auto_rotate_period: p.auto_rotate_period.saturating_mul(1_000_000_000),
            imported: p.imported,
            allow_imported_key_rotation: p.allow_imported_key_rotation,
            soft_deleted: p.soft_deleted,
        }),
        archived_keys: Some(GoArchive { keys: archive }),
    };
    let mut json = Zeroizing::new(serde_json::to_vec(&data).map_err(|e| e.to_string())?);
    json.push(b'\n');
    Ok(gocompat::b64(&json))
}

fn entry_from_go(kt: KeyType, g: &GoKeyEntry) -> Result<KeyEntry, String> {
    let bytes = |s: &Option<String>| -> Result<Vec<u8>, String> {
        match s {
            None => Ok(Vec::new()),
            Some(s) => gocompat::b64_std(s),
        }
    };
    let mut e = KeyEntry::empty(parse_time(&g.time));
    e.creation_time = g.creation_time;
    e.key = bytes(&g.key)?;
    e.hmac_key = bytes(&g.hmac_key)?;
    e.public_key = g.public_key.clone();
    e.convergent_version = g.convergent_version;
    if let Some(chain) = &g.certificate_chain {
        e.certificate_chain = chain
            .iter()
            .map(|c| gocompat::b64_std(c))
            .collect::<Result<_, _>>()?;
    }
    if kt.is_ecdsa() {
        let n = kt.curve_bytes();
        let coord = |v: &Option<Box<RawValue>>| -> Result<Vec<u8>, String> {
            match v {
                None => Ok(Vec::new()),
                Some(r) => Ok(crypto::pad(&parse_big(r)?.to_bytes_be(), n)),
            }
        };
        e.ec_x = coord(&g.ec_x)?;
        e.ec_y = coord(&g.ec_y)?;
        e.ec_d = coord(&g.ec_d)?;
        if e.public_key.is_empty() && !e.ec_x.is_empty() {
            let der = crypto::ec_public_der(kt, &e.ec_x, &e.ec_y)?;
            e.public_key = gocompat::pem("PUBLIC KEY", &der);
        }
    }
    if kt.is_rsa() {
        if let Some(k) = &g.rsa_key {
            let primes = k
                .primes
                .iter()
                .map(|p| parse_big(p))
                .collect::<Result<Vec<_>, _>>()?;
            let mut key = RsaPrivateKey::from_components(
                parse_big(&k.n)?,
                BigUint::from(u64::try_from(k.e).map_err(|_| "invalid RSA exponent")?),
                parse_big(&k.d)?,
                primes,
            )
            .map_err(|e| e.to_string())?;
            key.precompute().map_err(|e| e.to_string())?;
            e.rsa_key = crypto::rsa_private_der(&key)?.to_vec();
        } else if let Some(k) = &g.rsa_public_key {
            let key = RsaPublicKey::new(
                parse_big(&k.n)?,
                BigUint::from(u64::try_from(k.e).map_err(|_| "invalid RSA exponent")?),
            )
            .map_err(|e| e.to_string())?;
            e.rsa_public_key = crypto::rsa_public_pkcs1_der(&key)?;
        }
    }
    if kt == KeyType::Ed25519 && e.public_key.is_empty() && e.key.len() >= 32 {
        e.public_key = gocompat::b64(&crypto::ed25519_public(&e.key));
    }
    Ok(e)
}

/// Why a backup could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not base64 (Go's message).
    Base64(String),
    /// Not the expected JSON.
    Json(String),
    /// No policy in the backup.
    NoPolicy,
    /// A key type or key Coffer cannot hold.
    Unsupported(String),
}

/// Reads a backup blob into a policy (name not yet overridden).
pub fn decode(blob: &str) -> Result<Policy, DecodeError> {
    let bytes = Zeroizing::new(gocompat::b64_std(blob).map_err(DecodeError::Base64)?);
    let data: Option<GoKeyData> =
        serde_json::from_slice(&bytes).map_err(|e| DecodeError::Json(e.to_string()))?;
    let data = data.ok_or(DecodeError::NoPolicy)?;
    let gp = data.policy.ok_or(DecodeError::NoPolicy)?;
    let kt = KeyType::from_go_id(gp.key_type)
        .ok_or_else(|| DecodeError::Unsupported(format!("unsupported key type {}", gp.key_type)))?;
    let unsupported = |e: String| DecodeError::Unsupported(e);
    let mut keys = BTreeMap::new();
    if let Some(archive) = &data.archived_keys {
        for (i, g) in archive.keys.iter().enumerate() {
            let v = gp.archive_min_version + i as i64;
            if v < 1 || v > gp.latest_version || v < gp.min_available_version {
                continue;
            }
            keys.insert(v, entry_from_go(kt, g).map_err(unsupported)?);
        }
    }
    for (v, g) in &gp.keys {
        let Ok(v) = v.parse::<i64>() else {
            continue;
        };
        if v < 1 || v > gp.latest_version {
            continue;
        }
        keys.insert(v, entry_from_go(kt, g).map_err(unsupported)?);
    }
    let stamp = |s: &Option<GoStamp>| {
        s.as_ref().map(|s| VersionStamp {
            time: parse_time(&s.time),
            version: s.version,
        })
    };
    Ok(Policy {
        name: gp.name.clone(),
        key_type: kt,
        derived: gp.derived,
        kdf: gp.kdf,
        convergent_encryption: gp.convergent_encryption,
        convergent_version: gp.convergent_version,
        exportable: gp.exportable,
        allow_plaintext_backup: gp.allow_plaintext_backup,
        deletion_allowed: gp.deletion_allowed,
        min_decryption_version: gp.min_decryption_version,
        min_encryption_version: gp.min_encryption_version,
        min_available_version: gp.min_available_version,
        latest_version: gp.latest_version,
        auto_rotate_period: gp.auto_rotate_period / 1_000_000_000,
        key_size: gp.key_size,
        soft_deleted: gp.soft_deleted,
        imported: gp.imported,
        allow_imported_key_rotation: gp.allow_imported_key_rotation,
        backup_info: stamp(&gp.backup_info),
        restore_info: stamp(&gp.restore_info),
        version_template: gp.version_template.clone(),
        keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::transit::policy::NewKey;

    #[test]
    fn every_type_round_trips_through_the_backup_format() {
        for kt in [
            KeyType::Aes128Gcm96,
            KeyType::Aes256Gcm96,
            KeyType::ChaCha20Poly1305,
            KeyType::XChaCha20Poly1305,
            KeyType::EcdsaP256,
            KeyType::EcdsaP384,
            KeyType::EcdsaP521,
            KeyType::Ed25519,
            KeyType::Rsa2048,
            KeyType::Hmac,
        ] {
            let mut p = Policy::create(
                "k",
                kt,
                &NewKey {
                    key_size: if kt == KeyType::Hmac { 40 } else { 0 },
                    exportable: true,
                    allow_plaintext_backup: true,
                    ..Default::default()
                },
            )
            .expect("create");
            p.rotate().expect("rotate");
            p.min_decryption_version = 2;
            let blob = encode(&p).expect("encode");
            let back = decode(&blob).expect("decode");
            assert_eq!(back.key_type, kt);
            assert_eq!(back.latest_version, 2);
            assert_eq!(back.keys.len(), 2, "{kt}: archived versions kept");
            for v in [1, 2] {
                let (a, b) = (&p.keys[&v], &back.keys[&v]);
                assert_eq!(a.key, b.key, "{kt}");
                assert_eq!(a.hmac_key, b.hmac_key);
                assert_eq!(a.ec_d, b.ec_d);
                assert_eq!(a.ec_x, b.ec_x);
                assert_eq!(a.rsa_key, b.rsa_key, "{kt}");
                assert_eq!(a.public_key, b.public_key);
                assert_eq!(a.time, b.time);
            }
        }
    }

    #[test]
    fn malformed_backups() {
        assert_eq!(
            decode("!!").err(),
            Some(DecodeError::Base64(
                "illegal base64 data at input byte 0".into()
            ))
        );
        assert_eq!(decode("e30=").err(), Some(DecodeError::NoPolicy));
        assert!(matches!(
            decode("bnVsbA==").err(),
            Some(DecodeError::NoPolicy)
        ));
        assert!(matches!(decode("eA==").err(), Some(DecodeError::Json(_))));
    }
}
