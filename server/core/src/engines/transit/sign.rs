//! `hmac/`, `sign/` and `verify/` (signatures and HMACs).

use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use super::crypto::{self, HashAlg, PSS_SALT_AUTO, PSS_SALT_EQUALS_HASH};
use super::gocompat;
use super::keytype::KeyType;
use super::policy::{KeyError, Policy, ERR_SOFT_DELETED, ERR_TOO_OLD};
use super::{bad, internal, sorted, HResult, Input, Transit};
use crate::engines::kvutil::go_type;
use crate::logical::{Response, StorageView};

/// `marshaling_algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marshaling {
    Asn1,
    Jws,
}

/// A signature and, for derived Ed25519 keys, the derived public key.
pub(crate) struct Signed {
    pub signature: String,
    pub public_key: Option<Vec<u8>>,
}

/// What `sign` and `verify` were asked to use.
pub(crate) struct SignOpts {
    pub hash: HashAlg,
    pub marshaling: Marshaling,
    pub salt: i64,
    pub sig_alg: String,
}

impl Policy {
    fn valid_salt(bits: usize, hash: HashAlg, salt: i64) -> bool {
        (PSS_SALT_EQUALS_HASH..=crypto::pss_max_salt(bits, hash)).contains(&salt)
    }

    /// `SignWithOptions`; `input` is already hashed where the type wants it.
    pub(crate) fn sign(
        &self,
        ver: i64,
        context: &[u8],
        input: &[u8],
        o: &SignOpts,
    ) -> Result<Signed, KeyError> {
        if self.soft_deleted {
            return Err(KeyError::user(ERR_SOFT_DELETED));
        }
        let kt = self.key_type;
        if !kt.signing_supported() {
            return Err(KeyError::other(format!(
                "message signing not supported for key type {kt}"
            )));
        }
        let ver = match ver {
            0 => self.latest_version,
            v if v < 0 => return Err(KeyError::user("requested version for signing is negative")),
            v if v > self.latest_version => {
                return Err(KeyError::user(
                    "requested version for signing is higher than the latest key version",
                ))
            }
            v if self.min_encryption_version > 0 && v < self.min_encryption_version => {
                return Err(KeyError::user(
                    "requested version for signing is less than the minimum encryption key version",
                ))
            }
            v => v,
        };
        let entry = self.entry(ver)?;
        if entry.private_missing() {
            return Err(KeyError::user(
                "requested version for signing does not contain a private part",
            ));
        }
        let mut public_key = None;
        let sig = if kt.is_ecdsa() {
            let (r, s) = crypto::ec_sign(kt, &entry.ec_d, input).map_err(KeyError::Other)?;
            match o.marshaling {
                Marshaling::Asn1 => crypto::ecdsa_der(&r, &s),
                Marshaling::Jws => {
                    let n = kt.curve_bytes();
                    let mut sig = crypto::pad(&r, n);
                    sig.extend(crypto::pad(&s, n));
                    sig
                }
            }
        } else if kt == KeyType::Ed25519 {
            let key = if self.derived {
                let k = self
                    .get_key(context, ver, 32)
                    .map_err(|e| KeyError::internal(format!("error deriving key: {}", e.msg())))?;
                public_key = Some(k[32..].to_vec());
                k
            } else {
                Zeroizing::new(entry.key.clone())
            };
            crypto::ed25519_sign(&key, input).map_err(KeyError::Other)?
        } else {
            let key = crypto::rsa_private(&entry.rsa_key).map_err(KeyError::Other)?;
            match o.sig_alg.as_str() {
                "" | "pss" => {
                    if !Self::valid_salt(crypto::rsa_bits(&key.to_public_key()), o.hash, o.salt) {
                        return Err(KeyError::user(format!(
                            "requested salt length {} is invalid",
                            o.salt
                        )));
                    }
                    crypto::rsa_sign_pss(&key, o.hash, input, o.salt).map_err(KeyError::Other)?
                }
                "pkcs1v15" => {
                    crypto::rsa_sign_pkcs1v15(&key, o.hash, input).map_err(KeyError::Other)?
                }
                other => {
                    return Err(KeyError::internal(format!(
                        "unsupported rsa signature algorithm {other}"
                    )))
                }
            }
        };
        let encoded = match o.marshaling {
            Marshaling::Asn1 => gocompat::b64(&sig),
            Marshaling::Jws => gocompat::b64_url(&sig),
        };
        Ok(Signed {
            signature: format!("{}{}", self.version_prefix(ver), encoded),
            public_key,
        })
    }

