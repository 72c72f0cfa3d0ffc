//! `encrypt/`, `decrypt/`, `rewrap/` and `datakey/`, with OpenBao's batch
//! semantics: per-item errors, 400 (user errors) or 500 (internal errors)
//! for batches with failures, and `partial_failure_response_code`.

use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use super::crypto;
use super::gocompat;
use super::keys;
use super::keytype::KeyType;
use super::policy::{
    KeyError, NewKey, Policy, CURRENT_CONVERGENT_VERSION, ERR_SOFT_DELETED, ERR_TOO_OLD,
};
use super::{bad, internal, load_rotated, persist, sorted, with_status, HResult, Input, Transit};
use crate::engines::kvutil::go_type;
use crate::logical::{Data, Request, Response, StorageView};

impl Policy {
    /// `EncryptWithFactory`: `plaintext` is base64; returns `vault:vN:...`.
    pub(crate) fn encrypt(
        &self,
        ver: i64,
        context: &[u8],
        plaintext_b64: &str,
        aad: Option<&str>,
    ) -> Result<String, KeyError> {
        if self.soft_deleted {
            return Err(KeyError::user(ERR_SOFT_DELETED));
        }
        let kt = self.key_type;
        if !kt.encryption_supported() {
            return Err(KeyError::user(format!(
                "message encryption not supported for key type {kt}"
            )));
        }
        let plaintext = Zeroizing::new(gocompat::b64_std(plaintext_b64).map_err(KeyError::User)?);
        let ver = match ver {
            0 => self.latest_version,
            v if v < 0 => {
                return Err(KeyError::user(
                    "requested version for encryption is negative",
                ))
            }
            v if v > self.latest_version => {
                return Err(KeyError::user(
                    "requested version for encryption is higher than the latest key version",
                ))
            }
            v if v < self.min_encryption_version => return Err(KeyError::user(
                "requested version for encryption is less than the minimum encryption key version",
            )),
            v => v,
        };
        let ciphertext = if kt.is_symmetric() {
            let enc_bytes = kt.symmetric_key_len();
            let convergent = self.convergent_version_of(ver);
            let hmac_bytes = if convergent > 2 { 32 } else { 0 };
            let key = self.get_key(context, ver, enc_bytes + hmac_bytes)?;
            if key.len() < enc_bytes + hmac_bytes {
                return Err(KeyError::internal("could not derive key, length too small"));
            }
            let aad = decode_aad(aad)?;
            let nonce = if self.convergent_encryption {
                if convergent > 0 && convergent < CURRENT_CONVERGENT_VERSION {
                    return Err(KeyError::user(format!(
                        "refusing to support decryption with old convergent encryption key: version {convergent}"
                    )));
                }
                if convergent != 3 {
                    return Err(KeyError::internal(format!(
                        "unhandled convergent version {convergent}"
                    )));
                }
                let hmac_key = &key[enc_bytes..enc_bytes + 32];
                let sum = crypto::HashAlg::Sha2_256
                    .hmac(hmac_key, &plaintext)
                    .unwrap_or_default();
                Some(sum[..crypto::nonce_size(kt)].to_vec())
            } else {
                None
            };
            crypto::seal(kt, &key[..enc_bytes], nonce.as_deref(), &plaintext, &aad)
                .map_err(KeyError::Internal)?
        } else {
            let entry = self.entry(ver)?;
            let public = entry.rsa_public().map_err(KeyError::Other)?;
            crypto::rsa_encrypt(&public, &plaintext).map_err(|e| {
                KeyError::internal(format!("failed to RSA encrypt the plaintext: {e}"))
            })?
        };
        Ok(format!(
            "{}{}",
            self.version_prefix(ver),
            gocompat::b64(&ciphertext)
        ))
    }

