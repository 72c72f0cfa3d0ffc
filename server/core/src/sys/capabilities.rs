//! `sys/capabilities`, `sys/capabilities-self`, `sys/capabilities-accessor`:
//! what a token may do on some paths.

use serde_json::json;

use super::util::{comma_list_field, string_field};
use crate::error::CoreError;
use crate::logical::{Ctx, Data, Operation, Request, Response};
use crate::token::TokenEntry;

/// The three capabilities endpoints (update only).
pub async fn handle(ctx: &Ctx<'_>, req: &Request, path: &str) -> Result<Response, CoreError> {
    if !matches!(req.operation, Operation::Update | Operation::Create) {
        return Err(CoreError::UnsupportedOperation);
    }
    let data = &req.data;
    let is_self = path == "capabilities-self";
    let entry: std::sync::Arc<TokenEntry> = match path {
        "capabilities-accessor" => {
            let accessor = string_field(data, "accessor")
                .map_err(CoreError::InvalidRequest)?
                .unwrap_or_default();
            if accessor.is_empty() {
                return Err(CoreError::invalid("missing accessor"));
            }
            ctx.core
                .tokens
                .lookup_accessor(&accessor)
                .await?
                .ok_or_else(|| CoreError::bad("invalid accessor"))?
        }
        _ => {
            let token = if is_self {
                req.client_token
                    .as_ref()
                    .map(|t| t.to_string())
                    .unwrap_or_default()
            } else {
                string_field(data, "token")
                    .map_err(CoreError::InvalidRequest)?
                    .unwrap_or_default()
            };
            if token.is_empty() {
                return Err(CoreError::Internal("no token found".into()));
            }
            match ctx.core.tokens.lookup(&token).await? {
                Some(e) => e,
                None if is_self => return Err(CoreError::PermissionDenied),
                None => return Err(CoreError::bad("invalid token")),
            }
        }
    };

    let mut paths = comma_list_field(data, "paths")
        .map_err(CoreError::InvalidRequest)?
        .unwrap_or_default();
    if paths.is_empty() {
        paths = comma_list_field(data, "path")
            .map_err(CoreError::InvalidRequest)?
            .unwrap_or_default();
    }
    if paths.is_empty() {
        return Err(CoreError::invalid("paths must be supplied"));
    }

    let acl = ctx.core.policies.acl(&entry.policies).await?;
    let mut out = Data::new();
    for p in &paths {
        let caps = if entry.is_root() {
            vec!["root".to_string()]
        } else if entry.policies.is_empty() {
            vec!["deny".to_string()]
        } else {
            acl.capabilities(p.trim_start_matches('/'))
        };
        out.insert(p.clone(), json!(caps));
    }
    if paths.len() == 1 {
        if let Some(v) = out.get(&paths[0]).cloned() {
            out.insert("capabilities".into(), v);
        }
    }
    Ok(Response::with_data(out))
}
