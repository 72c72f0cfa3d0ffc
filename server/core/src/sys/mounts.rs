//! `sys/mounts`, `sys/auth`, their `tune` endpoints and the UI mount
//! pre-flight `sys/internal/ui/mounts`.

use std::collections::BTreeMap;
use std::sync::Arc;

use coffer_policy::Acl;
use serde_json::{json, Map, Value};

use super::util::{
    bool_field, comma_list_value, kv_pairs_field, parse_duration_second, sanitize_path,
    string_field,
};
use crate::error::CoreError;
use crate::logical::{Ctx, Data, Operation, Request, Response};
use crate::mounts::{new_accessor, MountConfig, MountEntry, TableKind};

/// Which mount table an endpoint works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Secrets,
    Auth,
}

impl Kind {
    fn table(self) -> TableKind {
        match self {
            Kind::Secrets => TableKind::Secrets,
            Kind::Auth => TableKind::Auth,
        }
    }
}

/// Mount paths that cannot be mounted over, unmounted or remounted.
const PROTECTED_MOUNTS: &[&str] = &["audit/", "auth/", "sys/", "cubbyhole/", "identity/"];
/// Mounts whose tunables are fixed (except the audit HMAC key lists).
const UNTUNABLE_MOUNTS: &[&str] = &["cubbyhole/", "sys/", "audit/", "identity/"];
/// Types that exist once, created by the core.
const SINGLETON_TYPES: &[&str] = &[
    "cubbyhole",
    "ns_cubbyhole",
    "system",
    "ns_system",
    "token",
    "ns_token",
    "identity",
    "ns_identity",
];
/// Types without a `deprecation_status` in OpenBao's mount listings.
const NO_DEPRECATION_STATUS: &[&str] = &["cubbyhole", "system", "identity", "token"];
/// Tune fields OpenBao knows; any of these on an untunable mount is refused
/// unless it is one of [`UNTUNABLE_ALLOWED`].
const TUNE_FIELDS: &[&str] = &[
    "default_lease_ttl",
    "max_lease_ttl",
    "description",
    "audit_non_hmac_request_keys",
    "audit_non_hmac_response_keys",
    "listing_visibility",
    "passthrough_request_headers",
    "allowed_response_headers",
    "token_type",
    "options",
    "plugin_version",
    "user_lockout_config",
];
const UNTUNABLE_ALLOWED: &[&str] = &[
    "audit_non_hmac_request_keys",
    "audit_non_hmac_response_keys",
];

/// The JSON OpenBao shows for a mount in `sys/mounts`, `sys/auth` and
/// `sys/internal/ui/mounts`: [`MountEntry::to_api`] plus the auth
/// `token_type` default and `deprecation_status` for builtin plugins.
pub fn mount_info(entry: &MountEntry) -> Value {
    let mut v = entry.to_api(crate::core::VERSION);
    if let Value::Object(m) = &mut v {
        if entry.table == TableKind::Auth {
            if let Some(Value::Object(c)) = m.get_mut("config") {
                if !c.contains_key("token_type") {
                    c.insert("token_type".into(), json!("default-service"));
                }
            }
        }
        if !NO_DEPRECATION_STATUS.contains(&entry.mount_type.as_str())
            && !m.contains_key("deprecation_status")
        {
            m.insert("deprecation_status".into(), json!("supported"));
        }
    }
    v
}

fn bad(e: String) -> CoreError {
    CoreError::InvalidRequest(e)
}

/// `GET sys/mounts`, `GET sys/auth`.
pub async fn handle_table(ctx: &Ctx<'_>, req: &Request, kind: Kind) -> Result<Response, CoreError> {
    if req.operation != Operation::Read {
        return Err(CoreError::UnsupportedOperation);
    }
    let mut data = Data::new();
    for e in ctx.core.mounts(kind.table()) {
        data.insert(e.path.clone(), mount_info(&e));
    }
    Ok(Response::with_data(data))
}