    /// `DecryptWithFactory`: returns the plaintext base64-encoded.
    pub(crate) fn decrypt(
        &self,
        context: &[u8],
        value: &str,
        aad: Option<&str>,
    ) -> Result<String, KeyError> {
        if self.soft_deleted {
            return Err(KeyError::user(ERR_SOFT_DELETED));
        }
        let kt = self.key_type;
        if !kt.decryption_supported() {
            return Err(KeyError::user(format!(
                "message decryption not supported for key type {kt}"
            )));
        }
        let (mut ver, body) = self.split_versioned(value, "ciphertext")?;
        if ver == 0 {
            ver = 1;
        }
        if ver > self.latest_version {
            return Err(KeyError::user("invalid ciphertext: version is too new"));
        }
        if self.min_decryption_version > 0 && ver < self.min_decryption_version {
            return Err(KeyError::user(ERR_TOO_OLD));
        }
        let convergent = self.convergent_version_of(ver);
        if self.convergent_encryption && convergent < CURRENT_CONVERGENT_VERSION && convergent > 0 {
            return Err(KeyError::user(format!(
                "refusing to support decryption with old convergent encryption key: version {convergent}"
            )));
        }
        let decoded = gocompat::b64_std(body)
            .map_err(|_| KeyError::user("invalid ciphertext: could not decode base64"))?;
        let plain = if kt.is_symmetric() {
            let n = kt.symmetric_key_len();
            let key = self.get_key(context, ver, n)?;
            if key.len() < n {
                return Err(KeyError::internal(
                    "could not derive enc key, length not correct",
                ));
            }
            let aad = decode_aad(aad)?;
            if self.convergent_encryption
                && self.convergent_version < CURRENT_CONVERGENT_VERSION
                && self.convergent_version > 0
            {
                return Err(KeyError::user(format!(
                    "refusing to support decryption with old convergent encryption key: version {}",
                    self.convergent_version
                )));
            }
            crypto::open(kt, &key[..n], &decoded, &aad).map_err(|e| match e {
                crypto::OpenError::Length => KeyError::user("invalid ciphertext length"),
                crypto::OpenError::Auth(m) => KeyError::user(m),
                crypto::OpenError::Key(m) => KeyError::internal(m),
            })?
        } else {
            let entry = self.entry(ver)?;
            if entry.rsa_key.is_empty() {
                return Err(KeyError::internal(
                    "cannot decrypt ciphertext, key version does not have a private counterpart",
                ));
            }
            let key = crypto::rsa_private(&entry.rsa_key).map_err(KeyError::Internal)?;
            crypto::rsa_decrypt(&key, &decoded).map_err(|e| {
                KeyError::internal(format!("failed to RSA decrypt the ciphertext: {e}"))
            })?
        };
        Ok(gocompat::b64(&plain))
    }
}

/// The associated data, decoded (`AssocDataFactory`).
fn decode_aad(aad: Option<&str>) -> Result<Vec<u8>, KeyError> {
    match aad {
        None => Ok(Vec::new()),
        Some(a) => gocompat::b64_std(a).map_err(|e| {
            KeyError::internal(format!(
                "unable to get associated_data/additional_data from factory[0]: {e}"
            ))
        }),
    }
}

/// One batch item (`BatchRequestItem`).
#[derive(Debug, Default, Clone)]
struct Item {
    context: String,
    decoded_context: Vec<u8>,
    plaintext: String,
    ciphertext: String,
    key_version: i64,
    associated_data: String,
    reference: String,
}

/// One string field of a batch item: whether it was present.
fn string_field(
    m: &Map<String, Value>,
    i: usize,
    name: &str,
    null_ok: bool,
    slot: &mut String,
    errs: &mut Vec<String>,
) -> bool {
    match m.get(name) {
        None => false,
        Some(Value::Null) if null_ok => true,
        Some(Value::String(s)) => {
            *slot = s.clone();
            true
        }
        Some(other) => {
            errs.push(format!(
                "'[{i}].{name}' expected type 'string', got unconvertible type '{}'",
                go_type(other)
            ));
            true
        }
    }
}

