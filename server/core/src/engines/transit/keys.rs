//! Key management: `keys/` (list), `keys/NAME` (create, read, delete),
//! `keys/NAME/{config,rotate,trim,soft-delete,soft-delete-restore}`,
//! `export/`, `backup/`, `restore`, `config/keys` and `cache-config`.

use chrono::Utc;
use serde_json::{json, Map, Value};

use super::backup;
use super::crypto;
use super::gocompat;
use super::keytype::KeyType;
use super::policy::{self, KeyEntry, NewKey, Policy, VersionStamp, ERR_SOFT_DELETED};
use super::{bad, internal, load, load_rotated, persist, sorted, HResult, Input, Transit};
use crate::engines::kvutil;
use crate::error::CoreError;
use crate::logical::{Response, StorageView};

/// `formatKeyPolicy`: the data of a key read (and of writes that return it).
pub(crate) fn format_policy(p: &Policy, context: &[u8]) -> Result<Response, super::Fail> {
    let kt = p.key_type;
    let mut d: Vec<(&str, Value)> = vec![
        ("name", json!(p.name)),
        ("type", json!(kt.as_str())),
        ("derived", json!(p.derived)),
        ("deletion_allowed", json!(p.deletion_allowed)),
        ("min_available_version", json!(p.min_available_version)),
        ("min_decryption_version", json!(p.min_decryption_version)),
        ("min_encryption_version", json!(p.min_encryption_version)),
        ("latest_version", json!(p.latest_version)),
        ("exportable", json!(p.exportable)),
        ("allow_plaintext_backup", json!(p.allow_plaintext_backup)),
        ("supports_encryption", json!(kt.encryption_supported())),
        ("supports_decryption", json!(kt.decryption_supported())),
        ("supports_signing", json!(kt.signing_supported())),
        ("supports_derivation", json!(kt.derivation_supported())),
        ("auto_rotate_period", json!(p.auto_rotate_period)),
        ("imported_key", json!(p.imported)),
        ("soft_deleted", json!(p.soft_deleted)),
    ];
    if p.key_size != 0 {
        d.push(("key_size", json!(p.key_size)));
    }
    if p.imported {
        d.push((
            "imported_key_allow_rotation",
            json!(p.allow_imported_key_rotation),
        ));
    }
    let stamp = |s: &VersionStamp| json!({"time": kvutil::go_time(&s.time), "version": s.version});
    if let Some(b) = &p.backup_info {
        d.push(("backup_info", stamp(b)));
    }
    if let Some(r) = &p.restore_info {
        d.push(("restore_info", stamp(r)));
    }
    if p.derived {
        match p.kdf {
            policy::KDF_HMAC_SHA256_COUNTER => {
                d.push(("kdf", json!("hmac-sha256-counter")));
                d.push(("kdf_mode", json!("hmac-sha256-counter")));
            }
            policy::KDF_HKDF_SHA256 => d.push(("kdf", json!("hkdf_sha256"))),
            _ => {}
        }
        d.push(("convergent_encryption", json!(p.convergent_encryption)));
        if p.convergent_encryption {
            d.push(("convergent_encryption_version", json!(p.convergent_version)));
        }
    }
    if kt.is_symmetric() {
        let keys: Map<String, Value> = p
            .visible()
            .map(|(v, e)| (v.to_string(), json!(e.creation_time)))
            .collect();
        d.push(("keys", Value::Object(sorted_map(keys))));
    } else if kt.signing_supported() {
        let mut keys = Map::new();
        for (v, e) in p.visible() {
            let mut public_key = e.public_key.clone();
            let name = match kt {
                _ if kt.is_ecdsa() => kt.curve_name(),
                KeyType::Ed25519 => {
                    if p.derived {
                        public_key = if context.is_empty() {
                            String::new()
                        } else {
                            let derived = p.get_key(context, *v, 32).map_err(|e| {
                                internal(format!(
                                    "failed to derive key to return public component: {}",
                                    e.msg()
                                ))
                            })?;
                            gocompat::b64(&derived[32..])
                        };
                    }
                    "ed25519"
                }
                _ => {
                    public_key = rsa_public_pem(e, "").map_err(internal)?;
                    kt.as_str()
                }
            };
            let chain: Vec<String> = e
                .certificate_chain
                .iter()
                .map(|c| gocompat::pem("CERTIFICATE", c).trim().to_string())
                .collect();
            keys.insert(
                v.to_string(),
                json!({
                    "certificate_chain": chain.join("\n"),
                    "creation_time": kvutil::go_time(&e.reported_time()),
                    "name": name,
                    "public_key": public_key,
                }),
            );
        }
        d.push(("keys", Value::Object(sorted_map(keys))));
    }
    Ok(Response::with_data(sorted(d)))
}