    /// `VerifySignatureWithOptions`.
    pub(crate) fn verify_signature(
        &self,
        context: &[u8],
        input: &[u8],
        sig: &str,
        o: &SignOpts,
    ) -> Result<bool, KeyError> {
        if self.soft_deleted {
            return Err(KeyError::user(ERR_SOFT_DELETED));
        }
        let kt = self.key_type;
        if !kt.signing_supported() {
            return Err(KeyError::user(format!(
                "message verification not supported for key type {kt}"
            )));
        }
        let (ver, body) = self.split_versioned(sig, "signature")?;
        if ver > self.latest_version {
            return Err(KeyError::user("invalid signature: version is too new"));
        }
        if self.min_decryption_version > 0 && ver < self.min_decryption_version {
            return Err(KeyError::user(ERR_TOO_OLD));
        }
        let sig = match o.marshaling {
            Marshaling::Asn1 => gocompat::b64_std(body),
            Marshaling::Jws => gocompat::b64_raw_url(body),
        }
        .map_err(|_| KeyError::user("invalid base64 signature value"))?;
        if kt.is_ecdsa() {
            let (r, s) = match o.marshaling {
                Marshaling::Asn1 => {
                    let (r, s, negative) = crypto::ecdsa_parse_der(&sig).map_err(|e| match e {
                        crypto::Asn1SigError::Invalid => {
                            KeyError::user("supplied signature is invalid")
                        }
                        crypto::Asn1SigError::ExtraData => {
                            KeyError::user("supplied signature contains extra data")
                        }
                    })?;
                    if negative {
                        self.entry(ver)?;
                        return Ok(false);
                    }
                    (r, s)
                }
                Marshaling::Jws => {
                    let half = sig.len() / 2;
                    (sig[..half].to_vec(), sig[half..].to_vec())
                }
            };
            let entry = self.entry(ver)?;
            return Ok(crypto::ec_verify(
                kt,
                &entry.ec_x,
                &entry.ec_y,
                input,
                &r,
                &s,
            ));
        }
        if kt == KeyType::Ed25519 {
            let public = if self.derived {
                let k = self
                    .get_key(context, ver, 32)
                    .map_err(|e| KeyError::internal(format!("error deriving key: {}", e.msg())))?;
                k[32..].to_vec()
            } else {
                let entry = self.entry(ver)?;
                gocompat::b64_std(&entry.public_key).map_err(KeyError::Other)?
            };
            return Ok(crypto::ed25519_verify(&public, input, &sig));
        }
        let entry = self.entry(ver)?;
        let public = entry.rsa_public().map_err(KeyError::Other)?;
        match o.sig_alg.as_str() {
            "" | "pss" => {
                if !Self::valid_salt(crypto::rsa_bits(&public), o.hash, o.salt) {
                    return Err(KeyError::user(format!(
                        "requested salt length {} is invalid",
                        o.salt
                    )));
                }
                Ok(crypto::rsa_verify_pss(&public, o.hash, input, &sig, o.salt))
            }
            "pkcs1v15" => Ok(crypto::rsa_verify_pkcs1v15(&public, o.hash, input, &sig)),
            other => Err(KeyError::internal(format!(
                "unsupported rsa signature algorithm {other}"
            ))),
        }
    }
}

/// A batch item decoded into `map[string]string` by mapstructure.
type MapItem = Map<String, Value>;

