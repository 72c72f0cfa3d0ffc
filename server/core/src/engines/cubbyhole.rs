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
        Ok(Some(
            ctx.storage
                .get(&format!("{prefix}{}", ctx.path))
                .await?
                .is_some(),
        ))
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::engines::test_util::{data, setup};
    use crate::error::CoreError;
    use crate::logical::Operation::*;

    #[tokio::test]
    async fn private_per_token() {
        let env = setup().await;
        assert!(env
            .req(
                Update,
                "cubbyhole/mysecret",
                json!({"foo": "bar", "a": {"z": 1, "y": 2}})
            )
            .await
            .expect("write")
            .is_empty());
        let r = env
            .req(Read, "cubbyhole/mysecret", json!({}))
            .await
            .expect("read");
        assert_eq!(data(&r), json!({"a": {"y": 2, "z": 1}, "foo": "bar"}));
        assert!(r.lease.is_none());
        env.req(Update, "cubbyhole/dir/x", json!({"k": "v"}))
            .await
            .expect("write");
        assert_eq!(
            data(&env.req(List, "cubbyhole", json!({})).await.expect("list")),
            json!({"keys": ["dir/", "mysecret"]})
        );
        assert_eq!(
            data(
                &env.req(List, "cubbyhole/dir", json!({}))
                    .await
                    .expect("list")
            ),
            json!({"keys": ["x"]})
        );

        // Another token sees its own, empty cubbyhole.
        let other = env.token(&["default"], false).await;
        assert!(matches!(
            env.req_as(&other, Read, "cubbyhole/mysecret", json!({}))
                .await,
            Err(CoreError::NotFound)
        ));
        assert!(matches!(
            env.req_as(&other, List, "cubbyhole/", json!({})).await,
            Err(CoreError::NotFound)
        ));
        env.req_as(
            &other,
            Update,
            "cubbyhole/mysecret",
            json!({"foo": "theirs"}),
        )
        .await
        .expect("write");
        assert_eq!(
            data(
                &env.req(Read, "cubbyhole/mysecret", json!({}))
                    .await
                    .expect("read")
            )["foo"],
            "bar"
        );

        assert!(env
            .req(Delete, "cubbyhole/mysecret", json!({}))
            .await
            .expect("delete")
            .is_empty());
        assert!(matches!(
            env.req(Read, "cubbyhole/mysecret", json!({})).await,
            Err(CoreError::NotFound)
        ));
        assert_eq!(
            data(
                &env.req_as(&other, Read, "cubbyhole/mysecret", json!({}))
                    .await
                    .expect("read")
            )["foo"],
            "theirs"
        );
    }

    #[tokio::test]
    async fn errors_match_openbao() {
        let env = setup().await;
        match env.req(Update, "cubbyhole/x", json!({})).await {
            Err(CoreError::Internal(m)) => assert_eq!(m, "missing data fields"),
            other => panic!("{other:?}"),
        }
        match env.req(Read, "cubbyhole/", json!({})).await {
            Err(CoreError::Internal(m)) => assert_eq!(m, "missing path"),
            other => panic!("{other:?}"),
        }
        match env.req(Update, "cubbyhole/x/", json!({"a": 1})).await {
            Err(CoreError::InvalidRequest(m)) => {
                assert_eq!(m, "cannot write to a path ending in '/'")
            }
            other => panic!("{other:?}"),
        }
        let batch = env.token(&["default"], true).await;
        assert!(batch.starts_with("b."));
        for op in [Read, Update, List, Delete] {
            match env
                .req_as(&batch, op, "cubbyhole/a/b", json!({"x": 1}))
                .await
            {
                Err(CoreError::InvalidRequest(m)) => assert_eq!(
                    m,
                    "cubbyhole operations are only supported by 'service' type tokens"
                ),
                other => panic!("{op:?}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn revoking_the_token_empties_its_cubbyhole() {
        let env = setup().await;
        let token = env.token(&["default"], false).await;
        env.req_as(&token, Update, "cubbyhole/a", json!({"v": "1"}))
            .await
            .expect("write");
        env.req_as(&token, Update, "cubbyhole/d/b", json!({"v": "2"}))
            .await
            .expect("write");
        let active = env.active();
        let entry = active
            .tokens
            .lookup(&token)
            .await
            .expect("lookup")
            .expect("live");
        let prefix = format!("cubbyhole/{}/", entry.hid);
        let count =
            |raw: &[(String, Vec<u8>)]| raw.iter().filter(|(k, _)| k.starts_with(&prefix)).count();
        assert_eq!(count(&env.raw_values().await), 2);
        active.tokens.revoke_tree(&entry.hid).await.expect("revoke");
        assert_eq!(count(&env.raw_values().await), 0);
    }
}
