//! A named key ("policy" in OpenBao's terms): its settings and every key
//! version still available, stored as one JSON document behind the barrier
//! at `policy/NAME`.
//!
//! OpenBao keeps versions below `min_decryption_version` in a separate
//! archive and only those at or above it in the policy; the API shows only
//! the latter. Coffer keeps all available versions in one document and
//! applies the same visibility rule ([`Policy::entry`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::crypto;
use super::gocompat;
use super::keytype::KeyType;

/// `keysutil.ErrTooOld`.
pub const ERR_TOO_OLD: &str = "ciphertext or signature version is disallowed by policy (too old)";
/// `keysutil.ErrSoftDeleted`.
pub const ERR_SOFT_DELETED: &str = "refusing to use soft-deleted key";
/// The convergent-encryption scheme new keys use.
pub const CURRENT_CONVERGENT_VERSION: i64 = 3;
/// HMAC key size bounds, in bytes.
pub const HMAC_MIN_KEY_SIZE: i64 = 32;
pub const HMAC_MAX_KEY_SIZE: i64 = 512;
/// `kdf` values.
pub const KDF_HMAC_SHA256_COUNTER: i64 = 0;
pub const KDF_HKDF_SHA256: i64 = 1;
/// The default ciphertext prefix template.
pub const DEFAULT_VERSION_TEMPLATE: &str = "vault:v{{version}}:";

/// OpenBao's error classes (`errutil.UserError`, `errutil.InternalError`,
/// and plain errors), which decide status codes per endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    User(String),
    Internal(String),
    Other(String),
}

impl KeyError {
    pub fn user(m: impl Into<String>) -> Self {
        KeyError::User(m.into())
    }
    pub fn internal(m: impl Into<String>) -> Self {
        KeyError::Internal(m.into())
    }
    pub fn other(m: impl Into<String>) -> Self {
        KeyError::Other(m.into())
    }
    pub fn msg(&self) -> &str {
        match self {
            KeyError::User(m) | KeyError::Internal(m) | KeyError::Other(m) => m,
        }
    }
    pub fn is_internal(&self) -> bool {
        matches!(self, KeyError::Internal(_))
    }
    pub fn is_user(&self) -> bool {
        matches!(self, KeyError::User(_))
    }
}

/// When a backup or restore happened, and at which latest version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionStamp {
    pub time: DateTime<Utc>,
    pub version: i64,
}

/// Base64 (de)serialisation of byte fields.
mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = zeroize::Zeroizing::new(String::deserialize(d)?);
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

mod b64_list {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            v.iter()
                .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .into_iter()
            .map(|s| {
                base64::engine::general_purpose::STANDARD
                    .decode(s.as_bytes())
                    .map_err(serde::de::Error::custom)
            })
            .collect()
    }
}

/// One key version. Byte fields are empty when unused by the key type.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct KeyEntry {
    /// Symmetric key, HMAC key (type `hmac`), or Ed25519 seed || public key.
    #[serde(with = "b64", default)]
    pub key: Vec<u8>,
    /// The key `hmac/` uses for this version.
    #[serde(with = "b64", default)]
    pub hmac_key: Vec<u8>,
    /// Creation time (precise).
    #[zeroize(skip)]
    pub time: DateTime<Utc>,
    /// Creation time in Unix seconds (OpenBao's `creation_time`).
    pub creation_time: i64,
    /// ECDSA coordinates and private scalar, big-endian field elements.
    #[serde(with = "b64", default)]
    pub ec_x: Vec<u8>,
    #[serde(with = "b64", default)]
    pub ec_y: Vec<u8>,
    #[serde(with = "b64", default)]
    pub ec_d: Vec<u8>,
    /// RSA private key, PKCS #1 DER.
    #[serde(with = "b64", default)]
    pub rsa_key: Vec<u8>,
    /// RSA public key, PKCS #1 DER (for versions without a private part).
    #[serde(with = "b64", default)]
    pub rsa_public_key: Vec<u8>,
    /// The public key as the API shows it (PEM for ECDSA, base64 for Ed25519).
    #[serde(default)]
    pub public_key: String,
    /// The convergent-encryption scheme of this version (0 when unset).
    #[serde(default)]
    pub convergent_version: i64,
    /// DER certificates (kept from OpenBao backups).
    #[serde(with = "b64_list", default)]
    pub certificate_chain: Vec<Vec<u8>>,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("time", &self.time)
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

