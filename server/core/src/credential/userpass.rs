//! The `userpass` auth method: users with a bcrypt password hash and token
//! settings, and `login/NAME` which checks the password and hands the core a
//! [`LoginAuth`] to mint a token from.
//!
//! Paths (relative to the mount): `users` (list), `users/NAME` (read, write,
//! delete), `users/NAME/password`, `users/NAME/policies`, `login/NAME`
//! (unauthenticated). User names are lower-cased; reads never return the
//! password hash. As in OpenBao, passwords are hashed with bcrypt (cost 10),
//! a pre-hashed bcrypt `password_hash` is accepted, and unknown users are
//! checked against a dummy hash so a login takes the same time either way.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::OnceLock;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::token_fields::{
    default_token_type, upgrade_cidrs, upgrade_duration, upgrade_policies, TokenFields,
};
use crate::error::CoreError;
use crate::logical::{Backend, Ctx, Data, Operation, Request, Response, StorageView};
use crate::sys::util::{comma_list_field, sanitize_policies, string_field};
use crate::token::cidr_contains;

/// bcrypt cost for new hashes (Go's `bcrypt.DefaultCost`); tests use the minimum.
#[cfg(not(test))]
const BCRYPT_COST: u32 = 10;
#[cfg(test)]
const BCRYPT_COST: u32 = 4;
/// Bounds on the cost of a pre-hashed `password_hash`.
const MIN_IMPORT_COST: u32 = 5;
const MAX_IMPORT_COST: u32 = 12;
/// bcrypt reads at most this many password bytes.
const MAX_PASSWORD_BYTES: usize = 72;

const INVALID_CREDENTIALS: &str = "invalid username or password";

/// The userpass backend.
pub struct Userpass;

/// A stored user. `policies`, `ttl`, `max_ttl` and `bound_cidrs` are the
/// deprecated names, kept so reads show what was written with them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct UserEntry {
    #[serde(default)]
    password_hash: String,
    #[serde(default)]
    policies: Vec<String>,
    #[serde(default)]
    ttl: u64,
    #[serde(default)]
    max_ttl: u64,
    #[serde(default)]
    bound_cidrs: Vec<String>,
    /// The `token_*` settings (stored flat, next to the fields above).
    #[serde(flatten)]
    token: TokenFields,
}

use crate::token::roles::valid_name;

fn user_key(name: &str) -> String {
    format!("user/{}", name.to_lowercase())
}

async fn load_user(storage: &StorageView, name: &str) -> Result<Option<UserEntry>, CoreError> {
    let Some(mut u) = storage.get_json::<UserEntry>(&user_key(name)).await? else {
        return Ok(None);
    };
    // Entries written with the deprecated fields only.
    let t = &mut u.token;
    if t.token_ttl == 0 && u.ttl > 0 {
        t.token_ttl = u.ttl;
    }
    if t.token_max_ttl == 0 && u.max_ttl > 0 {
        t.token_max_ttl = u.max_ttl;
    }
    if t.token_policies.is_empty() && !u.policies.is_empty() {
        t.token_policies = u.policies.clone();
    }
    if t.token_bound_cidrs.is_empty() && !u.bound_cidrs.is_empty() {
        t.token_bound_cidrs = u.bound_cidrs.clone();
    }
    Ok(Some(u))
}

fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::InvalidRequest(msg.into())
}

/// tokenutil's upgrade of the deprecated fields: a new-style field wins and
/// clears the old one unless both were given; an old-style field alone sets both.
fn upgrade_legacy_fields(u: &mut UserEntry, data: &Data) -> Result<(), CoreError> {
    let t = &mut u.token;
    upgrade_policies(
        data,
        "policies",
        "token_policies",
        &mut u.policies,
        &mut t.token_policies,
    )?;
    upgrade_duration(data, "ttl", "token_ttl", &mut u.ttl, &mut t.token_ttl)?;
    upgrade_duration(
        data,
        "max_ttl",
        "token_max_ttl",
        &mut u.max_ttl,
        &mut t.token_max_ttl,
    )?;
    upgrade_cidrs(
        data,
        "bound_cidrs",
        "token_bound_cidrs",
        &mut u.bound_cidrs,
        &mut t.token_bound_cidrs,
    )
}

/// Exactly one of `password` and `password_hash`.
fn validate_password_input(password: &str, hash: &str) -> Result<(), CoreError> {
    match (password.is_empty(), hash.is_empty()) {
        (false, false) => Err(invalid(
            "only one of password or password_hash may be provided",
        )),
        (true, true) => Err(invalid("must provide either password or password_hash")),
        _ => Ok(()),
    }
}