/// `mapstructure.Decode(batch_input, &[]map[string]string)`.
fn decode_map_items(raw: &Value, type_name: &str) -> Result<Vec<Option<MapItem>>, String> {
    let Value::Array(list) = raw else {
        return Err(format!(
            "'' source data must be an array or slice, got {}",
            match raw {
                Value::Bool(_) => "bool",
                Value::Object(_) => "map",
                _ => "string",
            }
        ));
    };
    let mut out = Vec::with_capacity(list.len());
    let mut errs = Vec::new();
    for (i, v) in list.iter().enumerate() {
        match v {
            Value::Null => out.push(None),
            Value::Object(m) => {
                let mut item = Map::new();
                for (k, v) in m {
                    match v {
                        Value::Null => {
                            item.insert(k.clone(), json!(""));
                        }
                        Value::String(s) => {
                            item.insert(k.clone(), json!(s));
                        }
                        Value::Number(n) => {
                            item.insert(k.clone(), json!(n.to_string()));
                        }
                        other => errs.push(format!(
                            "'[{i}][{k}]' expected type 'string', got unconvertible type '{}'",
                            go_type(other)
                        )),
                    }
                }
                out.push(Some(item));
            }
            other => errs.push(format!(
                "'[{i}]' expected type '{type_name}', got unconvertible type '{}'",
                go_type(other)
            )),
        }
    }
    if !errs.is_empty() {
        return Err(format!(
            "decoding failed due to the following error(s):\n\n{}",
            errs.join("\n")
        ));
    }
    Ok(out)
}

fn get<'a>(item: &'a Option<MapItem>, key: &str) -> Option<&'a str> {
    item.as_ref()?.get(key)?.as_str()
}

/// `urlalgorithm`, else `hash_algorithm`, else `algorithm`, else sha2-256.
fn hash_algorithm_name(input: &Input) -> String {
    let mut name = input.str_or("urlalgorithm", "");
    if name.is_empty() {
        name = input.str_or("hash_algorithm", "sha2-256");
        if name.is_empty() {
            name = input.str_or("algorithm", "sha2-256");
            if name.is_empty() {
                name = "sha2-256".into();
            }
        }
    }
    name
}

/// `getSaltLength`.
fn salt_length(input: &Input) -> Result<i64, String> {
    if !input.has("salt_length") {
        return Ok(PSS_SALT_AUTO);
    }
    let raw = input.str_or("salt_length", "auto");
    match raw.to_lowercase().as_str() {
        "auto" => Ok(PSS_SALT_AUTO),
        "hash" => Ok(PSS_SALT_EQUALS_HASH),
        s => {
            let n = gocompat::atoi(s)
                .map_err(|_| format!("salt length neither 'auto', 'hash', nor an int: {raw}"))?;
            if n < PSS_SALT_EQUALS_HASH {
                return Err(format!("salt length is invalid: {n}"));
            }
            Ok(n)
        }
    }
}

/// The common option parsing of `sign` and `verify`.
fn sign_opts(input: &Input) -> Result<(SignOpts, bool), super::Fail> {
    let name = hash_algorithm_name(input);
    let Some(hash) = HashAlg::parse(&name) else {
        return Err(bad(format!("invalid hash algorithm {name:?}")));
    };
    let marshaling_name = input.str_or("marshaling_algorithm", "asn1");
    let marshaling = match marshaling_name.as_str() {
        "asn1" => Marshaling::Asn1,
        "jws" => Marshaling::Jws,
        other => return Err(bad(format!("invalid marshaling type {other:?}"))),
    };
    let prehashed = input.bool_or("prehashed", false);
    let sig_alg = input.str_or("signature_algorithm", "");
    let salt = salt_length(input).map_err(bad)?;
    Ok((
        SignOpts {
            hash,
            marshaling,
            salt,
            sig_alg,
        },
        prehashed,
    ))
}

fn batch(input: &Input, type_name: &str) -> Result<Option<Vec<Option<MapItem>>>, super::Fail> {
    let Some(raw) = input.value("batch_input").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let items = decode_map_items(raw, type_name)
        .map_err(|e| internal(format!("failed to parse batch input: {e}")))?;
    if items.is_empty() {
        return Err(bad("missing batch input to process"));
    }
    Ok(Some(items))
}