fn sorted_map(m: Map<String, Value>) -> Map<String, Value> {
    let b: std::collections::BTreeMap<String, Value> = m.into_iter().collect();
    b.into_iter().collect()
}

/// `encodeRSAPublicKey`.
fn rsa_public_pem(e: &KeyEntry, format: &str) -> Result<String, String> {
    if format == "raw" {
        return Err(
            "unknown key format for rsa key; supported values are ``, `der`, or `pem`".into(),
        );
    }
    let key = e.rsa_public()?;
    let der = crypto::rsa_spki_der(&key)?;
    if format == "der" {
        return Ok(gocompat::b64(&der));
    }
    Ok(gocompat::pem("PUBLIC KEY", &der))
}

pub(crate) async fn list(st: &StorageView, input: &Input) -> HResult {
    let after = input.str_or("after", "");
    let limit = input.int_or("limit", 0);
    let mut names: Vec<String> = st
        .list(super::POLICY_PREFIX)
        .await?
        .into_iter()
        .filter(|n| !n.ends_with('/'))
        .filter(|n| after.is_empty() || n.as_str() > after.as_str())
        .collect();
    names.sort();
    if limit > 0 {
        names.truncate(limit as usize);
    }
    Ok(Response::list(names)?)
}

impl Transit {
    pub(crate) async fn key_read(&self, st: &StorageView, name: &str, input: &Input) -> HResult {
        let Some(p) = self.get_policy(st, name).await? else {
            return Err(CoreError::NotFound.into());
        };
        let raw = input.str_or("context", "");
        let context = if raw.is_empty() {
            Vec::new()
        } else {
            gocompat::b64_std(&raw).map_err(|_| bad("failed to base64-decode context"))?
        };
        format_policy(&p, &context)
    }

    pub(crate) async fn key_write(&self, st: &StorageView, name: &str, input: &Input) -> HResult {
        let derived = input.bool_or("derived", false);
        let convergent = input.bool_or("convergent_encryption", false);
        let key_type = input.str_or("type", "aes256-gcm96");
        let key_size = input.int_or("key_size", 0);
        let exportable = input.bool_or("exportable", false);
        let external_key_ref = input.str_or("external_key_ref", "");
        let allow_plaintext_backup = input.bool_or("allow_plaintext_backup", false);
        let auto_rotate_period = input.duration("auto_rotate_period").unwrap_or(0);
        if auto_rotate_period != 0 && auto_rotate_period < 3600 {
            return Err(bad(
                "auto rotate period must be 0 to disable or at least an hour",
            ));
        }
        if !derived && convergent {
            return Err(bad(
                "convergent encryption requires derivation to be enabled",
            ));
        }
        if key_type == "external-key" {
            if external_key_ref.is_empty() {
                return Err(bad(
                    "must provide external_key_ref to create policy of type external-key",
                ));
            }
            return Err(bad(format!(
                "failed to fetch external key: external key {external_key_ref:?} not found"
            )));
        }
        let Some(kt) = KeyType::parse(&key_type) else {
            return Err(bad(format!("unknown key type {key_type}")));
        };
        if key_size != 0 {
            if kt != KeyType::Hmac {
                return Err(bad(format!("key_size is not valid for algorithm {kt}")));
            }
            if !(policy::HMAC_MIN_KEY_SIZE..=policy::HMAC_MAX_KEY_SIZE).contains(&key_size) {
                return Err(bad(format!("invalid key_size {key_size}")));
            }
        }
        if !external_key_ref.is_empty() {
            return Err(bad(
                "must provide type=external-key to use external_key_ref",
            ));
        }
        let _g = self.write_lock.lock().await;
        if let Some(p) = load_rotated(st, name).await? {
            return format_policy(&p, &[]);
        }
        let mut p = Policy::create(
            name,
            kt,
            &NewKey {
                derived,
                convergent,
                exportable,
                allow_plaintext_backup,
                auto_rotate_period,
                key_size,
            },
        )
        .map_err(|e| internal(e.msg()))?;
        persist(st, &mut p).await?;
        format_policy(&p, &[])
    }

