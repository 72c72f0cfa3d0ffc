//! KV version 1 (`type kv` without `options.version = "2"`): each path holds
//! one JSON object, stored as given under the mount's storage view.
//!
//! As in OpenBao, a read reports a lease duration (never registered as a
//! lease): the `ttl` (or `lease`) key of the secret when it parses as a
//! duration, otherwise the mount's default lease TTL.

use async_trait::async_trait;
use serde_json::Value;
use zeroize::Zeroizing;

use super::kvutil::{self, FieldType, Schema};
use crate::error::CoreError;
use crate::logical::{Backend, Ctx, Data, LeaseInfo, Operation, Request, Response};

/// The one declared field of every KV v1 path.
const FIELDS: Schema = &[("path", FieldType::Str)];

/// KV v1 errors.
#[derive(Debug, thiserror::Error)]
pub enum Kv1Error {
    /// A write to the mount root.
    #[error("missing path")]
    MissingPath,
    /// A write with an empty body.
    #[error("missing data fields")]
    MissingData,
    /// A stored entry that is not a JSON object.
    #[error("json decoding failed: {0}")]
    Decode(String),
}

impl From<Kv1Error> for CoreError {
    fn from(e: Kv1Error) -> Self {
        match e {
            Kv1Error::MissingPath | Kv1Error::MissingData => CoreError::InvalidRequest(e.to_string()),
            Kv1Error::Decode(_) => CoreError::Internal(e.to_string()),
        }
    }
}

/// The KV v1 backend.
pub struct KvV1;

#[async_trait]
impl Backend for KvV1 {
    async fn existence(&self, ctx: &Ctx<'_>, _req: &Request) -> Result<Option<bool>, CoreError> {
        kvutil::check_write_path(Operation::Update, ctx.path)?;
        Ok(Some(ctx.storage.get(ctx.path).await?.is_some()))
    }

    async fn handle(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
        kvutil::check_write_path(req.operation, ctx.path)?;
        kvutil::check_patch_content_type(req)?;
        let path = kvutil::routed_path(req.operation, ctx.path);
        let mut resp = match req.operation {
            Operation::Read => read(ctx, &path).await?,
            Operation::Create | Operation::Update => write(ctx, &path, &req.data).await?,
            Operation::Delete => {
                ctx.storage.delete(&path).await?;
                Response::empty()
            }
            Operation::List => Response::list(ctx.storage.list(&path).await?)?,
            Operation::Patch => return Err(CoreError::UnsupportedOperation),
        };
        kvutil::add_parameter_warnings(&mut resp, req, &kvutil::field_names(FIELDS));
        Ok(resp)
    }
}

async fn read(ctx: &Ctx<'_>, key: &str) -> Result<Response, CoreError> {
    let Some(raw) = ctx.storage.get(key).await? else {
        return Err(CoreError::NotFound);
    };
    let mut value: Value =
        serde_json::from_slice(&raw).map_err(|e| Kv1Error::Decode(e.to_string()))?;
    kvutil::sort_keys(&mut value);
    let Value::Object(data) = value else {
        return Err(Kv1Error::Decode("not an object".into()).into());
    };
    let ttl = data
        .get("ttl")
        .or_else(|| data.get("lease"))
        .and_then(ttl_seconds)
        .unwrap_or_else(|| default_ttl(ctx) as i64);
    Ok(Response {
        data: Some(data),
        lease: Some(LeaseInfo {
            lease_id: String::new(),
            lease_duration: ttl.max(0) as u64,
            renewable: false,
        }),
        ..Default::default()
    })
}

async fn write(ctx: &Ctx<'_>, key: &str, data: &Data) -> Result<Response, CoreError> {
    if key.is_empty() {
        return Err(Kv1Error::MissingPath.into());
    }
    if data.is_empty() {
        return Err(Kv1Error::MissingData.into());
    }
    let bytes = Zeroizing::new(
        serde_json::to_vec(data).map_err(|e| CoreError::Internal(format!("json encoding failed: {e}")))?,
    );
    ctx.storage.put(key, &bytes).await?;
    Ok(Response::empty())
}

/// A stored `ttl`/`lease` value in seconds, if it parses (null is 0).
fn ttl_seconds(v: &Value) -> Option<i64> {
    match v {
        Value::Null => Some(0),
        Value::String(s) => kvutil::parse_duration_second(s).ok(),
        Value::Number(n) => kvutil::parse_duration_second(&n.to_string()).ok(),
        _ => None,
    }
}

/// The mount's default lease TTL in seconds (the system default when unset).
pub(crate) fn default_ttl(ctx: &Ctx<'_>) -> u64 {
    match ctx.mount.config.default_lease_ttl {
        0 => ctx.core.config.default_lease_ttl.as_secs(),
        n => n,
    }
}
