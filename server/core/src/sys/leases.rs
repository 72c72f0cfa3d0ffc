//! `sys/leases/*`: lookup (and LIST by prefix), renew, revoke, revoke-prefix,
//! revoke-force and tidy, over the [`crate::expiration::ExpirationManager`].
//! The legacy `sys/renew`, `sys/revoke*` are gone in OpenBao (404).

use super::util::{bool_field, duration_field, string_field};
use crate::error::CoreError;
use crate::logical::{Ctx, Operation, RawResponse, Request, Response};

/// OpenBao's warning when a tidy starts.
const TIDY_STARTED: &str = "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.";

fn update_only(req: &Request) -> Result<(), CoreError> {
    if matches!(req.operation, Operation::Update | Operation::Create) {
        Ok(())
    } else {
        Err(CoreError::UnsupportedOperation)
    }
}

/// A bad field value, in the framework's words.
fn field_err(msg: String) -> CoreError {
    CoreError::invalid(msg)
}

/// `lease_id` from the body, else the one captured from the URL.
fn lease_id(req: &Request, url_id: &str) -> Result<String, CoreError> {
    let id = string_field(&req.data, "lease_id")
        .map_err(field_err)?
        .unwrap_or_default();
    let id = if id.is_empty() {
        url_id.to_string()
    } else {
        id
    };
    if id.is_empty() {
        return Err(CoreError::invalid("lease_id must be specified"));
    }
    Ok(id)
}

/// A 202 with no body (OpenBao's `RespondWithStatusCode(nil, nil, 202)`).
fn accepted() -> Response {
    Response {
        raw: Some(RawResponse {
            status: 202,
            content_type: "application/json".into(),
            body: Vec::new(),
        }),
        ..Default::default()
    }
}

/// Dispatches `sys/leases/...` (`rest` is the part after `leases/`).
pub async fn handle(ctx: &Ctx<'_>, req: &Request, rest: &str) -> Result<Response, CoreError> {
    match rest {
        "lookup" => match req.operation {
            Operation::List => return list(ctx, req, "").await,
            _ => return lookup(ctx, req).await,
        },
        "renew" => return renew(ctx, req, "").await,
        "revoke" => return revoke(ctx, req, "").await,
        "tidy" => return tidy(ctx, req).await,
        _ => {}
    }
    if let Some(prefix) = rest.strip_prefix("lookup/") {
        return list(ctx, req, prefix).await;
    }
    if let Some(id) = non_empty(rest, "renew/") {
        return renew(ctx, req, id).await;
    }
    if let Some(id) = non_empty(rest, "revoke/") {
        return revoke(ctx, req, id).await;
    }
    if let Some(prefix) = non_empty(rest, "revoke-prefix/") {
        return revoke_prefix(ctx, req, prefix, false).await;
    }
    if let Some(prefix) = non_empty(rest, "revoke-force/") {
        return revoke_prefix(ctx, req, prefix, true).await;
    }
    Err(CoreError::UnsupportedPath)
}

fn non_empty<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix).filter(|r| !r.is_empty())
}

/// `PUT sys/leases/lookup` `{lease_id}`.
async fn lookup(ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
    update_only(req)?;
    let id = lease_id(req, "")?;
    match ctx.core.expiration.lookup(ctx.core, &id).await? {
        Some(d) => Ok(Response::with_data(d)),
        None => Err(CoreError::invalid("invalid lease")),
    }
}

/// `LIST sys/leases/lookup/PREFIX` (sudo).
async fn list(ctx: &Ctx<'_>, req: &Request, prefix: &str) -> Result<Response, CoreError> {
    if req.operation != Operation::List {
        return Err(CoreError::UnsupportedOperation);
    }
    if prefix.is_empty() {
        // OpenBao lists `sys/leases/lookup/` (a sudo path) for this one; the
        // pipeline's sudo check only saw `leases/lookup`.
        require_sudo(ctx, req).await?;
    }
    let keys = ctx.core.expiration.list(ctx.core, prefix).await?;
    Response::list(keys)
}

/// Refuses a caller without `sudo` on `sys/leases/lookup/`.
async fn require_sudo(ctx: &Ctx<'_>, req: &Request) -> Result<(), CoreError> {
    let Some(t) = &req.token else {
        return Err(CoreError::PermissionDenied);
    };
    if t.is_root() {
        return Ok(());
    }
    let acl = ctx.core.policies.acl(&t.policies).await?;
    let allowed = acl.allow_request(&coffer_policy::AclRequest {
        operation: coffer_policy::Operation::List,
        path: "sys/leases/lookup/",
        needs_sudo: true,
        data: Some(&req.data),
        wrap_ttl: req.wrap_ttl,
    });
    if allowed.allowed {
        Ok(())
    } else {
        Err(CoreError::PermissionDenied)
    }
}

/// `PUT sys/leases/renew[/ID]` `{lease_id, increment}`.
async fn renew(ctx: &Ctx<'_>, req: &Request, url_id: &str) -> Result<Response, CoreError> {
    update_only(req)?;
    let id = lease_id(req, url_id)?;
    let increment = duration_field(&req.data, "increment")
        .map_err(field_err)?
        .unwrap_or(0);
    ctx.core.expiration.renew(ctx.core, &id, increment).await
}

/// The `sync` field (default true).
fn sync_field(req: &Request) -> Result<bool, CoreError> {
    Ok(bool_field(&req.data, "sync")
        .map_err(field_err)?
        .unwrap_or(true))
}

/// `PUT sys/leases/revoke[/ID]` `{lease_id, sync}`: 204, or 202 when not sync.
async fn revoke(ctx: &Ctx<'_>, req: &Request, url_id: &str) -> Result<Response, CoreError> {
    update_only(req)?;
    let id = lease_id(req, url_id)?;
    if sync_field(req)? {
        ctx.core.expiration.revoke(ctx.core, &id, false).await?;
        Ok(Response::empty())
    } else {
        ctx.core.expiration.revoke_lazy(ctx.core, &id).await?;
        Ok(accepted())
    }
}

/// `PUT sys/leases/revoke-prefix/PREFIX` `{sync}` and
/// `PUT sys/leases/revoke-force/PREFIX` (both sudo).
async fn revoke_prefix(
    ctx: &Ctx<'_>,
    req: &Request,
    prefix: &str,
    force: bool,
) -> Result<Response, CoreError> {
    update_only(req)?;
    let sync = force || sync_field(req)?;
    ctx.core
        .expiration
        .revoke_prefix(ctx.core, prefix, force, sync)
        .await?;
    Ok(if sync { Response::empty() } else { accepted() })
}

/// `PUT sys/leases/tidy`: starts a tidy in the background; 202 with a warning.
async fn tidy(ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
    update_only(req)?;
    let active = ctx.core.clone();
    tokio::spawn(async move {
        if let Err(e) = active.expiration.tidy(&active).await {
            tracing::error!(error = %e, "failed to tidy leases");
        }
    });
    Ok(Response {
        warnings: vec![TIDY_STARTED.to_string()],
        status: Some(202),
        ..Default::default()
    })
}