/// `decodeBatchRequestItems` (encrypt and decrypt).
fn decode_items(
    raw: &Value,
    require_plaintext: bool,
    require_ciphertext: bool,
) -> Result<Vec<Item>, String> {
    let Value::Array(list) = raw else {
        return Err(format!(
            "source data must be an array or slice, got {}",
            go_type(raw)
        ));
    };
    let mut items = Vec::with_capacity(list.len());
    let mut errs = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let Value::Object(m) = v else {
            return Err(format!("[{i}] expected a map, got '{}'", go_type(v)));
        };
        let mut item = Item::default();
        string_field(m, i, "context", true, &mut item.context, &mut errs);
        if !string_field(m, i, "ciphertext", true, &mut item.ciphertext, &mut errs)
            && require_ciphertext
        {
            errs.push(format!("'[{i}].ciphertext' missing ciphertext to decrypt"));
        }
        if !string_field(m, i, "plaintext", false, &mut item.plaintext, &mut errs)
            && require_plaintext
        {
            errs.push(format!("'[{i}].plaintext' missing plaintext to encrypt"));
        }
        match m.get("key_version") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) => item.key_version = v,
                None => errs.push(format!(
                    "error decoding json.Number into [{i}].key_version: strconv.ParseInt: parsing \"{n}\": invalid syntax"
                )),
            },
            Some(other) => errs.push(format!(
                "'[{i}].key_version' expected type 'int', got unconvertible type '{}'",
                go_type(other)
            )),
        }
        string_field(
            m,
            i,
            "associated_data",
            true,
            &mut item.associated_data,
            &mut errs,
        );
        string_field(m, i, "reference", true, &mut item.reference, &mut errs);
        items.push(item);
    }
    if !errs.is_empty() {
        return Err(errs.join("\n"));
    }
    Ok(items)
}

/// `mapstructure.Decode` of rewrap's batch input (non-weak: numbers that
/// are `json.Number` become strings; other types are errors).
fn decode_rewrap_items(raw: &Value) -> Result<Vec<Item>, String> {
    let Value::Array(list) = raw else {
        return Err(format!(
            "'' source data must be an array or slice, got {}",
            go_kind(raw)
        ));
    };
    let mut items = Vec::with_capacity(list.len());
    let mut errs = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let mut item = Item::default();
        match v {
            Value::Null => {}
            Value::Object(m) => {
                for (k, v) in m {
                    let slot = match k.as_str() {
                        "context" => &mut item.context,
                        "plaintext" => &mut item.plaintext,
                        "ciphertext" => &mut item.ciphertext,
                        "associated_data" => &mut item.associated_data,
                        "reference" => &mut item.reference,
                        "key_version" => {
                            match v {
                                Value::Null => {}
                                Value::Number(n) => match n.as_i64() {
                                    Some(x) => item.key_version = x,
                                    None => errs.push(format!(
                                        "'[{i}].key_version' cannot parse value as 'int': strconv.ParseInt: parsing \"{n}\": invalid syntax"
                                    )),
                                },
                                other => errs.push(format!(
                                    "'[{i}].key_version' expected type 'int', got unconvertible type '{}'",
                                    go_type(other)
                                )),
                            }
                            continue;
                        }
                        _ => continue,
                    };
                    match v {
                        Value::Null => {}
                        Value::String(s) => *slot = s.clone(),
                        Value::Number(n) => *slot = n.to_string(),
                        other => errs.push(format!(
                            "'[{i}].{k}' expected type 'string', got unconvertible type '{}'",
                            go_type(other)
                        )),
                    }
                }
            }
            other => errs.push(format!(
                "'[{i}]' expected a map or struct, got \"{}\"",
                go_kind(other)
            )),
        }
        items.push(item);
    }
    if !errs.is_empty() {
        return Err(format!(
            "decoding failed due to the following error(s):\n\n{}",
            errs.join("\n")
        ));
    }
    Ok(items)
}

/// Go's `reflect.Kind` name of a JSON value.
fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(_) | Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

