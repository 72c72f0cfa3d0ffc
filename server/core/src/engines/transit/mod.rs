//! The transit secrets engine (`type = "transit"`): encryption as a service
//! with named keys that never leave the server unless made exportable.
//!
//! Paths, fields, response shapes, status codes and messages follow
//! OpenBao 2.7's `builtin/logical/transit`; ciphertexts, signatures, HMACs
//! and backups use its formats (`vault:vN:` + base64), so data moves between
//! OpenBao and Coffer through `backup/NAME` and `restore`.
//!
//! Keys live behind the barrier as one JSON document per key at
//! `policy/NAME` ([`policy::Policy`]); mount-wide settings at `config/keys`
//! and `config/cache`. Writers are serialised per mount.

mod backup;
mod cipher;
mod crypto;
mod gocompat;
mod keys;
mod keytype;
mod misc;
mod policy;
mod sign;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;

use super::kvutil::{self, FieldType, Fields, Schema};
use crate::error::{multierror, CoreError};
use crate::logical::{Backend, Ctx, Data, Operation, RawResponse, Request, Response, StorageView};
use policy::Policy;

pub use keytype::KeyType;

/// The transit backend of one mount.
pub struct Transit {
    /// Serialises writes to key documents (create, rotate, configure, ...).
    write_lock: tokio::sync::Mutex<()>,
}

impl Default for Transit {
    fn default() -> Self {
        Self::new()
    }
}

