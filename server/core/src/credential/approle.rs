//! The `approle` auth method, as OpenBao 2.7.2 answers it: roles with a
//! `role_id` and token settings, secret IDs issued against a role, and
//! `login` (unauthenticated) with `role_id` + `secret_id`.
//!
//! Paths (relative to the mount): `role` (list), `role/NAME` (read, write,
//! delete), `role/NAME/role-id`, `role/NAME/secret-id` (generate; list the
//! accessors), `role/NAME/custom-secret-id`, `role/NAME/secret-id/lookup`,
//! `role/NAME/secret-id/destroy`, `role/NAME/secret-id-accessor/lookup`,
//! `role/NAME/secret-id-accessor/destroy`, one path per role field
//! (`policies`, `secret-id-num-uses`, `secret-id-ttl`, `token-ttl`,
//! `token-max-ttl`, `token-num-uses`, `period`, `secret-id-bound-cidrs`,
//! `token-bound-cidrs`, `bound-cidr-list`, `local-secret-ids`), `login` and
//! `tidy/secret-id`. `role/NAME/bind-secret-id` is answered with `unsupported
//! path`, as OpenBao 2.7.2 does.
//!
//! Storage (in the mount's view), as OpenBao lays it out:
//! - `salt`: the mount's random salt;
//! - `role/<lower-case name>`: the role, with its random `hmac_key`;
//! - `role_id/<salted role_id>`: the role name for a role id;
//! - `secret_id/<HMAC(name)>/<HMAC(secret_id)>` (or `secret_id_local/`):
//!   a secret ID's properties. The HMACs are keyed by the role's `hmac_key`,
//!   so secret IDs are never stored, only their keyed hashes;
//! - `accessor/<salted accessor>` (or `accessor_local/`): the secret ID HMAC
//!   for an accessor.
//!
//! Expired secret IDs are refused (login, lookups) and removed by
//! `tidy/secret-id`; destroying one still works. A secret ID with a use
//! limit is decremented by each login and deleted with its last use; a
//! login refused for any reason does not use it up.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::token_fields::{parse_addrs, upgrade_duration, upgrade_policies, TokenFields};
use crate::engines::kvutil::{self, format_go_duration, go_time, Decoded, FieldType};
use crate::error::CoreError;
use crate::logical::{Backend, Ctx, Data, Operation, RawResponse, Request, Response, StorageView};
use crate::sys::util::{comma_list_value, sanitize_policies};
use crate::token::cidr_contains;
use crate::token::fields::go_quote;
use crate::token::roles::valid_name;

const SECRET_ID_PREFIX: &str = "secret_id/";
const SECRET_ID_LOCAL_PREFIX: &str = "secret_id_local/";
const ACCESSOR_PREFIX: &str = "accessor/";
const ACCESSOR_LOCAL_PREFIX: &str = "accessor_local/";
const ROLE_PREFIX: &str = "role/";
const ROLE_ID_PREFIX: &str = "role_id/";
const SALT_KEY: &str = "salt";
/// The longest value OpenBao HMACs (role names, secret IDs).
const MAX_HMAC_INPUT: usize = 4096;

const INVALID_CREDENTIALS: &str = "invalid role or secret ID";
const NO_CONSTRAINT: &str = "at least one constraint should be enabled on the role";

/// The approle backend. One instance per mount; the salt is cached.
pub struct Approle {
    salt: tokio::sync::OnceCell<Zeroizing<Vec<u8>>>,
    tidy_running: Arc<AtomicBool>,
}

impl Default for Approle {
    fn default() -> Self {
        Self::new()
    }
}

impl Approle {
    pub fn new() -> Self {
        Approle {
            salt: tokio::sync::OnceCell::new(),
            tidy_running: Arc::new(AtomicBool::new(false)),
        }
    }
}

// ---------------------------------------------------------------------------
// Stored entries
// ---------------------------------------------------------------------------

/// A role. `policies` and `period` are the deprecated names, kept so reads
/// show what was written with them.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RoleEntry {
    #[serde(flatten)]
    token: TokenFields,
    #[serde(default)]
    role_id: String,
    #[serde(default)]
    hmac_key: String,
    #[serde(default)]
    policies: Vec<String>,
    #[serde(default)]
    period: u64,
    #[serde(default)]
    secret_id_num_uses: i64,
    #[serde(default)]
    secret_id_ttl: u64,
    #[serde(default)]
    bind_secret_id: bool,
    /// `None` (shown as `null`) until set; an explicitly empty list stays `[]`.
    #[serde(default)]
    secret_id_bound_cidrs: Option<Vec<String>>,
    #[serde(default)]
    secret_id_prefix: String,
    /// The lower-cased name (not stored).
    #[serde(skip)]
    name: String,
}

impl RoleEntry {
    fn new(name: &str) -> Self {
        RoleEntry {
            token: TokenFields::default(),
            role_id: String::new(),
            hmac_key: uuid::Uuid::new_v4().to_string(),
            policies: Vec::new(),
            period: 0,
            secret_id_num_uses: 0,
            secret_id_ttl: 0,
            bind_secret_id: true,
            secret_id_bound_cidrs: None,
            secret_id_prefix: SECRET_ID_PREFIX.into(),
            name: name.to_lowercase(),
        }
    }

    fn bound_cidrs(&self) -> &[String] {
        self.secret_id_bound_cidrs.as_deref().unwrap_or(&[])
    }

    fn accessor_prefix(&self) -> &'static str {
        if self.secret_id_prefix == SECRET_ID_LOCAL_PREFIX {
            ACCESSOR_LOCAL_PREFIX
        } else {
            ACCESSOR_PREFIX
        }
    }

    fn has_constraint(&self) -> bool {
        self.bind_secret_id
            || !self.bound_cidrs().is_empty()
            || !self.token.token_bound_cidrs.is_empty()
    }

    /// `<prefix><HMAC(name)>/`: where this role's secret IDs live.
    fn secret_dir(&self) -> Result<String, CoreError> {
        let name_hmac = create_hmac(&self.hmac_key, &self.name)
            .map_err(|e| CoreError::Internal(format!("failed to create HMAC of role_name: {e}")))?;
        Ok(format!("{}{name_hmac}/", self.secret_id_prefix))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RoleIdEntry {
    name: String,
}

/// A secret ID's properties (the secret ID itself is never stored).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SecretIdEntry {
    secret_id_accessor: String,
    #[serde(default)]
    secret_id_num_uses: i64,
    /// Seconds, as requested (the expiry uses the mount-capped value).
    #[serde(default)]
    secret_id_ttl: u64,
    creation_time: DateTime<Utc>,
    #[serde(default)]
    expiration_time: Option<DateTime<Utc>>,
    last_updated_time: DateTime<Utc>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    cidr_list: Vec<String>,
    #[serde(default)]
    token_bound_cidrs: Vec<String>,
}

impl SecretIdEntry {
    fn expired(&self) -> bool {
        matches!(self.expiration_time, Some(t) if Utc::now() > t)
    }

    /// The `lookup` answer (keys in Go's map order).
    fn to_data(&self) -> Data {
        let mut d = Data::new();
        d.insert("cidr_list".into(), json!(self.cidr_list));
        d.insert("creation_time".into(), json!(go_time(&self.creation_time)));
        d.insert(
            "expiration_time".into(),
            json!(self
                .expiration_time
                .as_ref()
                .map(go_time)
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".into())),
        );
        d.insert(
            "last_updated_time".into(),
            json!(go_time(&self.last_updated_time)),
        );
        d.insert("metadata".into(), json!(self.metadata));
        d.insert("secret_id_accessor".into(), json!(self.secret_id_accessor));
        d.insert("secret_id_num_uses".into(), json!(self.secret_id_num_uses));
        d.insert("secret_id_ttl".into(), json!(self.secret_id_ttl));
        d.insert("token_bound_cidrs".into(), json!(self.token_bound_cidrs));
        d
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccessorEntry {
    secret_id_hmac: String,
}

// ---------------------------------------------------------------------------
// Hashing, locks, CIDRs, metadata
// ---------------------------------------------------------------------------

fn hmac_hex(key: &[u8], value: &str) -> Result<String, String> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key).map_err(|_| "invalid HMAC key".to_string())?;
    mac.update(value.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// OpenBao's `createHMAC`: hex HMAC-SHA256 keyed by a role's `hmac_key`.
fn create_hmac(key: &str, value: &str) -> Result<String, String> {
    if key.is_empty() {
        return Err("invalid HMAC key".into());
    }
    if value.len() > MAX_HMAC_INPUT {
        return Err(format!(
            "value is longer than maximum of {MAX_HMAC_INPUT} bytes"
        ));
    }
    hmac_hex(key.as_bytes(), value)
}

/// Striped locks: read-modify-write of one role or one secret ID is
/// serialised (across mounts and backend instances, keyed by storage path).
fn stripe(
    set: &'static OnceLock<Vec<tokio::sync::Mutex<()>>>,
    key: &str,
) -> &'static tokio::sync::Mutex<()> {
    const STRIPES: usize = 64;
    let locks = set.get_or_init(|| (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect());
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    &locks[(h % STRIPES as u64) as usize]
}

static ROLE_LOCKS: OnceLock<Vec<tokio::sync::Mutex<()>>> = OnceLock::new();
static SECRET_LOCKS: OnceLock<Vec<tokio::sync::Mutex<()>>> = OnceLock::new();
static SALT_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn role_lock(storage: &StorageView, name: &str) -> &'static tokio::sync::Mutex<()> {
    stripe(
        &ROLE_LOCKS,
        &format!("{}{ROLE_PREFIX}{}", storage.prefix(), name.to_lowercase()),
    )
}

fn secret_lock(storage: &StorageView, key: &str) -> &'static tokio::sync::Mutex<()> {
    stripe(&SECRET_LOCKS, &format!("{}{key}", storage.prefix()))
}

/// Go's `net.ParseCIDR`: an address and a prefix length, both required.
fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    if bits.is_empty() || bits.len() > 3 || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u8 = bits.parse().ok()?;
    let full = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= full).then_some((ip, bits))
}

