//! The `auth/token/` backend: token creation (plain, orphan, against a role),
//! lookups, renewals, revocations, accessors, roles and tidy, with OpenBao's
//! paths, status codes, response shapes and error messages.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::error::CoreError;
use crate::logical::{Auth, Backend, Ctx, Data, Operation, Request, Response};
use crate::mounts::TableKind;

use super::fields::{
    self, calculate_ttl, go_quote, go_time, list_contains_glob, parse_duration_str,
    remove_duplicates, sanitize_policies, validate, FieldType, Fields, TtlLimits,
};
use super::roles::{self, RoleEntry};
use super::{NewToken, TokenEntry};

use FieldType as T;

/// Fields of `create`, `create-orphan` and `create/ROLE`.
const CREATE_FIELDS: &[(&str, FieldType)] = &[
    ("display_name", T::String),
    ("explicit_max_ttl", T::String),
    ("entity_alias", T::String),
    ("num_uses", T::Int),
    ("period", T::String),
    ("renewable", T::Bool),
    ("ttl", T::String),
    ("lease", T::String),
    ("type", T::String),
    ("no_default_policy", T::Bool),
    ("id", T::String),
    ("meta", T::KvPairs),
    ("no_parent", T::Bool),
    ("policies", T::StringSlice),
];
const CREATE_ROLE_FIELDS: &[(&str, FieldType)] = &[
    ("role_name", T::String),
    ("display_name", T::String),
    ("explicit_max_ttl", T::String),
    ("entity_alias", T::String),
    ("num_uses", T::Int),
    ("period", T::String),
    ("renewable", T::Bool),
    ("ttl", T::String),
    ("lease", T::String),
    ("type", T::String),
    ("no_default_policy", T::Bool),
    ("id", T::String),
    ("meta", T::KvPairs),
    ("no_parent", T::Bool),
    ("policies", T::StringSlice),
];
const TOKEN_FIELDS: &[(&str, FieldType)] = &[("token", T::String)];
const ACCESSOR_FIELDS: &[(&str, FieldType)] = &[("accessor", T::String)];
const RENEW_FIELDS: &[(&str, FieldType)] =
    &[("token", T::String), ("increment", T::DurationSecond)];
const RENEW_ACCESSOR_FIELDS: &[(&str, FieldType)] =
    &[("accessor", T::String), ("increment", T::DurationSecond)];
const NO_FIELDS: &[(&str, FieldType)] = &[];
const ROLE_FIELDS: &[(&str, FieldType)] = &[
    ("role_name", T::String),
    ("allowed_policies", T::CommaStringSlice),
    ("disallowed_policies", T::CommaStringSlice),
    ("allowed_policies_glob", T::CommaStringSlice),
    ("disallowed_policies_glob", T::CommaStringSlice),
    ("orphan", T::Bool),
    ("period", T::DurationSecond),
    ("path_suffix", T::String),
    ("explicit_max_ttl", T::DurationSecond),
    ("renewable", T::Bool),
    ("bound_cidrs", T::CommaStringSlice),
    ("allowed_entity_aliases", T::CommaStringSlice),
    ("token_bound_cidrs", T::CommaStringSlice),
    ("token_explicit_max_ttl", T::DurationSecond),
    ("token_period", T::DurationSecond),
    ("token_type", T::String),
    ("token_no_default_policy", T::Bool),
    ("token_num_uses", T::Int),
];

/// The policy Vault reserves for response-wrapping tokens.
const RESPONSE_WRAPPING_POLICY: &str = "response-wrapping";

/// A path of the token backend.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Roles,
    Role(String),
    Accessors,
    Create,
    CreateOrphan,
    CreateRole(String),
    Lookup,
    LookupAccessor,
    LookupSelf,
    RevokeAccessor,
    RevokeSelf,
    Revoke,
    RevokeOrphan,
    RenewAccessor,
    RenewSelf,
    Renew,
    Tidy,
}

impl Route {
    fn parse(path: &str) -> Option<Route> {
        Some(match path {
            "roles" | "roles/" => Route::Roles,
            "accessors" | "accessors/" => Route::Accessors,
            "create" => Route::Create,
            "create-orphan" => Route::CreateOrphan,
            "lookup" => Route::Lookup,
            "lookup-accessor" => Route::LookupAccessor,
            "lookup-self" => Route::LookupSelf,
            "revoke-accessor" => Route::RevokeAccessor,
            "revoke-self" => Route::RevokeSelf,
            "revoke" => Route::Revoke,
            "revoke-orphan" => Route::RevokeOrphan,
            "renew-accessor" => Route::RenewAccessor,
            "renew-self" => Route::RenewSelf,
            "renew" => Route::Renew,
            "tidy" => Route::Tidy,
            p => {
                if let Some(name) = p.strip_prefix("roles/") {
                    if roles::valid_name(name) {
                        return Some(Route::Role(name.to_string()));
                    }
                } else if let Some(name) = p.strip_prefix("create/") {
                    if roles::valid_name(name) {
                        return Some(Route::CreateRole(name.to_string()));
                    }
                }
                return None;
            }
        })
    }