impl Transit {
    pub fn new() -> Self {
        Transit {
            write_lock: tokio::sync::Mutex::new(()),
        }
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// How a handler fails, in OpenBao's terms.
#[derive(Debug)]
pub(crate) enum Fail {
    /// A core error (storage, not found, ...), passed through.
    Core(CoreError),
    /// `logical.ErrorResponse`: 400 with the message as is.
    Bad(String),
    /// A plain Go error from the handler: 500 with the message in Go's
    /// multi-error form (OpenBao shows it; it never carries key material).
    Internal(String),
}

impl From<CoreError> for Fail {
    fn from(e: CoreError) -> Self {
        Fail::Core(e)
    }
}

pub(crate) type HResult = Result<Response, Fail>;

pub(crate) fn bad(msg: impl Into<String>) -> Fail {
    Fail::Bad(msg.into())
}

pub(crate) fn internal(msg: impl Into<String>) -> Fail {
    Fail::Internal(msg.into())
}

/// Go's `json.Marshal` escapes `<`, `>` and `&` in strings.
fn go_json(v: &Value) -> Vec<u8> {
    let text = serde_json::to_string(v).unwrap_or_default();
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .into_bytes()
}

/// The 500 answer OpenBao gives for a plain handler error.
fn go_500(msg: &str) -> Response {
    let body = serde_json::json!({ "errors": [multierror(&[msg])] });
    let mut bytes = go_json(&body);
    bytes.push(b'\n');
    raw(500, bytes)
}

fn raw(status: u16, body: Vec<u8>) -> Response {
    Response {
        status: Some(status),
        raw: Some(RawResponse {
            status,
            content_type: "application/json".into(),
            body,
        }),
        ..Default::default()
    }
}

/// `logical.RespondWithStatusCode`: the whole envelope frozen into a raw
/// body with another status code (batch requests with failed items).
pub(crate) fn with_status(req: &Request, code: u16, data: Data, warnings: Vec<String>) -> Response {
    let body = serde_json::json!({
        "request_id": req.id,
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "data": Value::Object(data),
        "wrap_info": null,
        "warnings": if warnings.is_empty() { Value::Null } else { serde_json::json!(warnings) },
        "auth": null,
    });
    raw(code, go_json(&body))
}

/// Response data with keys in Go's (sorted) map order.
pub(crate) fn sorted(pairs: Vec<(&str, Value)>) -> Data {
    let m: BTreeMap<String, Value> = pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    m.into_iter().collect()
}

// ---------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------

/// A matched path pattern with its URL captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    KeysList,
    Key(String),
    KeyConfig(String),
    KeyRotate(String),
    KeyTrim(String),
    KeySoftDelete(String),
    KeySoftDeleteRestore(String),
    Encrypt(String),
    Decrypt(String),
    Rewrap(String),
    Datakey {
        kind: String,
        name: String,
    },
    Export {
        kind: String,
        name: String,
        version: String,
    },
    Hmac {
        name: String,
        alg: String,
    },
    Sign {
        name: String,
        alg: String,
    },
    Verify {
        name: String,
        alg: String,
    },
    Random {
        source: String,
        bytes: String,
    },
    Hash {
        alg: String,
    },
    Backup(String),
    Restore(String),
    ConfigKeys,
    CacheConfig,
}

/// `framework.GenericNameRegex`: `\w(([\w-.@]+)?\w)?`.
fn is_name(s: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = s.as_bytes();
    match b {
        [] => false,
        [c] => word(*c),
        [first, mid @ .., last] => {
            word(*first)
                && word(*last)
                && mid
                    .iter()
                    .all(|c| word(*c) || matches!(c, b'-' | b'.' | b'@'))
        }
    }
}

/// A name followed by an optional `/anything` (`OptionalParamRegex`).
fn name_opt(rest: &str) -> Option<(String, String)> {
    let (name, opt) = match rest.split_once('/') {
        Some((n, o)) => {
            if o.is_empty() {
                return None;
            }
            (n, o)
        }
        None => (rest, ""),
    };
    is_name(name).then(|| (name.to_string(), opt.to_string()))
}

impl Route {
    pub(crate) fn parse(path: &str) -> Option<Route> {
        if path == "keys" || path == "keys/" {
            return Some(Route::KeysList);
        }
        if path == "config/keys" {
            return Some(Route::ConfigKeys);
        }
        if path == "cache-config" {
            return Some(Route::CacheConfig);
        }
        if let Some(rest) = path.strip_prefix("keys/") {
            let (name, sub) = match rest.split_once('/') {
                Some((n, s)) => (n, Some(s)),
                None => (rest, None),
            };
            if !is_name(name) {
                return None;
            }
            let name = name.to_string();
            return match sub {
                None => Some(Route::Key(name)),
                Some("config") => Some(Route::KeyConfig(name)),
                Some("rotate") => Some(Route::KeyRotate(name)),
                Some("trim") => Some(Route::KeyTrim(name)),
                Some("soft-delete") => Some(Route::KeySoftDelete(name)),
                Some("soft-delete-restore") => Some(Route::KeySoftDeleteRestore(name)),
                Some(_) => None,
            };
        }
        let single = |rest: &str| is_name(rest).then(|| rest.to_string());
        if let Some(rest) = path.strip_prefix("encrypt/") {
            return single(rest).map(Route::Encrypt);
        }
        if let Some(rest) = path.strip_prefix("decrypt/") {
            return single(rest).map(Route::Decrypt);
        }
        if let Some(rest) = path.strip_prefix("rewrap/") {
            return single(rest).map(Route::Rewrap);
        }
        if let Some(rest) = path.strip_prefix("backup/") {
            return single(rest).map(Route::Backup);
        }
        if let Some(rest) = path.strip_prefix("datakey/") {
            let (kind, name) = rest.split_once('/')?;
            return (is_name(kind) && is_name(name)).then(|| Route::Datakey {
                kind: kind.to_string(),
                name: name.to_string(),
            });
        }
        if let Some(rest) = path.strip_prefix("export/") {
            let (kind, rest) = rest.split_once('/')?;
            if !is_name(kind) {
                return None;
            }
            let (name, version) = name_opt(rest)?;
            return Some(Route::Export {
                kind: kind.to_string(),
                name,
                version,
            });
        }
        for (prefix, make) in [("hmac/", 0u8), ("sign/", 1), ("verify/", 2)] {
            if let Some(rest) = path.strip_prefix(prefix) {
                let (name, alg) = name_opt(rest)?;
                return Some(match make {
                    0 => Route::Hmac { name, alg },
                    1 => Route::Sign { name, alg },
                    _ => Route::Verify { name, alg },
                });
            }
        }
        if path == "hash" {
            return Some(Route::Hash { alg: String::new() });
        }
        if let Some(alg) = path.strip_prefix("hash/") {
            return (!alg.is_empty()).then(|| Route::Hash {
                alg: alg.to_string(),
            });
        }
        if path == "restore" {
            return Some(Route::Restore(String::new()));
        }
        if let Some(name) = path.strip_prefix("restore/") {
            return (!name.is_empty()).then(|| Route::Restore(name.to_string()));
        }
        if path == "random" {
            return Some(Route::Random {
                source: String::new(),
                bytes: String::new(),
            });
        }
        if let Some(rest) = path.strip_prefix("random/") {
            // random(/SOURCE)?(/BYTES)? with SOURCE a name, BYTES anything.
            if rest.is_empty() {
                return None;
            }
            let (first, tail) = match rest.split_once('/') {
                Some((f, t)) => (f, Some(t)),
                None => (rest, None),
            };
            if is_name(first) {
                match tail {
                    None => {
                        return Some(Route::Random {
                            source: first.to_string(),
                            bytes: String::new(),
                        })
                    }
                    Some(t) if !t.is_empty() => {
                        return Some(Route::Random {
                            source: first.to_string(),
                            bytes: t.to_string(),
                        })
                    }
                    Some(_) => {}
                }
            }
            return Some(Route::Random {
                source: String::new(),
                bytes: rest.to_string(),
            });
        }
        None
    }