    pub(crate) async fn key_delete(&self, st: &StorageView, name: &str) -> HResult {
        let _g = self.write_lock.lock().await;
        let Some(p) = load(st, name).await? else {
            return Err(bad(format!(
                "error deleting policy {name}: could not delete key; not found"
            )));
        };
        if !p.deletion_allowed {
            return Err(bad(format!(
                "error deleting policy {name}: deletion is not allowed for this key"
            )));
        }
        st.delete(&format!("{}{name}", super::POLICY_PREFIX))
            .await?;
        Ok(Response::empty())
    }

    pub(crate) async fn key_config(&self, st: &StorageView, name: &str, input: &Input) -> HResult {
        let _g = self.write_lock.lock().await;
        let Some(mut p) = load_rotated(st, name).await? else {
            return Err(bad(format!("no existing key named {name} could be found")));
        };
        let mut warning = None;
        let mut persist_needed = false;
        if let Some(mut v) = input.int("min_decryption_version") {
            if v < 0 {
                return Err(bad("min decryption version cannot be negative"));
            }
            if v == 0 {
                v = 1;
                warning = Some(
                    "since Vault 0.3 (prior to the OpenBao fork), transit key numbering starts at 1; forcing minimum to 1",
                );
            }
            if v != p.min_decryption_version {
                if v > p.latest_version {
                    return Err(bad(format!(
                        "cannot set min decryption version of {v}, latest key version is {}",
                        p.latest_version
                    )));
                }
                p.min_decryption_version = v;
                persist_needed = true;
            }
        }
        if let Some(v) = input.int("min_encryption_version") {
            if v < 0 {
                return Err(bad("min encryption version cannot be negative"));
            }
            if v != p.min_encryption_version {
                if v > p.latest_version {
                    return Err(bad(format!(
                        "cannot set min encryption version of {v}, latest key version is {}",
                        p.latest_version
                    )));
                }
                p.min_encryption_version = v;
                persist_needed = true;
            }
        }
        if p.min_encryption_version > 0 && p.min_encryption_version < p.min_decryption_version {
            return Err(bad(format!(
                "cannot set min encryption/decryption values; min encryption version of {} must be greater than or equal to min decryption version of {}",
                p.min_encryption_version, p.min_decryption_version
            )));
        }
        if input.has("deletion_allowed") {
            let v = input.bool_or("deletion_allowed", false);
            if v != p.deletion_allowed {
                p.deletion_allowed = v;
                persist_needed = true;
            }
        }
        if p.min_decryption_version == 0 {
            p.min_decryption_version = 1;
            persist_needed = true;
        }
        if input.bool_or("exportable", false) && !p.exportable {
            p.exportable = true;
            persist_needed = true;
        }
        if input.bool_or("allow_plaintext_backup", false) && !p.allow_plaintext_backup {
            p.allow_plaintext_backup = true;
            persist_needed = true;
        }
        if let Some(period) = input.duration("auto_rotate_period") {
            if period != 0 && period < 3600 {
                return Err(bad(
                    "auto rotate period must be 0 to disable or at least an hour",
                ));
            }
            if period != p.auto_rotate_period {
                p.auto_rotate_period = period;
                persist_needed = true;
            }
        }
        if persist_needed {
            if p.min_available_version > p.min_encryption_version {
                return Err(bad(
                    "min encryption version should not be less than min available version",
                ));
            }
            if p.min_available_version > p.min_decryption_version {
                return Err(bad(
                    "min decryption version should not be less then min available version",
                ));
            }
            persist(st, &mut p).await?;
        }
        let mut resp = format_policy(&p, &[])?;
        if let Some(w) = warning {
            resp.warnings.push(w.to_string());
        }
        Ok(resp)
    }

    pub(crate) async fn key_rotate(&self, st: &StorageView, name: &str, input: &Input) -> HResult {
        let _g = self.write_lock.lock().await;
        let Some(mut p) = load(st, name).await? else {
            return Err(bad("key not found"));
        };
        let external = input.str_or("external_key_ref", "");
        if !external.is_empty() {
            return Err(bad(format!(
                "cannot use external_key_ref on key of type {}",
                p.key_type
            )));
        }
        p.rotate().map_err(|e| internal(e.msg()))?;
        persist(st, &mut p).await?;
        format_policy(&p, &[])
    }