    fn fields(&self) -> &'static [(&'static str, FieldType)] {
        match self {
            Route::Roles | Route::Accessors | Route::RevokeSelf | Route::Tidy => NO_FIELDS,
            Route::Role(_) => ROLE_FIELDS,
            Route::Create | Route::CreateOrphan => CREATE_FIELDS,
            Route::CreateRole(_) => CREATE_ROLE_FIELDS,
            Route::Lookup | Route::LookupSelf | Route::Revoke | Route::RevokeOrphan => TOKEN_FIELDS,
            Route::LookupAccessor | Route::RevokeAccessor => ACCESSOR_FIELDS,
            Route::RenewAccessor => RENEW_ACCESSOR_FIELDS,
            Route::RenewSelf | Route::Renew => RENEW_FIELDS,
        }
    }

    /// Whether the route handles the operation (create and update are one
    /// for every path but a role's).
    fn supports(&self, op: Operation) -> bool {
        let write = matches!(op, Operation::Create | Operation::Update);
        match self {
            Route::Roles | Route::Accessors => op == Operation::List,
            Route::Role(_) => matches!(
                op,
                Operation::Read | Operation::Create | Operation::Update | Operation::Delete
            ),
            Route::Lookup | Route::LookupSelf => write || op == Operation::Read,
            _ => write,
        }
    }

    /// The name a role path captures, if any.
    fn captured_role(&self) -> Option<&str> {
        match self {
            Route::Role(n) | Route::CreateRole(n) => Some(n),
            _ => None,
        }
    }
}

