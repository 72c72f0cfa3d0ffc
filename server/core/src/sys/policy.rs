//! ACL policies: the legacy `sys/policy[/NAME]` (with `rules`) and
//! `sys/policies/acl[/NAME]` (with `policy`).

use base64::Engine;
use serde_json::json;

use super::util::{bool_field, int_field, string_field};
use crate::error::CoreError;
use crate::logical::{Ctx, Data, Operation, Request, Response};
use crate::policy_store::PolicyStore;

/// Policies that exist without being stored and cannot be written.
const IMMUTABLE: &[&str] = &["root", "response-wrapping"];

/// `sys/policy` (GET or LIST: `keys` and `policies`) and
/// `sys/policies/acl` (LIST: `keys`).
pub async fn handle_list(
    ctx: &Ctx<'_>,
    req: &Request,
    legacy: bool,
) -> Result<Response, CoreError> {
    let allowed = if legacy {
        matches!(req.operation, Operation::Read | Operation::List)
    } else {
        req.operation == Operation::List
    };
    if !allowed {
        return Err(CoreError::UnsupportedOperation);
    }
    // Sorted stored names, then `root` last, as OpenBao lists them.
    let mut names: Vec<String> = ctx
        .core
        .policies
        .list()
        .await?
        .into_iter()
        .filter(|n| n != "root")
        .collect();
    names.push("root".into());
    let mut resp = Response::list(names.clone())?;
    if legacy {
        if let Some(d) = resp.data.as_mut() {
            d.insert("policies".into(), json!(names));
        }
    }
    Ok(resp)
}

/// `sys/policy/NAME` and `sys/policies/acl/NAME`.
pub async fn handle_policy(
    ctx: &Ctx<'_>,
    req: &Request,
    raw_name: &str,
    legacy: bool,
) -> Result<Response, CoreError> {
    let name = PolicyStore::normalize(raw_name.trim_end_matches('/'));
    match req.operation {
        Operation::Read => read(ctx, &name, legacy).await,
        Operation::Create | Operation::Update => write(ctx, req, &name, legacy).await,
        Operation::Delete => delete(ctx, &name).await,
        Operation::List => Err(CoreError::NotFound),
        _ => Err(CoreError::UnsupportedOperation),
    }
}

async fn read(ctx: &Ctx<'_>, name: &str, legacy: bool) -> Result<Response, CoreError> {
    let text_key = if legacy { "rules" } else { "policy" };
    let mut data = Data::new();
    if name == "root" {
        data.insert("name".into(), json!("root"));
        data.insert(text_key.into(), json!(""));
        data.insert("version".into(), json!(0));
        data.insert("cas_required".into(), json!(false));
    } else {
        let info = ctx
            .core
            .policies
            .info(name)
            .await?
            .ok_or(CoreError::NotFound)?;
        data.insert("name".into(), json!(info.name));
        data.insert(text_key.into(), json!(info.raw));
        data.insert("version".into(), json!(info.version));
        data.insert("cas_required".into(), json!(info.cas_required));
        if let Some(m) = info.modified {
            data.insert("modified".into(), json!(m));
        }
    }
    data.insert("allow_wildcards_in_identity_templates".into(), json!(false));
    data.insert("allow_slashes_in_identity_templates".into(), json!(false));
    // Keys sorted as OpenBao's JSON encoder writes them.
    data.sort_keys();
    Ok(Response::with_data(data))
}

async fn write(
    ctx: &Ctx<'_>,
    req: &Request,
    name: &str,
    legacy: bool,
) -> Result<Response, CoreError> {
    if name.is_empty() {
        return Err(CoreError::invalid(
            "policy name must be provided in the URL",
        ));
    }
    let data = &req.data;
    let mut warnings = Vec::new();
    let mut raw = string_field(data, "policy")
        .map_err(CoreError::InvalidRequest)?
        .unwrap_or_default();
    if raw.is_empty() && legacy {
        raw = string_field(data, "rules")
            .map_err(CoreError::InvalidRequest)?
            .unwrap_or_default();
        warnings.push("'rules' is deprecated, please use 'policy' instead".to_string());
    }
    if raw.is_empty() {
        return Err(CoreError::invalid(
            "'policy' parameter not supplied or empty",
        ));
    }
    // OpenBao accepts base64-encoded policy text.
    if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(raw.as_bytes()) {
        if let Ok(text) = String::from_utf8(decoded) {
            raw = text;
        }
    }
    if IMMUTABLE.contains(&name) {
        return Err(CoreError::invalid(format!("cannot update {name:?} policy")));
    }
    let cas = int_field(data, "cas").map_err(CoreError::InvalidRequest)?;
    let cas_required = bool_field(data, "cas_required")
        .map_err(CoreError::InvalidRequest)?
        .unwrap_or(false);
    ctx.core
        .policies
        .set_checked(name, &raw, cas, cas_required)
        .await?;
    Ok(Response {
        warnings,
        ..Default::default()
    })
}

async fn delete(ctx: &Ctx<'_>, name: &str) -> Result<Response, CoreError> {
    if IMMUTABLE.contains(&name) {
        return Err(CoreError::invalid(format!("cannot delete {name:?} policy")));
    }
    if name == "default" {
        return Err(CoreError::invalid("cannot delete default policy"));
    }
    ctx.core.policies.delete(name).await?;
    Ok(Response::empty())
}