/// `batchRequestResponse`: the status for a batch with failed items.
fn batch_response(
    req: &Request,
    input: &Input,
    data: Data,
    successes: bool,
    user_error: bool,
    internal_error: bool,
) -> Response {
    if !(user_error || internal_error) {
        return Response::with_data(data);
    }
    let mut code: i64 = if user_error { 400 } else { 500 };
    let mut warnings = Vec::new();
    if input.has("partial_failure_response_code") && successes {
        let new = input.int_or("partial_failure_response_code", 0);
        if !(1..=599).contains(&new) {
            warnings.push(format!(
                "invalid HTTP response code override from partial_failure_response_code, reverting to {code}"
            ));
        } else {
            code = new;
        }
    }
    with_status(req, code as u16, data, warnings)
}

fn items_value(items: Vec<Map<String, Value>>) -> Value {
    Value::Array(items.into_iter().map(Value::Object).collect())
}

impl Transit {
    pub(crate) async fn encrypt(
        &self,
        st: &StorageView,
        req: &Request,
        name: &str,
        create: bool,
        input: &Input,
    ) -> HResult {
        let batch_raw = input.value("batch_input").filter(|v| !v.is_null());
        let mut items = match batch_raw {
            Some(raw) => {
                let items = decode_items(raw, true, false)
                    .map_err(|e| internal(format!("failed to parse batch input: {e}")))?;
                if items.is_empty() {
                    return Err(bad("missing batch input to process"));
                }
                items
            }
            None => {
                if !input.has("plaintext") {
                    return Err(bad("missing plaintext to encrypt"));
                }
                vec![Item {
                    plaintext: input.str_or("plaintext", ""),
                    context: input.str_or("context", ""),
                    key_version: input.int_or("key_version", 0),
                    associated_data: input.str_or("associated_data", ""),
                    ..Default::default()
                }]
            }
        };
        let mut errors: Vec<Option<String>> = vec![None; items.len()];
        let context_set = !items[0].context.is_empty();
        let mut user_error = false;
        let mut internal_error = false;
        for (i, item) in items.iter_mut().enumerate() {
            if item.context.is_empty() == context_set {
                return Err(bad(
                    "context should be set either in all the request blocks or in none",
                ));
            }
            if let Err(e) = gocompat::b64_std(&item.plaintext) {
                user_error = true;
                errors[i] = Some(e);
                continue;
            }
            if !item.context.is_empty() {
                match gocompat::b64_std(&item.context) {
                    Ok(c) => item.decoded_context = c,
                    Err(e) => {
                        user_error = true;
                        errors[i] = Some(e);
                        continue;
                    }
                }
            }
        }

        let policy = if create {
            let convergent = input.bool_or("convergent_encryption", false);
            if convergent && !context_set {
                return Err(bad(
                    "convergent encryption requires derivation to be enabled, so context is required",
                ));
            }
            let disabled = keys::upsert_disabled(st).await?;
            let key_type = input.str_or("type", "aes256-gcm96");
            let kt = match KeyType::parse(&key_type) {
                Some(kt) if kt.is_symmetric() => kt,
                Some(kt) if kt.is_ecdsa() => {
                    return Err(bad(format!(
                        "key type {key_type} not supported for this operation"
                    )))
                }
                _ => return Err(bad(format!("unknown key type {key_type}"))),
            };
            let _g = self.write_lock.lock().await;
            match load_rotated(st, name).await? {
                Some(p) => Some(p),
                None if disabled => None,
                None => {
                    let mut p = Policy::create(
                        name,
                        kt,
                        &NewKey {
                            derived: context_set,
                            convergent,
                            ..Default::default()
                        },
                    )
                    .map_err(|e| internal(e.msg()))?;
                    persist(st, &mut p).await?;
                    Some(p)
                }
            }
        } else {
            self.get_policy(st, name).await?
        };
        let Some(p) = policy else {
            return Err(bad("encryption key not found"));
        };

        let mut successes = false;
        let mut results: Vec<Map<String, Value>> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let mut out = Map::new();
            if let Some(e) = &errors[i] {
                user_error = true;
                out.insert("error".into(), json!(e));
                results.push(out);
                continue;
            }
            let aad = if item.associated_data.is_empty() {
                None
            } else if !p.key_type.associated_data_supported() {
                let e = format!(
                    "'[{i}].associated_data' provided for non-AEAD cipher suite {}",
                    p.key_type
                );
                errors[i] = Some(e.clone());
                out.insert("error".into(), json!(e));
                results.push(out);
                continue;
            } else {
                Some(item.associated_data.as_str())
            };
            match p.encrypt(
                item.key_version,
                &item.decoded_context,
                &item.plaintext,
                aad,
            ) {
                Ok(ct) => {
                    successes = true;
                    let ver = if item.key_version == 0 {
                        p.latest_version
                    } else {
                        item.key_version
                    };
                    out.insert("ciphertext".into(), json!(ct));
                    out.insert("key_version".into(), json!(ver));
                }
                Err(e) => {
                    if e.is_internal() {
                        internal_error = true;
                    } else {
                        user_error = true;
                    }
                    errors[i] = Some(e.msg().to_string());
                    out.insert("error".into(), json!(e.msg()));
                }
            }
            results.push(out);
        }