/// cidrutil's `ValidateCIDRListSlice`.
fn validate_cidrs(list: &[String]) -> Result<(), String> {
    match list.iter().find(|c| parse_cidr(c).is_none()) {
        Some(bad) => Err(format!("invalid CIDR address: {bad}")),
        None => Ok(()),
    }
}

/// Whether block `inner` lies within block `outer`.
fn cidr_subset(outer: &str, inner: &str) -> bool {
    match (parse_cidr(outer), parse_cidr(inner)) {
        (Some((_, ob)), Some((ip, ib))) => ob <= ib && cidr_contains(outer, ip),
        _ => false,
    }
}

/// `verifyCIDRRoleSecretIDSubset`: every block on the secret ID lies within
/// a block of the role (when both have blocks).
fn verify_cidr_subset(secret: &[String], role: &[String]) -> Result<(), CoreError> {
    if secret.is_empty() || role.is_empty() {
        return Ok(());
    }
    let role: Vec<String> = role
        .iter()
        .map(|b| {
            if b.contains('/') {
                b.clone()
            } else {
                format!("{b}/32")
            }
        })
        .collect();
    if secret
        .iter()
        .all(|s| role.iter().any(|r| cidr_subset(r, s)))
    {
        return Ok(());
    }
    Err(CoreError::Internal(format!(
        "failed to verify subset relationship between CIDR blocks on the role {role:?} and CIDR blocks on the secret ID {secret:?}"
    )))
}

/// strutil's `ParseArbitraryKeyValues` with `,`: JSON, base64 JSON,
/// `k=v,k2=v2` or base64 of that (pairs are lower-cased).
fn parse_metadata(input: &str) -> Result<BTreeMap<String, String>, String> {
    let mut input = input.trim().to_string();
    if input.is_empty() {
        return Ok(BTreeMap::new());
    }
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(input.as_bytes()) {
        input = String::from_utf8_lossy(&bytes).into_owned();
    }
    let out = match serde_json::from_str::<Option<BTreeMap<String, String>>>(&input) {
        Ok(m) => m.unwrap_or_default(),
        Err(_) => {
            parse_key_values(&input).map_err(|e| format!("failed to parse the input: {e}"))?
        }
    };
    if let Some((k, _)) = out.iter().find(|(k, v)| !k.is_empty() && v.is_empty()) {
        return Err(format!("invalid value for key {}", go_quote(k)));
    }
    Ok(out)
}

/// strutil's `ParseKeyValues` with `,`.
fn parse_key_values(input: &str) -> Result<BTreeMap<String, String>, String> {
    let items: BTreeSet<String> = input
        .split(',')
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let mut out = BTreeMap::new();
    for item in items {
        let shards: Vec<&str> = item.split('=').collect();
        let [key, value] = shards.as_slice() else {
            return Err("invalid <key,value> format".into());
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || value.is_empty() {
            return Err(format!(
                "invalid <key,value> pair: key: {} value: {}",
                go_quote(key),
                go_quote(value)
            ));
        }
        out.insert(key.to_string(), value.to_string());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Request fields
// ---------------------------------------------------------------------------

/// A declared field's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ft {
    Str,
    Int,
    Bool,
    /// `TypeDurationSecond` (not negative).
    Dur,
    /// `TypeCommaStringSlice`.
    List,
}

type Schema = &'static [(&'static str, Ft)];

const ROLE_FIELDS: Schema = &[
    ("role_name", Ft::Str),
    ("bind_secret_id", Ft::Bool),
    ("bound_cidr_list", Ft::List),
    ("secret_id_bound_cidrs", Ft::List),
    ("policies", Ft::List),
    ("secret_id_num_uses", Ft::Int),
    ("secret_id_ttl", Ft::Dur),
    ("period", Ft::Dur),
    ("role_id", Ft::Str),
    ("local_secret_ids", Ft::Bool),
    ("token_bound_cidrs", Ft::List),
    ("token_explicit_max_ttl", Ft::Dur),
    ("token_max_ttl", Ft::Dur),
    ("token_no_default_policy", Ft::Bool),
    ("token_num_uses", Ft::Int),
    ("token_period", Ft::Dur),
    ("token_policies", Ft::List),
    ("token_strictly_bind_ip", Ft::Bool),
    ("token_ttl", Ft::Dur),
    ("token_type", Ft::Str),
];
const LIST_FIELDS: Schema = &[("after", Ft::Str), ("limit", Ft::Int)];
const LOGIN_FIELDS: Schema = &[("role_id", Ft::Str), ("secret_id", Ft::Str)];
const NAME_ONLY: Schema = &[("role_name", Ft::Str)];
const POLICIES_FIELDS: Schema = &[
    ("role_name", Ft::Str),
    ("policies", Ft::List),
    ("token_policies", Ft::List),
];
const BOUND_CIDR_LIST_FIELDS: Schema = &[("role_name", Ft::Str), ("bound_cidr_list", Ft::List)];
const SECRET_ID_BOUND_CIDRS_FIELDS: Schema =
    &[("role_name", Ft::Str), ("secret_id_bound_cidrs", Ft::List)];
const TOKEN_BOUND_CIDRS_FIELDS: Schema = &[("role_name", Ft::Str), ("token_bound_cidrs", Ft::List)];
const SECRET_ID_NUM_USES_FIELDS: Schema =
    &[("role_name", Ft::Str), ("secret_id_num_uses", Ft::Int)];
const SECRET_ID_TTL_FIELDS: Schema = &[("role_name", Ft::Str), ("secret_id_ttl", Ft::Dur)];
const PERIOD_FIELDS: Schema = &[
    ("role_name", Ft::Str),
    ("period", Ft::Dur),
    ("token_period", Ft::Dur),
];
const TOKEN_NUM_USES_FIELDS: Schema = &[("role_name", Ft::Str), ("token_num_uses", Ft::Int)];
const TOKEN_TTL_FIELDS: Schema = &[("role_name", Ft::Str), ("token_ttl", Ft::Dur)];
const TOKEN_MAX_TTL_FIELDS: Schema = &[("role_name", Ft::Str), ("token_max_ttl", Ft::Dur)];
const ROLE_ID_FIELDS: Schema = &[("role_name", Ft::Str), ("role_id", Ft::Str)];
const SECRET_ID_FIELDS: Schema = &[
    ("role_name", Ft::Str),
    ("metadata", Ft::Str),
    ("cidr_list", Ft::List),
    ("token_bound_cidrs", Ft::List),
    ("num_uses", Ft::Int),
    ("ttl", Ft::Dur),
    ("after", Ft::Str),
    ("limit", Ft::Int),
];
const CUSTOM_SECRET_ID_FIELDS: Schema = &[
    ("role_name", Ft::Str),
    ("secret_id", Ft::Str),
    ("metadata", Ft::Str),
    ("cidr_list", Ft::List),
    ("token_bound_cidrs", Ft::List),
    ("num_uses", Ft::Int),
    ("ttl", Ft::Dur),
];
const SECRET_ID_VALUE_FIELDS: Schema = &[("role_name", Ft::Str), ("secret_id", Ft::Str)];
const ACCESSOR_FIELDS: Schema = &[("role_name", Ft::Str), ("secret_id_accessor", Ft::Str)];
const NO_FIELDS: Schema = &[];