/// `sys/mounts/PATH`: read, enable, disable a secrets engine.
pub async fn handle_mount(ctx: &Ctx<'_>, req: &Request, raw: &str) -> Result<Response, CoreError> {
    let path = sanitize_path(raw);
    match req.operation {
        Operation::Read => match ctx.core.route(&path) {
            Some((route, _)) => Ok(Response::json(mount_info(&route.entry))),
            None => Err(bad(format!("No secret engine mount at {path}"))),
        },
        Operation::Create | Operation::Update => {
            let entry = parse_enable(ctx, req, &path, Kind::Secrets)?;
            enable(ctx, entry).await?;
            Ok(Response::empty())
        }
        Operation::Delete => {
            let Some((route, _)) = ctx.core.route(&path) else {
                return Ok(Response::empty());
            };
            if route.entry.full_path() != path {
                return Ok(Response::empty());
            }
            if PROTECTED_MOUNTS.iter().any(|p| path.starts_with(p)) {
                return Err(bad(format!("cannot unmount {path:?}")));
            }
            ctx.core
                .unmount(route.entry.table, &route.entry.path)
                .await?;
            Ok(Response::empty())
        }
        _ => Err(CoreError::UnsupportedOperation),
    }
}

/// `sys/auth/PATH`: read, enable, disable an auth method.
pub async fn handle_auth(ctx: &Ctx<'_>, req: &Request, raw: &str) -> Result<Response, CoreError> {
    let path = sanitize_path(raw);
    match req.operation {
        Operation::Read => ctx
            .core
            .mounts(TableKind::Auth)
            .into_iter()
            .find(|e| e.path == path)
            .map(|e| Response::json(mount_info(&e)))
            .ok_or_else(|| bad(format!("No auth engine at {path}"))),
        Operation::Create | Operation::Update => {
            let entry = parse_enable(ctx, req, &path, Kind::Auth)?;
            enable(ctx, entry).await?;
            Ok(Response::empty())
        }
        Operation::Delete => {
            let Some(entry) = ctx
                .core
                .mounts(TableKind::Auth)
                .into_iter()
                .find(|e| e.path == path)
            else {
                return Ok(Response::empty());
            };
            if entry.mount_type == "token" || path == "token/" {
                return Err(bad("token credential backend cannot be disabled".into()));
            }
            revoke_mount_tokens(ctx, &entry.accessor).await?;
            ctx.core.unmount(TableKind::Auth, &path).await?;
            Ok(Response::empty())
        }
        _ => Err(CoreError::UnsupportedOperation),
    }
}

/// Revokes every token minted by the auth mount with `accessor` (Vault
/// revokes an auth method's tokens when it is disabled).
async fn revoke_mount_tokens(ctx: &Ctx<'_>, accessor: &str) -> Result<(), CoreError> {
    for acc in ctx.core.tokens.list_accessors().await? {
        if let Some(t) = ctx.core.tokens.lookup_accessor(&acc).await? {
            if t.mount_accessor == accessor {
                ctx.core.tokens.revoke_tree(&t.hid).await?;
            }
        }
    }
    Ok(())
}

/// A TTL given as a string or a number of seconds in a mount `config`.
fn ttl_text(v: Option<&Value>, what: &str) -> Result<String, CoreError> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(bad(format!(
            "unable to convert given {what} config information"
        ))),
    }
}

