//! The system backend, mounted at `sys/`: mount tables (`sys/mounts`,
//! `sys/auth`, tuning), ACL policies (`sys/policy`, `sys/policies/acl`),
//! capabilities, the UI mount pre-flight the CLI calls before KV commands
//! (`sys/internal/ui/mounts`), audit devices, key and seal operations
//! (`sys/seal`, `sys/step-down`, `sys/key-status`, `sys/rotate`), leases
//! (`sys/leases/*`) and response wrapping (`sys/wrapping/*`).
//!
//! Every request arrives through the normal pipeline (token, ACL, audit);
//! the unauthenticated lifecycle endpoints (`sys/init`, `sys/seal-status`,
//! `sys/unseal`, `sys/health`, `sys/leader`) are served by the HTTP layer
//! straight from [`crate::core::Core`] and never reach this backend.
//! Behaviour and error texts follow OpenBao 2.7.2.

mod audit;
mod capabilities;
mod keys;
mod leases;
mod mounts;
mod policy;
pub mod util;
mod wrapping;

#[cfg(test)]
pub(crate) mod tests;

use async_trait::async_trait;

use crate::error::CoreError;
use crate::logical::{Backend, Ctx, Request, Response};

pub use mounts::mount_info;

/// The `sys/` backend.
pub struct SystemBackend;

/// Paths (relative to `sys/`) that need `sudo`, as Vault's system backend
/// declares them, plus `seal` and `step-down` which Vault checks for root
/// privileges in its HTTP handlers.
const ROOT_PATHS: &[&str] = &[
    "auth/*",
    "remount",
    "audit",
    "audit/*",
    "raw",
    "raw/*",
    "rotate",
    "rotate/keyring",
    "rotate/root",
    "config/cors",
    "config/auditing/*",
    "config/ui/headers/*",
    "plugins/catalog/*",
    "revoke-prefix/*",
    "revoke-force/*",
    "leases/revoke-prefix/*",
    "leases/revoke-force/*",
    "leases/lookup/*",
    "leases",
    "internal/inspect/*",
    "seal",
    "step-down",
];

/// Paths reachable without a token; the handlers check the token themselves.
const UNAUTHENTICATED_PATHS: &[&str] = &[
    "internal/ui/mounts",
    "internal/ui/mounts/*",
    "wrapping/lookup",
];

/// Whether OpenBao repeats the response data at the top level of the
/// envelope for this path (its `injectDataIntoTopRoutes`).
fn injects_top_level(path: &str) -> bool {
    const EXACT: &[&str] = &[
        "audit",
        "auth",
        "capabilities",
        "capabilities-accessor",
        "capabilities-self",
        "key-status",
        "mounts",
        "policy",
        "rotate",
        "rotate/keyring",
    ];
    const PREFIX: &[&str] = &["audit/", "audit-hash/", "auth/", "mounts/", "policy/"];
    EXACT.contains(&path) || PREFIX.iter().any(|p| path.starts_with(p))
}

#[async_trait]
impl Backend for SystemBackend {
    fn unauthenticated_paths(&self) -> &'static [&'static str] {
        UNAUTHENTICATED_PATHS
    }

    fn root_paths(&self) -> &'static [&'static str] {
        ROOT_PATHS
    }

    async fn handle(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
        let path = ctx.path;
        let mut resp = route(ctx, req, path).await?;
        if injects_top_level(path) {
            resp.top_level_data = true;
        }
        Ok(resp)
    }
}

/// Dispatches on the path relative to `sys/`.
async fn route(ctx: &Ctx<'_>, req: &Request, path: &str) -> Result<Response, CoreError> {
    match path {
        "mounts" => return mounts::handle_table(ctx, req, mounts::Kind::Secrets).await,
        "auth" => return mounts::handle_table(ctx, req, mounts::Kind::Auth).await,
        "policy" | "policy/" => return policy::handle_list(ctx, req, true).await,
        "policies/acl" | "policies/acl/" => return policy::handle_list(ctx, req, false).await,
        "capabilities" | "capabilities-self" | "capabilities-accessor" => {
            return capabilities::handle(ctx, req, path).await
        }
        "internal/ui/mounts" => return mounts::handle_ui_mounts(ctx, req).await,
        "audit" => return audit::handle_table(ctx, req).await,
        "seal" => return keys::handle_seal(ctx, req).await,
        "step-down" => return keys::handle_step_down(req).await,
        "key-status" => return keys::handle_key_status(ctx, req).await,
        "rotate" | "rotate/keyring" => return keys::handle_rotate(ctx, req).await,
        "rotate/config" | "rotate/keyring/config" => {
            return keys::handle_rotate_config(ctx, req).await
        }
        _ => {}
    }
    if let Some(rest) = non_empty_suffix(path, "mounts/") {
        return match rest.strip_suffix("/tune").filter(|p| !p.is_empty()) {
            Some(mount) => mounts::handle_tune(ctx, req, mount, mounts::Kind::Secrets).await,
            None => mounts::handle_mount(ctx, req, rest).await,
        };
    }
    if let Some(rest) = non_empty_suffix(path, "auth/") {
        return match rest.strip_suffix("/tune").filter(|p| !p.is_empty()) {
            Some(mount) => mounts::handle_tune(ctx, req, mount, mounts::Kind::Auth).await,
            None => mounts::handle_auth(ctx, req, rest).await,
        };
    }
    if let Some(name) = non_empty_suffix(path, "policy/") {
        return policy::handle_policy(ctx, req, name, true).await;
    }
    if let Some(name) = non_empty_suffix(path, "policies/acl/") {
        return policy::handle_policy(ctx, req, name, false).await;
    }
    if let Some(rest) = non_empty_suffix(path, "internal/ui/mounts/") {
        return mounts::handle_ui_mount(ctx, req, rest).await;
    }
    if let Some(name) = non_empty_suffix(path, "audit-hash/") {
        return audit::handle_hash(ctx, req, name).await;
    }
    if let Some(rest) = non_empty_suffix(path, "leases/") {
        return leases::handle(ctx, req, rest).await;
    }
    if let Some(rest) = non_empty_suffix(path, "wrapping/") {
        return wrapping::handle(ctx, req, rest).await;
    }
    if let Some(name) = non_empty_suffix(path, "audit/") {
        return audit::handle_device(ctx, req, name).await;
    }
    Err(CoreError::UnsupportedPath)
}

/// The rest of `path` after `prefix`, when it is not empty.
fn non_empty_suffix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix).filter(|rest| !rest.is_empty())
}