    fn supports(&self, op: Operation) -> bool {
        use Operation::*;
        let write = matches!(op, Create | Update);
        match self {
            Route::KeysList => op == List,
            Route::Key(_) => write || matches!(op, Read | Delete),
            Route::KeySoftDelete(_) => op == Delete,
            Route::Export { .. } | Route::Backup(_) => op == Read,
            Route::ConfigKeys | Route::CacheConfig => write || op == Read,
            _ => write,
        }
    }

    fn schema(&self) -> Schema {
        use FieldType::*;
        match self {
            Route::KeysList => &[("after", Str), ("limit", Int)],
            Route::Key(_) => &[
                ("name", Str),
                ("type", Str),
                ("derived", Bool),
                ("convergent_encryption", Bool),
                ("exportable", Bool),
                ("allow_plaintext_backup", Bool),
                ("context", Str),
                ("auto_rotate_period", DurationSecond),
                ("key_size", Int),
                ("external_key_ref", Str),
            ],
            Route::KeySoftDelete(_) | Route::KeySoftDeleteRestore(_) | Route::Backup(_) => {
                &[("name", Str)]
            }
            Route::KeyConfig(_) => &[
                ("name", Str),
                ("min_decryption_version", Int),
                ("min_encryption_version", Int),
                ("deletion_allowed", Bool),
                ("exportable", Bool),
                ("allow_plaintext_backup", Bool),
                ("auto_rotate_period", DurationSecond),
            ],
            Route::KeyRotate(_) => &[("name", Str), ("external_key_ref", Str)],
            Route::KeyTrim(_) => &[("name", Str), ("min_available_version", Int)],
            Route::Encrypt(_) => &[
                ("name", Str),
                ("plaintext", Str),
                ("context", Str),
                ("type", Str),
                ("convergent_encryption", Bool),
                ("key_version", Int),
                ("partial_failure_response_code", Int),
                ("associated_data", Str),
            ],
            Route::Decrypt(_) => &[
                ("name", Str),
                ("ciphertext", Str),
                ("context", Str),
                ("partial_failure_response_code", Int),
                ("associated_data", Str),
            ],
            Route::Rewrap(_) => &[
                ("name", Str),
                ("ciphertext", Str),
                ("context", Str),
                ("key_version", Int),
            ],
            Route::Datakey { .. } => &[
                ("name", Str),
                ("plaintext", Str),
                ("context", Str),
                ("bits", Int),
                ("key_version", Int),
                ("associated_data", Str),
            ],
            Route::Export { .. } => &[
                ("type", Str),
                ("name", Str),
                ("version", Str),
                ("format", Str),
            ],
            Route::Hmac { .. } => &[
                ("name", Str),
                ("input", Str),
                ("algorithm", Str),
                ("urlalgorithm", Str),
                ("key_version", Int),
            ],
            Route::Sign { .. } => &[
                ("name", Str),
                ("input", Str),
                ("context", Str),
                ("hash_algorithm", Str),
                ("algorithm", Str),
                ("urlalgorithm", Str),
                ("key_version", Int),
                ("prehashed", Bool),
                ("signature_algorithm", Str),
                ("marshaling_algorithm", Str),
                ("salt_length", Str),
            ],
            Route::Verify { .. } => &[
                ("name", Str),
                ("context", Str),
                ("signature", Str),
                ("hmac", Str),
                ("input", Str),
                ("urlalgorithm", Str),
                ("hash_algorithm", Str),
                ("algorithm", Str),
                ("prehashed", Bool),
                ("signature_algorithm", Str),
                ("marshaling_algorithm", Str),
                ("salt_length", Str),
            ],
            Route::Random { .. } => &[
                ("urlbytes", Str),
                ("bytes", Int),
                ("format", Str),
                ("source", Str),
            ],
            Route::Hash { .. } => &[
                ("input", Str),
                ("algorithm", Str),
                ("urlalgorithm", Str),
                ("format", Str),
            ],
            Route::Restore(_) => &[("backup", Str), ("name", Str), ("force", Bool)],
            Route::ConfigKeys => &[("disable_upsert", Bool)],
            Route::CacheConfig => &[("size", Int)],
        }
    }