/// Reads `sys/mounts/PATH` or `sys/auth/PATH` input into a new entry, with
/// OpenBao's checks in OpenBao's order (the path checks come later, in
/// [`enable`]).
fn parse_enable(
    ctx: &Ctx<'_>,
    req: &Request,
    path: &str,
    kind: Kind,
) -> Result<MountEntry, CoreError> {
    let what = match kind {
        Kind::Secrets => "mount",
        Kind::Auth => "auth",
    };
    let data = &req.data;
    let local = bool_field(data, "local").map_err(bad)?.unwrap_or(false);
    let seal_wrap = bool_field(data, "seal_wrap").map_err(bad)?.unwrap_or(false);
    let external_entropy_access = bool_field(data, "external_entropy_access")
        .map_err(bad)?
        .unwrap_or(false);
    let description = string_field(data, "description")
        .map_err(bad)?
        .unwrap_or_default();
    let plugin_name = string_field(data, "plugin_name")
        .map_err(bad)?
        .unwrap_or_default();
    let mut mount_type = string_field(data, "type").map_err(bad)?.unwrap_or_default();
    // Absent options read as an empty map, an explicit null as none.
    let mut options = match data.get("options") {
        None => Some(BTreeMap::new()),
        Some(_) => kv_pairs_field(data, "options").map_err(bad)?,
    };

    let config: Map<String, Value> = match data.get("config") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(bad(format!(
                "unable to convert given {what} config information"
            )))
        }
    };
    let mut lists: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for key in [
        "audit_non_hmac_request_keys",
        "audit_non_hmac_response_keys",
        "passthrough_request_headers",
        "allowed_response_headers",
    ] {
        if let Some(v) = config.get(key) {
            let list = comma_list_value(v)
                .map_err(|_| bad("unable to parse given auth config information".into()))?;
            lists.insert(key, list);
        }
    }
    let convert_err = || bad(format!("unable to convert given {what} config information"));
    let config_str = |key: &str| -> Result<String, CoreError> {
        match config.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(convert_err()),
        }
    };
    let default_ttl_text = ttl_text(config.get("default_lease_ttl"), what)?;
    let max_ttl_text = ttl_text(config.get("max_lease_ttl"), what)?;
    let force_no_cache = match config.get("force_no_cache") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(convert_err()),
    };
    let listing_visibility = config_str("listing_visibility")?;
    let token_type_text = config_str("token_type")?;
    let config_plugin_name = config_str("plugin_name")?;

    let mut cfg = MountConfig::default();
    match default_ttl_text.as_str() {
        "" | "system" => {}
        t => {
            cfg.default_lease_ttl = parse_duration_second(t)
                .map_err(|e| bad(format!("unable to parse default TTL of {t}: {e}")))?;
        }
    }
    match max_ttl_text.as_str() {
        "" | "system" => {}
        t => {
            cfg.max_lease_ttl = parse_duration_second(t)
                .map_err(|e| bad(format!("unable to parse max TTL of {t}: {e}")))?;
        }
    }
    if cfg.max_lease_ttl != 0 && cfg.default_lease_ttl > cfg.max_lease_ttl {
        return Err(bad(
            "given default lease TTL greater than given max lease TTL".into(),
        ));
    }
    let system_max = ctx.core.config.max_lease_ttl.as_secs();
    if cfg.default_lease_ttl > system_max && cfg.max_lease_ttl == 0 {
        return Err(bad(format!(
            "given default lease TTL greater than system max lease TTL of {system_max}"
        )));
    }

    if kind == Kind::Auth {
        cfg.token_type = Some(match token_type_text.as_str() {
            "" | "default-service" => "default-service".into(),
            "default-batch" | "service" | "batch" => token_type_text.clone(),
            _ => return Err(bad("invalid value for 'token_type'".into())),
        });
    }

    match mount_type.as_str() {
        "" => return Err(bad("backend type must be specified as a string".into())),
        "plugin" => {
            mount_type = if !config_plugin_name.is_empty() {
                config_plugin_name
            } else if !plugin_name.is_empty() {
                plugin_name
            } else {
                return Err(bad("plugin_name must be provided for plugin backend".into()));
            };
        }
        _ => {}
    }

    let has_version = |o: &Option<BTreeMap<String, String>>| {
        o.as_ref()
            .and_then(|m| m.get("version"))
            .is_some_and(|v| !v.is_empty())
    };
    match kind {
        Kind::Secrets => match mount_type.as_str() {
            "kv" => {}
            "kv-v1" | "kv-v2" => {
                let version = if mount_type == "kv-v1" { "1" } else { "2" };
                mount_type = "kv".into();
                options
                    .get_or_insert_with(BTreeMap::new)
                    .insert("version".into(), version.into());
            }
            _ => {
                if has_version(&options) {
                    return Err(bad(format!(
                        "secrets engine {mount_type:?} does not allow setting a version"
                    )));
                }
            }
        },
        Kind::Auth => {
            if has_version(&options) {
                return Err(bad(format!(
                    "auth method {mount_type:?} does not allow setting a version"
                )));
            }
        }
    }

    cfg.force_no_cache = force_no_cache;
    match listing_visibility.as_str() {
        "" => {}
        "hidden" | "unauth" => cfg.listing_visibility = Some(listing_visibility.clone()),
        other => return Err(bad(format!("invalid listing_visibility {other}"))),
    }
    let mut take = |key: &str| lists.remove(key).unwrap_or_default();
    cfg.audit_non_hmac_request_keys = take("audit_non_hmac_request_keys");
    cfg.audit_non_hmac_response_keys = take("audit_non_hmac_response_keys");
    cfg.passthrough_request_headers = take("passthrough_request_headers");
    cfg.allowed_response_headers = take("allowed_response_headers");

    let mut entry = MountEntry::new(kind.table(), path, &mount_type, &description);
    entry.path = path.to_string();
    if kind == Kind::Auth {
        entry.accessor = new_accessor(&format!("auth_{mount_type}"));
    }
    entry.config = cfg;
    entry.options = options;
    entry.local = local;
    entry.seal_wrap = seal_wrap;
    entry.external_entropy_access = external_entropy_access;
    Ok(entry)
}