    pub(crate) async fn key_trim(&self, st: &StorageView, name: &str, input: &Input) -> HResult {
        let _g = self.write_lock.lock().await;
        let Some(mut p) = load_rotated(st, name).await? else {
            return Err(bad("invalid key name"));
        };
        if !input.has("min_available_version") {
            return Err(bad("missing min_available_version"));
        }
        let v = input.int_or("min_available_version", 0);
        let msg = if v < p.min_available_version {
            Some("minimum available version cannot be decremented")
        } else if p.min_encryption_version == 0 {
            Some("minimum available version cannot be set when minimum encryption version is not set")
        } else if p.min_decryption_version == 0 {
            Some("minimum available version cannot be set when minimum decryption version is not set")
        } else if v > p.min_encryption_version {
            Some("minimum available version cannot be greater than minmum encryption version")
        } else if v > p.min_decryption_version {
            Some("minimum available version cannot be greater than minimum decryption version")
        } else if v < 0 {
            Some("minimum available version cannot be negative")
        } else if v == 0 {
            Some("minimum available version should be positive")
        } else {
            None
        };
        if let Some(m) = msg {
            return Err(bad(m));
        }
        p.min_available_version = v;
        persist(st, &mut p).await?;
        format_policy(&p, &[])
    }

    pub(crate) async fn key_soft_delete(
        &self,
        st: &StorageView,
        name: &str,
        delete: bool,
    ) -> HResult {
        let _g = self.write_lock.lock().await;
        let Some(mut p) = load_rotated(st, name).await? else {
            return Ok(Response::empty());
        };
        let changed = p.soft_deleted != delete;
        p.soft_deleted = delete;
        persist(st, &mut p).await?;
        let mut resp = format_policy(&p, &[])?;
        if !changed {
            resp.warnings.push(
                if delete {
                    "key was already marked as soft deleted"
                } else {
                    "key was already restored"
                }
                .to_string(),
            );
        }
        Ok(resp)
    }

    pub(crate) async fn export(
        &self,
        st: &StorageView,
        kind: &str,
        name: &str,
        version: &str,
        input: &Input,
    ) -> HResult {
        const KINDS: [&str; 5] = [
            "encryption-key",
            "signing-key",
            "hmac-key",
            "public-key",
            "certificate-chain",
        ];
        if !KINDS.contains(&kind) {
            return Err(bad(format!("invalid export type: {kind}")));
        }
        let format = input.str_or("format", "");
        if !["", "raw", "der", "pem"].contains(&format.as_str()) {
            return Err(bad(format!("invalid format: {format}")));
        }
        let Some(p) = self.get_policy(st, name).await? else {
            return Err(CoreError::NotFound.into());
        };
        let kt = p.key_type;
        if !p.exportable && kind != "public-key" && kind != "certificate-chain" {
            return Err(bad("private key material is not exportable"));
        }
        if p.soft_deleted {
            return Err(internal(ERR_SOFT_DELETED));
        }
        match kind {
            "encryption-key" if !kt.encryption_supported() => {
                return Err(bad("encryption not supported for the key"))
            }
            "signing-key" if !kt.signing_supported() => {
                return Err(bad("signing not supported for the key"))
            }
            "certificate-chain" if !kt.signing_supported() => {
                return Err(bad(
                    "certificate chain not supported for keys that do not support signing",
                ))
            }
            _ => {}
        }
        let mut keys = Map::new();
        if version.is_empty() {
            for (v, e) in p.visible() {
                let k = export_key(kt, e, kind, &format).map_err(internal)?;
                keys.insert(v.to_string(), json!(k));
            }
        } else {
            let v = if version == "latest" {
                p.latest_version
            } else {
                let trimmed = version.strip_prefix('v').unwrap_or(version);
                gocompat::atoi(trimmed).map_err(|_| bad("invalid key version"))?
            };
            if v < p.min_decryption_version {
                return Err(bad(
                    "version for export is below minimum decryption version",
                ));
            }
            let Some(e) = p.keys.get(&v).filter(|_| v <= p.latest_version) else {
                return Err(bad("version does not exist or cannot be found"));
            };
            let k = export_key(kt, e, kind, &format).map_err(internal)?;
            keys.insert(v.to_string(), json!(k));
        }
        Ok(Response::with_data(sorted(vec![
            ("keys", Value::Object(sorted_map(keys))),
            ("name", json!(p.name)),
            ("type", json!(kt.as_str())),
        ])))
    }