    /// Declared fields that are not decoded by the framework (`TypeSlice`).
    fn extra(&self) -> &'static [&'static str] {
        match self {
            Route::Encrypt(_)
            | Route::Decrypt(_)
            | Route::Rewrap(_)
            | Route::Hmac { .. }
            | Route::Sign { .. }
            | Route::Verify { .. } => &["batch_input"],
            _ => &[],
        }
    }

    /// The URL captures, which override body fields of the same name.
    fn captures(&self) -> Vec<(&'static str, String)> {
        match self {
            Route::KeysList | Route::ConfigKeys | Route::CacheConfig => vec![],
            Route::Key(n)
            | Route::KeyConfig(n)
            | Route::KeyRotate(n)
            | Route::KeyTrim(n)
            | Route::KeySoftDelete(n)
            | Route::KeySoftDeleteRestore(n)
            | Route::Encrypt(n)
            | Route::Decrypt(n)
            | Route::Rewrap(n)
            | Route::Backup(n)
            | Route::Restore(n) => vec![("name", n.clone())],
            Route::Datakey { kind, name } => {
                vec![("plaintext", kind.clone()), ("name", name.clone())]
            }
            Route::Export {
                kind,
                name,
                version,
            } => vec![
                ("type", kind.clone()),
                ("name", name.clone()),
                ("version", version.clone()),
            ],
            Route::Hmac { name, alg } | Route::Sign { name, alg } | Route::Verify { name, alg } => {
                vec![("name", name.clone()), ("urlalgorithm", alg.clone())]
            }
            Route::Random { source, bytes } => {
                vec![("source", source.clone()), ("urlbytes", bytes.clone())]
            }
            Route::Hash { alg } => vec![("urlalgorithm", alg.clone())],
        }
    }
}

// ---------------------------------------------------------------------------
// Request fields
// ---------------------------------------------------------------------------

/// A request's fields as OpenBao's framework sees them: the body with URL
/// captures laid over it, read through the path's schema.
pub(crate) struct Input {
    pub raw: Data,
    schema: Schema,
    ignored: Vec<String>,
    replaced: Vec<String>,
}

impl Input {
    fn new(
        req: &Request,
        schema: Schema,
        extra: &[&str],
        captures: Vec<(&'static str, String)>,
    ) -> Input {
        let mut raw = req.data.clone();
        let mut ignored: Vec<String> = req
            .data
            .keys()
            .filter(|k| !schema.iter().any(|(n, _)| n == k) && !extra.contains(&k.as_str()))
            .filter(|k| !(req.operation == Operation::List && k.as_str() == "list"))
            .cloned()
            .collect();
        ignored.sort();
        let mut replaced = Vec::new();
        for (k, v) in captures {
            if raw.get(k).is_some_and(|v| !v.is_null()) {
                replaced.push(k.to_string());
            }
            raw.insert(k.to_string(), Value::String(v));
        }
        replaced.sort();
        Input {
            raw,
            schema,
            ignored,
            replaced,
        }
    }

    fn fields(&self) -> Fields<'_> {
        Fields::new(&self.raw, self.schema)
    }

    /// The framework's field validation.
    fn validate(&self) -> Result<(), String> {
        self.fields().validate()
    }

    /// Whether the field was sent (`GetOk`).
    pub fn has(&self, name: &str) -> bool {
        self.raw.contains_key(name)
    }