/// The core-side checks of a mount (protected paths, singletons,
/// conflicts), then the mount itself (which finds the plugin).
async fn enable(ctx: &Ctx<'_>, entry: MountEntry) -> Result<(), CoreError> {
    let path = entry.path.clone();
    match entry.table {
        TableKind::Secrets => {
            if PROTECTED_MOUNTS.iter().any(|p| path.starts_with(p)) {
                return Err(bad(format!("cannot mount {path:?}")));
            }
            if SINGLETON_TYPES.contains(&entry.mount_type.as_str()) {
                return Err(bad(format!(
                    "mount type of {:?} is not mountable",
                    entry.mount_type
                )));
            }
        }
        TableKind::Auth => {
            if entry.mount_type == "token" || entry.mount_type == "ns_token" {
                return Err(bad("token credential backend cannot be instantiated".into()));
            }
            if path == "/" || path.is_empty() {
                return Err(bad("backend path must be specified".into()));
            }
        }
    }
    if let Some(existing) = ctx
        .core
        .mounts(entry.table)
        .into_iter()
        .find(|e| e.path.starts_with(&path) || path.starts_with(e.path.as_str()))
    {
        return Err(bad(format!("path is already in use at {}", existing.path)));
    }
    ctx.core.mount(entry).await
}

/// `sys/mounts/PATH/tune` and `sys/auth/PATH/tune`.
pub async fn handle_tune(
    ctx: &Ctx<'_>,
    req: &Request,
    raw: &str,
    kind: Kind,
) -> Result<Response, CoreError> {
    let path = match kind {
        Kind::Secrets => sanitize_path(raw),
        Kind::Auth => sanitize_path(&format!("auth/{raw}")),
    };
    let is_auth = kind == Kind::Auth || path.starts_with("auth/");
    match req.operation {
        Operation::Read => tune_read(ctx, &path),
        Operation::Create | Operation::Update => tune_write(ctx, req, &path, is_auth).await,
        _ => Err(CoreError::UnsupportedOperation),
    }
}

fn tune_read(ctx: &Ctx<'_>, path: &str) -> Result<Response, CoreError> {
    let Some((route, _)) = ctx.core.route(path) else {
        return Err(bad(format!("cannot fetch sysview for path {path:?}")));
    };
    let e = &route.entry;
    let effective =
        |mount: u64, system: std::time::Duration| if mount != 0 { mount } else { system.as_secs() };
    let mut data = Data::new();
    data.insert("description".into(), json!(e.description));
    data.insert(
        "default_lease_ttl".into(),
        json!(effective(
            e.config.default_lease_ttl,
            ctx.core.config.default_lease_ttl
        )),
    );
    data.insert(
        "max_lease_ttl".into(),
        json!(effective(
            e.config.max_lease_ttl,
            ctx.core.config.max_lease_ttl
        )),
    );
    data.insert("force_no_cache".into(), json!(e.config.force_no_cache));
    if e.external_entropy_access {
        data.insert("external_entropy_access".into(), json!(true));
    }
    if e.table == TableKind::Auth {
        data.insert(
            "token_type".into(),
            json!(e
                .config
                .token_type
                .clone()
                .unwrap_or_else(|| "default-service".into())),
        );
    }
    let lists = [
        (
            "audit_non_hmac_request_keys",
            &e.config.audit_non_hmac_request_keys,
        ),
        (
            "audit_non_hmac_response_keys",
            &e.config.audit_non_hmac_response_keys,
        ),
    ];
    for (k, v) in lists {
        if !v.is_empty() {
            data.insert(k.into(), json!(v));
        }
    }
    if let Some(v) = e
        .config
        .listing_visibility
        .as_ref()
        .filter(|v| !v.is_empty())
    {
        data.insert("listing_visibility".into(), json!(v));
    }
    let lists = [
        (
            "passthrough_request_headers",
            &e.config.passthrough_request_headers,
        ),
        (
            "allowed_response_headers",
            &e.config.allowed_response_headers,
        ),
    ];
    for (k, v) in lists {
        if !v.is_empty() {
            data.insert(k.into(), json!(v));
        }
    }
    if let Some(o) = e.options.as_ref().filter(|o| !o.is_empty()) {
        data.insert("options".into(), json!(o));
    }
    Ok(Response::with_data(data))
}