impl KeyEntry {
    /// An entry with only its times set.
    pub fn empty(now: DateTime<Utc>) -> KeyEntry {
        KeyEntry {
            key: Vec::new(),
            hmac_key: Vec::new(),
            time: now,
            creation_time: now.timestamp(),
            ec_x: Vec::new(),
            ec_y: Vec::new(),
            ec_d: Vec::new(),
            rsa_key: Vec::new(),
            rsa_public_key: Vec::new(),
            public_key: String::new(),
            convergent_version: 0,
            certificate_chain: Vec::new(),
        }
    }

    /// `IsPrivateKeyMissing`.
    pub fn private_missing(&self) -> bool {
        self.rsa_key.is_empty() && self.ec_d.is_empty() && self.key.is_empty()
    }

    /// The RSA public key of this version.
    pub fn rsa_public(&self) -> Result<rsa::RsaPublicKey, String> {
        if !self.rsa_key.is_empty() {
            return crypto::rsa_private(&self.rsa_key).map(|k| k.to_public_key());
        }
        if self.rsa_public_key.is_empty() {
            return Err("requested to encode an RSA public key with no RSA key present".into());
        }
        crypto::rsa_public(&self.rsa_public_key)
    }

    /// The creation time the API reports for asymmetric keys.
    pub fn reported_time(&self) -> DateTime<Utc> {
        if self.time.timestamp() <= -62_135_596_800 {
            DateTime::from_timestamp(self.creation_time, 0).unwrap_or(self.time)
        } else {
            self.time
        }
    }
}

/// A named key with all its available versions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    #[serde(rename = "type")]
    pub key_type: KeyType,
    pub derived: bool,
    pub kdf: i64,
    pub convergent_encryption: bool,
    pub convergent_version: i64,
    pub exportable: bool,
    pub allow_plaintext_backup: bool,
    pub deletion_allowed: bool,
    pub min_decryption_version: i64,
    pub min_encryption_version: i64,
    pub min_available_version: i64,
    pub latest_version: i64,
    /// Seconds; 0 disables automatic rotation.
    pub auto_rotate_period: i64,
    /// HMAC key size in bytes (0 for other types).
    pub key_size: i64,
    pub soft_deleted: bool,
    pub imported: bool,
    pub allow_imported_key_rotation: bool,
    pub backup_info: Option<VersionStamp>,
    pub restore_info: Option<VersionStamp>,
    #[serde(default)]
    pub version_template: String,
    /// Every available version (`min_available_version..=latest_version`).
    pub keys: BTreeMap<i64, KeyEntry>,
}

/// What a new key is created with.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub derived: bool,
    pub convergent: bool,
    pub exportable: bool,
    pub allow_plaintext_backup: bool,
    pub auto_rotate_period: i64,
    pub key_size: i64,
}

impl Policy {
    /// A new key with its first version generated (`GetPolicy` upsert).
    /// Errors are OpenBao's plain errors (HTTP 500).
    pub fn create(name: &str, kt: KeyType, opts: &NewKey) -> Result<Policy, KeyError> {
        match kt {
            _ if kt.is_symmetric() => {
                if opts.convergent && !opts.derived {
                    return Err(KeyError::other(
                        "convergent encryption requires derivation to be enabled",
                    ));
                }
            }
            KeyType::Ed25519 => {
                if opts.convergent {
                    return Err(KeyError::other(format!(
                        "convergent encryption not supported for keys of type {kt}"
                    )));
                }
            }
            _ => {
                if opts.derived || opts.convergent {
                    return Err(KeyError::other(format!(
                        "key derivation and convergent encryption not supported for keys of type {kt}"
                    )));
                }
            }
        }
        let mut p = Policy {
            name: name.to_string(),
            key_type: kt,
            derived: opts.derived,
            kdf: if opts.derived {
                KDF_HKDF_SHA256
            } else {
                KDF_HMAC_SHA256_COUNTER
            },
            convergent_encryption: opts.derived && opts.convergent,
            convergent_version: if opts.derived && opts.convergent {
                -1
            } else {
                0
            },
            exportable: opts.exportable,
            allow_plaintext_backup: opts.allow_plaintext_backup,
            deletion_allowed: false,
            min_decryption_version: 0,
            min_encryption_version: 0,
            min_available_version: 0,
            latest_version: 0,
            auto_rotate_period: opts.auto_rotate_period,
            key_size: opts.key_size,
            soft_deleted: false,
            imported: false,
            allow_imported_key_rotation: false,
            backup_info: None,
            restore_info: None,
            version_template: String::new(),
            keys: BTreeMap::new(),
        };
        p.rotate_in_memory()?;
        Ok(p)
    }