/// One decoded field value.
enum Val {
    Str(String),
    Int(i64),
    Bool(bool),
    Secs(i64),
    List(Vec<String>),
}

fn decode(ft: Ft, v: &Value) -> Result<Option<Val>, String> {
    if v.is_null() {
        return Ok(None);
    }
    if ft == Ft::List {
        return comma_list_value(v).map(|l| Some(Val::List(l)));
    }
    let t = match ft {
        Ft::Str => FieldType::Str,
        Ft::Int => FieldType::Int,
        Ft::Bool => FieldType::Bool,
        Ft::Dur | Ft::List => FieldType::DurationSecond,
    };
    Ok(match kvutil::decode(t, v)? {
        Decoded::Str(s) => Some(Val::Str(s)),
        Decoded::Int(i) => Some(Val::Int(i)),
        Decoded::Bool(b) => Some(Val::Bool(b)),
        Decoded::Seconds(s) => Some(Val::Secs(s)),
        _ => None,
    })
}

/// A request's data read through a path's declared fields.
struct Fields<'a> {
    data: &'a Data,
    schema: Schema,
}

impl<'a> Fields<'a> {
    fn new(req: &'a Request, schema: Schema) -> Self {
        Fields {
            data: &req.data,
            schema,
        }
    }

    /// The framework's field validation: the first declared field (by name)
    /// that does not decode, as `error converting input for field "x": ...`.
    fn validate(&self) -> Result<(), String> {
        let mut names: Vec<&String> = self.data.keys().collect();
        names.sort_unstable();
        for name in names {
            let Some((_, ft)) = self.schema.iter().find(|(n, _)| n == name) else {
                continue;
            };
            if let Some(v) = self.data.get(name) {
                decode(*ft, v).map_err(|e| {
                    format!("error converting input for field {}: {e}", go_quote(name))
                })?;
            }
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<Val> {
        let (_, ft) = self.schema.iter().find(|(n, _)| *n == name)?;
        decode(*ft, self.data.get(name)?).ok().flatten()
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn string(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    fn int(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Val::Int(i) => Some(i),
            _ => None,
        }
    }

    fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            Val::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn secs(&self, name: &str) -> Option<u64> {
        match self.get(name)? {
            Val::Secs(s) => Some(s.max(0) as u64),
            _ => None,
        }
    }

    fn list(&self, name: &str) -> Option<Vec<String>> {
        match self.get(name)? {
            Val::List(l) => Some(l),
            _ => None,
        }
    }

    /// The sent parameters the path does not declare.
    fn unknown(&self, op: Operation) -> Vec<&'a str> {
        let mut out: Vec<&str> = self
            .data
            .keys()
            .map(|k| k.as_str())
            .filter(|k| !self.schema.iter().any(|(n, _)| n == k))
            .filter(|k| !(op == Operation::List && *k == "list"))
            .collect();
        out.sort_unstable();
        out
    }
}

fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::InvalidRequest(msg.into())
}

/// An error body with a status Vault gives a logical error response
/// (e.g. 404 with the message instead of `unsupported path`).
fn error_status(code: u16, msg: &str) -> Response {
    let mut body = serde_json::to_vec(&json!({ "errors": [msg] })).unwrap_or_default();
    body.push(b'\n');
    Response {
        status: Some(code),
        raw: Some(RawResponse {
            status: code,
            content_type: "application/json".into(),
            body,
        }),
        ..Default::default()
    }
}

/// 204, or 200 with the warnings.
fn empty_or_warnings(warnings: Vec<String>) -> Response {
    Response {
        warnings,
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------
// Storage helpers
// ---------------------------------------------------------------------------

impl Approle {
    /// The mount's salt, created on first use.
    async fn salt(&self, storage: &StorageView) -> Result<&Zeroizing<Vec<u8>>, CoreError> {
        self.salt
            .get_or_try_init(|| async {
                let _g = SALT_LOCK.lock().await;
                if let Some(s) = storage.get(SALT_KEY).await? {
                    return Ok::<_, CoreError>(s);
                }
                let mut s = Zeroizing::new(vec![0u8; 32]);
                rand::thread_rng().fill_bytes(s.as_mut_slice());
                storage.put(SALT_KEY, &s).await?;
                Ok(s)
            })
            .await
    }

    async fn salted(&self, storage: &StorageView, value: &str) -> Result<String, CoreError> {
        let salt = self.salt(storage).await?;
        hmac_hex(salt, value).map_err(CoreError::Internal)
    }

    async fn role_id_key(&self, storage: &StorageView, role_id: &str) -> Result<String, CoreError> {
        Ok(format!(
            "{ROLE_ID_PREFIX}{}",
            self.salted(storage, role_id).await?
        ))
    }

    async fn accessor_key(
        &self,
        storage: &StorageView,
        role: &RoleEntry,
        accessor: &str,
    ) -> Result<String, CoreError> {
        Ok(format!(
            "{}{}",
            role.accessor_prefix(),
            self.salted(storage, accessor).await?
        ))
    }

    async fn role_id_entry(
        &self,
        storage: &StorageView,
        role_id: &str,
    ) -> Result<Option<RoleIdEntry>, CoreError> {
        if role_id.is_empty() {
            return Ok(None);
        }
        storage
            .get_json(&self.role_id_key(storage, role_id).await?)
            .await
    }

    async fn accessor_entry(
        &self,
        storage: &StorageView,
        role: &RoleEntry,
        accessor: &str,
    ) -> Result<Option<AccessorEntry>, CoreError> {
        if accessor.is_empty() {
            return Ok(None);
        }
        storage
            .get_json(&self.accessor_key(storage, role, accessor).await?)
            .await
    }

    /// Persists a role and its role-id index (`setRoleEntry`).
    async fn save_role(
        &self,
        storage: &StorageView,
        role: &RoleEntry,
        previous_role_id: Option<&str>,
    ) -> Result<(), CoreError> {
        if !role.has_constraint() {
            return Err(CoreError::Internal(NO_CONSTRAINT.into()));
        }
        if let Some(index) = self.role_id_entry(storage, &role.role_id).await? {
            if index.name != role.name {
                return Err(CoreError::Internal("role_id already in use".into()));
            }
        }
        let mut ops: Vec<(String, Option<Vec<u8>>)> = Vec::new();
        if let Some(prev) = previous_role_id.filter(|p| !p.is_empty() && *p != role.role_id) {
            ops.push((self.role_id_key(storage, prev).await?, None));
        }
        ops.push((format!("{ROLE_PREFIX}{}", role.name), Some(to_json(role)?)));
        if previous_role_id != Some(role.role_id.as_str()) {
            ops.push((
                self.role_id_key(storage, &role.role_id).await?,
                Some(to_json(&RoleIdEntry {
                    name: role.name.clone(),
                })?),
            ));
        }
        storage.transaction(ops).await
    }

    /// The secret ID entry at `key`; `None` when missing, or expired unless
    /// `with_expired`.
    async fn secret_entry(
        storage: &StorageView,
        key: &str,
        with_expired: bool,
    ) -> Result<Option<SecretIdEntry>, CoreError> {
        let entry: Option<SecretIdEntry> = storage.get_json(key).await?;
        Ok(entry.filter(|e| with_expired || !e.expired()))
    }

    /// Deletes a secret ID and its accessor index.
    async fn delete_secret(
        &self,
        storage: &StorageView,
        role: &RoleEntry,
        key: &str,
        accessor: &str,
    ) -> Result<(), CoreError> {
        let accessor_key = self.accessor_key(storage, role, accessor).await?;
        storage
            .transaction(vec![(accessor_key, None), (key.to_string(), None)])
            .await
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, CoreError> {
    serde_json::to_vec(v).map_err(|e| CoreError::Internal(format!("encoding: {e}")))
}

/// Reads a role, applying OpenBao's upgrades of old entries.
async fn load_role(storage: &StorageView, name: &str) -> Result<Option<RoleEntry>, CoreError> {
    let Some(mut role) = storage
        .get_json::<RoleEntry>(&format!("{ROLE_PREFIX}{}", name.to_lowercase()))
        .await?
    else {
        return Ok(None);
    };
    if role.secret_id_prefix.is_empty() {
        role.secret_id_prefix = SECRET_ID_PREFIX.into();
    }
    if role.token.token_period == 0 && role.period > 0 {
        role.token.token_period = role.period;
    }
    if role.token.token_policies.is_empty() && !role.policies.is_empty() {
        role.token.token_policies = role.policies.clone();
    }
    role.name = name.to_lowercase();
    Ok(Some(role))
}

/// The mount's maximum lease TTL (seconds): its own, else the system's.
fn max_lease_ttl(ctx: &Ctx<'_>) -> u64 {
    match ctx.mount.config.max_lease_ttl {
        0 => ctx.core.tokens.max_ttl.read().as_secs(),
        n => n,
    }
}

// ---------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------

impl Approle {
    async fn list_roles(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
        let f = Fields::new(req, LIST_FIELDS);
        let mut keys: Vec<String> = ctx
            .storage
            .list(ROLE_PREFIX)
            .await?
            .into_iter()
            .filter(|k| !k.ends_with('/'))
            .collect();
        keys.sort();
        Response::list(page(keys, f.string("after"), f.int("limit")))
    }

    async fn read_role(&self, ctx: &Ctx<'_>, name: &str) -> Result<Response, CoreError> {
        let _g = role_lock(ctx.storage, name).lock().await;
        let role = load_role(ctx.storage, name)
            .await?
            .ok_or(CoreError::NotFound)?;
        let mut data: BTreeMap<&str, Value> = BTreeMap::new();
        data.insert("bind_secret_id", json!(role.bind_secret_id));
        data.insert("secret_id_bound_cidrs", json!(role.secret_id_bound_cidrs));
        data.insert("secret_id_num_uses", json!(role.secret_id_num_uses));
        data.insert("secret_id_ttl", json!(role.secret_id_ttl));
        data.insert(
            "local_secret_ids",
            json!(role.secret_id_prefix == SECRET_ID_LOCAL_PREFIX),
        );
        role.token.populate(&mut data);
        if role.period != 0 {
            data.insert("period", json!(role.period));
        }
        if !role.policies.is_empty() {
            data.insert("policies", json!(role.policies));
        }
        let mut warnings = Vec::new();
        if !role.has_constraint() {
            warnings.push(
                "Role does not have any constraints set on it. Updates to this role will require a constraint to be set"
                    .to_string(),
            );
        }
        if !role.role_id.is_empty()
            && self
                .role_id_entry(ctx.storage, &role.role_id)
                .await?
                .is_none()
        {
            let key = self.role_id_key(ctx.storage, &role.role_id).await?;
            ctx.storage
                .put_json(
                    &key,
                    &RoleIdEntry {
                        name: role.name.clone(),
                    },
                )
                .await?;
            warnings.push("Role identifier was missing an index back to role name. A new index has been added. Please report this observation.".to_string());
        }
        Ok(Response {
            data: Some(data.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
            warnings,
            ..Default::default()
        })
    }

    async fn write_role(
        &self,
        ctx: &Ctx<'_>,
        req: &Request,
        name: &str,
    ) -> Result<Response, CoreError> {
        if name.len() > MAX_HMAC_INPUT {
            return Err(invalid(format!(
                "role_name is longer than maximum of {MAX_HMAC_INPUT} bytes"
            )));
        }
        let _g = role_lock(ctx.storage, name).lock().await;
        let existing = load_role(ctx.storage, name).await?;
        let create = existing.is_none();
        if create && req.operation != Operation::Create {
            return Err(CoreError::UnsupportedPath);
        }
        let mut role = existing.unwrap_or_else(|| RoleEntry::new(name));
        let f = Fields::new(req, ROLE_FIELDS);
        let mut warnings = Vec::new();

        // Backwards compatibility for `default-service` / `default-batch`.
        let mut data = req.data.clone();
        if let Some(Value::String(t)) = data.get("token_type") {
            let adjusted = match t.as_str() {
                "default-service" => Some("service"),
                "default-batch" => Some("batch"),
                _ => None,
            };
            if let Some(a) = adjusted {
                warnings.push(format!("{t} has no useful meaning; adjusting to {a}"));
                data.insert("token_type".into(), json!(a));
            }
        }
        role.token.parse(&data)?;

        if f.has("local_secret_ids") {
            if !create {
                return Err(invalid(
                    "local_secret_ids can only be modified during role creation",
                ));
            }
            if f.bool("local_secret_ids") == Some(true) {
                role.secret_id_prefix = SECRET_ID_LOCAL_PREFIX.into();
            }
        }

        let previous_role_id = role.role_id.clone();
        if let Some(id) = f.string("role_id") {
            role.role_id = id;
        } else if create {
            role.role_id = uuid::Uuid::new_v4().to_string();
        }
        if role.role_id.is_empty() {
            return Err(invalid(
                "invalid role_id supplied, or failed to generate a role_id",
            ));
        }

        if let Some(b) = f.bool("bind_secret_id") {
            role.bind_secret_id = b;
        }
        if let Some(cidrs) = f
            .list("secret_id_bound_cidrs")
            .or_else(|| f.list("bound_cidr_list"))
        {
            role.secret_id_bound_cidrs = Some(cidrs);
        }
        validate_cidrs(role.bound_cidrs())
            .map_err(|e| CoreError::Internal(format!("failed to validate CIDR blocks: {e}")))?;

        if let Some(n) = f.int("secret_id_num_uses") {
            role.secret_id_num_uses = n;
        }
        if role.secret_id_num_uses < 0 {
            return Err(invalid("secret_id_num_uses cannot be negative"));
        }
        if let Some(t) = f.secs("secret_id_ttl") {
            role.secret_id_ttl = t;
        }

        upgrade_policies(
            &req.data,
            "policies",
            "token_policies",
            &mut role.policies,
            &mut role.token.token_policies,
        )?;
        upgrade_duration(
            &req.data,
            "period",
            "token_period",
            &mut role.period,
            &mut role.token.token_period,
        )?;

        let max = max_lease_ttl(ctx);
        if role.period > max {
            return Err(invalid(format!(
                "period of {} is greater than the backend's maximum lease TTL of {}",
                go_quote(&format_go_duration(role.period as i64)),
                go_quote(&format_go_duration(max as i64)),
            )));
        }
        if role.token.token_max_ttl > max {
            warnings.push("token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' max TTL value will be truncated".into());
        }

        let prev = (!create).then_some(previous_role_id.as_str());
        self.save_role(ctx.storage, &role, prev).await?;
        Ok(empty_or_warnings(warnings))
    }

    async fn delete_role(&self, ctx: &Ctx<'_>, name: &str) -> Result<Response, CoreError> {
        let _g = role_lock(ctx.storage, name).lock().await;
        let Some(role) = load_role(ctx.storage, name).await? else {
            return Ok(Response::empty());
        };
        // The role's secret IDs (and their accessors) go first.
        let dir = role.secret_dir()?;
        for hmac in ctx.storage.list(&dir).await? {
            if hmac.ends_with('/') {
                continue;
            }
            let key = format!("{dir}{hmac}");
            let _s = secret_lock(ctx.storage, &key).lock().await;
            match Self::secret_entry(ctx.storage, &key, true).await? {
                Some(e) => {
                    self.delete_secret(ctx.storage, &role, &key, &e.secret_id_accessor)
                        .await?
                }
                None => ctx.storage.delete(&key).await?,
            }
        }
        let mut ops = vec![(format!("{ROLE_PREFIX}{}", role.name), None)];
        if !role.role_id.is_empty() {
            ops.push((self.role_id_key(ctx.storage, &role.role_id).await?, None));
        }
        ctx.storage.transaction(ops).await?;
        Ok(Response::empty())
    }

    /// Reads one field (or a few) of a role; 404 when the role is missing.
    async fn read_field(
        &self,
        ctx: &Ctx<'_>,
        name: &str,
        field: &str,
    ) -> Result<Response, CoreError> {
        let role = load_role(ctx.storage, name)
            .await?
            .ok_or(CoreError::NotFound)?;
        let mut d = Data::new();
        let mut warnings = Vec::new();
        match field {
            "policies" => {
                if !role.policies.is_empty() {
                    d.insert("policies".into(), json!(role.policies));
                }
                d.insert("token_policies".into(), json!(role.token.token_policies));
            }
            "secret_id_num_uses" => {
                d.insert(field.into(), json!(role.secret_id_num_uses));
            }
            "secret_id_ttl" => {
                d.insert(field.into(), json!(role.secret_id_ttl));
            }
            "token_num_uses" => {
                d.insert(field.into(), json!(role.token.token_num_uses));
            }
            "token_ttl" => {
                d.insert(field.into(), json!(role.token.token_ttl));
            }
            "token_max_ttl" => {
                d.insert(field.into(), json!(role.token.token_max_ttl));
            }
            "period" => {
                if role.period > 0 {
                    d.insert("period".into(), json!(role.period));
                }
                d.insert("token_period".into(), json!(role.token.token_period));
            }
            "secret_id_bound_cidrs" => {
                d.insert(field.into(), json!(role.secret_id_bound_cidrs));
            }
            "token_bound_cidrs" => {
                let v = &role.token.token_bound_cidrs;
                d.insert(
                    field.into(),
                    if v.is_empty() { Value::Null } else { json!(v) },
                );
            }
            "bound_cidr_list" => {
                d.insert(field.into(), Value::Null);
                warnings.push("The \"bound_cidr_list\" field is deprecated and will be removed. Please use \"secret_id_bound_cidrs\" instead.".to_string());
            }
            "local_secret_ids" => {
                d.insert(
                    field.into(),
                    json!(role.secret_id_prefix == SECRET_ID_LOCAL_PREFIX),
                );
            }
            "role_id" => {
                d.insert(field.into(), json!(role.role_id));
            }
            _ => return Err(CoreError::UnsupportedPath),
        }
        Ok(Response {
            data: Some(d),
            warnings,
            ..Default::default()
        })
    }

    /// Resets one field of a role to its default; nothing when the role is missing.
    async fn delete_field(
        &self,
        ctx: &Ctx<'_>,
        name: &str,
        field: &str,
    ) -> Result<Response, CoreError> {
        let _g = role_lock(ctx.storage, name).lock().await;
        let Some(mut role) = load_role(ctx.storage, name).await? else {
            return Ok(Response::empty());
        };
        match field {
            "policies" => {
                role.token.token_policies.clear();
                role.policies.clear();
            }
            "secret_id_num_uses" => role.secret_id_num_uses = 0,
            "secret_id_ttl" => role.secret_id_ttl = 0,
            "token_num_uses" => role.token.token_num_uses = 0,
            "token_ttl" => role.token.token_ttl = 0,
            "token_max_ttl" => role.token.token_max_ttl = 0,
            "period" => {
                role.token.token_period = 0;
                role.period = 0;
            }
            "secret_id_bound_cidrs" => role.secret_id_bound_cidrs = None,
            "token_bound_cidrs" => role.token.token_bound_cidrs.clear(),
            "bound_cidr_list" => {}
            _ => return Err(CoreError::UnsupportedOperation),
        }
        self.save_role(ctx.storage, &role, Some(&role.role_id.clone()))
            .await?;
        Ok(Response::empty())
    }

    /// Updates one field of a role (`role/NAME/<field>`).
    async fn update_field(
        &self,
        ctx: &Ctx<'_>,
        req: &Request,
        name: &str,
        field: &str,
        schema: Schema,
    ) -> Result<Response, CoreError> {
        let f = Fields::new(req, schema);
        let _g = role_lock(ctx.storage, name).lock().await;
        let mut role = load_role(ctx.storage, name)
            .await?
            .ok_or(CoreError::UnsupportedPath)?;
        let missing = |what: &str| Err(invalid(format!("missing {what}")));
        let mut previous_role_id = role.role_id.clone();
        match field {
            "policies" => match f.list("token_policies") {
                Some(p) => {
                    role.token.token_policies = sanitize_policies(&p);
                    role.policies = if f.has("policies") {
                        role.token.token_policies.clone()
                    } else {
                        Vec::new()
                    };
                }
                None => match f.list("policies") {
                    Some(p) => {
                        role.policies = sanitize_policies(&p);
                        role.token.token_policies = role.policies.clone();
                    }
                    None => return missing("token_policies"),
                },
            },
            "secret_id_num_uses" => match f.int("secret_id_num_uses") {
                Some(n) if n < 0 => return Err(invalid("secret_id_num_uses cannot be negative")),
                Some(n) => role.secret_id_num_uses = n,
                None => return missing("secret_id_num_uses"),
            },
            "secret_id_ttl" => match f.secs("secret_id_ttl") {
                Some(t) => role.secret_id_ttl = t,
                None => return missing("secret_id_ttl"),
            },
            "token_num_uses" => match f.int("token_num_uses") {
                Some(n) => role.token.token_num_uses = n,
                None => return missing("token_num_uses"),
            },
            "token_ttl" => match f.secs("token_ttl") {
                Some(t) => {
                    role.token.token_ttl = t;
                    let max = role.token.token_max_ttl;
                    if max > 0 && t > max {
                        return Err(invalid(
                            "token_ttl should not be greater than token_max_ttl",
                        ));
                    }
                }
                None => return missing("token_ttl"),
            },
            "token_max_ttl" => match f.secs("token_max_ttl") {
                Some(max) => {
                    role.token.token_max_ttl = max;
                    if max > 0 && role.token.token_ttl > max {
                        return Err(invalid(
                            "token_max_ttl should be greater than or equal to token_ttl",
                        ));
                    }
                }
                None => return missing("token_max_ttl"),
            },
            "period" => {
                match f.secs("token_period") {
                    Some(p) => {
                        role.token.token_period = p;
                        role.period = if f.has("period") { p } else { 0 };
                    }
                    None => match f.secs("period") {
                        Some(p) => {
                            role.period = p;
                            role.token.token_period = p;
                        }
                        None => return missing("period"),
                    },
                }
                let max = max_lease_ttl(ctx);
                if role.token.token_period > max {
                    // OpenBao names the deprecated field's value here.
                    return Err(invalid(format!(
                        "period of {} is greater than the backend's maximum lease TTL of {}",
                        go_quote(&format_go_duration(role.period as i64)),
                        go_quote(&format_go_duration(max as i64)),
                    )));
                }
            }
            "secret_id_bound_cidrs" | "bound_cidr_list" => {
                if let Some(cidrs) = f.list(field) {
                    if cidrs.is_empty() {
                        return missing("bound_cidr_list");
                    }
                    validate_cidrs(&cidrs)
                        .map_err(|e| invalid(format!("failed to validate CIDR blocks: {e}")))?;
                    role.secret_id_bound_cidrs = Some(cidrs);
                }
            }
            "token_bound_cidrs" => {
                if let Some(cidrs) = f.list("token_bound_cidrs") {
                    role.token.token_bound_cidrs = parse_addrs(&cidrs)
                        .map_err(|e| invalid(format!("failed to parse token_bound_cidrs: {e}")))?;
                }
            }
            "role_id" => {
                previous_role_id = role.role_id.clone();
                match f.string("role_id").filter(|s| !s.is_empty()) {
                    Some(id) => role.role_id = id,
                    None => return missing("role_id"),
                }
            }
            _ => return Err(CoreError::UnsupportedOperation),
        }
        self.save_role(ctx.storage, &role, Some(&previous_role_id))
            .await?;
        Ok(Response::empty())
    }
}

/// `ListPage`: the keys after `after`, at most `limit` (all when not positive).
fn page(keys: Vec<String>, after: Option<String>, limit: Option<i64>) -> Vec<String> {
    let after = after.unwrap_or_default();
    let iter = keys
        .into_iter()
        .filter(|k| after.is_empty() || k.as_str() > after.as_str());
    match limit {
        Some(n) if n > 0 => iter.take(n as usize).collect(),
        _ => iter.collect(),
    }
}

// ---------------------------------------------------------------------------
// Secret IDs
// ---------------------------------------------------------------------------

impl Approle {
    /// `role/NAME/secret-id` and `role/NAME/custom-secret-id`.
    async fn create_secret_id(
        &self,
        ctx: &Ctx<'_>,
        req: &Request,
        name: &str,
        custom: bool,
    ) -> Result<Response, CoreError> {
        let schema = if custom {
            CUSTOM_SECRET_ID_FIELDS
        } else {
            SECRET_ID_FIELDS
        };
        let f = Fields::new(req, schema);
        let secret_id = Zeroizing::new(if custom {
            f.string("secret_id").unwrap_or_default()
        } else {
            uuid::Uuid::new_v4().to_string()
        });
        if secret_id.is_empty() {
            return Err(invalid("missing secret_id"));
        }
        let Some(role) = load_role(ctx.storage, name).await? else {
            return Ok(error_status(
                404,
                &format!("role {} does not exist", go_quote(name)),
            ));
        };
        if !role.bind_secret_id {
            return Err(invalid("bind_secret_id is not set on the role"));
        }

        let cidr_list = f.list("cidr_list").unwrap_or_default();
        validate_cidrs(&cidr_list)
            .map_err(|e| CoreError::Internal(format!("failed to validate CIDR blocks: {e}")))?;
        verify_cidr_subset(&cidr_list, role.bound_cidrs())?;
        let token_cidrs = f.list("token_bound_cidrs").unwrap_or_default();
        validate_cidrs(&token_cidrs).map_err(|e| {
            CoreError::Internal(format!("failed to validate token CIDR blocks: {e}"))
        })?;
        verify_cidr_subset(&token_cidrs, &role.token.token_bound_cidrs)?;

        let role_uses = role.secret_id_num_uses;
        let num_uses = match f.int("num_uses") {
            Some(n) if n < 0 => return Err(invalid("num_uses cannot be negative")),
            Some(n) if role_uses > 0 && (n == 0 || n > role_uses) => {
                return Err(invalid(
                    "num_uses cannot be higher than the role's secret_id_num_uses",
                ))
            }
            Some(n) => n,
            None => role_uses,
        };
        let role_ttl = role.secret_id_ttl;
        let ttl = match f.secs("ttl") {
            Some(t) if role_ttl > 0 && (t == 0 || t > role_ttl) => {
                return Err(invalid(
                    "ttl cannot be longer than the role's secret_id_ttl",
                ))
            }
            Some(t) => t,
            None => role_ttl,
        };
        let metadata = parse_metadata(&f.string("metadata").unwrap_or_default())
            .map_err(|e| invalid(format!("failed to parse metadata: {e}")))?;

        // The mount's max lease TTL caps the expiry.
        let max = max_lease_ttl(ctx);
        let effective_ttl = if ttl > max { max } else { ttl };
        let secret_hmac = create_hmac(&role.hmac_key, &secret_id).map_err(|e| {
            CoreError::Internal(format!(
                "failed to store secret_id: failed to create HMAC of secret ID: {e}"
            ))
        })?;
        let key = format!("{}{secret_hmac}", role.secret_dir()?);
        let _s = secret_lock(ctx.storage, &key).lock().await;
        if ctx.storage.get(&key).await?.is_some() {
            return Err(CoreError::Internal(
                "failed to store secret_id: SecretID is already registered".into(),
            ));
        }
        let now = Utc::now();
        let entry = SecretIdEntry {
            secret_id_accessor: uuid::Uuid::new_v4().to_string(),
            secret_id_num_uses: num_uses,
            secret_id_ttl: ttl,
            creation_time: now,
            expiration_time: (effective_ttl > 0)
                .then(|| now + chrono::Duration::seconds(effective_ttl as i64)),
            last_updated_time: now,
            metadata,
            cidr_list,
            token_bound_cidrs: token_cidrs,
        };
        let accessor_key = self
            .accessor_key(ctx.storage, &role, &entry.secret_id_accessor)
            .await?;
        ctx.storage
            .transaction(vec![
                (
                    accessor_key,
                    Some(to_json(&AccessorEntry {
                        secret_id_hmac: secret_hmac,
                    })?),
                ),
                (key, Some(to_json(&entry)?)),
            ])
            .await?;

        let mut d = Data::new();
        d.insert("secret_id".into(), json!(secret_id.as_str()));
        d.insert("secret_id_accessor".into(), json!(entry.secret_id_accessor));
        d.insert("secret_id_num_uses".into(), json!(entry.secret_id_num_uses));
        d.insert("secret_id_ttl".into(), json!(effective_ttl));
        Ok(Response::with_data(d))
    }

    async fn list_secret_ids(
        &self,
        ctx: &Ctx<'_>,
        req: &Request,
        name: &str,
    ) -> Result<Response, CoreError> {
        let f = Fields::new(req, SECRET_ID_FIELDS);
        let Some(role) = load_role(ctx.storage, name).await? else {
            return Err(invalid(format!("role {} does not exist", go_quote(name))));
        };
        let dir = role.secret_dir()?;
        let mut hmacs: Vec<String> = ctx
            .storage
            .list(&dir)
            .await?
            .into_iter()
            .filter(|k| !k.is_empty() && !k.ends_with('/'))
            .collect();
        hmacs.sort();
        let mut accessors = Vec::new();
        for hmac in page(hmacs, f.string("after"), f.int("limit")) {
            let entry = Self::secret_entry(ctx.storage, &format!("{dir}{hmac}"), true)
                .await?
                .ok_or_else(|| {
                    CoreError::Internal(
                        "storage entry for SecretID is present but no content found at the index"
                            .into(),
                    )
                })?;
            accessors.push(entry.secret_id_accessor);
        }
        Response::list(accessors)
    }

    /// The role for a secret ID operation; OpenBao answers a missing one with a 500.
    async fn role_for_secret_op(ctx: &Ctx<'_>, name: &str) -> Result<RoleEntry, CoreError> {
        load_role(ctx.storage, name)
            .await?
            .ok_or_else(|| CoreError::Internal(format!("role {} does not exist", go_quote(name))))
    }

    /// The storage key of `secret_id` under `role`.
    fn secret_key(role: &RoleEntry, secret_id: &str) -> Result<String, CoreError> {
        let hmac = create_hmac(&role.hmac_key, secret_id)
            .map_err(|e| CoreError::Internal(format!("failed to create HMAC of secret_id: {e}")))?;
        Ok(format!("{}{hmac}", role.secret_dir()?))
    }

    async fn lookup_secret_id(
        &self,
        ctx: &Ctx<'_>,
        req: &Request,
        name: &str,
    ) -> Result<Response, CoreError> {
        let f = Fields::new(req, SECRET_ID_VALUE_FIELDS);
        let secret_id = Zeroizing::new(f.string("secret_id").unwrap_or_default());
        if secret_id.is_empty() {
            return Err(invalid("missing secret_id"));
        }
        let role = Self::role_for_secret_op(ctx, name).await?;
        let key = Self::secret_key(&role, &secret_id)?;
        let _s = secret_lock(ctx.storage, &key).lock().await;
        let Some(entry) = Self::secret_entry(ctx.storage, &key, false).await? else {
            return Ok(Response::empty());
        };
        if self
            .accessor_entry(ctx.storage, &role, &entry.secret_id_accessor)
            .await?
            .is_none()
        {
            ctx.storage.delete(&key).await?;
            return Err(invalid("invalid secret id"));
        }
        Ok(Response::with_data(entry.to_data()))
    }

    async fn destroy_secret_id(
        &self,
        ctx: &Ctx<'_>,
        req: &Request,
        name: &str,
    ) -> Result<Response, CoreError> {
        let f = Fields::new(req, SECRET_ID_VALUE_FIELDS);
        let secret_id = Zeroizing::new(f.string("secret_id").unwrap_or_default());
        if secret_id.is_empty() {
            return Err(invalid("missing secret_id"));
        }
        let role = Self::role_for_secret_op(ctx, name).await?;
        let key = Self::secret_key(&role, &secret_id)?;
        let _s = secret_lock(ctx.storage, &key).lock().await;
        if let Some(entry) = Self::secret_entry(ctx.storage, &key, true).await? {
            self.delete_secret(ctx.storage, &role, &key, &entry.secret_id_accessor)
                .await?;
        }
        Ok(Response::empty())
    }

    async fn lookup_accessor(
        &self,
        ctx: &Ctx<'_>,
        req: &Request,
        name: &str,
    ) -> Result<Response, CoreError> {
        let f = Fields::new(req, ACCESSOR_FIELDS);
        let accessor = f.string("secret_id_accessor").unwrap_or_default();
        if accessor.is_empty() {
            return Err(invalid("missing secret_id_accessor"));
        }
        let role = Self::role_for_secret_op(ctx, name).await?;
        let Some(index) = self.accessor_entry(ctx.storage, &role, &accessor).await? else {
            let mut d = Data::new();
            d.insert(
                "error".into(),
                json!(format!(
                    "failed to find accessor entry for secret_id_accessor: {}",
                    go_quote(&accessor)
                )),
            );
            return Ok(kvutil::envelope_404(Some(d), Vec::new()));
        };
        let key = format!("{}{}", role.secret_dir()?, index.secret_id_hmac);
        match Self::secret_entry(ctx.storage, &key, false).await? {
            Some(entry) => Ok(Response::with_data(entry.to_data())),
            None => Ok(Response::empty()),
        }
    }

    async fn destroy_accessor(
        &self,
        ctx: &Ctx<'_>,
        req: &Request,
        name: &str,
    ) -> Result<Response, CoreError> {
        let f = Fields::new(req, ACCESSOR_FIELDS);
        let accessor = f.string("secret_id_accessor").unwrap_or_default();
        if accessor.is_empty() {
            return Err(invalid("missing secret_id_accessor"));
        }
        let role = Self::role_for_secret_op(ctx, name).await?;
        let Some(index) = self.accessor_entry(ctx.storage, &role, &accessor).await? else {
            return Err(CoreError::Internal(format!(
                "failed to find accessor entry for secret_id_accessor: {}",
                go_quote(&accessor)
            )));
        };
        let key = format!("{}{}", role.secret_dir()?, index.secret_id_hmac);
        let _s = secret_lock(ctx.storage, &key).lock().await;
        if Self::secret_entry(ctx.storage, &key, true).await?.is_none() {
            return Err(CoreError::Forbidden("invalid secret id accessor".into()));
        }
        self.delete_secret(ctx.storage, &role, &key, &accessor)
            .await?;
        Ok(Response::empty())
    }
}

// ---------------------------------------------------------------------------
// Login
// ---------------------------------------------------------------------------

/// `IPBelongsToCIDRBlocksSlice` on the caller's address; without one the
/// request cannot be checked (a 500, as in OpenBao).
fn caller_in(remote: Option<IpAddr>, cidrs: &[String]) -> Result<(IpAddr, bool), CoreError> {
    let addr =
        remote.ok_or_else(|| CoreError::Internal("failed to get connection information".into()))?;
    Ok((addr, cidrs.iter().any(|c| cidr_contains(c, addr))))
}

impl Approle {
    async fn login(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
        let f = Fields::new(req, LOGIN_FIELDS);
        f.validate()
            .map_err(|e| CoreError::Internal(format!("Field validation failed: {e}")))?;
        let role_id = f.string("role_id").unwrap_or_default();
        let role_id = role_id.trim();
        if role_id.is_empty() {
            // OpenBao's alias lookahead runs first, for any operation: a 500.
            return Err(CoreError::Internal("missing role_id".into()));
        }
        if !matches!(req.operation, Operation::Create | Operation::Update) {
            // Login paths answer other operations with a plain message.
            return Ok(error_status(405, "unsupported operation"));
        }
        let Some(index) = self.role_id_entry(ctx.storage, role_id).await? else {
            return Err(invalid(INVALID_CREDENTIALS));
        };
        let Some(role) = load_role(ctx.storage, &index.name).await? else {
            return Err(invalid(INVALID_CREDENTIALS));
        };

        let mut metadata = BTreeMap::new();
        let mut secret_token_cidrs = Vec::new();
        // Held until the use is recorded, so a last use is used only once.
        let mut _secret_guard = None;
        let mut use_up: Option<(String, SecretIdEntry)> = None;
        if role.bind_secret_id {
            let secret_id = Zeroizing::new(f.string("secret_id").unwrap_or_default());
            let secret_id = secret_id.trim();
            if secret_id.is_empty() {
                return Err(invalid("missing secret_id"));
            }
            let key = Self::secret_key(&role, secret_id)?;
            _secret_guard = Some(secret_lock(ctx.storage, &key).lock().await);
            let Some(entry) = Self::secret_entry(ctx.storage, &key, false).await? else {
                return Err(invalid(INVALID_CREDENTIALS));
            };
            if self
                .accessor_entry(ctx.storage, &role, &entry.secret_id_accessor)
                .await?
                .is_none()
            {
                // A secret ID without its accessor index is revoked.
                ctx.storage.delete(&key).await?;
                return Err(invalid(INVALID_CREDENTIALS));
            }
            verify_cidr_subset(&entry.cidr_list, role.bound_cidrs())?;
            if !entry.cidr_list.is_empty() {
                let (addr, ok) = caller_in(req.remote_addr, &entry.cidr_list)?;
                if !ok {
                    let addr = go_quote(&addr.to_string());
                    return Err(invalid(if entry.secret_id_num_uses == 0 {
                        format!(
                            "source address {addr} unauthorized through CIDR restrictions on the secret ID"
                        )
                    } else {
                        format!(
                            "source address {addr} unauthorized by CIDR restrictions on the secret ID: %!w(<nil>)"
                        )
                    }));
                }
            }
            metadata = entry.metadata.clone();
            secret_token_cidrs = entry.token_bound_cidrs.clone();
            if entry.secret_id_num_uses > 0 {
                use_up = Some((key, entry));
            }
        }

        if !role.bound_cidrs().is_empty() {
            let (addr, ok) = caller_in(req.remote_addr, role.bound_cidrs())?;
            if !ok {
                return Err(invalid(format!(
                    "source address {} unauthorized by CIDR restrictions on the role: %!w(<nil>)",
                    go_quote(&addr.to_string())
                )));
            }
        }
        let token_cidrs = if secret_token_cidrs.is_empty() {
            role.token.token_bound_cidrs.clone()
        } else {
            parse_addrs(&secret_token_cidrs).map_err(invalid)?
        };

        // Every check passed: record the use (the last one deletes the secret ID).
        if let Some((key, mut entry)) = use_up {
            if entry.secret_id_num_uses == 1 {
                self.delete_secret(ctx.storage, &role, &key, &entry.secret_id_accessor)
                    .await?;
            } else {
                entry.secret_id_num_uses -= 1;
                entry.last_updated_time = Utc::now();
                ctx.storage.put_json(&key, &entry).await?;
            }
        }
        drop(_secret_guard);

        metadata.insert("role_name".into(), role.name.clone());
        let mut login = role.token.login_auth(req.remote_addr);
        // The secret ID's (or else the role's) token CIDRs, even with
        // `token_strictly_bind_ip`, as in OpenBao.
        login.bound_cidrs = token_cidrs;
        login.metadata = metadata;
        login.internal.insert("role_name".into(), json!(role.name));
        Ok(Response {
            login: Some(login),
            ..Default::default()
        })
    }
}

// ---------------------------------------------------------------------------
// Tidy
// ---------------------------------------------------------------------------

/// Removes expired secret IDs, secret IDs without an accessor index, and
/// accessor indexes without a secret ID. Returns how many secret IDs went.
async fn tidy_secret_ids(storage: &StorageView, salt: &[u8]) -> Result<usize, CoreError> {
    let mut removed = 0;
    for (secret_prefix, accessor_prefix) in [
        (SECRET_ID_PREFIX, ACCESSOR_PREFIX),
        (SECRET_ID_LOCAL_PREFIX, ACCESSOR_LOCAL_PREFIX),
    ] {
        let accessors = storage.list(accessor_prefix).await?;
        let mut keep: BTreeSet<String> = BTreeSet::new();
        let mut remaining: BTreeSet<String> = BTreeSet::new();
        for role_dir in storage.list(secret_prefix).await? {
            if !role_dir.ends_with('/') {
                continue;
            }
            for hmac in storage.list(&format!("{secret_prefix}{role_dir}")).await? {
                let key = format!("{secret_prefix}{role_dir}{hmac}");
                let _s = secret_lock(storage, &key).lock().await;
                let Some(entry) = Approle::secret_entry(storage, &key, true).await? else {
                    continue;
                };
                let salted =
                    hmac_hex(salt, &entry.secret_id_accessor).map_err(CoreError::Internal)?;
                let accessor_key = format!("{accessor_prefix}{salted}");
                if storage.get(&accessor_key).await?.is_none() {
                    storage.delete(&key).await?;
                    removed += 1;
                    continue;
                }
                if entry.expired() {
                    storage
                        .transaction(vec![(accessor_key, None), (key, None)])
                        .await?;
                    removed += 1;
                    continue;
                }
                keep.insert(salted);
                remaining.insert(hmac);
            }
        }
        // Accessor indexes left behind by removed secret IDs.
        for salted in accessors {
            if keep.contains(&salted) {
                continue;
            }
            let key = format!("{accessor_prefix}{salted}");
            let Some(index) = storage.get_json::<AccessorEntry>(&key).await? else {
                continue;
            };
            if !remaining.contains(&index.secret_id_hmac) {
                storage.delete(&key).await?;
            }
        }
    }
    Ok(removed)
}

impl Approle {
    async fn tidy(&self, ctx: &Ctx<'_>) -> Result<Response, CoreError> {
        if self
            .tidy_running
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Ok(empty_or_warnings(vec![
                "Tidy operation already in progress.".into(),
            ]));
        }
        let salt = match self.salt(ctx.storage).await {
            Ok(s) => s.clone(),
            Err(e) => {
                self.tidy_running.store(false, Ordering::SeqCst);
                return Err(e);
            }
        };
        let storage = ctx.storage.clone();
        let running = self.tidy_running.clone();
        tokio::spawn(async move {
            match tidy_secret_ids(&storage, &salt).await {
                Ok(n) => tracing::info!(removed = n, "approle: tidied secret IDs"),
                Err(e) => tracing::error!(error = %e, "approle: error tidying secret IDs"),
            }
            running.store(false, Ordering::SeqCst);
        });
        Ok(Response {
            warnings: vec!["Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.".into()],
            status: Some(202),
            ..Default::default()
        })
    }
}

// ---------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------

/// Where a request goes.
enum Route<'a> {
    Login,
    Tidy,
    Roles,
    Role(&'a str),
    /// `role/NAME/<field path>`, with the role field it manages.
    Field(&'a str, &'static str, Schema),
    LocalSecretIds(&'a str),
    RoleId(&'a str),
    SecretId(&'a str),
    CustomSecretId(&'a str),
    SecretIdLookup(&'a str),
    SecretIdDestroy(&'a str),
    AccessorLookup(&'a str),
    AccessorDestroy(&'a str),
}

impl Route<'_> {
    fn schema(&self) -> Schema {
        match self {
            Route::Login => LOGIN_FIELDS,
            Route::Tidy => NO_FIELDS,
            Route::Roles => LIST_FIELDS,
            Route::Role(_) => ROLE_FIELDS,
            Route::Field(_, _, s) => s,
            Route::LocalSecretIds(_) => NAME_ONLY,
            Route::RoleId(_) => ROLE_ID_FIELDS,
            Route::SecretId(_) => SECRET_ID_FIELDS,
            Route::CustomSecretId(_) => CUSTOM_SECRET_ID_FIELDS,
            Route::SecretIdLookup(_) | Route::SecretIdDestroy(_) => SECRET_ID_VALUE_FIELDS,
            Route::AccessorLookup(_) | Route::AccessorDestroy(_) => ACCESSOR_FIELDS,
        }
    }
}

fn route(path: &str) -> Option<Route<'_>> {
    match path {
        "login" => return Some(Route::Login),
        "tidy/secret-id" => return Some(Route::Tidy),
        "role" | "role/" => return Some(Route::Roles),
        _ => {}
    }
    let rest = path.strip_prefix(ROLE_PREFIX)?;
    let (name, sub) = match rest.split_once('/') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    if !valid_name(name) {
        return None;
    }
    let Some(sub) = sub else {
        return Some(Route::Role(name));
    };
    // Paths declared with an optional trailing slash.
    let loose = sub.strip_suffix('/').unwrap_or(sub);
    Some(match (sub, loose) {
        (_, "secret-id") => Route::SecretId(name),
        (_, "secret-id/lookup") => Route::SecretIdLookup(name),
        (_, "secret-id/destroy") => Route::SecretIdDestroy(name),
        (_, "secret-id-accessor/lookup") => Route::AccessorLookup(name),
        (_, "secret-id-accessor/destroy") => Route::AccessorDestroy(name),
        ("custom-secret-id", _) => Route::CustomSecretId(name),
        ("role-id", _) => Route::RoleId(name),
        ("local-secret-ids", _) => Route::LocalSecretIds(name),
        ("policies", _) => Route::Field(name, "policies", POLICIES_FIELDS),
        ("bound-cidr-list", _) => Route::Field(name, "bound_cidr_list", BOUND_CIDR_LIST_FIELDS),
        ("secret-id-bound-cidrs", _) => {
            Route::Field(name, "secret_id_bound_cidrs", SECRET_ID_BOUND_CIDRS_FIELDS)
        }
        ("token-bound-cidrs", _) => {
            Route::Field(name, "token_bound_cidrs", TOKEN_BOUND_CIDRS_FIELDS)
        }
        ("secret-id-num-uses", _) => {
            Route::Field(name, "secret_id_num_uses", SECRET_ID_NUM_USES_FIELDS)
        }
        ("secret-id-ttl", _) => Route::Field(name, "secret_id_ttl", SECRET_ID_TTL_FIELDS),
        ("period", _) => Route::Field(name, "period", PERIOD_FIELDS),
        ("token-num-uses", _) => Route::Field(name, "token_num_uses", TOKEN_NUM_USES_FIELDS),
        ("token-ttl", _) => Route::Field(name, "token_ttl", TOKEN_TTL_FIELDS),
        ("token-max-ttl", _) => Route::Field(name, "token_max_ttl", TOKEN_MAX_TTL_FIELDS),
        // `bind-secret-id` is declared by OpenBao 2.7.2 but not reachable:
        // every operation on it is `unsupported path`.
        _ => return None,
    })
}

#[async_trait]
impl Backend for Approle {
    fn unauthenticated_paths(&self) -> &'static [&'static str] {
        &["login"]
    }

    async fn existence(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Option<bool>, CoreError> {
        match route(ctx.path) {
            Some(Route::Role(name)) => {
                // The framework validates the fields as part of the check.
                Fields::new(req, ROLE_FIELDS).validate().map_err(invalid)?;
                Ok(Some(load_role(ctx.storage, name).await?.is_some()))
            }
            _ => Ok(None),
        }
    }

    async fn handle(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
        use Operation::{Create, Delete, List, Read, Update};
        let Some(r) = route(ctx.path) else {
            return Err(CoreError::UnsupportedPath);
        };
        let op = req.operation;
        let write = matches!(op, Create | Update);
        let supported = match &r {
            // A list names `login/`, which needs a token.
            Route::Login if op == List => return Err(CoreError::PermissionDenied),
            Route::Login => true,
            Route::Tidy => write,
            Route::Roles => op == List,
            Route::Role(_) | Route::Field(..) => write || matches!(op, Read | Delete),
            Route::LocalSecretIds(_) => op == Read,
            Route::RoleId(_) => write || op == Read,
            Route::SecretId(_) => write || op == List,
            Route::CustomSecretId(_) | Route::SecretIdLookup(_) | Route::AccessorLookup(_) => write,
            Route::SecretIdDestroy(_) | Route::AccessorDestroy(_) => write || op == Delete,
        };
        if !supported {
            return Err(CoreError::UnsupportedOperation);
        }
        let fields = Fields::new(req, r.schema());
        match r {
            // Login checks its own fields (a failure there is a 500).
            Route::Login => {}
            // A write to `role/NAME` goes through its existence check, which
            // validates the fields and reports without the framework's prefix.
            Route::Role(_) if write => fields.validate().map_err(invalid)?,
            _ if op == List => {}
            _ => fields
                .validate()
                .map_err(|e| invalid(format!("Field validation failed: {e}")))?,
        }
        let mut resp = match r {
            Route::Login => self.login(ctx, req).await?,
            Route::Tidy => self.tidy(ctx).await?,
            Route::Roles => self.list_roles(ctx, req).await?,
            Route::Role(name) => match op {
                Read => self.read_role(ctx, name).await?,
                Delete => self.delete_role(ctx, name).await?,
                _ => self.write_role(ctx, req, name).await?,
            },
            Route::Field(name, field, schema) => match op {
                Read => self.read_field(ctx, name, field).await?,
                Delete => self.delete_field(ctx, name, field).await?,
                _ => self.update_field(ctx, req, name, field, schema).await?,
            },
            Route::LocalSecretIds(name) => self.read_field(ctx, name, "local_secret_ids").await?,
            Route::RoleId(name) if write => {
                self.update_field(ctx, req, name, "role_id", ROLE_ID_FIELDS)
                    .await?
            }
            Route::RoleId(name) => self.read_field(ctx, name, "role_id").await?,
            Route::SecretId(name) if op == List => self.list_secret_ids(ctx, req, name).await?,
            Route::SecretId(name) => self.create_secret_id(ctx, req, name, false).await?,
            Route::CustomSecretId(name) => self.create_secret_id(ctx, req, name, true).await?,
            Route::SecretIdLookup(name) => self.lookup_secret_id(ctx, req, name).await?,
            Route::SecretIdDestroy(name) => self.destroy_secret_id(ctx, req, name).await?,
            Route::AccessorLookup(name) => self.lookup_accessor(ctx, req, name).await?,
            Route::AccessorDestroy(name) => self.destroy_accessor(ctx, req, name).await?,
        };
        // The framework's note about parameters the path does not declare
        // (a login carries it next to the token).
        let has_content = resp.login.is_some() || !resp.is_empty();
        if resp.raw.is_none() && has_content {
            let unknown = fields.unknown(op);
            if !unknown.is_empty() {
                resp.warnings.push(format!(
                    "Endpoint ignored these unrecognized parameters: [{}]",
                    unknown.join(" ")
                ));
            }
        }
        Ok(resp)
    }

    /// A login token renews only while its role exists.
    async fn renew_login(&self, ctx: &Ctx<'_>, internal: &Data) -> Result<bool, CoreError> {
        let Some(name) = internal
            .get("role_name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        else {
            return Err(CoreError::Internal(
                "failed to fetch role_name during renewal".into(),
            ));
        };
        if load_role(ctx.storage, name).await?.is_none() {
            return Err(CoreError::Internal(format!(
                "failed to renew entry: role {} does not exist during renewal",
                go_quote(name)
            )));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