    /// The undecoded value.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.raw.get(name)
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.fields().string(name)
    }

    pub fn str_or(&self, name: &str, default: &str) -> String {
        self.string(name).unwrap_or_else(|| default.to_string())
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.fields().int(name)
    }

    pub fn int_or(&self, name: &str, default: i64) -> i64 {
        self.int(name).unwrap_or(default)
    }

    pub fn bool_or(&self, name: &str, default: bool) -> bool {
        self.fields().bool(name).unwrap_or(default)
    }

    pub fn duration(&self, name: &str) -> Option<i64> {
        self.fields().duration(name)
    }

    /// The framework's warnings about ignored and URL-replaced parameters,
    /// on plain responses with content.
    fn add_warnings(&self, resp: &mut Response) {
        if resp.status.is_some() || resp.raw.is_some() || resp.is_empty() {
            return;
        }
        if !self.ignored.is_empty() {
            resp.warnings.push(format!(
                "Endpoint ignored these unrecognized parameters: [{}]",
                self.ignored.join(" ")
            ));
        }
        if !self.replaced.is_empty() {
            resp.warnings.push(format!(
                "Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [{}]",
                self.replaced.join(" ")
            ));
        }
    }
}

// ---------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------

const POLICY_PREFIX: &str = "policy/";

pub(crate) async fn load(st: &StorageView, name: &str) -> Result<Option<Policy>, CoreError> {
    st.get_json(&format!("{POLICY_PREFIX}{name}")).await
}

/// `Persist`: the sanity checks (their failure is a plain error), then the write.
pub(crate) async fn persist(st: &StorageView, p: &mut Policy) -> Result<(), Fail> {
    p.prepare_persist().map_err(internal)?;
    st.put_json(&format!("{POLICY_PREFIX}{}", p.name), p)
        .await?;
    Ok(())
}

impl Transit {
    /// Loads a key, rotating it first when its auto-rotate period has passed
    /// (OpenBao rotates from a periodic task; Coffer on first use after the
    /// due time, which callers cannot tell apart).
    pub(crate) async fn get_policy(
        &self,
        st: &StorageView,
        name: &str,
    ) -> Result<Option<Policy>, Fail> {
        let Some(p) = load(st, name).await? else {
            return Ok(None);
        };
        if !p.rotation_due(chrono::Utc::now()) {
            return Ok(Some(p));
        }
        let _g = self.write_lock.lock().await;
        load_rotated(st, name).await
    }
}

/// [`Transit::get_policy`] for callers that hold the write lock.
pub(crate) async fn load_rotated(st: &StorageView, name: &str) -> Result<Option<Policy>, Fail> {
    let Some(mut p) = load(st, name).await? else {
        return Ok(None);
    };
    if p.rotation_due(chrono::Utc::now()) {
        let before = p.clone();
        if p.rotate().is_ok() {
            if let Err(e) = persist(st, &mut p).await {
                tracing::warn!(key = %name, "automatic rotation failed: {e:?}");
                return Ok(Some(before));
            }
        }
    }
    Ok(Some(p))
}

// ---------------------------------------------------------------------------
// Backend
// ---------------------------------------------------------------------------