    /// `RotateInMemory`: adds a new version.
    pub fn rotate_in_memory(&mut self) -> Result<(), KeyError> {
        if self.soft_deleted {
            return Err(KeyError::user(ERR_SOFT_DELETED));
        }
        let mut entry = generate(self.key_type, self.key_size)?;
        if self.convergent_encryption
            && (self.convergent_version == -1 || self.convergent_version > 1)
        {
            entry.convergent_version = CURRENT_CONVERGENT_VERSION;
        }
        self.latest_version += 1;
        self.keys.insert(self.latest_version, entry);
        if self.min_decryption_version == 0 {
            self.min_decryption_version = 1;
        }
        Ok(())
    }

    /// `Rotate`: refuses imported keys that may not rotate.
    pub fn rotate(&mut self) -> Result<(), KeyError> {
        if self.soft_deleted {
            return Err(KeyError::user(ERR_SOFT_DELETED));
        }
        if self.imported && !self.allow_imported_key_rotation {
            return Err(KeyError::other(format!(
                "imported key {} does not allow rotation within Vault",
                self.name
            )));
        }
        self.rotate_in_memory()?;
        self.imported = false;
        Ok(())
    }

    /// The sanity checks OpenBao runs before persisting, and the removal of
    /// versions below `min_available_version`.
    pub fn prepare_persist(&mut self) -> Result<(), String> {
        if self.min_decryption_version < 1 {
            return Err(format!(
                "minimum decryption version of {} is less than 1",
                self.min_decryption_version
            ));
        }
        if self.latest_version < 1 {
            return Err(format!(
                "latest version of {} is less than 1",
                self.latest_version
            ));
        }
        if self.min_encryption_version > 0
            && self.min_encryption_version < self.min_decryption_version
        {
            return Err(format!(
                "minimum decryption version of {} is greater than minimum encryption version {}",
                self.min_decryption_version, self.min_encryption_version
            ));
        }
        if self.min_decryption_version > self.latest_version {
            return Err(format!(
                "minimum decryption version of {} is greater than the latest version {}",
                self.min_decryption_version, self.latest_version
            ));
        }
        let floor = self.min_available_version;
        self.keys.retain(|v, _| *v >= floor);
        Ok(())
    }

    /// Whether the key is due for automatic rotation at `now`.
    pub fn rotation_due(&self, now: DateTime<Utc>) -> bool {
        if self.auto_rotate_period <= 0 || self.soft_deleted {
            return false;
        }
        if self.imported && !self.allow_imported_key_rotation {
            return false;
        }
        match self.keys.get(&self.latest_version) {
            Some(e) => now > e.time + chrono::Duration::seconds(self.auto_rotate_period),
            None => false,
        }
    }

    /// The versions the API shows (`min_decryption_version..=latest`).
    pub fn visible(&self) -> impl Iterator<Item = (&i64, &KeyEntry)> {
        let min = self.min_decryption_version.max(1);
        self.keys.range(min..=self.latest_version.max(min))
    }

    /// `safeGetKeyEntry`: a version the policy currently holds.
    pub fn entry(&self, ver: i64) -> Result<&KeyEntry, KeyError> {
        if ver < self.min_decryption_version.max(1) || ver > self.latest_version {
            return Err(KeyError::user("no such key version"));
        }
        self.keys
            .get(&ver)
            .ok_or_else(|| KeyError::user("no such key version"))
    }

    /// `GetKey`: the raw key, or one derived from `context`.
    pub fn get_key(
        &self,
        context: &[u8],
        ver: i64,
        num_bytes: usize,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if self.soft_deleted {
            return Err(KeyError::user(ERR_SOFT_DELETED));
        }
        if !self.derived {
            return Ok(Zeroizing::new(self.entry(ver)?.key.clone()));
        }
        self.derive_key(context, ver, num_bytes)
    }

