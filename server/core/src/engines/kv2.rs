//! KV version 2 (`type kv`, `options.version = "2"`): versioned secrets.
//!
//! Paths, relative to the mount, as in OpenBao:
//! - `config`: mount-wide `max_versions`, `cas_required`,
//!   `metadata_cas_required`, `delete_version_after`
//! - `data/P`: read (`?version=N`), write (`{"data":{..},"options":{"cas":N}}`),
//!   PATCH (JSON merge patch of the latest version), delete (soft-deletes the
//!   latest version)
//! - `metadata/P`: read, write, PATCH, delete (every version), list
//! - `detailed-metadata/P`: list with each key's metadata
//! - `delete/P`, `undelete/P`, `destroy/P`: `{"versions":[..]}`
//! - `subkeys/P`: the secret's structure without values (`?depth=N`)
//!
//! Anything else answers 404 with OpenBao's warning. A deleted or destroyed
//! version reads as 404 with the full envelope (`data.data` null, metadata
//! filled).

mod store;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{json, Map, Value};

use super::kvutil::{self, FieldType, Fields, Schema};
use crate::error::{multierror, CoreError};
use crate::logical::{Backend, Ctx, Operation, Request, Response};
use store::{Config, KeyMetadata, Store, VersionData, VersionMeta};

const DATA_FIELDS: Schema = &[
    ("data", FieldType::Map),
    ("options", FieldType::Map),
    ("path", FieldType::Str),
    ("version", FieldType::Int),
];
const METADATA_FIELDS: Schema = &[
    ("after", FieldType::Str),
    ("cas_required", FieldType::Bool),
    ("custom_metadata", FieldType::Map),
    ("delete_version_after", FieldType::DurationSecond),
    ("limit", FieldType::Int),
    ("max_versions", FieldType::Int),
    ("metadata_cas", FieldType::Int),
    ("metadata_cas_required", FieldType::Bool),
    ("path", FieldType::Str),
];
const DETAILED_METADATA_FIELDS: Schema = &[
    ("after", FieldType::Str),
    ("limit", FieldType::Int),
    ("path", FieldType::Str),
];
const VERSIONS_FIELDS: Schema = &[
    ("path", FieldType::Str),
    ("versions", FieldType::CommaIntSlice),
];
const SUBKEYS_FIELDS: Schema = &[
    ("depth", FieldType::Int),
    ("path", FieldType::Str),
    ("version", FieldType::Int),
];
const CONFIG_FIELDS: Schema = &[
    ("cas_required", FieldType::Bool),
    ("delete_version_after", FieldType::SignedDurationSecond),
    ("max_versions", FieldType::Int),
    ("metadata_cas_required", FieldType::Bool),
];
const NO_FIELDS: Schema = &[];

/// Metadata fields a PATCH of `metadata/P` may change.
const PATCHABLE_METADATA: &[&str] = &[
    "max_versions",
    "cas_required",
    "metadata_cas_required",
    "delete_version_after",
    "custom_metadata",
];

const MAX_CUSTOM_METADATA_KEYS: usize = 64;
const MAX_CUSTOM_METADATA_KEY_LEN: usize = 128;
const MAX_CUSTOM_METADATA_VALUE_LEN: usize = 512;
const CUSTOM_METADATA_PREFIX: &str = "custom_metadata validation failed";

/// KV v2 errors.
#[derive(Debug, thiserror::Error)]
pub enum Kv2Error {
    #[error("missing path")]
    MissingPath,
    #[error("no data provided")]
    NoData,
    #[error("error parsing check-and-set parameter")]
    CasParse,
    #[error("check-and-set parameter did not match the current version")]
    CasMismatch,
    #[error("check-and-set parameter required for this call")]
    CasRequired,
    #[error("metadata check-and-set parameter required for this call")]
    MetadataCasRequired,
    #[error("metadata check-and-set parameter does not match the current version")]
    MetadataCasMismatch,
    #[error("metadata_cas must be 0 when creating new metadata")]
    MetadataCasNotZero,
    /// `delete/` and `undelete/` without versions.
    #[error("No version number provided")]
    NoVersions,
    /// `destroy/` without versions (OpenBao's message is lower case there).
    #[error("no version number provided")]
    NoVersionsDestroy,
    /// A request field that does not decode.
    #[error("{0}")]
    Field(String),
    /// `custom_metadata` failed validation (message already formatted).
    #[error("{0}")]
    CustomMetadata(String),
    /// Metadata names a version whose data is gone.
    #[error("could not find version data")]
    MissingVersionData,
    /// PATCH of a version whose data is `null`.
    #[error("resource does not exist")]
    NoResource,
}