    pub(crate) async fn backup(&self, st: &StorageView, name: &str) -> HResult {
        let _g = self.write_lock.lock().await;
        let Some(mut p) = load_rotated(st, name).await? else {
            return Err(internal(format!("key {name:?} not found")));
        };
        if p.soft_deleted {
            return Err(internal(ERR_SOFT_DELETED));
        }
        if !p.exportable {
            return Err(internal("exporting is disallowed on the policy"));
        }
        if !p.allow_plaintext_backup {
            return Err(internal("plaintext backup is disallowed on the policy"));
        }
        p.backup_info = Some(VersionStamp {
            time: Utc::now(),
            version: p.latest_version,
        });
        persist(st, &mut p).await.map_err(|e| match e {
            super::Fail::Internal(m) => {
                internal(format!("failed to persist policy with backup info: {m}"))
            }
            other => other,
        })?;
        let blob = backup::encode(&p).map_err(internal)?;
        Ok(Response::with_data(sorted(vec![("backup", json!(blob))])))
    }

    pub(crate) async fn restore(&self, st: &StorageView, name: &str, input: &Input) -> HResult {
        let blob = input.str_or("backup", "");
        let force = input.bool_or("force", false);
        if blob.is_empty() {
            return Err(bad("'backup' must be supplied"));
        }
        if name.contains('/') {
            return Err(internal("key names cannot be paths"));
        }
        let mut p = backup::decode(&blob).map_err(|e| match e {
            backup::DecodeError::Base64(m) | backup::DecodeError::Json(m) => internal(m),
            backup::DecodeError::NoPolicy => internal("backup does not contain a key policy"),
            backup::DecodeError::Unsupported(m) => {
                internal(format!("failed to restore the key: {m}"))
            }
        })?;
        if !name.is_empty() {
            p.name = name.to_string();
        }
        let name = p.name.clone();
        if !super::is_name(&name) {
            return Err(internal("key names cannot be paths"));
        }
        let _g = self.write_lock.lock().await;
        if load(st, &name).await?.is_some() && !force {
            return Err(internal(format!("key {name:?} already exists")));
        }
        p.restore_info = Some(VersionStamp {
            time: Utc::now(),
            version: p.latest_version,
        });
        persist(st, &mut p).await.map_err(|e| match e {
            super::Fail::Internal(m) => {
                internal(format!("failed to restore the policy {name:?}: {m}"))
            }
            other => other,
        })?;
        Ok(Response::empty())
    }
}