    /// `DeriveKey` (no salt).
    pub fn derive_key(
        &self,
        context: &[u8],
        ver: i64,
        num_bytes: usize,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if self.soft_deleted {
            return Err(KeyError::user(ERR_SOFT_DELETED));
        }
        if !self.key_type.derivation_supported() {
            return Err(KeyError::user(format!(
                "derivation not supported for key type {}",
                self.key_type
            )));
        }
        if self.keys.is_empty() || self.latest_version == 0 {
            return Err(KeyError::internal(
                "unable to access the key; no key versions found",
            ));
        }
        if ver <= 0 || ver > self.latest_version {
            return Err(KeyError::user("invalid key version"));
        }
        if context.is_empty() {
            return Err(KeyError::user(
                "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key",
            ));
        }
        let entry = self.entry(ver)?;
        match self.kdf {
            KDF_HMAC_SHA256_COUNTER => Ok(crypto::counter_mode_sha256(&entry.key, context)),
            KDF_HKDF_SHA256 => {
                if self.key_type.is_symmetric() {
                    crypto::hkdf_sha256(&entry.key, context, num_bytes).map_err(KeyError::internal)
                } else {
                    // Ed25519: the derived bytes seed a new key pair.
                    let seed =
                        crypto::hkdf_sha256(&entry.key, context, 32).map_err(KeyError::internal)?;
                    Ok(crypto::ed25519_from_seed(&seed))
                }
            }
            _ => Err(KeyError::internal("unsupported key derivation mode")),
        }
    }

    /// `HMACKey`.
    pub fn hmac_key(&self, ver: i64) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if self.soft_deleted {
            return Err(KeyError::user(ERR_SOFT_DELETED));
        }
        if ver < 0 {
            return Err(KeyError::other(
                "key version does not exist (cannot be negative)",
            ));
        }
        if ver > self.latest_version {
            return Err(KeyError::other(format!(
                "key version does not exist; latest key version is {}",
                self.latest_version
            )));
        }
        let entry = self.entry(ver)?;
        if self.key_type == KeyType::Hmac {
            return Ok(Zeroizing::new(entry.key.clone()));
        }
        if entry.hmac_key.is_empty() {
            return Err(KeyError::other("no HMAC key exists for that key version"));
        }
        Ok(Zeroizing::new(entry.hmac_key.clone()))
    }

    /// The convergent scheme of a version (0 when not convergent).
    pub fn convergent_version_of(&self, ver: i64) -> i64 {
        if !self.convergent_encryption {
            return 0;
        }
        let mut v = if self.convergent_version == 0 {
            1
        } else {
            self.convergent_version
        };
        if let Some(e) = self.keys.get(&ver) {
            if e.convergent_version != 0 {
                v = e.convergent_version;
            }
        }
        v
    }

    fn template(&self) -> &str {
        if self.version_template.is_empty() {
            DEFAULT_VERSION_TEMPLATE
        } else {
            &self.version_template
        }
    }

    /// The prefix of ciphertexts and signatures of a version (`vault:vN:`).
    pub fn version_prefix(&self, ver: i64) -> String {
        self.template().replace("{{version}}", &ver.to_string())
    }

    /// Splits `vault:vN:rest` into (N, rest) with OpenBao's messages; `what`
    /// is `ciphertext` or `signature`.
    pub fn split_versioned<'a>(
        &self,
        value: &'a str,
        what: &str,
    ) -> Result<(i64, &'a str), KeyError> {
        let parts: Vec<&str> = self.template().split("{{version}}").collect();
        if parts.len() != 2 {
            return Err(KeyError::internal("error parsing version template"));
        }
        let Some(rest) = value.strip_prefix(parts[0]) else {
            return Err(KeyError::user(format!("invalid {what}: no prefix")));
        };
        let Some((ver, body)) = split_once_nonempty_sep(rest, parts[1]) else {
            return Err(KeyError::user(format!(
                "invalid {what}: wrong number of fields"
            )));
        };
        let ver = gocompat::atoi(ver).map_err(|_| {
            KeyError::user(format!(
                "invalid {what}: version number could not be decoded"
            ))
        })?;
        Ok((ver, body))
    }
}

/// Go's `strings.SplitN(s, sep, 2)` when it yields two parts.
fn split_once_nonempty_sep<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    if sep.is_empty() {
        let mut chars = s.char_indices();
        let (_, c) = chars.next()?;
        let cut = c.len_utf8();
        if cut >= s.len() {
            return None;
        }
        return Some((&s[..cut], &s[cut..]));
    }
    s.split_once(sep)
}