/// A TTL tune value: absent keeps `current`, `system` resets to 0.
fn tune_ttl(data: &Data, key: &str, current: u64) -> Result<u64, CoreError> {
    let text = match data.get(key) {
        None | Some(Value::Null) => return Ok(current),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => return Err(bad(format!("could not parse duration from input {other}"))),
    };
    match text.as_str() {
        "" => Ok(current),
        "system" => Ok(0),
        t => parse_duration_second(t).map_err(bad),
    }
}

fn tune_list(data: &Data, key: &str) -> Result<Option<Vec<String>>, CoreError> {
    match data.get(key) {
        None => Ok(None),
        Some(v) => comma_list_value(v)
            .map(Some)
            .map_err(|e| bad(format!("error converting input for field {key:?}: {e}"))),
    }
}

/// Go's `parseutil.ParseInt` on a version option (`""` is 0).
fn parse_version(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Ok(0);
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.ParseInt: parsing {s:?}: invalid syntax"))
}

async fn tune_write(
    ctx: &Ctx<'_>,
    req: &Request,
    path: &str,
    is_auth: bool,
) -> Result<Response, CoreError> {
    let data = &req.data;
    let untunable = UNTUNABLE_MOUNTS.iter().any(|p| path.starts_with(p));
    if untunable {
        if let Some(field) = TUNE_FIELDS
            .iter()
            .find(|f| data.contains_key(**f) && !UNTUNABLE_ALLOWED.contains(f))
        {
            return Err(bad(format!("cannot tune parameter {field} of {path}")));
        }
    }
    let Some((route, _)) = ctx.core.route(path) else {
        return Err(bad(format!(
            "tune of path {path:?} failed: no mount entry found"
        )));
    };
    let mut entry: MountEntry = (*route.entry).clone();

    if !untunable {
        let new_def = tune_ttl(data, "default_lease_ttl", entry.config.default_lease_ttl)?;
        let new_max = tune_ttl(data, "max_lease_ttl", entry.config.max_lease_ttl)?;
        if (new_def != entry.config.default_lease_ttl || new_max != entry.config.max_lease_ttl)
            && new_def != 0
            && new_max != 0
            && new_max < new_def
        {
            return Err(bad(format!(
                "backend max lease TTL of {new_max} would be less than backend default lease TTL of {new_def}"
            )));
        }
        entry.config.default_lease_ttl = new_def;
        entry.config.max_lease_ttl = new_max;
    }

    if data.contains_key("description") {
        entry.description = string_field(data, "description")
            .map_err(bad)?
            .unwrap_or_default();
    }
    if let Some(v) = tune_list(data, "audit_non_hmac_request_keys")? {
        entry.config.audit_non_hmac_request_keys = v;
    }
    if let Some(v) = tune_list(data, "audit_non_hmac_response_keys")? {
        entry.config.audit_non_hmac_response_keys = v;
    }
    if data.contains_key("listing_visibility") {
        let v = string_field(data, "listing_visibility")
            .map_err(bad)?
            .unwrap_or_default();
        match v.as_str() {
            "" => entry.config.listing_visibility = None,
            "hidden" | "unauth" => entry.config.listing_visibility = Some(v),
            other => return Err(bad(format!("invalid listing_visibility {other}"))),
        }
    }
    if data.contains_key("token_type") {
        if !is_auth {
            return Err(bad(
                "'token_type' can only be modified on auth mounts".into()
            ));
        }
        if entry.mount_type == "token" || entry.mount_type == "ns_token" {
            return Err(bad(
                "'token_type' cannot be set for 'token' or 'ns_token' auth mounts".into(),
            ));
        }
        let v = string_field(data, "token_type")
            .map_err(bad)?
            .unwrap_or_default();
        entry.config.token_type = Some(match v.as_str() {
            "" | "default-service" => "default-service".into(),
            "default-batch" | "service" | "batch" => v,
            _ => return Err(bad("invalid value for 'token_type'".into())),
        });
    }
    if let Some(v) = tune_list(data, "passthrough_request_headers")? {
        entry.config.passthrough_request_headers = v;
    }
    if let Some(v) = tune_list(data, "allowed_response_headers")? {
        entry.config.allowed_response_headers = v;
    }

    let mut upgrade_from: Option<i64> = None;
    if let Some(options) = kv_pairs_field(data, "options").map_err(bad)? {
        if !options.is_empty() {
            if let Some(v) = options.get("version") {
                let current = entry
                    .options
                    .as_ref()
                    .and_then(|o| o.get("version"))
                    .map(String::as_str)
                    .unwrap_or("");
                let me_version = parse_version(current)
                    .map_err(|e| bad(format!("unable to parse mount entry: {e}")))?;
                let opt_version =
                    parse_version(v).map_err(|e| bad(format!("unable to parse options: {e}")))?;
                if !(1..=2).contains(&opt_version) {
                    return Err(bad(format!("invalid version provided: {opt_version}")));
                }
                if me_version > opt_version {
                    return Err(bad(format!(
                        "cannot downgrade mount from version {me_version}"
                    )));
                }
                if me_version < opt_version {
                    upgrade_from = Some(me_version);
                }
            }
            let merged = entry.options.get_or_insert_with(BTreeMap::new);
            for (k, v) in options {
                if v.is_empty() && k != "version" {
                    merged.remove(&k);
                } else {
                    merged.insert(k, v);
                }
            }
        }
    }

    ctx.core.update_mount(entry).await?;

    if let Some(from) = upgrade_from {
        // OpenBao reports the target version as 0 (a shadowed variable in
        // its handler); the text is kept identical for clients that match it.
        return Ok(Response {
            warnings: vec![format!(
                "Upgrading mount from version {from} to version 0. This mount will be unavailable for a brief period and will resume service shortly."
            )],
            ..Default::default()
        });
    }
    Ok(Response::empty())
}