/// Sets the user's hash from a password (hashed here) or a bcrypt hash.
async fn set_password(
    u: &mut UserEntry,
    password: Zeroizing<String>,
    hash: &str,
) -> Result<(), CoreError> {
    validate_password_input(&password, hash)?;
    if !password.is_empty() {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(CoreError::Internal(
                "bcrypt: password length exceeds 72 bytes".into(),
            ));
        }
        u.password_hash =
            tokio::task::spawn_blocking(move || bcrypt::hash(password.as_bytes(), BCRYPT_COST))
                .await
                .map_err(|e| CoreError::Internal(format!("hashing password: {e}")))?
                .map_err(|e| CoreError::Internal(format!("hashing password: {e}")))?;
    } else {
        let parts = bcrypt::HashParts::from_str(hash)
            .map_err(|_| invalid("password_hash is not a valid bcrypt hash"))?;
        let cost = parts.get_cost();
        if cost < MIN_IMPORT_COST {
            return Err(invalid(format!(
                "bcrypt cost of {cost} is too low, want {MIN_IMPORT_COST} at minimum"
            )));
        }
        if cost > MAX_IMPORT_COST {
            return Err(invalid(format!(
                "bcrypt cost of {cost} exceeds maximum cost of {MAX_IMPORT_COST}"
            )));
        }
        u.password_hash = hash.to_string();
    }
    Ok(())
}

/// A hash to check unknown users' passwords against, so that a login for a
/// missing user costs as much as one for an existing user.
async fn dummy_hash() -> Result<String, CoreError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h.clone());
    }
    let h = tokio::task::spawn_blocking(|| bcrypt::hash("dummy", BCRYPT_COST))
        .await
        .map_err(|e| CoreError::Internal(format!("hashing password: {e}")))?
        .map_err(|e| CoreError::Internal(format!("hashing password: {e}")))?;
    Ok(DUMMY.get_or_init(|| h).clone())
}

/// Constant-time bcrypt check (a malformed stored hash never matches).
async fn verify_password(password: Zeroizing<String>, hash: String) -> Result<bool, CoreError> {
    tokio::task::spawn_blocking(move || bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false))
        .await
        .map_err(|e| CoreError::Internal(format!("checking password: {e}")))
}

fn password_inputs(data: &Data) -> Result<(Zeroizing<String>, String), CoreError> {
    let password = Zeroizing::new(
        string_field(data, "password")
            .map_err(invalid)?
            .unwrap_or_default(),
    );
    let hash = string_field(data, "password_hash")
        .map_err(invalid)?
        .unwrap_or_default();
    Ok((password, hash))
}

impl Userpass {
    async fn list(&self, ctx: &Ctx<'_>) -> Result<Response, CoreError> {
        let mut keys: Vec<String> = ctx
            .storage
            .list("user/")
            .await?
            .into_iter()
            .filter(|k| !k.ends_with('/'))
            .collect();
        keys.sort();
        Response::list(keys)
    }

    async fn read(&self, ctx: &Ctx<'_>, name: &str) -> Result<Response, CoreError> {
        let u = load_user(ctx.storage, name)
            .await?
            .ok_or(CoreError::NotFound)?;
        let mut data: BTreeMap<&str, Value> = BTreeMap::new();
        u.token.populate(&mut data);
        if u.ttl > 0 {
            data.insert("ttl", json!(u.ttl));
        }
        if u.max_ttl > 0 {
            data.insert("max_ttl", json!(u.max_ttl));
        }
        if !u.policies.is_empty() {
            data.insert("policies", json!(u.token.token_policies));
        }
        if !u.bound_cidrs.is_empty() {
            data.insert("bound_cidrs", json!(u.bound_cidrs));
        }
        let data: Data = data.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Ok(Response::with_data(data))
    }

    async fn write(&self, ctx: &Ctx<'_>, req: &Request, name: &str) -> Result<Response, CoreError> {
        let (password, hash) = password_inputs(&req.data)?;
        if req.operation == Operation::Create {
            validate_password_input(&password, &hash)?;
        }
        let mut u = load_user(ctx.storage, name).await?.unwrap_or_default();
        if u.token.token_type.is_empty() {
            u.token.token_type = default_token_type();
        }
        u.token.parse(&req.data)?;
        if !password.is_empty() || !hash.is_empty() {
            set_password(&mut u, password, &hash).await?;
        }
        upgrade_legacy_fields(&mut u, &req.data)?;
        ctx.storage.put_json(&user_key(name), &u).await?;
        Ok(Response::empty())
    }

    async fn update_password(
        &self,
        ctx: &Ctx<'_>,
        req: &Request,
        name: &str,
    ) -> Result<Response, CoreError> {
        let mut u = load_user(ctx.storage, name)
            .await?
            .ok_or_else(|| CoreError::Internal("username does not exist".into()))?;
        let (password, hash) = password_inputs(&req.data)?;
        set_password(&mut u, password, &hash).await?;
        ctx.storage.put_json(&user_key(name), &u).await?;
        Ok(Response::empty())
    }