/// A fresh key version of a type (`RotateInMemory`'s key generation).
pub fn generate(kt: KeyType, key_size: i64) -> Result<KeyEntry, KeyError> {
    let mut entry = KeyEntry::empty(Utc::now());
    entry.hmac_key = crypto::random_bytes(32).to_vec();
    match kt {
        _ if kt.is_symmetric() => {
            entry.key = crypto::random_bytes(kt.symmetric_key_len()).to_vec();
        }
        KeyType::Hmac => {
            if !(HMAC_MIN_KEY_SIZE..=HMAC_MAX_KEY_SIZE).contains(&key_size) {
                return Err(KeyError::other(format!(
                    "invalid key size for HMAC key, must be between {HMAC_MIN_KEY_SIZE} and {HMAC_MAX_KEY_SIZE} bytes"
                )));
            }
            entry.key = crypto::random_bytes(key_size as usize).to_vec();
            entry.hmac_key = entry.key.clone();
        }
        _ if kt.is_ecdsa() => {
            let (d, x, y) = crypto::ec_generate(kt);
            let der = crypto::ec_public_der(kt, &x, &y).map_err(KeyError::other)?;
            entry.public_key = gocompat::pem("PUBLIC KEY", &der);
            entry.ec_d = d.to_vec();
            entry.ec_x = x;
            entry.ec_y = y;
        }
        KeyType::Ed25519 => {
            let k = crypto::ed25519_generate();
            entry.public_key = gocompat::b64(&k[32..]);
            entry.key = k.to_vec();
        }
        _ => {
            entry.rsa_key = crypto::rsa_generate(kt.rsa_bits())
                .map_err(KeyError::other)?
                .to_vec();
        }
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_rules_follow_openbao() {
        let derived = NewKey {
            derived: true,
            ..Default::default()
        };
        assert!(Policy::create("k", KeyType::EcdsaP256, &derived).is_err());
        assert_eq!(
            Policy::create(
                "k",
                KeyType::Ed25519,
                &NewKey {
                    derived: true,
                    convergent: true,
                    ..Default::default()
                }
            )
            .err(),
            Some(KeyError::other(
                "convergent encryption not supported for keys of type ed25519"
            ))
        );
        assert!(Policy::create("k", KeyType::Hmac, &NewKey::default()).is_err());
        let p = Policy::create(
            "k",
            KeyType::Aes256Gcm96,
            &NewKey {
                derived: true,
                convergent: true,
                ..Default::default()
            },
        )
        .expect("create");
        assert_eq!(p.kdf, KDF_HKDF_SHA256);
        assert_eq!(p.convergent_version, -1);
        assert_eq!(p.keys[&1].convergent_version, 3);
        assert_eq!((p.latest_version, p.min_decryption_version), (1, 1));
    }

    #[test]
    fn versions_and_prefixes() {
        let mut p = Policy::create("k", KeyType::Aes128Gcm96, &NewKey::default()).expect("create");
        p.rotate().expect("rotate");
        p.rotate().expect("rotate");
        assert_eq!(p.version_prefix(3), "vault:v3:");
        assert_eq!(
            p.split_versioned("vault:v2:abc", "ciphertext"),
            Ok((2, "abc"))
        );
        assert_eq!(
            p.split_versioned("vault:v2", "ciphertext"),
            Err(KeyError::user("invalid ciphertext: wrong number of fields"))
        );
        p.min_decryption_version = 2;
        assert!(p.entry(1).is_err());
        assert_eq!(p.visible().count(), 2);
        p.min_available_version = 2;
        p.min_encryption_version = 2;
        p.prepare_persist().expect("persist");
        assert_eq!(p.keys.len(), 2);
        p.min_encryption_version = 1;
        assert!(p.prepare_persist().is_err());
    }

    #[test]
    fn entries_zeroize_and_hide_secrets_in_debug() {
        let e = generate(KeyType::Aes256Gcm96, 0).expect("generate");
        let dbg = format!("{e:?}");
        assert!(!dbg.contains(&gocompat::b64(&e.key)));
        let mut e2 = e.clone();
        e2.zeroize();
        assert!(e2.key.is_empty());
    }
}