#[async_trait]
impl Backend for Transit {
    async fn existence(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Option<bool>, CoreError> {
        let Some(route) = Route::parse(ctx.path) else {
            return Ok(None);
        };
        let Route::Encrypt(name) = &route else {
            return Ok(None);
        };
        let input = Input::new(req, route.schema(), route.extra(), route.captures());
        input.validate().map_err(CoreError::InvalidRequest)?;
        Ok(Some(load(ctx.storage, name).await?.is_some()))
    }

    async fn handle(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
        let path = kvutil::routed_path(req.operation, ctx.path);
        let Some(route) = Route::parse(&path) else {
            return Err(CoreError::UnsupportedPath);
        };
        if !route.supports(req.operation) {
            return Err(CoreError::UnsupportedOperation);
        }
        let input = Input::new(req, route.schema(), route.extra(), route.captures());
        if let Err(e) = input.validate() {
            return Err(CoreError::InvalidRequest(format!(
                "Field validation failed: {e}"
            )));
        }
        match self.dispatch(ctx, req, &route, &input).await {
            Ok(mut resp) => {
                input.add_warnings(&mut resp);
                Ok(resp)
            }
            Err(Fail::Core(e)) => Err(e),
            Err(Fail::Bad(m)) => Err(CoreError::InvalidRequest(m)),
            Err(Fail::Internal(m)) => Ok(go_500(&m)),
        }
    }
}

impl Transit {
    async fn dispatch(
        &self,
        ctx: &Ctx<'_>,
        req: &Request,
        route: &Route,
        input: &Input,
    ) -> HResult {
        use Operation::*;
        let st = ctx.storage;
        match (route, req.operation) {
            (Route::KeysList, _) => keys::list(st, input).await,
            (Route::Key(n), Read) => self.key_read(st, n, input).await,
            (Route::Key(n), Delete) => self.key_delete(st, n).await,
            (Route::Key(n), _) => self.key_write(st, n, input).await,
            (Route::KeyConfig(n), _) => self.key_config(st, n, input).await,
            (Route::KeyRotate(n), _) => self.key_rotate(st, n, input).await,
            (Route::KeyTrim(n), _) => self.key_trim(st, n, input).await,
            (Route::KeySoftDelete(n), _) => self.key_soft_delete(st, n, true).await,
            (Route::KeySoftDeleteRestore(n), _) => self.key_soft_delete(st, n, false).await,
            (
                Route::Export {
                    kind,
                    name,
                    version,
                },
                _,
            ) => self.export(st, kind, name, version, input).await,
            (Route::Backup(n), _) => self.backup(st, n).await,
            (Route::Restore(n), _) => self.restore(st, n, input).await,
            (Route::ConfigKeys, Read) => keys::config_keys_read(st).await,
            (Route::ConfigKeys, _) => keys::config_keys_write(st, input).await,
            (Route::CacheConfig, Read) => keys::cache_config_read(st).await,
            (Route::CacheConfig, _) => keys::cache_config_write(st, input).await,
            (Route::Encrypt(n), op) => self.encrypt(st, req, n, op == Create, input).await,
            (Route::Decrypt(n), _) => self.decrypt(st, req, n, input).await,
            (Route::Rewrap(n), _) => self.rewrap(st, n, input).await,
            (Route::Datakey { kind, name }, _) => self.datakey(st, kind, name, input).await,
            (Route::Hmac { name, .. }, _) => self.hmac(st, name, input).await,
            (Route::Sign { name, .. }, _) => self.sign(st, name, input).await,
            (Route::Verify { name, .. }, _) => self.verify(st, name, input).await,
            (Route::Random { .. }, _) => misc::random(input),
            (Route::Hash { .. }, _) => misc::hash(input),
        }
    }
}

#[cfg(test)]
mod route_tests {
    use super::*;

    #[test]
    fn names_follow_generic_name_regex() {
        for ok in ["a", "k1", "my-key", "a.b@c", "A_b"] {
            assert!(is_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a/b", "a b", ".", "é"] {
            assert!(!is_name(bad), "{bad}");
        }
    }

    #[test]
    fn paths_route_like_openbao() {
        assert_eq!(Route::parse("keys"), Some(Route::KeysList));
        assert_eq!(Route::parse("keys/"), Some(Route::KeysList));
        assert_eq!(Route::parse("keys/k"), Some(Route::Key("k".into())));
        assert_eq!(
            Route::parse("keys/k/rotate"),
            Some(Route::KeyRotate("k".into()))
        );
        assert_eq!(Route::parse("keys/k/other"), None);
        assert_eq!(Route::parse("keys/k/"), None);
        assert_eq!(
            Route::parse("datakey/wrapped/k"),
            Some(Route::Datakey {
                kind: "wrapped".into(),
                name: "k".into()
            })
        );
        assert_eq!(Route::parse("datakey/wrapped"), None);
        assert_eq!(
            Route::parse("export/signing-key/k/v2"),
            Some(Route::Export {
                kind: "signing-key".into(),
                name: "k".into(),
                version: "v2".into()
            })
        );
        assert_eq!(
            Route::parse("hmac/k/sha2-512"),
            Some(Route::Hmac {
                name: "k".into(),
                alg: "sha2-512".into()
            })
        );
        assert_eq!(
            Route::parse("random/8"),
            Some(Route::Random {
                source: "8".into(),
                bytes: String::new()
            })
        );
        assert_eq!(
            Route::parse("random/seal/4"),
            Some(Route::Random {
                source: "seal".into(),
                bytes: "4".into()
            })
        );
        assert_eq!(
            Route::parse("random/-x"),
            Some(Route::Random {
                source: String::new(),
                bytes: "-x".into()
            })
        );
        assert_eq!(
            Route::parse("restore/a/b"),
            Some(Route::Restore("a/b".into()))
        );
        assert_eq!(
            Route::parse("hash"),
            Some(Route::Hash { alg: String::new() })
        );
        assert_eq!(Route::parse("encrypt/"), None);
        assert_eq!(Route::parse(""), None);
    }
}