fn with_references(results: Vec<Map<String, Value>>, items: &[Option<MapItem>]) -> Response {
    let list: Vec<Value> = results
        .into_iter()
        .zip(items)
        .map(|(mut out, item)| {
            out.insert(
                "reference".into(),
                json!(get(item, "reference").unwrap_or("")),
            );
            Value::Object(out)
        })
        .collect();
    Response::with_data(sorted(vec![("batch_results", Value::Array(list))]))
}

/// A per-item failure: the message, and whether it is a request error.
type ItemError = (String, bool);

impl Transit {
    pub(crate) async fn hmac(&self, st: &StorageView, name: &str, input: &Input) -> HResult {
        let mut ver = input.int_or("key_version", 0);
        let mut algorithm = input.str_or("urlalgorithm", "");
        if algorithm.is_empty() {
            algorithm = input.str_or("algorithm", "sha2-256");
        }
        let Some(p) = self.get_policy(st, name).await? else {
            return Err(bad("encryption key not found"));
        };
        if ver == 0 {
            ver = p.latest_version;
        } else if ver != p.latest_version
            && p.min_encryption_version > 0
            && ver < p.min_encryption_version
        {
            return Err(bad(
                "cannot generate HMAC: version is too old (disallowed by policy)",
            ));
        }
        let key = p.hmac_key(ver).map_err(|e| bad(e.msg()))?;
        let Some(hash) = HashAlg::parse(&algorithm) else {
            return Err(bad("unsupported algorithm '\\x00'"));
        };
        if hash == HashAlg::None {
            return Err(bad("algorithm cannot be none"));
        }
        let items = batch(input, "transit.batchRequestHMACItem")?;
        let single = items.is_none();
        let items = items.unwrap_or_else(|| {
            let mut m = Map::new();
            if input.has("input") {
                m.insert("input".into(), json!(input.str_or("input", "")));
            }
            vec![Some(m)]
        });
        let mut results = Vec::with_capacity(items.len());
        for item in &items {
            let mut out = Map::new();
            match hmac_one(&key, hash, get(item, "input")) {
                Ok(h) => {
                    out.insert("hmac".into(), json!(format!("vault:v{ver}:{h}")));
                }
                Err(e) => {
                    if single {
                        return Err(bad(e));
                    }
                    out.insert("error".into(), json!(e));
                }
            }
            results.push(out);
        }
        if single {
            return Ok(Response::with_data(sorted(vec![(
                "hmac",
                results[0].get("hmac").cloned().unwrap_or_default(),
            )])));
        }
        Ok(with_references(results, &items))
    }

    pub(crate) async fn sign(&self, st: &StorageView, name: &str, input: &Input) -> HResult {
        let ver = input.int_or("key_version", 0);
        let (opts, prehashed) = sign_opts(input)?;
        let Some(p) = self.get_policy(st, name).await? else {
            return Err(bad("signing key not found"));
        };
        if !p.key_type.signing_supported() {
            return Err(bad(format!(
                "key type {} does not support signing",
                p.key_type
            )));
        }
        if opts.hash == HashAlg::None && (!prehashed || opts.sig_alg != "pkcs1v15") {
            return Err(bad(
                "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15",
            ));
        }
        let items = batch(input, "transit.batchRequestSignItem")?;
        let single = items.is_none();
        let items = items.unwrap_or_else(|| {
            let mut m = Map::new();
            m.insert("input".into(), json!(input.str_or("input", "")));
            m.insert("context".into(), json!(input.str_or("context", "")));
            vec![Some(m)]
        });
        let mut results = Vec::with_capacity(items.len());
        for item in &items {
            let mut out = Map::new();
            let outcome: Result<Signed, ItemError> = (|| {
                let raw = get(item, "input").ok_or(("missing input".to_string(), true))?;
                let mut data = gocompat::b64_std(raw)
                    .map_err(|e| (format!("unable to decode input as base64: {e}"), true))?;
                if p.key_type.hash_signature_input() && !prehashed {
                    if let Some(d) = opts.hash.digest(&data) {
                        data = d;
                    }
                }
                let context = match get(item, "context").unwrap_or("") {
                    "" => Vec::new(),
                    c => gocompat::b64_std(c)
                        .map_err(|_| ("failed to base64-decode context".to_string(), true))?,
                };
                p.sign(ver, &context, &data, &opts)
                    .map_err(|e| (e.msg().to_string(), false))
            })();
            match outcome {
                Ok(s) => {
                    out.insert("signature".into(), json!(s.signature));
                    out.insert(
                        "key_version".into(),
                        json!(if ver == 0 { p.latest_version } else { ver }),
                    );
                    if let Some(pk) = s.public_key {
                        out.insert("publickey".into(), json!(gocompat::b64(&pk)));
                    }
                }
                Err((e, request_error)) => {
                    if single {
                        return Err(if request_error { bad(e) } else { internal(e) });
                    }
                    out.insert("key_version".into(), json!(0));
                    out.insert("error".into(), json!(e));
                }
            }
            results.push(out);
        }
        if single {
            let r = &results[0];
            let mut d = vec![
                ("signature", r.get("signature").cloned().unwrap_or_default()),
                (
                    "key_version",
                    r.get("key_version").cloned().unwrap_or_default(),
                ),
            ];
            if let Some(pk) = r.get("publickey") {
                d.push(("public_key", pk.clone()));
            }
            return Ok(Response::with_data(sorted(d)));
        }
        Ok(with_references(results, &items))
    }