/// Checks every given field against the path's schema, as Vault's framework
/// does before calling a handler.
fn validate_fields(route: &Route, data: &Data) -> Result<(), String> {
    for (key, value) in data {
        if let Some((_, ty)) = route.fields().iter().find(|(k, _)| k == key) {
            if route.captured_role().is_some() && key == "role_name" {
                continue;
            }
            validate(*ty, value)
                .map_err(|e| format!("error converting input for field {}: {e}", go_quote(key)))?;
        }
    }
    Ok(())
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// The `auth/token/` backend.
pub struct TokenBackend;

#[async_trait]
impl Backend for TokenBackend {
    fn root_paths(&self) -> &'static [&'static str] {
        &["revoke-orphan/*", "accessors*"]
    }

    async fn existence(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Option<bool>, CoreError> {
        let Some(route) = Route::parse(ctx.path) else {
            return Ok(None);
        };
        let Route::Role(name) = &route else {
            return Ok(None);
        };
        validate_fields(&route, &req.data).map_err(CoreError::InvalidRequest)?;
        Ok(Some(roles::exists(ctx.storage, name).await?))
    }

    async fn handle(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
        let route = Route::parse(ctx.path).ok_or(CoreError::UnsupportedPath)?;
        if !route.supports(req.operation) {
            return Err(CoreError::UnsupportedOperation);
        }
        if let Err(e) = validate_fields(&route, &req.data) {
            // Writes to a role are validated by the existence check, which
            // reports the bare message.
            let write = matches!(req.operation, Operation::Create | Operation::Update);
            return Err(CoreError::InvalidRequest(
                if matches!(route, Route::Role(_)) && write {
                    e
                } else {
                    format!("Field validation failed: {e}")
                },
            ));
        }
        let mut resp = match &route {
            Route::Roles => Response::list(roles::list(ctx.storage).await?)?,
            Route::Role(name) => match req.operation {
                Operation::Read => {
                    let role = roles::load(ctx.storage, name)
                        .await?
                        .ok_or(CoreError::NotFound)?;
                    Response::with_data(role.to_data())
                }
                Operation::Delete => {
                    roles::delete(ctx.storage, name).await?;
                    Response::empty()
                }
                _ => {
                    let warnings = roles::write(ctx.storage, name, &req.data, limits(ctx)).await?;
                    Response {
                        warnings,
                        ..Default::default()
                    }
                }
            },
            Route::Accessors => Response::list(ctx.core.tokens.list_accessors().await?)?,
            Route::Create => create(ctx, req, false, None).await?,
            Route::CreateOrphan => create(ctx, req, true, None).await?,
            Route::CreateRole(name) => {
                let role = roles::load(ctx.storage, name)
                    .await?
                    .ok_or_else(|| CoreError::invalid(format!("unknown role {name}")))?;
                create(ctx, req, false, Some(role)).await?
            }
            Route::Lookup => {
                let mut id = token_param(req);
                if id.is_empty() {
                    id = client_token(req);
                }
                lookup(ctx, Target::Token(id)).await?
            }
            Route::LookupSelf => lookup(ctx, Target::Token(client_token(req))).await?,
            Route::LookupAccessor => {
                let hid = accessor_target(ctx, req).await?;
                lookup(ctx, Target::Hid(hid)).await?
            }
            Route::Renew => {
                let f = Fields::new(&req.data);
                renew(ctx, Target::Token(token_param(req)), increment(&f)).await?
            }
            Route::RenewSelf => {
                let f = Fields::new(&req.data);
                renew(ctx, Target::Token(client_token(req)), increment(&f)).await?
            }
            Route::RenewAccessor => {
                let hid = accessor_target(ctx, req).await?;
                let f = Fields::new(&req.data);
                renew(ctx, Target::Hid(hid), increment(&f)).await?
            }
            Route::Revoke => {
                let id = token_param(req);
                if id.is_empty() {
                    return Err(CoreError::invalid("missing token ID"));
                }
                revoke_common(ctx, &id).await?
            }
            Route::RevokeSelf => revoke_common(ctx, &client_token(req)).await?,
            Route::RevokeOrphan => revoke_orphan(ctx, req).await?,
            Route::RevokeAccessor => revoke_accessor(ctx, req).await?,
            Route::Tidy => tidy(ctx),
        };
        if !resp.is_empty() {
            add_parameter_warnings(&route, req, &mut resp);
        }
        Ok(resp)
    }
}

/// Vault's warnings for body parameters a path does not know, or that the
/// path's own captures replace.
fn add_parameter_warnings(route: &Route, req: &Request, resp: &mut Response) {
    let mut ignored: Vec<&str> = req
        .data
        .keys()
        .map(|k| k.as_str())
        .filter(|k| *k != "list" && !route.fields().iter().any(|(f, _)| f == k))
        .collect();
    ignored.sort();
    if !ignored.is_empty() {
        resp.warnings.push(format!(
            "Endpoint ignored these unrecognized parameters: [{}]",
            ignored.join(" ")
        ));
    }
    if route.captured_role().is_some() && req.data.get("role_name").is_some_and(|v| !v.is_null()) {
        resp.warnings.push(
            "Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [role_name]"
                .into(),
        );
    }
}

/// The caller's token (wiped from memory when dropped).
fn client_token(req: &Request) -> Zeroizing<String> {
    Zeroizing::new(
        req.client_token
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default(),
    )
}

/// The `token` parameter (wiped from memory when dropped).
fn token_param(req: &Request) -> Zeroizing<String> {
    Zeroizing::new(Fields::new(&req.data).string("token"))
}

fn increment(f: &Fields<'_>) -> u64 {
    f.duration_opt("increment").unwrap_or(0)
}

/// The token mount's TTL limits: its tuned values, else the system's.
fn limits(ctx: &Ctx<'_>) -> TtlLimits {
    mount_limits(
        ctx,
        ctx.mount.config.default_lease_ttl,
        ctx.mount.config.max_lease_ttl,
    )
}

fn mount_limits(ctx: &Ctx<'_>, default_ttl: u64, max_ttl: u64) -> TtlLimits {
    let sys_default = ctx.core.config.default_lease_ttl;
    let sys_max = ctx.core.config.max_lease_ttl;
    TtlLimits {
        default_ttl: if default_ttl > 0 {
            Duration::from_secs(default_ttl)
        } else {
            sys_default
        },
        max_ttl: if max_ttl > 0 {
            Duration::from_secs(max_ttl)
        } else {
            sys_max
        },
    }
}

/// Whether the caller's token has `sudo` on the request path (root tokens do).
async fn is_sudo(ctx: &Ctx<'_>, req: &Request, caller: &TokenEntry) -> Result<bool, CoreError> {
    if caller.is_root() {
        return Ok(true);
    }
    let acl = ctx.core.policies.acl(&caller.policies).await?;
    Ok(acl
        .allow(coffer_policy::Operation::Read, &req.path, false)
        .root_privs)
}

/// The caller's live token entry.
async fn caller(ctx: &Ctx<'_>, req: &Request) -> Result<Option<Arc<TokenEntry>>, CoreError> {
    let token = client_token(req);
    if token.is_empty() {
        return Ok(None);
    }
    ctx.core.tokens.lookup(&token).await
}

/// `handleCreateCommon`.
async fn create(
    ctx: &Ctx<'_>,
    req: &Request,
    orphan: bool,
    role: Option<RoleEntry>,
) -> Result<Response, CoreError> {
    let f = Fields::new(&req.data);
    let mut warnings: Vec<String> = Vec::new();

    let parent = caller(ctx, req)
        .await?
        .ok_or_else(|| CoreError::invalid("parent token lookup failed: no parent found"))?;
    if parent.is_batch() {
        return Err(CoreError::invalid("batch tokens cannot create more tokens"));
    }
    if parent.num_uses > 0 {
        return Err(CoreError::invalid(
            "restricted use token cannot generate child tokens",
        ));
    }
    let sudo = is_sudo(ctx, req, &parent).await?;

    let mut type_str = f.string("type");
    if let Some(role) = &role {
        match role.token_type.as_str() {
            "" | "default" | "default-service" => {}
            "default-batch" => {
                if type_str.is_empty() {
                    type_str = "batch".into();
                }
            }
            "service" => type_str = "service".into(),
            "batch" => type_str = "batch".into(),
            other => {
                return Err(CoreError::invalid(format!(
                    "role being used for token creation contains invalid token type {}",
                    go_quote(other)
                )))
            }
        }
    }

    let mut renewable = f.bool_opt("renewable").unwrap_or(true);
    let explicit_str = f.string("explicit_max_ttl");
    let mut num_uses = f.int("num_uses");
    let period_str = f.string("period");
    let batch = match type_str.as_str() {
        "" | "service" => false,
        "batch" => {
            let bad = if !explicit_str.is_empty() {
                let d = parse_duration_str(&explicit_str).map_err(|_| {
                    CoreError::invalid("'explicit_max_ttl' value could not be parsed")
                })?;
                (d != 0).then_some("explicit_max_ttl")
            } else if num_uses != 0 {
                Some("num_uses")
            } else if !period_str.is_empty() {
                let d = parse_duration_str(&period_str)
                    .map_err(|_| CoreError::invalid("'period' value could not be parsed"))?;
                (d != 0).then_some("period")
            } else {
                None
            };
            if let Some(bad) = bad {
                return Err(CoreError::invalid(format!(
                    "batch tokens cannot have {} set",
                    go_quote(bad)
                )));
            }
            renewable = false;
            true
        }
        _ => return Err(CoreError::invalid("invalid 'token_type' value")),
    };
    if num_uses < 0 {
        return Err(CoreError::invalid("number of uses cannot be negative"));
    }

    let entity_alias = f.string("entity_alias");
    if !entity_alias.is_empty() {
        let Some(role) = &role else {
            return Err(CoreError::invalid(
                "'entity_alias' is only allowed in combination with token role",
            ));
        };
        let alias = entity_alias.to_lowercase();
        let allowed = role.allowed_entity_aliases.clone().unwrap_or_default();
        if !allowed.contains(&alias) && !list_contains_glob(&allowed, &alias) {
            return Err(CoreError::invalid("invalid 'entity_alias' value"));
        }
        // Coffer has no identity store to create or fetch the entity in.
        return Err(CoreError::invalid(
            "failed to create or fetch entity from given entity alias",
        ));
    }

    let meta = f.kv_pairs_opt("meta");
    let mut path = format!("auth/token/{}", ctx.path);
    if let Some(role) = &role {
        if renewable && !role.renewable {
            renewable = false;
        }
        if role.token_num_uses != 0 && (num_uses == 0 || role.token_num_uses < num_uses) {
            num_uses = role.token_num_uses;
        }
        if !role.path_suffix.is_empty() {
            path = format!("{path}/{}", role.path_suffix);
        }
    }

    let mut display_name = "token".to_string();
    let given_name = f.string("display_name");
    if !given_name.is_empty() {
        let full: String = format!("token-{given_name}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        display_name = full.strip_suffix('-').map(str::to_string).unwrap_or(full);
    }

    let id = f.string("id");
    if !id.is_empty() && !sudo {
        return Err(CoreError::invalid(
            "root or sudo privileges required to specify token id",
        ));
    }

    let policies = resolve_policies(&f, role.as_ref(), &parent, sudo)?;
    let root_policy = policies.iter().any(|p| p == "root");
    if root_policy {
        if !parent.is_root() {
            return Err(CoreError::invalid(
                "root tokens may not be created without parent token being root",
            ));
        }
        if batch {
            return Err(CoreError::invalid("batch tokens cannot be root tokens"));
        }
    }

    let mut parent_hid = Some(parent.hid.clone());
    let mut bound_cidrs: Vec<String> = Vec::new();
    if let Some(role) = &role {
        if role.orphan {
            parent_hid = None;
        }
        if !role.token_bound_cidrs.is_empty() {
            bound_cidrs = role.token_bound_cidrs.clone();
        }
    } else if f.bool_opt("no_parent").unwrap_or(false) {
        if !sudo {
            return Err(CoreError::invalid(
                "root or sudo privileges required to create orphan token",
            ));
        }
        parent_hid = None;
    } else if orphan {
        parent_hid = None;
    }

    let mut entity_id = String::new();
    if parent_hid.is_some() {
        entity_id = parent.entity_id.clone();
        if role.is_none() {
            bound_cidrs = parent.bound_cidrs.clone();
        }
    }

    // parseAndMergeTTLPeriod
    let mut explicit_to_use = 0u64;
    let mut te_explicit = 0u64;
    if !explicit_str.is_empty() {
        let d = parse_duration_str(&explicit_str).map_err(CoreError::InvalidRequest)?;
        if d < 0 {
            return Err(CoreError::invalid("explicit_max_ttl must be positive"));
        }
        te_explicit = d as u64;
        explicit_to_use = d as u64;
    }
    let mut period_to_use = 0u64;
    let mut te_period = 0u64;
    if !period_str.is_empty() {
        let d = parse_duration_str(&period_str).map_err(CoreError::InvalidRequest)?;
        if d < 0 {
            return Err(CoreError::invalid("period must be positive"));
        }
        if d > 0 {
            if !sudo {
                return Err(CoreError::invalid(
                    "root or sudo privileges required to create periodic token",
                ));
            }
            te_period = d as u64;
            period_to_use = d as u64;
        }
    }
    let mut te_ttl = 0u64;
    let ttl_str = f.string("ttl");
    let lease_str = f.string("lease");
    if !ttl_str.is_empty() {
        let d = parse_duration_str(&ttl_str).map_err(CoreError::InvalidRequest)?;
        if d < 0 {
            return Err(CoreError::invalid("ttl must be positive"));
        }
        te_ttl = d as u64;
    } else if !lease_str.is_empty() {
        let d = parse_duration_str(&lease_str).map_err(CoreError::InvalidRequest)?;
        if d < 0 {
            return Err(CoreError::invalid("lease must be positive"));
        }
        te_ttl = d as u64;
    }
    if let (Some(role), false) = (&role, batch) {
        if role.token_explicit_max_ttl != 0 {
            if explicit_to_use == 0 {
                explicit_to_use = role.token_explicit_max_ttl;
            } else {
                explicit_to_use = explicit_to_use.min(role.token_explicit_max_ttl);
                warnings.push(format!(
                    "Explicit max TTL specified both during creation call and in role; using the lesser value of {explicit_to_use} seconds"
                ));
            }
        }
        if role.token_period != 0 {
            if period_to_use == 0 {
                period_to_use = role.token_period;
            } else {
                period_to_use = period_to_use.min(role.token_period);
                warnings.push(format!(
                    "Period specified both during creation call and in role; using the lesser value of {period_to_use} seconds"
                ));
            }
        }
    }

    let mut ttl = te_ttl;
    if period_to_use > 0 || te_ttl > 0 || !root_policy {
        let (t, w) = calculate_ttl(
            limits(ctx),
            0,
            te_ttl,
            period_to_use,
            0,
            explicit_to_use,
            None,
        )
        .map_err(CoreError::Internal)?;
        warnings.extend(w);
        ttl = t;
    }
    if ttl == 0 && explicit_to_use > 0 {
        ttl = explicit_to_use;
    }
    if ttl == 0 {
        if parent.creation_ttl != 0 {
            return Err(CoreError::invalid(
                "expiring root tokens cannot create non-expiring root tokens",
            ));
        }
        renewable = false;
        bound_cidrs.clear();
    }

    let (token, entry) = ctx
        .core
        .tokens
        .mint(NewToken {
            id: (!id.is_empty()).then_some(id),
            policies: policies.clone(),
            meta,
            display_name,
            num_uses,
            ttl,
            explicit_max_ttl: te_explicit,
            period: te_period,
            renewable,
            parent: parent_hid,
            path,
            batch,
            entity_id,
            bound_cidrs,
            role: role.as_ref().map(|r| r.name.clone()),
            ..Default::default()
        })
        .await?;

    for p in &policies {
        if p == "root" {
            continue;
        }
        match ctx.core.policies.get(p).await {
            Ok(Some(_)) => {}
            Ok(None) => warnings.push(format!("Policy {} does not exist", go_quote(p))),
            Err(_) => return Err(CoreError::invalid(format!("could not look up policy {p}"))),
        }
    }

    Ok(Response {
        auth: Some(super::auth_for(&token, &entry)),
        warnings,
        ..Default::default()
    })
}

/// `resolveTokenPolicies`.
fn resolve_policies(
    f: &Fields<'_>,
    role: Option<&RoleEntry>,
    parent: &TokenEntry,
    sudo: bool,
) -> Result<Vec<String>, CoreError> {
    let mut policies = f.string_slice("policies");
    let no_default = f.bool_opt("no_default_policy").unwrap_or(false);
    let mut add_default = false;
    let role_restricts = role.filter(|r| {
        !r.allowed_policies.is_empty()
            || !r.disallowed_policies.is_empty()
            || !r.allowed_policies_glob.is_empty()
            || !r.disallowed_policies_glob.is_empty()
    });
    if let Some(role) = role_restricts {
        let local_add_default = !no_default
            && !role.token_no_default_policy
            && !role.disallowed_policies.iter().any(|p| p == "default")
            && !list_contains_glob(&role.disallowed_policies_glob, "default");
        let mut final_policies = if policies.is_empty() {
            Vec::new()
        } else {
            sanitize_policies(&policies, local_add_default)
        };
        if !role.allowed_policies.is_empty() || !role.allowed_policies_glob.is_empty() {
            let allowed = sanitize_policies(&role.allowed_policies, local_add_default);
            if final_policies.is_empty() {
                final_policies = allowed;
            } else {
                let allowed_glob = sanitize_policies(&role.allowed_policies_glob, false);
                for p in &final_policies {
                    if !allowed.contains(p) && !list_contains_glob(&allowed_glob, p) {
                        return Err(CoreError::invalid(format!(
                            "token policies ({}) must be subset of the role's allowed policies ({}) or glob policies ({})",
                            go_list(&final_policies),
                            go_list(&allowed),
                            go_list(&allowed_glob)
                        )));
                    }
                }
            }
        } else if final_policies.is_empty() {
            final_policies = sanitize_policies(&parent.policies, local_add_default);
        }
        if !role.disallowed_policies.is_empty() || !role.disallowed_policies_glob.is_empty() {
            let disallowed = remove_duplicates(&role.disallowed_policies, true);
            let disallowed_glob = remove_duplicates(&role.disallowed_policies_glob, true);
            for p in &final_policies {
                if disallowed.contains(p) || list_contains_glob(&disallowed_glob, p) {
                    return Err(CoreError::invalid(format!(
                        "token policy {} is disallowed by this role",
                        go_quote(p)
                    )));
                }
            }
        }
        policies = final_policies;
    } else if policies.is_empty() {
        policies = sanitize_policies(&parent.policies, false);
    } else if !sudo {
        let wanted = sanitize_policies(&policies, false);
        let have = sanitize_policies(&parent.policies, false);
        if !wanted.iter().all(|p| have.contains(p)) {
            return Err(CoreError::invalid(
                "child policies must be subset of parent",
            ));
        }
        if !no_default && parent.policies.iter().any(|p| p == "default") {
            add_default = true;
        }
    } else {
        add_default = !no_default;
    }
    let mut final_policies = sanitize_policies(&policies, add_default);
    if no_default {
        final_policies.retain(|p| p != "default");
    }
    if final_policies.iter().any(|p| p == RESPONSE_WRAPPING_POLICY) {
        return Err(CoreError::invalid(format!(
            "cannot assign policy {}",
            go_quote(RESPONSE_WRAPPING_POLICY)
        )));
    }
    Ok(final_policies)
}

/// Which token an operation is about: one named by its id, or one found
/// through its accessor (by hashed id; its id is never shown).
enum Target {
    Token(Zeroizing<String>),
    Hid(String),
}

/// The hashed id behind the request's `accessor` (400 `missing accessor`,
/// `invalid accessor` as Vault's multi-errors).
async fn accessor_target(ctx: &Ctx<'_>, req: &Request) -> Result<String, CoreError> {
    let accessor = Fields::new(&req.data).string("accessor");
    if accessor.is_empty() {
        return Err(CoreError::bad("missing accessor"));
    }
    ctx.core
        .tokens
        .accessor_hid(&accessor)
        .await?
        .ok_or_else(|| CoreError::bad("invalid accessor"))
}

/// `handleLookup`.
async fn lookup(ctx: &Ctx<'_>, target: Target) -> Result<Response, CoreError> {
    let tokens = &ctx.core.tokens;
    let (entry, id) = match target {
        Target::Token(id) => {
            if id.is_empty() {
                return Err(CoreError::invalid("missing token ID"));
            }
            (tokens.lookup_tainted(&id).await?, id.to_string())
        }
        Target::Hid(hid) => (tokens.lookup_hid_tainted(&hid).await?, String::new()),
    };
    let entry = entry.ok_or_else(|| CoreError::Forbidden("bad token".into()))?;
    Ok(Response::with_data(lookup_data(&entry, &id)))
}

/// The `data` of a lookup, keys in Vault's (sorted) order.
pub fn lookup_data(e: &TokenEntry, id: &str) -> Data {
    let mut m = std::collections::BTreeMap::<&str, Value>::new();
    m.insert("accessor", json!(e.accessor));
    m.insert("creation_time", json!(e.creation_time));
    m.insert("creation_ttl", json!(e.creation_ttl));
    m.insert("display_name", json!(e.display_name));
    m.insert("entity_id", json!(e.entity_id));
    m.insert("expire_time", Value::Null);
    m.insert("explicit_max_ttl", json!(e.explicit_max_ttl));
    m.insert("id", json!(id));
    m.insert("meta", json!(e.meta));
    m.insert("num_uses", json!(e.num_uses));
    m.insert("orphan", json!(e.parent.is_empty()));
    m.insert("path", json!(e.path));
    m.insert("policies", json!(e.policies));
    m.insert("ttl", json!(0));
    m.insert("type", json!(e.token_type));
    if let Some(role) = &e.role {
        if !role.is_empty() {
            m.insert("role", json!(role));
        }
    }
    if e.period != 0 {
        m.insert("period", json!(e.period));
    }
    if !e.bound_cidrs.is_empty() {
        m.insert("bound_cidrs", json!(e.bound_cidrs));
    }
    if !e.no_lease {
        if let Some(last) = e.last_renewal {
            m.insert("last_renewal_time", json!(last.timestamp()));
            m.insert("last_renewal", json!(go_time(last)));
        }
        if let Some(exp) = e.expire_time {
            m.insert("expire_time", json!(go_time(exp)));
            m.insert("ttl", json!(lease_ttl_left(exp)));
        }
        let renewable = !e.is_batch() && e.renewable && e.expire_time.is_some() && !e.expired();
        m.insert("renewable", json!(renewable));
        let issue = chrono::DateTime::parse_from_rfc3339(&e.issue_time)
            .map(|t| go_time(t.with_timezone(&Utc)))
            .unwrap_or_else(|_| e.issue_time.clone());
        m.insert("issue_time", json!(issue));
    }
    m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Vault's `leaseEntry.ttl()`: seconds from now (rounded to the second) to
/// the expiry, truncated.
fn lease_ttl_left(exp: chrono::DateTime<Utc>) -> i64 {
    let now = Utc::now();
    let ms = now.timestamp_subsec_nanos();
    let rounded = if ms >= 500_000_000 {
        fields::trunc_secs(now) + chrono::Duration::seconds(1)
    } else {
        fields::trunc_secs(now)
    };
    let nanos = (exp - rounded).num_nanoseconds().unwrap_or(0);
    nanos / 1_000_000_000
}

/// `handleRenew` and `ExpirationManager.RenewToken`.
async fn renew(ctx: &Ctx<'_>, target: Target, increment: u64) -> Result<Response, CoreError> {
    let tokens = &ctx.core.tokens;
    let (entry, id) = match target {
        Target::Token(id) => {
            if id.is_empty() {
                return Err(CoreError::invalid("missing token ID"));
            }
            (tokens.lookup(&id).await?, id.to_string())
        }
        Target::Hid(hid) => (tokens.lookup_hid(&hid).await?, String::new()),
    };
    let entry = entry.ok_or_else(|| CoreError::invalid("token not found"))?;
    if entry.is_batch() {
        return Err(CoreError::invalid("batch tokens cannot be renewed"));
    }
    if entry.no_lease {
        return Err(CoreError::invalid("invalid lease ID"));
    }
    match entry.expire_time {
        None => return Err(CoreError::invalid("lease is not renewable")),
        Some(_) if entry.expired() => return Err(CoreError::invalid("lease expired")),
        Some(_) if !entry.renewable => return Err(CoreError::invalid("lease is not renewable")),
        Some(_) => {}
    }

    // The auth method's renew: the token store follows the token's role;
    // other methods are asked whether the login still holds.
    let (period, explicit, backend_max, lim) = if entry.path.starts_with("auth/token/")
        || entry.mount_accessor.is_empty()
    {
        match entry.role.as_deref().filter(|r| !r.is_empty()) {
            Some(name) => {
                let role = roles::load(ctx.storage, name).await?.ok_or_else(|| {
                    CoreError::Internal(format!(
                        "failed to renew entry: original token role {} could not be found, not renewing",
                        go_quote(name)
                    ))
                })?;
                (
                    role.token_period,
                    role.token_explicit_max_ttl,
                    0,
                    limits(ctx),
                )
            }
            None => (entry.period, entry.explicit_max_ttl, 0, limits(ctx)),
        }
    } else {
        let route = ctx
            .core
            .router
            .read()
            .entries()
            .find(|r| r.entry.table == TableKind::Auth && r.entry.accessor == entry.mount_accessor)
            .cloned();
        let Some(route) = route else {
            return Err(CoreError::Internal(format!(
                "failed to renew entry: no handler for route {}",
                go_quote(&entry.path)
            )));
        };
        let login_ctx = Ctx {
            path: "",
            storage: &route.storage,
            mount: &route.entry,
            core: ctx.core,
        };
        if !route
            .backend
            .renew_login(&login_ctx, &entry.internal)
            .await?
        {
            // As Vault when the method declines (e.g. the user is gone): 204,
            // and the lease is left as it was.
            return Ok(Response::empty());
        }
        let lim = mount_limits(
            ctx,
            route.entry.config.default_lease_ttl,
            route.entry.config.max_lease_ttl,
        );
        (
            entry.period,
            entry.explicit_max_ttl,
            entry.login_max_ttl,
            lim,
        )
    };

    let issued = chrono::DateTime::from_timestamp(entry.creation_time, 0);
    let (ttl, warnings) = calculate_ttl(
        lim,
        increment,
        entry.lease_ttl,
        period,
        backend_max,
        explicit,
        issued,
    )
    .map_err(CoreError::Internal)?;
    let now = Utc::now();
    let updated = tokens
        .modify(&entry.hid, |e| {
            e.lease_ttl = ttl;
            e.expire_time = Some(now + chrono::Duration::seconds(ttl as i64));
            e.last_renewal = Some(now);
        })
        .await?
        .ok_or_else(|| CoreError::invalid("token not found"))?;

    let auth = Auth {
        client_token: id,
        accessor: updated.accessor.clone(),
        policies: updated.policies.clone(),
        token_policies: updated.policies.clone(),
        identity_policies: Vec::new(),
        metadata: updated.meta.clone(),
        lease_duration: ttl,
        renewable: true,
        entity_id: updated.entity_id.clone(),
        token_type: updated.token_type.clone(),
        orphan: updated.parent.is_empty(),
        mfa_requirement: None,
        num_uses: updated.num_uses,
    };
    Ok(Response {
        auth: Some(auth),
        warnings,
        ..Default::default()
    })
}

/// `revokeCommon`: revokes a token and its children; an unknown token is fine.
async fn revoke_common(ctx: &Ctx<'_>, id: &str) -> Result<Response, CoreError> {
    let Some(entry) = ctx.core.tokens.lookup(id).await? else {
        return Ok(Response::empty());
    };
    if entry.is_batch() {
        return Err(CoreError::invalid("batch tokens cannot be revoked"));
    }
    ctx.core.tokens.revoke_tree(&entry.hid).await?;
    Ok(Response::empty())
}

/// `handleRevokeOrphan`.
async fn revoke_orphan(ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
    let id = token_param(req);
    if id.is_empty() {
        return Err(CoreError::invalid("missing token ID"));
    }
    let caller = caller(ctx, req).await?;
    let sudo = match &caller {
        Some(c) => is_sudo(ctx, req, c).await?,
        None => false,
    };
    if !sudo {
        return Err(CoreError::invalid(
            "root or sudo privileges required to revoke and orphan",
        ));
    }
    let entry = ctx
        .core
        .tokens
        .lookup(&id)
        .await?
        .ok_or_else(|| CoreError::invalid("token to revoke not found"))?;
    if entry.is_batch() {
        return Err(CoreError::invalid("batch tokens cannot be revoked"));
    }
    ctx.core.tokens.revoke_orphan(&entry.hid).await?;
    Ok(Response::empty())
}

/// `handleUpdateRevokeAccessor`.
async fn revoke_accessor(ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
    let accessor = Fields::new(&req.data).string("accessor");
    if accessor.is_empty() {
        return Err(CoreError::bad("missing accessor"));
    }
    let Some(hid) = ctx.core.tokens.accessor_hid(&accessor).await? else {
        return Ok(Response {
            warnings: vec!["No token found with this accessor".into()],
            ..Default::default()
        });
    };
    let entry = ctx
        .core
        .tokens
        .lookup_hid(&hid)
        .await?
        .ok_or_else(|| CoreError::invalid("token not found"))?;
    ctx.core.tokens.revoke_tree(&entry.hid).await?;
    Ok(Response::empty())
}

/// `handleTidy`: starts a tidy in the background (202), or reports one
/// already running.
fn tidy(ctx: &Ctx<'_>) -> Response {
    if !ctx.core.tokens.claim_tidy() {
        return Response {
            warnings: vec!["Tidy operation already in progress.".into()],
            ..Default::default()
        };
    }
    let active = ctx.core.clone();
    tokio::spawn(async move {
        tracing::info!("beginning tidy operation on tokens");
        if let Err(e) = active.tokens.tidy_claimed().await {
            tracing::error!(error = %e, "error running tidy");
        }
        tracing::info!("finished tidy operation on tokens");
    });
    Response {
        warnings: vec![
            "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs."
                .into(),
        ],
        status: Some(202),
        ..Default::default()
    }
}