        if batch_raw.is_none() {
            if let Some(e) = &errors[0] {
                if internal_error {
                    return Err(internal(e.clone()));
                }
                return Err(bad(e.clone()));
            }
            let r = &results[0];
            return Ok(Response::with_data(sorted(vec![
                (
                    "ciphertext",
                    r.get("ciphertext").cloned().unwrap_or_default(),
                ),
                (
                    "key_version",
                    r.get("key_version").cloned().unwrap_or_default(),
                ),
            ])));
        }
        for (out, item) in results.iter_mut().zip(&items) {
            out.insert("reference".into(), json!(item.reference));
        }
        let data = sorted(vec![("batch_results", items_value(results))]);
        Ok(batch_response(
            req,
            input,
            data,
            successes,
            user_error,
            internal_error,
        ))
    }

    pub(crate) async fn decrypt(
        &self,
        st: &StorageView,
        req: &Request,
        name: &str,
        input: &Input,
    ) -> HResult {
        let batch_raw = input.value("batch_input").filter(|v| !v.is_null());
        let mut items = match batch_raw {
            Some(raw) => {
                let items = decode_items(raw, false, true)
                    .map_err(|e| internal(format!("failed to parse batch input: {e}")))?;
                if items.is_empty() {
                    return Err(bad("missing batch input to process"));
                }
                items
            }
            None => {
                let ciphertext = input.str_or("ciphertext", "");
                if ciphertext.is_empty() {
                    return Err(bad("missing ciphertext to decrypt"));
                }
                vec![Item {
                    ciphertext,
                    context: input.str_or("context", ""),
                    associated_data: input.str_or("associated_data", ""),
                    ..Default::default()
                }]
            }
        };
        let mut errors: Vec<Option<String>> = vec![None; items.len()];
        let context_set = !items[0].context.is_empty();
        let mut user_error = false;
        let mut internal_error = false;
        for (i, item) in items.iter_mut().enumerate() {
            if item.context.is_empty() == context_set {
                return Err(bad(
                    "context should be set either in all the request blocks or in none",
                ));
            }
            if item.ciphertext.is_empty() {
                user_error = true;
                errors[i] = Some("missing ciphertext to decrypt".into());
                continue;
            }
            if !item.context.is_empty() {
                match gocompat::b64_std(&item.context) {
                    Ok(c) => item.decoded_context = c,
                    Err(e) => {
                        user_error = true;
                        errors[i] = Some(e);
                        continue;
                    }
                }
            }
        }
        let Some(p) = self.get_policy(st, name).await? else {
            return Err(bad("encryption key not found"));
        };
        let mut successes = false;
        let mut results: Vec<Map<String, Value>> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let mut out = Map::new();
            out.insert("plaintext".into(), json!(""));
            if let Some(e) = &errors[i] {
                out.insert("error".into(), json!(e));
                results.push(out);
                continue;
            }
            let aad = if item.associated_data.is_empty() {
                None
            } else if !p.key_type.associated_data_supported() {
                let e = format!(
                    "'[{i}].associated_data' provided for non-AEAD cipher suite {}",
                    p.key_type
                );
                errors[i] = Some(e.clone());
                out.insert("error".into(), json!(e));
                results.push(out);
                continue;
            } else {
                Some(item.associated_data.as_str())
            };
            match p.decrypt(&item.decoded_context, &item.ciphertext, aad) {
                Ok(pt) => {
                    successes = true;
                    out.insert("plaintext".into(), json!(pt));
                }
                Err(e) => {
                    if e.is_internal() {
                        internal_error = true;
                    } else {
                        user_error = true;
                    }
                    errors[i] = Some(e.msg().to_string());
                    out.insert("error".into(), json!(e.msg()));
                }
            }
            results.push(out);
        }
        if batch_raw.is_none() {
            if let Some(e) = &errors[0] {
                if internal_error {
                    return Err(internal(e.clone()));
                }
                return Err(bad(e.clone()));
            }
            return Ok(Response::with_data(sorted(vec![(
                "plaintext",
                results[0].get("plaintext").cloned().unwrap_or_default(),
            )])));
        }
        for (out, item) in results.iter_mut().zip(&items) {
            out.insert("reference".into(), json!(item.reference));
        }
        let data = sorted(vec![("batch_results", items_value(results))]);
        Ok(batch_response(
            req,
            input,
            data,
            successes,
            user_error,
            internal_error,
        ))
    }

    pub(crate) async fn rewrap(&self, st: &StorageView, name: &str, input: &Input) -> HResult {
        let batch_raw = input.value("batch_input").filter(|v| !v.is_null());
        let mut items = match batch_raw {
            Some(raw) => {
                let items = decode_rewrap_items(raw)
                    .map_err(|e| internal(format!("failed to parse batch input: {e}")))?;
                if items.is_empty() {
                    return Err(bad("missing batch input to process"));
                }
                items
            }
            None => {
                let ciphertext = input.str_or("ciphertext", "");
                if ciphertext.is_empty() {
                    return Err(bad("missing ciphertext to decrypt"));
                }
                vec![Item {
                    ciphertext,
                    context: input.str_or("context", ""),
                    key_version: input.int_or("key_version", 0),
                    ..Default::default()
                }]
            }
        };
        let mut errors: Vec<Option<String>> = vec![None; items.len()];
        let context_set = !items[0].context.is_empty();
        for (i, item) in items.iter_mut().enumerate() {
            if item.context.is_empty() == context_set {
                return Err(bad(
                    "context should be set either in all the request blocks or in none",
                ));
            }
            if item.ciphertext.is_empty() {
                errors[i] = Some("missing ciphertext to decrypt".into());
                continue;
            }
            if !item.context.is_empty() {
                match gocompat::b64_std(&item.context) {
                    Ok(c) => item.decoded_context = c,
                    Err(e) => {
                        errors[i] = Some(e);
                        continue;
                    }
                }
            }
        }
        let Some(p) = self.get_policy(st, name).await? else {
            return Err(bad("encryption key not found"));
        };
        let mut results: Vec<Map<String, Value>> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let mut out = Map::new();
            if let Some(e) = &errors[i] {
                out.insert("error".into(), json!(e));
                results.push(out);
                continue;
            }
            let plaintext = match p.decrypt(&item.decoded_context, &item.ciphertext, None) {
                Ok(pt) => Zeroizing::new(pt),
                Err(KeyError::User(e)) => {
                    errors[i] = Some(e.clone());
                    out.insert("error".into(), json!(e));
                    results.push(out);
                    continue;
                }
                Err(e) => return Err(internal(e.msg())),
            };
            match p.encrypt(item.key_version, &item.decoded_context, &plaintext, None) {
                Ok(ct) => {
                    let ver = if item.key_version == 0 {
                        p.latest_version
                    } else {
                        item.key_version
                    };
                    out.insert("ciphertext".into(), json!(ct));
                    out.insert("key_version".into(), json!(ver));
                }
                Err(KeyError::User(e)) => {
                    errors[i] = Some(e.clone());
                    out.insert("error".into(), json!(e));
                }
                Err(e) => return Err(internal(e.msg())),
            }
            results.push(out);
        }
        if batch_raw.is_none() {
            if let Some(e) = &errors[0] {
                return Err(bad(e.clone()));
            }
            let r = &results[0];
            return Ok(Response::with_data(sorted(vec![
                (
                    "ciphertext",
                    r.get("ciphertext").cloned().unwrap_or_default(),
                ),
                (
                    "key_version",
                    r.get("key_version").cloned().unwrap_or_default(),
                ),
            ])));
        }
        for (out, item) in results.iter_mut().zip(&items) {
            out.insert("reference".into(), json!(item.reference));
        }
        Ok(Response::with_data(sorted(vec![(
            "batch_results",
            items_value(results),
        )])))
    }

    pub(crate) async fn datakey(
        &self,
        st: &StorageView,
        kind: &str,
        name: &str,
        input: &Input,
    ) -> HResult {
        let ver = input.int_or("key_version", 0);
        let with_plaintext = match kind {
            "plaintext" => true,
            "wrapped" => false,
            _ => return Err(bad("Invalid path, must be 'plaintext' or 'wrapped'")),
        };
        let raw_context = input.str_or("context", "");
        let context = if raw_context.is_empty() {
            Vec::new()
        } else {
            gocompat::b64_std(&raw_context).map_err(|_| bad("failed to base64-decode context"))?
        };
        let Some(p) = self.get_policy(st, name).await? else {
            return Err(bad("encryption key not found"));
        };
        let len = match input.int_or("bits", 256) {
            512 => 64,
            256 => 32,
            128 => 16,
            _ => return Err(bad("invalid bit length")),
        };
        let new_key = crypto::random_bytes(len);
        let aad = input.str_or("associated_data", "");
        if !aad.is_empty() && !p.key_type.associated_data_supported() {
            return Err(bad(format!(
                "'associated_data' provided for non-AEAD cipher suite {}",
                p.key_type
            )));
        }
        let encoded = Zeroizing::new(gocompat::b64(&new_key));
        let aad = (!aad.is_empty()).then_some(aad.as_str());
        let ciphertext = p
            .encrypt(ver, &context, &encoded, aad)
            .map_err(|e| match e {
                KeyError::User(m) => bad(m),
                other => internal(other.msg()),
            })?;
        let key_version = if ver == 0 { p.latest_version } else { ver };
        let mut d = vec![
            ("ciphertext", json!(ciphertext)),
            ("key_version", json!(key_version)),
        ];
        if with_plaintext {
            d.push(("plaintext", json!(encoded.as_str())));
        }
        Ok(Response::with_data(sorted(d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_items_decode_like_openbao() {
        let items = decode_items(
            &json!([{"plaintext": "aGk=", "context": null, "key_version": 2, "reference": "r"}]),
            true,
            false,
        )
        .expect("decode");
        assert_eq!(items[0].key_version, 2);
        assert_eq!(items[0].reference, "r");
        assert_eq!(
            decode_items(&json!([{"context": "YQ=="}, {}]), false, true).err(),
            Some("'[0].ciphertext' missing ciphertext to decrypt\n'[1].ciphertext' missing ciphertext to decrypt".into())
        );
        assert_eq!(
            decode_items(&json!([{"ciphertext": 5}]), false, true).err(),
            Some(
                "'[0].ciphertext' expected type 'string', got unconvertible type 'json.Number'"
                    .into()
            )
        );
        assert_eq!(
            decode_items(&json!("x"), false, true).err(),
            Some("source data must be an array or slice, got string".into())
        );
        assert_eq!(
            decode_items(
                &json!([{"ciphertext": "c", "key_version": "x"}]),
                false,
                true
            )
            .err(),
            Some("'[0].key_version' expected type 'int', got unconvertible type 'string'".into())
        );
        assert_eq!(
            decode_items(&json!([{"plaintext": null}]), true, false).err(),
            Some("'[0].plaintext' expected type 'string', got unconvertible type '<nil>'".into())
        );
        let r = decode_rewrap_items(&json!([{"ciphertext": 5}])).expect("decode");
        assert_eq!(r[0].ciphertext, "5");
    }
}
