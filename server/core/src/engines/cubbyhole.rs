//! Cubbyhole: private storage for each service token.
//!
//! The mount's storage view is `cubbyhole/`; a token's entries live under
//! `<hid>/` (the salted hash of the token), so revoking the token
//! (`TokenStore::revoke_one` clears `cubbyhole/<hid>/`) removes them. Batch
//! tokens have no cubbyhole.

use async_trait::async_trait;
use serde_json::Value;
use zeroize::Zeroizing;

use super::kvutil::{self, FieldType, Schema};
use crate::error::CoreError;
use crate::logical::{Backend, Ctx, Operation, Request, Response};

/// The one declared field of every cubbyhole path.
const FIELDS: Schema = &[("path", FieldType::Str)];

/// Cubbyhole errors.
#[derive(Debug, thiserror::Error)]
pub enum CubbyholeError {
    /// A batch token (they are not stored, so they have no cubbyhole).
    #[error("cubbyhole operations are only supported by 'service' type tokens")]
    BatchToken,
    /// No token reached the backend (cannot happen behind the core's checks).
    #[error("client token empty")]
    NoToken,
    /// A read or write of the mount root.
    #[error("missing path")]
    MissingPath,
    /// A write with an empty body.
    #[error("missing data fields")]
    MissingData,
    /// A stored entry that does not decode.
    #[error("json decoding failed: {0}")]
    Decode(String),
}

impl From<CubbyholeError> for CoreError {
    fn from(e: CubbyholeError) -> Self {
        match e {
            CubbyholeError::BatchToken => CoreError::InvalidRequest(e.to_string()),
            // OpenBao answers these with a 500.
            _ => CoreError::Internal(e.to_string()),
        }
    }
}

/// The cubbyhole backend.
pub struct Cubbyhole;

/// The caller's storage prefix (`<hid>/`).
fn token_prefix(req: &Request) -> Result<String, CubbyholeError> {
    let token = req.token.as_ref().ok_or(CubbyholeError::NoToken)?;
    if token.is_batch() {
        return Err(CubbyholeError::BatchToken);
    }
    if token.hid.is_empty() {
        return Err(CubbyholeError::NoToken);
    }
    Ok(format!("{}/", token.hid))
}

#[async_trait]
impl Backend for Cubbyhole {
    async fn existence(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Option<bool>, CoreError> {
        kvutil::check_write_path(Operation::Update, ctx.path)?;
        // Without a usable cubbyhole the request stays an update and fails
        // in `handle`, as in OpenBao.
        let Ok(prefix) = token_prefix(req) else {
            return Ok(None);
        };
        Ok(Some(ctx.storage.get(&format!("{prefix}{}", ctx.path)).await?.is_some()))
    }

    async fn handle(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
        kvutil::check_write_path(req.operation, ctx.path)?;
        kvutil::check_patch_content_type(req)?;
        let prefix = token_prefix(req)?;
        let path = kvutil::routed_path(req.operation, ctx.path);
        let mut resp = match req.operation {
            Operation::Read => {
                if path.is_empty() {
                    return Err(CubbyholeError::MissingPath.into());
                }
                let Some(raw) = ctx.storage.get(&format!("{prefix}{path}")).await? else {
                    return Err(CoreError::NotFound);
                };
                let mut value: Value = serde_json::from_slice(&raw)
                    .map_err(|e| CubbyholeError::Decode(e.to_string()))?;
                kvutil::sort_keys(&mut value);
                match value {
                    Value::Object(m) => Response::with_data(m),
                    _ => return Err(CubbyholeError::Decode("not an object".into()).into()),
                }
            }
            Operation::Create | Operation::Update => {
                if req.data.is_empty() {
                    return Err(CubbyholeError::MissingData.into());
                }
                if path.is_empty() {
                    return Err(CubbyholeError::MissingPath.into());
                }
                let bytes = Zeroizing::new(
                    serde_json::to_vec(&req.data)
                        .map_err(|e| CoreError::Internal(format!("json encoding failed: {e}")))?,
                );
                ctx.storage.put(&format!("{prefix}{path}"), &bytes).await?;
                Response::empty()
            }
            Operation::Delete => {
                ctx.storage.delete(&format!("{prefix}{path}")).await?;
                Response::empty()
            }
            Operation::List => Response::list(ctx.storage.list(&format!("{prefix}{path}")).await?)?,
            Operation::Patch => return Err(CoreError::UnsupportedOperation),
        };
        kvutil::add_parameter_warnings(&mut resp, req, &kvutil::field_names(FIELDS));
        Ok(resp)
    }
}