    async fn update_policies(
        &self,
        ctx: &Ctx<'_>,
        req: &Request,
        name: &str,
    ) -> Result<Response, CoreError> {
        let mut u = load_user(ctx.storage, name)
            .await?
            .ok_or_else(|| CoreError::Internal("username does not exist".into()))?;
        let data = &req.data;
        match comma_list_field(data, "token_policies").map_err(invalid)? {
            None => {
                if let Some(v) = comma_list_field(data, "policies").map_err(invalid)? {
                    u.policies = sanitize_policies(&v);
                    u.token.token_policies = u.policies.clone();
                }
            }
            Some(v) => {
                u.token.token_policies = sanitize_policies(&v);
                if data.get("policies").is_some_and(|v| !v.is_null()) {
                    u.policies = u.token.token_policies.clone();
                } else {
                    u.policies.clear();
                }
            }
        }
        ctx.storage.put_json(&user_key(name), &u).await?;
        Ok(Response::empty())
    }

    async fn login(&self, ctx: &Ctx<'_>, req: &Request, name: &str) -> Result<Response, CoreError> {
        let username = name.to_lowercase();
        let password = Zeroizing::new(
            string_field(&req.data, "password")
                .map_err(invalid)?
                .unwrap_or_default(),
        );
        if password.is_empty() {
            return Err(CoreError::Internal("missing password".into()));
        }
        let user = load_user(ctx.storage, &username).await?;
        let hash = match &user {
            Some(u) if u.password_hash.is_empty() => return Err(invalid(INVALID_CREDENTIALS)),
            Some(u) => u.password_hash.clone(),
            None => dummy_hash().await?,
        };
        let matched = verify_password(password, hash).await?;
        let Some(user) = user.filter(|_| matched) else {
            return Err(invalid(INVALID_CREDENTIALS));
        };

        let token = &user.token;
        if !token.token_bound_cidrs.is_empty() {
            let Some(addr) = req.remote_addr else {
                return Err(CoreError::PermissionDenied);
            };
            if !token
                .token_bound_cidrs
                .iter()
                .any(|c| cidr_contains(c, addr))
            {
                return Err(CoreError::PermissionDenied);
            }
        }
        let mut login = token.login_auth(req.remote_addr);
        login.metadata = BTreeMap::from([("username".to_string(), username.clone())]);
        login.display_name = username.clone();
        login.internal.insert("username".into(), json!(username));
        login
            .internal
            .insert("policies".into(), json!(token.token_policies));
        Ok(Response {
            login: Some(login),
            ..Default::default()
        })
    }
}

/// The user name in `prefix/NAME[suffix]`, when valid.
fn name_in<'a>(path: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
        .filter(|n| valid_name(n))
}

#[async_trait]
impl Backend for Userpass {
    fn unauthenticated_paths(&self) -> &'static [&'static str] {
        &["login/*"]
    }

    async fn existence(&self, ctx: &Ctx<'_>, _req: &Request) -> Result<Option<bool>, CoreError> {
        match name_in(ctx.path, "users/", "") {
            Some(name) => Ok(Some(load_user(ctx.storage, name).await?.is_some())),
            None => Ok(None),
        }
    }

    async fn handle(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
        let path = ctx.path;
        let op = req.operation;
        if path == "users" || path == "users/" {
            return match op {
                Operation::List => self.list(ctx).await,
                _ => Err(CoreError::UnsupportedOperation),
            };
        }
        if let Some(name) = name_in(path, "users/", "/password") {
            return match op {
                Operation::Update | Operation::Create => self.update_password(ctx, req, name).await,
                _ => Err(CoreError::UnsupportedOperation),
            };
        }
        if let Some(name) = name_in(path, "users/", "/policies") {
            return match op {
                Operation::Update | Operation::Create => self.update_policies(ctx, req, name).await,
                _ => Err(CoreError::UnsupportedOperation),
            };
        }
        if let Some(name) = name_in(path, "users/", "") {
            return match op {
                Operation::Read => self.read(ctx, name).await,
                Operation::Create | Operation::Update => self.write(ctx, req, name).await,
                Operation::Delete => {
                    ctx.storage.delete(&user_key(name)).await?;
                    Ok(Response::empty())
                }
                _ => Err(CoreError::UnsupportedOperation),
            };
        }
        if let Some(name) = name_in(path, "login/", "") {
            return match op {
                Operation::Update | Operation::Create => self.login(ctx, req, name).await,
                _ => Err(CoreError::UnsupportedOperation),
            };
        }
        Err(CoreError::UnsupportedPath)
    }

    /// A login token renews only while its user exists with the same policies.
    async fn renew_login(&self, ctx: &Ctx<'_>, internal: &Data) -> Result<bool, CoreError> {
        let Some(name) = internal.get("username").and_then(Value::as_str) else {
            return Ok(false);
        };
        let Some(user) = load_user(ctx.storage, name).await? else {
            return Ok(false);
        };
        let logged_in_with: Vec<String> = internal
            .get("policies")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        if !crate::sys::util::equivalent_policies(&user.token.token_policies, &logged_in_with) {
            return Err(CoreError::Internal(
                "failed to renew entry: policies have changed, not renewing".into(),
            ));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