    pub(crate) async fn verify(&self, st: &StorageView, name: &str, input: &Input) -> HResult {
        let items = batch(input, "transit.batchRequestVerifyItem")?;
        let single = items.is_none();
        let items = items.unwrap_or_else(|| {
            let mut m = Map::new();
            m.insert("input".into(), json!(input.str_or("input", "")));
            if input.has("signature") {
                m.insert("signature".into(), json!(input.str_or("signature", "")));
            }
            if input.has("hmac") {
                m.insert("hmac".into(), json!(input.str_or("hmac", "")));
            }
            m.insert("context".into(), json!(input.str_or("context", "")));
            vec![Some(m)]
        });
        let (mut sig_found, mut hmac_found, mut missing) = (false, false, false);
        for item in &items {
            if get(item, "signature").is_some() {
                sig_found = true;
            } else if get(item, "hmac").is_some() {
                hmac_found = true;
            } else {
                missing = true;
            }
        }
        let err = if single && sig_found && hmac_found {
            Some("provide one of 'signature' or 'hmac'")
        } else if single && !sig_found && !hmac_found {
            Some("neither a 'signature' nor an 'hmac' were given to verify")
        } else if sig_found && hmac_found {
            Some("elements of batch_input must all provide 'signature' or all provide 'hmac'")
        } else if missing && sig_found {
            Some("some elements of batch_input are missing 'signature'")
        } else if missing && hmac_found {
            Some("some elements of batch_input are missing 'hmac'")
        } else if missing {
            Some("no batch_input elements have 'signature' or 'hmac'")
        } else {
            None
        };
        if let Some(e) = err {
            return Err(bad(e));
        }
        if hmac_found {
            return self.verify_hmac(st, name, input, items, single).await;
        }
        let (opts, prehashed) = sign_opts(input)?;
        let Some(p) = self.get_policy(st, name).await? else {
            return Err(bad("signature verification key not found"));
        };
        if !p.key_type.signing_supported() {
            return Err(bad(format!(
                "key type {} does not support verification",
                p.key_type
            )));
        }
        if opts.hash == HashAlg::None && (!prehashed || opts.sig_alg != "pkcs1v15") {
            return Err(bad(
                "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15",
            ));
        }
        let mut results = Vec::with_capacity(items.len());
        for item in &items {
            let mut out = Map::new();
            let outcome: Result<bool, ItemError> = (|| {
                let raw = get(item, "input").ok_or(("missing input".to_string(), true))?;
                let mut data = gocompat::b64_std(raw)
                    .map_err(|e| (format!("unable to decode input as base64: {e}"), true))?;
                let sig = get(item, "signature").ok_or(("missing signature".to_string(), true))?;
                if p.key_type.hash_signature_input() && !prehashed {
                    if let Some(d) = opts.hash.digest(&data) {
                        data = d;
                    }
                }
                let context = match get(item, "context").unwrap_or("") {
                    "" => Vec::new(),
                    c => gocompat::b64_std(c)
                        .map_err(|_| ("failed to base64-decode context".to_string(), true))?,
                };
                p.verify_signature(&context, &data, sig, &opts)
                    .map_err(|e| (e.msg().to_string(), e.is_user()))
            })();
            match outcome {
                Ok(valid) => {
                    out.insert("valid".into(), json!(valid));
                }
                Err((e, request_error)) => {
                    if single {
                        return Err(if request_error { bad(e) } else { internal(e) });
                    }
                    out.insert("valid".into(), json!(false));
                    out.insert("error".into(), json!(e));
                }
            }
            results.push(out);
        }
        if single {
            return Ok(Response::with_data(sorted(vec![(
                "valid",
                results[0].get("valid").cloned().unwrap_or(json!(false)),
            )])));
        }
        Ok(with_references(results, &items))
    }