impl From<Kv2Error> for CoreError {
    fn from(e: Kv2Error) -> Self {
        match e {
            Kv2Error::MissingVersionData | Kv2Error::NoResource => {
                CoreError::Internal(e.to_string())
            }
            other => CoreError::InvalidRequest(other.to_string()),
        }
    }
}

/// Builds a route from the key after a path prefix.
type MakeRoute<'p> = fn(&'p str) -> Route<'p>;

/// Which endpoint a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'p> {
    Config,
    Data(&'p str),
    Metadata(&'p str),
    DetailedMetadata(&'p str),
    Destroy(&'p str),
    Subkeys(&'p str),
    Delete(&'p str),
    Undelete(&'p str),
    Invalid,
}

impl<'p> Route<'p> {
    fn parse(path: &'p str) -> Route<'p> {
        if path == "config" {
            return Route::Config;
        }
        let prefixes: [(&str, MakeRoute<'p>); 7] = [
            ("data/", Route::Data),
            ("metadata/", Route::Metadata),
            ("detailed-metadata/", Route::DetailedMetadata),
            ("destroy/", Route::Destroy),
            ("subkeys/", Route::Subkeys),
            ("delete/", Route::Delete),
            ("undelete/", Route::Undelete),
        ];
        for (prefix, make) in prefixes {
            if let Some(rest) = path.strip_prefix(prefix) {
                return make(rest);
            }
        }
        Route::Invalid
    }

    fn schema(self) -> Schema {
        match self {
            Route::Config => CONFIG_FIELDS,
            Route::Data(_) => DATA_FIELDS,
            Route::Metadata(_) => METADATA_FIELDS,
            Route::DetailedMetadata(_) => DETAILED_METADATA_FIELDS,
            Route::Destroy(_) | Route::Delete(_) | Route::Undelete(_) => VERSIONS_FIELDS,
            Route::Subkeys(_) => SUBKEYS_FIELDS,
            Route::Invalid => NO_FIELDS,
        }
    }

    fn supports(self, op: Operation) -> bool {
        use Operation::*;
        match self {
            Route::Config => matches!(op, Read | Create | Update),
            Route::Data(_) => matches!(op, Read | Create | Update | Delete | Patch),
            Route::Metadata(_) => matches!(op, Read | Create | Update | Delete | List | Patch),
            Route::DetailedMetadata(_) => op == List,
            Route::Destroy(_) | Route::Delete(_) | Route::Undelete(_) => {
                matches!(op, Create | Update)
            }
            Route::Subkeys(_) => op == Read,
            Route::Invalid => true,
        }
    }
}

/// The KV v2 backend.
pub struct KvV2;

#[async_trait]
impl Backend for KvV2 {
    async fn existence(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Option<bool>, CoreError> {
        kvutil::check_write_path(Operation::Update, ctx.path)?;
        let route = Route::parse(ctx.path);
        let key = match route {
            Route::Data(k) | Route::Metadata(k) | Route::DetailedMetadata(k) => k,
            _ => return Ok(None),
        };
        // OpenBao validates the fields while checking existence, without
        // the "Field validation failed" prefix of the handler.
        Fields::new(&req.data, route.schema())
            .validate()
            .map_err(Kv2Error::Field)?;
        Ok(Some(Store::new(ctx.storage).metadata(key).await?.is_some()))
    }

    async fn handle(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
        kvutil::check_write_path(req.operation, ctx.path)?;
        kvutil::check_patch_content_type(req)?;
        let path = kvutil::routed_path(req.operation, ctx.path);
        let route = Route::parse(&path);
        if route == Route::Invalid {
            return Ok(invalid_path(&path, req.operation));
        }
        if !route.supports(req.operation) {
            return Err(CoreError::UnsupportedOperation);
        }
        let f = Fields::new(&req.data, route.schema());
        f.validate()
            .map_err(|e| Kv2Error::Field(format!("Field validation failed: {e}")))?;
        let store = Store::new(ctx.storage);
        use Operation::*;
        let mut resp = match (route, req.operation) {
            (Route::Config, Read) => config_read(&store).await?,
            (Route::Config, _) => config_write(&store, &f).await?,
            (Route::Data(k), Read) => data_read(&store, k, &f).await?,
            (Route::Data(k), Create | Update) => data_write(&store, k, &f).await?,
            (Route::Data(k), Patch) => data_patch(&store, k, &f).await?,
            (Route::Data(k), _) => data_delete(&store, k).await?,
            (Route::Metadata(k), Read) => metadata_read(&store, k).await?,
            (Route::Metadata(k), Create | Update) => metadata_write(&store, k, &f).await?,
            (Route::Metadata(k), Patch) => metadata_patch(&store, k, &f).await?,
            (Route::Metadata(k), List) => metadata_list(&store, k, &f, false).await?,
            (Route::Metadata(k), _) => metadata_delete(&store, k).await?,
            (Route::DetailedMetadata(k), _) => metadata_list(&store, k, &f, true).await?,
            (Route::Delete(k), _) => delete_versions(&store, k, &f).await?,
            (Route::Undelete(k), _) => undelete_versions(&store, k, &f).await?,
            (Route::Destroy(k), _) => destroy_versions(&store, k, &f).await?,
            (Route::Subkeys(k), _) => subkeys_read(&store, k, &f).await?,
            (Route::Invalid, _) => return Ok(invalid_path(&path, req.operation)),
        };
        kvutil::add_parameter_warnings(&mut resp, req, &kvutil::field_names(route.schema()));
        Ok(resp)
    }
}

/// The 404 (with a warning) for a path outside the versioned API.
fn invalid_path(path: &str, op: Operation) -> Response {
    let warning = match path {
        "metadata" | "data" | "delete" | "undelete" | "destroy" => {
            "Non-listing operations on the root of a K/V v2 mount are not supported.".to_string()
        }
        _ => {
            let sub = match op {
                Operation::Create | Operation::Update => "put",
                Operation::Patch => "patch",
                Operation::Read => "get",
                Operation::List => "list",
                Operation::Delete => "delete",
            };
            format!(
                "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the OpenBao CLI, use 'bao kv {sub}' for this operation."
            )
        }
    };
    kvutil::envelope_404(None, vec![warning])
}

// ---------------------------------------------------------------------------
// Response shapes
// ---------------------------------------------------------------------------

fn custom_metadata_json(c: &BTreeMap<String, String>) -> Value {
    if c.is_empty() {
        Value::Null
    } else {
        json!(c)
    }
}

/// `{created_time, custom_metadata, deletion_time, destroyed, version}`.
fn version_json(version: u64, vm: &VersionMeta, meta: &KeyMetadata) -> Value {
    json!({
        "created_time": kvutil::go_time(&vm.created_time),
        "custom_metadata": custom_metadata_json(&meta.custom_metadata),
        "deletion_time": kvutil::go_time_opt(vm.deletion_time.as_ref()),
        "destroyed": vm.destroyed,
        "version": version,
    })
}

/// The body of `metadata/P` reads and of `detailed-metadata` entries.
fn metadata_json(meta: &KeyMetadata) -> Value {
    let versions: Map<String, Value> = meta
        .versions
        .iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                json!({
                    "created_time": kvutil::go_time(&v.created_time),
                    "deletion_time": kvutil::go_time_opt(v.deletion_time.as_ref()),
                    "destroyed": v.destroyed,
                }),
            )
        })
        .collect();
    json!({
        "cas_required": meta.cas_required,
        "created_time": kvutil::go_time_opt(meta.created_time.as_ref()),
        "current_metadata_version": meta.current_metadata_version,
        "current_version": meta.current_version,
        "custom_metadata": custom_metadata_json(&meta.custom_metadata),
        "delete_version_after": kvutil::format_go_duration(meta.delete_version_after),
        "max_versions": meta.max_versions,
        "metadata_cas_required": meta.metadata_cas_required,
        "oldest_version": meta.oldest_version,
        "updated_time": kvutil::go_time_opt(meta.updated_time.as_ref()),
        "versions": Value::Object(versions),
    })
}

fn ok(v: Value) -> Response {
    Response::with_data(kvutil::sorted_data(v))
}

fn not_found_with(v: Value) -> Response {
    kvutil::envelope_404(Some(kvutil::sorted_data(v)), Vec::new())
}

/// A response carrying only warnings (200), or a 204 when there are none.
fn warnings_only(warnings: Vec<String>) -> Response {
    Response {
        warnings,
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------
// config
// ---------------------------------------------------------------------------

async fn config_read(store: &Store<'_>) -> Result<Response, CoreError> {
    let cfg = store.config().await?;
    Ok(ok(json!({
        "cas_required": cfg.cas_required,
        "delete_version_after": kvutil::format_go_duration(cfg.delete_version_after()),
        "max_versions": cfg.max_versions,
        "metadata_cas_required": cfg.metadata_cas_required,
    })))
}

async fn config_write(store: &Store<'_>, f: &Fields<'_>) -> Result<Response, CoreError> {
    let names = [
        "max_versions",
        "cas_required",
        "metadata_cas_required",
        "delete_version_after",
    ];
    if !names.iter().any(|n| f.has(n)) {
        return Ok(Response::empty());
    }
    let _g = store::config_lock().lock().await;
    let mut cfg: Config = store.config().await?;
    if let Some(m) = f.int("max_versions") {
        cfg.max_versions = m as u32;
    }
    if let Some(c) = f.bool("cas_required") {
        cfg.cas_required = c;
    }
    if let Some(c) = f.bool("metadata_cas_required") {
        cfg.metadata_cas_required = c;
    }
    if let Some(d) = f.duration("delete_version_after") {
        cfg.delete_version_after = match d {
            d if d < 0 => Some(-1),
            0 => None,
            d => Some(d),
        };
    }
    store.put_config(&cfg).await?;
    Ok(Response::empty())
}

// ---------------------------------------------------------------------------
// data
// ---------------------------------------------------------------------------

/// The version a read names: `version` when positive, else the current one.
fn requested_version(f: &Fields<'_>, meta: &KeyMetadata) -> u64 {
    match f.int("version") {
        Some(v) if v > 0 => v as u64,
        _ => meta.current_version,
    }
}

async fn data_read(store: &Store<'_>, key: &str, f: &Fields<'_>) -> Result<Response, CoreError> {
    let _g = store::key_lock(store.view(), key).read().await;
    let Some(meta) = store.metadata(key).await? else {
        return Err(CoreError::NotFound);
    };
    let version = requested_version(f, &meta);
    let Some(vm) = meta.versions.get(&version) else {
        return Err(CoreError::NotFound);
    };
    let metadata = version_json(version, vm, &meta);
    if vm.is_deleted(Utc::now()) || vm.destroyed {
        return Ok(not_found_with(json!({"data": null, "metadata": metadata})));
    }
    let vd = store
        .version(key, version)
        .await?
        .ok_or(Kv2Error::MissingVersionData)?;
    Ok(ok(json!({"data": vd.data, "metadata": metadata})))
}

/// Checks `options.cas` against the current version, or that it is given
/// when the mount or the key requires it.
fn check_cas(f: &Fields<'_>, cfg: &Config, meta: &KeyMetadata) -> Result<(), Kv2Error> {
    let cas = f
        .map("options")
        .flatten()
        .and_then(|o| o.get("cas").cloned());
    match cas {
        Some(v) => {
            let cas = kvutil::weak_int(&v, "").map_err(|_| Kv2Error::CasParse)?;
            if cas as u64 != meta.current_version {
                return Err(Kv2Error::CasMismatch);
            }
        }
        None if cfg.cas_required || meta.cas_required => return Err(Kv2Error::CasRequired),
        None => {}
    }
    Ok(())
}

/// Stores `data` as the next version of `key` (metadata, version data and
/// pruning of old versions in one transaction) and answers with the new
/// version's metadata.
async fn put_version(
    store: &Store<'_>,
    key: &str,
    cfg: &Config,
    mut meta: KeyMetadata,
    data: Value,
) -> Result<Response, CoreError> {
    let now = Utc::now();
    let deletion = cfg.deletion_time(now, &meta);
    let version_key = store.version_key(key, meta.current_version + 1).await?;
    let entry = VersionData {
        data,
        created_time: now,
        deletion_time: deletion,
    };
    let (vm, pruned) = meta.add_version(now, deletion, cfg.max_versions);
    let mut ops = vec![
        (version_key, Some(store::encode(&entry)?)),
        (Store::metadata_key(key), Some(store::encode(&meta)?)),
    ];
    for v in pruned {
        ops.push((store.version_key(key, v).await?, None));
    }
    store.commit(ops).await?;
    Ok(ok(version_json(meta.current_version, &vm, &meta)))
}

async fn data_write(store: &Store<'_>, key: &str, f: &Fields<'_>) -> Result<Response, CoreError> {
    if key.is_empty() {
        return Err(Kv2Error::MissingPath.into());
    }
    let cfg = store.config().await?;
    let Some(data) = f.map("data") else {
        return Err(Kv2Error::NoData.into());
    };
    let data = data.map(Value::Object).unwrap_or(Value::Null);
    let _g = store::key_lock(store.view(), key).write().await;
    let meta = store
        .metadata(key)
        .await?
        .unwrap_or_else(|| KeyMetadata::new(key));
    check_cas(f, &cfg, &meta)?;
    put_version(store, key, &cfg, meta, data).await
}

async fn data_patch(store: &Store<'_>, key: &str, f: &Fields<'_>) -> Result<Response, CoreError> {
    let Some(patch) = f.map("data") else {
        return Err(Kv2Error::NoData.into());
    };
    let patch = patch.map(Value::Object).unwrap_or(Value::Null);
    let _g = store::key_lock(store.view(), key).write().await;
    let Some(meta) = store.metadata(key).await? else {
        return Ok(kvutil::empty_404());
    };
    let cfg = store.config().await?;
    check_cas(f, &cfg, &meta)?;
    let current = meta.current_version;
    let Some(vm) = meta.versions.get(&current) else {
        return Ok(kvutil::empty_404());
    };
    if vm.is_deleted(Utc::now()) || vm.destroyed {
        return Ok(not_found_with(version_json(current, vm, &meta)));
    }
    let existing = store
        .version(key, current)
        .await?
        .ok_or(Kv2Error::MissingVersionData)?;
    if existing.data.is_null() {
        return Err(Kv2Error::NoResource.into());
    }
    let patched = kvutil::merge_patch(existing.data, &patch);
    put_version(store, key, &cfg, meta, patched).await
}

async fn data_delete(store: &Store<'_>, key: &str) -> Result<Response, CoreError> {
    let _g = store::key_lock(store.view(), key).write().await;
    let Some(mut meta) = store.metadata(key).await? else {
        return Ok(Response::empty());
    };
    let now = Utc::now();
    let current = meta.current_version;
    let Some(lv) = meta.versions.get_mut(&current) else {
        return Ok(Response::empty());
    };
    if lv.destroyed || lv.is_deleted(now) {
        return Ok(Response::empty());
    }
    lv.deletion_time = Some(now);
    store
        .commit(vec![(
            Store::metadata_key(key),
            Some(store::encode(&meta)?),
        )])
        .await?;
    Ok(Response::empty())
}

// ---------------------------------------------------------------------------
// metadata
// ---------------------------------------------------------------------------

async fn metadata_read(store: &Store<'_>, key: &str) -> Result<Response, CoreError> {
    let _g = store::key_lock(store.view(), key).read().await;
    match store.metadata(key).await? {
        Some(meta) => Ok(ok(metadata_json(&meta))),
        None => Err(CoreError::NotFound),
    }
}

/// `custom_metadata` as strings (weakly decoded); `skip_nulls` drops null
/// values (PATCH, where null removes a key).
fn parse_custom_metadata(
    raw: Option<&Map<String, Value>>,
    skip_nulls: bool,
) -> Result<BTreeMap<String, String>, Kv2Error> {
    let mut out = BTreeMap::new();
    let Some(raw) = raw else {
        return Ok(out);
    };
    let mut entries: Vec<(&String, &Value)> = raw.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in entries {
        if skip_nulls && v.is_null() {
            continue;
        }
        let s = kvutil::weak_string(v, "")
            .map_err(|e| Kv2Error::CustomMetadata(format!("{CUSTOM_METADATA_PREFIX}: {e}")))?;
        out.insert(k.clone(), s);
    }
    Ok(out)
}

/// OpenBao's limits on `custom_metadata`, every violation reported.
fn validate_custom_metadata(m: &BTreeMap<String, String>) -> Result<(), Kv2Error> {
    let mut errs: Vec<String> = Vec::new();
    if m.len() > MAX_CUSTOM_METADATA_KEYS {
        errs.push(format!(
            "{CUSTOM_METADATA_PREFIX}: payload must contain at most {MAX_CUSTOM_METADATA_KEYS} keys, provided {}",
            m.len()
        ));
    } else {
        for (k, v) in m {
            if k.is_empty() || k.len() > MAX_CUSTOM_METADATA_KEY_LEN {
                errs.push(format!(
                    "{CUSTOM_METADATA_PREFIX}: length of key {k:?} is {} but must be 0 < len(key) <= {MAX_CUSTOM_METADATA_KEY_LEN}",
                    k.len()
                ));
            }
            if v.is_empty() || v.len() > MAX_CUSTOM_METADATA_VALUE_LEN {
                errs.push(format!(
                    "{CUSTOM_METADATA_PREFIX}: length of value for key {k:?} is {} but must be 0 < len(value) <= {MAX_CUSTOM_METADATA_VALUE_LEN}",
                    v.len()
                ));
            }
            if !kvutil::printable(k) {
                errs.push(format!(
                    "{CUSTOM_METADATA_PREFIX}: key {k:?} ({k}) contains unprintable characters"
                ));
            }
            if !kvutil::printable(v) {
                errs.push(format!(
                    "{CUSTOM_METADATA_PREFIX}: value for key {k:?} contains unprintable characters"
                ));
            }
        }
    }
    if errs.is_empty() {
        return Ok(());
    }
    let refs: Vec<&str> = errs.iter().map(|s| s.as_str()).collect();
    Err(Kv2Error::CustomMetadata(multierror(&refs)))
}

/// Warnings for `cas_required`/`metadata_cas_required` set to false while
/// the mount mandates them.
fn mandated_warnings(f: &Fields<'_>, cfg: &Config) -> Vec<String> {
    let mut w = Vec::new();
    if cfg.cas_required && f.bool("cas_required") == Some(false) {
        w.push("\"cas_required\" set to false, but is mandated by backend config. This value will be ignored.".into());
    }
    if cfg.metadata_cas_required && f.bool("metadata_cas_required") == Some(false) {
        w.push("\"metadata_cas_required\" set to false, but is mandated by backend config. This value will be ignored.".into());
    }
    w
}

async fn metadata_write(
    store: &Store<'_>,
    key: &str,
    f: &Fields<'_>,
) -> Result<Response, CoreError> {
    if key.is_empty() {
        return Err(Kv2Error::MissingPath.into());
    }
    let settable = [
        "max_versions",
        "cas_required",
        "delete_version_after",
        "custom_metadata",
        "metadata_cas_required",
    ];
    if !settable.iter().any(|n| f.has(n)) {
        return Ok(Response::empty());
    }
    let cfg = store.config().await?;
    let custom = match f.map("custom_metadata") {
        Some(raw) => {
            let m = parse_custom_metadata(raw.as_ref(), false)?;
            validate_custom_metadata(&m)?;
            Some(m)
        }
        None => None,
    };
    let warnings = mandated_warnings(f, &cfg);

    let _g = store::key_lock(store.view(), key).write().await;
    let existing = store.metadata(key).await?;
    let check =
        existing.as_ref().is_some_and(|m| m.metadata_cas_required) || cfg.metadata_cas_required;
    let mcas = f.int("metadata_cas");
    if check && mcas.is_none() {
        return Err(Kv2Error::MetadataCasRequired.into());
    }
    let now = Utc::now();
    let mut meta = match existing {
        None => {
            if mcas.is_some_and(|v| v != 0) {
                return Err(Kv2Error::MetadataCasNotZero.into());
            }
            KeyMetadata {
                key: key.to_string(),
                created_time: Some(now),
                updated_time: Some(now),
                current_metadata_version: 1,
                ..Default::default()
            }
        }
        Some(mut m) => {
            if mcas.is_some_and(|v| v as u64 != m.current_metadata_version) {
                return Err(Kv2Error::MetadataCasMismatch.into());
            }
            m.current_metadata_version += 1;
            m.updated_time = Some(now);
            m
        }
    };
    if let Some(v) = f.int("max_versions") {
        meta.max_versions = v as u32;
    }
    if let Some(v) = f.bool("cas_required") {
        meta.cas_required = v;
    }
    if let Some(v) = f.bool("metadata_cas_required") {
        meta.metadata_cas_required = v;
    }
    if let Some(v) = f.duration("delete_version_after") {
        meta.delete_version_after = v;
    }
    if let Some(c) = custom {
        meta.custom_metadata = c;
    }
    store
        .commit(vec![(
            Store::metadata_key(key),
            Some(store::encode(&meta)?),
        )])
        .await?;
    Ok(warnings_only(warnings))
}

async fn metadata_patch(
    store: &Store<'_>,
    key: &str,
    f: &Fields<'_>,
) -> Result<Response, CoreError> {
    if !PATCHABLE_METADATA.iter().any(|n| f.has(n)) {
        return Ok(Response::empty());
    }
    if key.is_empty() {
        return Err(Kv2Error::MissingPath.into());
    }
    let custom_patch = f.map("custom_metadata");
    if let Some(raw) = &custom_patch {
        let m = parse_custom_metadata(raw.as_ref(), true)?;
        validate_custom_metadata(&m)?;
    }
    let cfg = store.config().await?;

    let _g = store::key_lock(store.view(), key).write().await;
    let Some(mut meta) = store.metadata(key).await? else {
        return Ok(kvutil::empty_404());
    };
    let mcas = f.int("metadata_cas");
    if (meta.metadata_cas_required || cfg.metadata_cas_required) && mcas.is_none() {
        return Err(Kv2Error::MetadataCasRequired.into());
    }
    if mcas.is_some_and(|v| v as u64 != meta.current_metadata_version) {
        return Err(Kv2Error::MetadataCasMismatch.into());
    }
    let warnings = mandated_warnings(f, &cfg);

    if let Some(v) = f.int("max_versions") {
        meta.max_versions = v as u32;
    }
    if let Some(v) = f.bool("cas_required") {
        meta.cas_required = v;
    }
    if let Some(v) = f.bool("metadata_cas_required") {
        meta.metadata_cas_required = v;
    }
    if let Some(v) = f.duration("delete_version_after") {
        meta.delete_version_after = v;
    }
    match custom_patch {
        None => {}
        Some(None) => meta.custom_metadata.clear(),
        Some(Some(m)) => {
            for (k, v) in m {
                if v.is_null() {
                    meta.custom_metadata.remove(&k);
                } else {
                    let s = kvutil::weak_string(&v, "").map_err(|e| {
                        Kv2Error::CustomMetadata(format!("{CUSTOM_METADATA_PREFIX}: {e}"))
                    })?;
                    meta.custom_metadata.insert(k, s);
                }
            }
        }
    }
    meta.current_metadata_version += 1;
    meta.updated_time = Some(Utc::now());
    store
        .commit(vec![(
            Store::metadata_key(key),
            Some(store::encode(&meta)?),
        )])
        .await?;
    Ok(warnings_only(warnings))
}

async fn metadata_delete(store: &Store<'_>, key: &str) -> Result<Response, CoreError> {
    let _g = store::key_lock(store.view(), key).write().await;
    let Some(meta) = store.metadata(key).await? else {
        return Ok(Response::empty());
    };
    let mut ops = Vec::with_capacity(meta.versions.len() + 1);
    for v in meta.versions.keys() {
        ops.push((store.version_key(key, *v).await?, None));
    }
    ops.push((Store::metadata_key(key), None));
    store.commit(ops).await?;
    Ok(Response::empty())
}

async fn metadata_list(
    store: &Store<'_>,
    key: &str,
    f: &Fields<'_>,
    detailed: bool,
) -> Result<Response, CoreError> {
    let prefix = if key.is_empty() || key.ends_with('/') {
        key.to_string()
    } else {
        format!("{key}/")
    };
    let after = f.string("after").unwrap_or_default();
    let limit = f.int("limit").filter(|l| *l > 0);
    let mut keys: Vec<String> = store
        .list(&prefix)
        .await?
        .into_iter()
        .filter(|k| after.is_empty() || k.as_str() > after.as_str())
        .collect();
    if let Some(l) = limit {
        keys.truncate(usize::try_from(l).unwrap_or(usize::MAX));
    }
    if !detailed {
        return Response::list(keys);
    }
    if keys.is_empty() {
        return Err(CoreError::NotFound);
    }
    let mut info = Map::new();
    for k in &keys {
        let full = format!("{prefix}{k}");
        let meta = store.metadata(full.trim_end_matches('/')).await?;
        info.insert(
            k.clone(),
            meta.map(|m| metadata_json(&m)).unwrap_or_else(|| json!({})),
        );
    }
    Ok(ok(json!({"key_info": info, "keys": keys})))
}

// ---------------------------------------------------------------------------
// delete / undelete / destroy / subkeys
// ---------------------------------------------------------------------------

async fn delete_versions(
    store: &Store<'_>,
    key: &str,
    f: &Fields<'_>,
) -> Result<Response, CoreError> {
    let versions = f.int_slice("versions");
    if versions.is_empty() {
        return Err(Kv2Error::NoVersions.into());
    }
    let _g = store::key_lock(store.view(), key).write().await;
    let Some(mut meta) = store.metadata(key).await? else {
        return Ok(Response::empty());
    };
    let now = Utc::now();
    for v in versions {
        if let Some(lv) = meta.versions.get_mut(&(v as u64)) {
            if !lv.destroyed && !lv.is_deleted(now) {
                lv.deletion_time = Some(now);
            }
        }
    }
    store
        .commit(vec![(
            Store::metadata_key(key),
            Some(store::encode(&meta)?),
        )])
        .await?;
    Ok(Response::empty())
}

async fn undelete_versions(
    store: &Store<'_>,
    key: &str,
    f: &Fields<'_>,
) -> Result<Response, CoreError> {
    let versions = f.int_slice("versions");
    if versions.is_empty() {
        return Err(Kv2Error::NoVersions.into());
    }
    let cfg = store.config().await?;
    let _g = store::key_lock(store.view(), key).write().await;
    let Some(mut meta) = store.metadata(key).await? else {
        return Ok(Response::empty());
    };
    let deletion = cfg.deletion_time(Utc::now(), &meta);
    for v in versions {
        if let Some(lv) = meta.versions.get_mut(&(v as u64)) {
            if !lv.destroyed {
                lv.deletion_time = deletion;
            }
        }
    }
    store
        .commit(vec![(
            Store::metadata_key(key),
            Some(store::encode(&meta)?),
        )])
        .await?;
    Ok(Response::empty())
}

async fn destroy_versions(
    store: &Store<'_>,
    key: &str,
    f: &Fields<'_>,
) -> Result<Response, CoreError> {
    let versions = f.int_slice("versions");
    if versions.is_empty() {
        return Err(Kv2Error::NoVersionsDestroy.into());
    }
    let _g = store::key_lock(store.view(), key).write().await;
    let Some(mut meta) = store.metadata(key).await? else {
        return Ok(Response::empty());
    };
    let mut ops = Vec::with_capacity(versions.len() + 1);
    for v in &versions {
        if let Some(lv) = meta.versions.get_mut(&(*v as u64)) {
            lv.destroyed = true;
        }
    }
    ops.push((Store::metadata_key(key), Some(store::encode(&meta)?)));
    for v in versions {
        ops.push((store.version_key(key, v as u64).await?, None));
    }
    store.commit(ops).await?;
    Ok(Response::empty())
}

/// Replaces every leaf with null; maps below `max_depth` (0: no limit) and
/// empty maps become null too.
fn remove_values(m: &mut Map<String, Value>, max_depth: i64, depth: i64) {
    for v in m.values_mut() {
        match v {
            Value::Object(inner) if (max_depth == 0 || depth < max_depth) && !inner.is_empty() => {
                remove_values(inner, max_depth, depth + 1);
            }
            other => *other = Value::Null,
        }
    }
}

async fn subkeys_read(store: &Store<'_>, key: &str, f: &Fields<'_>) -> Result<Response, CoreError> {
    let depth = f.int("depth").unwrap_or(0);
    let _g = store::key_lock(store.view(), key).read().await;
    let Some(meta) = store.metadata(key).await? else {
        return Err(CoreError::NotFound);
    };
    let version = requested_version(f, &meta);
    let Some(vm) = meta.versions.get(&version) else {
        return Err(CoreError::NotFound);
    };
    let metadata = version_json(version, vm, &meta);
    if vm.is_deleted(Utc::now()) || vm.destroyed {
        return Ok(not_found_with(
            json!({"metadata": metadata, "subkeys": null}),
        ));
    }
    let vd = store
        .version(key, version)
        .await?
        .ok_or(Kv2Error::MissingVersionData)?;
    let subkeys = match vd.data {
        Value::Object(mut m) => {
            remove_values(&mut m, depth, 1);
            Value::Object(m)
        }
        _ => Value::Null,
    };
    Ok(ok(json!({"metadata": metadata, "subkeys": subkeys})))
}