/// The caller's ACL for the UI endpoints, which check the token
/// themselves: `Ok(None)` without a token.
async fn caller_acl(ctx: &Ctx<'_>, req: &Request) -> Result<Option<Arc<Acl>>, CoreError> {
    let Some(token) = req.client_token.as_ref().filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let entry = ctx
        .core
        .tokens
        .lookup(token)
        .await?
        .ok_or(CoreError::PermissionDenied)?;
    if !entry.cidr_allows(req.remote_addr) {
        return Err(CoreError::PermissionDenied);
    }
    Ok(Some(ctx.core.policies.acl(&entry.policies).await?))
}

/// `GET sys/internal/ui/mounts`: the mounts the caller can use (all the
/// `listing_visibility = "unauth"` ones without a token).
pub async fn handle_ui_mounts(ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
    if req.operation != Operation::Read {
        return Err(CoreError::UnsupportedOperation);
    }
    let caller = caller_acl(ctx, req).await?;
    let mut secret = Data::new();
    let mut auth = Data::new();
    for e in ctx
        .core
        .mounts(TableKind::Secrets)
        .into_iter()
        .chain(ctx.core.mounts(TableKind::Auth))
    {
        let visible = e.config.listing_visibility.as_deref() == Some("unauth")
            || caller
                .as_ref()
                .is_some_and(|acl| acl.has_mount_access(&e.full_path()));
        if !visible {
            continue;
        }
        let info = if caller.is_some() {
            mount_info(&e)
        } else {
            json!({"type": e.mount_type, "description": e.description, "options": e.options})
        };
        match e.table {
            TableKind::Secrets => secret.insert(e.path.clone(), info),
            TableKind::Auth => auth.insert(e.path.clone(), info),
        };
    }
    Ok(Response::json(json!({"auth": auth, "secret": secret})))
}

/// `GET sys/internal/ui/mounts/PATH`: the mount serving PATH, when the
/// caller's policies reach anything under it.
pub async fn handle_ui_mount(
    ctx: &Ctx<'_>,
    req: &Request,
    raw: &str,
) -> Result<Response, CoreError> {
    if req.operation != Operation::Read {
        return Err(CoreError::UnsupportedOperation);
    }
    let path = sanitize_path(raw);
    let acl = caller_acl(ctx, req)
        .await?
        .ok_or(CoreError::PermissionDenied)?;
    let denied = || {
        CoreError::Forbidden(format!(
            "preflight capability check returned 403, please ensure client's policies grant access to path {path:?}"
        ))
    };
    let Some((route, _)) = ctx.core.route(&path) else {
        return Err(denied());
    };
    let entry = &route.entry;
    if !acl.has_mount_access(&entry.full_path()) {
        return Err(denied());
    }
    let mut info = mount_info(entry);
    if let Value::Object(m) = &mut info {
        m.insert("path".into(), json!(entry.path));
    }
    Ok(Response::json(info))
}