    async fn verify_hmac(
        &self,
        st: &StorageView,
        name: &str,
        input: &Input,
        items: Vec<Option<MapItem>>,
        single: bool,
    ) -> HResult {
        let algorithm = hash_algorithm_name(input);
        let Some(p) = self.get_policy(st, name).await? else {
            return Err(bad("encryption key not found"));
        };
        let Some(hash) = HashAlg::parse(&algorithm) else {
            return Err(bad(format!("invalid hash algorithm {algorithm:?}")));
        };
        if hash == HashAlg::None {
            return Err(bad("algorithm cannot be none"));
        }
        let mut results = Vec::with_capacity(items.len());
        for item in &items {
            let mut out = Map::new();
            match verify_hmac_one(&p, hash, item) {
                Ok(valid) => {
                    if valid {
                        out.insert("valid".into(), json!(true));
                    }
                }
                Err(e) => {
                    if single {
                        return Err(bad(e));
                    }
                    out.insert("error".into(), json!(e));
                }
            }
            results.push(out);
        }
        if single {
            return Ok(Response::with_data(sorted(vec![(
                "valid",
                json!(results[0].contains_key("valid")),
            )])));
        }
        Ok(with_references(results, &items))
    }
}

fn hmac_one(key: &[u8], hash: HashAlg, input: Option<&str>) -> Result<String, String> {
    let raw = input.ok_or("missing input for HMAC")?;
    let data =
        gocompat::b64_std(raw).map_err(|e| format!("unable to decode input as base64: {e}"))?;
    let sum = hash.hmac(key, &data).ok_or("algorithm cannot be none")?;
    Ok(gocompat::b64(&sum))
}

fn verify_hmac_one(p: &Policy, hash: HashAlg, item: &Option<MapItem>) -> Result<bool, String> {
    let raw = get(item, "input").ok_or("missing input")?;
    let data =
        gocompat::b64_std(raw).map_err(|e| format!("unable to decode input as base64: {e}"))?;
    let given = get(item, "hmac").ok_or("missing hmac")?;
    let Some(rest) = given.strip_prefix("vault:v") else {
        return Err("invalid HMAC to verify: no prefix".into());
    };
    let Some((ver, body)) = rest.split_once(':') else {
        return Err("invalid HMAC: wrong number of fields".into());
    };
    let ver =
        gocompat::atoi(ver).map_err(|_| "invalid HMAC: version number could not be decoded")?;
    let expected = gocompat::b64_std(body)
        .map_err(|e| format!("unable to decode verification HMAC as base64: {e}"))?;
    if ver > p.latest_version {
        return Err("invalid HMAC: version is too new".into());
    }
    if p.min_decryption_version > 0 && ver < p.min_decryption_version {
        return Err("cannot verify HMAC: version is too old (disallowed by policy)".into());
    }
    let key = p.hmac_key(ver).map_err(|e| e.msg().to_string())?;
    let sum = hash.hmac(&key, &data).unwrap_or_default();
    Ok(crypto::ct_eq(&sum, &expected))
}