/// `getExportKey`.
fn export_key(kt: KeyType, e: &KeyEntry, kind: &str, format: &str) -> Result<String, String> {
    let der_or_pem = format == "der" || format == "pem";
    let encode = |label: &str, der: &[u8], trim: bool| -> String {
        if format == "der" {
            return gocompat::b64(der);
        }
        let p = gocompat::pem(label, der);
        if trim {
            p.trim().to_string()
        } else {
            p
        }
    };
    match kind {
        "hmac-key" => {
            let src = if kt == KeyType::Hmac {
                &e.key
            } else {
                &e.hmac_key
            };
            if der_or_pem {
                return Err("unknown format for HMAC key; supported values are `` or `raw`".into());
            }
            return Ok(gocompat::b64(src));
        }
        "encryption-key" if kt.is_symmetric() => {
            if der_or_pem {
                return Err("unknown format for HMAC key; supported values are `` or `raw`".into());
            }
            return Ok(gocompat::b64(&e.key));
        }
        "encryption-key" | "signing-key" if kt.is_rsa() => {
            if format == "raw" {
                return Err(
                    "unknown key format for rsa key; supported values are ``, `der`, or `pem`"
                        .into(),
                );
            }
            if e.rsa_key.is_empty() {
                return Ok(String::new());
            }
            if format.is_empty() {
                return Ok(encode("RSA PRIVATE KEY", &e.rsa_key, false));
            }
            let key = crypto::rsa_private(&e.rsa_key)?;
            let der = crypto::rsa_pkcs8_der(&key)?;
            return Ok(encode("PRIVATE KEY", &der, false));
        }
        "signing-key" if kt.is_ecdsa() => {
            if format == "raw" {
                return Err(
                    "unknown key format for ec key; supported values are ``, `der`, or `pem`"
                        .into(),
                );
            }
            if e.ec_d.is_empty() {
                return Ok(String::new());
            }
            if format.is_empty() {
                let der = crypto::ec_sec1_der(kt, &e.ec_d, &e.ec_x, &e.ec_y);
                return Ok(encode("EC PRIVATE KEY", &der, true));
            }
            let der = crypto::ec_pkcs8_der(kt, &e.ec_d)?;
            return Ok(encode("PRIVATE KEY", &der, true));
        }
        "signing-key" if kt == KeyType::Ed25519 => {
            if e.key.is_empty() {
                return Ok(String::new());
            }
            if !der_or_pem {
                return Ok(gocompat::b64(&e.key));
            }
            return Ok(encode(
                "PRIVATE KEY",
                &crypto::ed25519_pkcs8_der(&e.key),
                true,
            ));
        }
        "public-key" if kt.is_ecdsa() => {
            if format == "raw" {
                return Err(
                    "unknown key format for ec key; supported values are ``, `der`, or `pem`"
                        .into(),
                );
            }
            let der = crypto::ec_public_der(kt, &e.ec_x, &e.ec_y)?;
            return Ok(encode("PUBLIC KEY", &der, true));
        }
        "public-key" if kt == KeyType::Ed25519 => {
            let public = e.public_key.trim().to_string();
            if !der_or_pem {
                return Ok(public);
            }
            let raw = gocompat::b64_std(&public)?;
            return Ok(encode("PUBLIC KEY", &crypto::ed25519_spki_der(&raw), true));
        }
        "public-key" if kt.is_rsa() => return rsa_public_pem(e, format),
        "certificate-chain" => {
            if e.certificate_chain.is_empty() {
                return Err(
                    "selected key version does not have a certificate chain imported".into(),
                );
            }
            let pems: Vec<String> = e
                .certificate_chain
                .iter()
                .map(|c| gocompat::pem("CERTIFICATE", c).trim().to_string())
                .collect();
            return Ok(pems.join("\n"));
        }
        _ => {}
    }
    Err(format!("unknown key type {kt} for export type {kind}"))
}

// ---------------------------------------------------------------------------
// Mount-wide settings
// ---------------------------------------------------------------------------

const CONFIG_KEYS: &str = "config/keys";
const CONFIG_CACHE: &str = "config/cache";

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct KeysConfig {
    disable_upsert: bool,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct CacheConfig {
    size: i64,
}

/// Whether `encrypt` may create missing keys.
pub(crate) async fn upsert_disabled(st: &StorageView) -> Result<bool, CoreError> {
    Ok(st
        .get_json::<KeysConfig>(CONFIG_KEYS)
        .await?
        .unwrap_or_default()
        .disable_upsert)
}

pub(crate) async fn config_keys_read(st: &StorageView) -> HResult {
    let disabled = upsert_disabled(st).await?;
    Ok(Response::with_data(sorted(vec![(
        "disable_upsert",
        json!(disabled),
    )])))
}

pub(crate) async fn config_keys_write(st: &StorageView, input: &Input) -> HResult {
    let v = input.bool_or("disable_upsert", false);
    if upsert_disabled(st).await? != v {
        st.put_json(CONFIG_KEYS, &KeysConfig { disable_upsert: v })
            .await?;
    }
    Ok(Response::with_data(sorted(vec![(
        "disable_upsert",
        json!(v),
    )])))
}

pub(crate) async fn cache_config_read(st: &StorageView) -> HResult {
    let size = st
        .get_json::<CacheConfig>(CONFIG_CACHE)
        .await?
        .unwrap_or_default()
        .size;
    Ok(Response::with_data(sorted(vec![("size", json!(size))])))
}

pub(crate) async fn cache_config_write(st: &StorageView, input: &Input) -> HResult {
    let size = input.int_or("size", 0);
    if size != 0 && size < 10 {
        return Err(bad("size must be 0 or a value greater or equal to 10"));
    }
    st.put_json(CONFIG_CACHE, &CacheConfig { size }).await?;
    Ok(Response::with_data(sorted(vec![("size", json!(size))])))
}
