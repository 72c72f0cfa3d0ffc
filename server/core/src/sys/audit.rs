//! Audit devices: `sys/audit` (list), `sys/audit/NAME` (enable, disable),
//! `sys/audit-hash/NAME`.
//!
//! OpenBao 2.7 only accepts audit devices from its configuration file unless
//! `unsafe_allow_api_audit_creation` is set; Coffer keeps Vault's API
//! (`PUT sys/audit/NAME`) as well, guarded by `sudo` like every `sys/audit*`
//! path.

use serde_json::json;

use super::util::{bool_field, kv_pairs_field, string_field};
use crate::audit::AuditDeviceConfig;
use crate::error::CoreError;
use crate::logical::{Ctx, Data, Operation, Request, Response};

/// `GET sys/audit`.
pub async fn handle_table(ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
    if req.operation != Operation::Read {
        return Err(CoreError::UnsupportedOperation);
    }
    let mut data = Data::new();
    for d in ctx.core.audit.list() {
        let path = format!("{}/", d.name);
        data.insert(
            path.clone(),
            json!({
                "description": d.description,
                "local": d.local,
                "options": d.options,
                "path": path,
                "type": d.device_type,
            }),
        );
    }
    Ok(Response::with_data(data))
}

/// `PUT sys/audit/NAME` and `DELETE sys/audit/NAME`.
pub async fn handle_device(ctx: &Ctx<'_>, req: &Request, raw: &str) -> Result<Response, CoreError> {
    let name = raw.trim_end_matches('/').to_string();
    match req.operation {
        Operation::Create | Operation::Update => {
            if name.is_empty() {
                return Err(CoreError::invalid("backend path must be specified"));
            }
            let data = &req.data;
            let device_type = string_field(data, "type")
                .map_err(CoreError::InvalidRequest)?
                .unwrap_or_default();
            let description = string_field(data, "description")
                .map_err(CoreError::InvalidRequest)?
                .unwrap_or_default();
            let options = kv_pairs_field(data, "options")
                .map_err(CoreError::InvalidRequest)?
                .unwrap_or_default();
            let local = bool_field(data, "local")
                .map_err(CoreError::InvalidRequest)?
                .unwrap_or(false);
            if ctx.core.audit.list().iter().any(|d| d.name == name) {
                return Err(CoreError::invalid("path already in use"));
            }
            ctx.core
                .audit
                .enable(AuditDeviceConfig {
                    name,
                    device_type,
                    description,
                    options,
                    local,
                    from_config: false,
                })
                .await?;
            Ok(Response::empty())
        }
        Operation::Delete => {
            if name.is_empty() {
                return Err(CoreError::invalid("audit device path must be specified"));
            }
            ctx.core.audit.disable(&name).await?;
            Ok(Response::empty())
        }
        _ => Err(CoreError::UnsupportedOperation),
    }
}

/// `POST sys/audit-hash/NAME` `{input}`: the HMAC the device writes for `input`.
pub async fn handle_hash(ctx: &Ctx<'_>, req: &Request, raw: &str) -> Result<Response, CoreError> {
    if !matches!(req.operation, Operation::Update | Operation::Create) {
        return Err(CoreError::UnsupportedOperation);
    }
    let input = string_field(&req.data, "input")
        .map_err(CoreError::InvalidRequest)?
        .unwrap_or_default();
    if input.is_empty() {
        return Err(CoreError::invalid("the \"input\" parameter is empty"));
    }
    let hash = ctx.core.audit.hash(raw.trim_end_matches('/'), &input)?;
    Ok(Response::json(json!({ "hash": hash })))
}
