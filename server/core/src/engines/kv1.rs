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
            Kv1Error::MissingPath | Kv1Error::MissingData => {
                CoreError::InvalidRequest(e.to_string())
            }
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
        serde_json::to_vec(data)
            .map_err(|e| CoreError::Internal(format!("json encoding failed: {e}")))?,
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

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::engines::test_util::{data, setup};
    use crate::error::CoreError;
    use crate::logical::Operation::*;

    #[tokio::test]
    async fn write_read_list_delete() {
        let env = setup().await;
        let w = env
            .req(
                Update,
                "kv/app/db",
                json!({"user": "u", "pass": "p", "ttl": "30m"}),
            )
            .await
            .expect("write");
        assert!(w.is_empty(), "a write answers 204");
        env.req(
            Create,
            "kv/app/api",
            json!({"key": "k", "nested": {"b": [1, {"z": null}], "a": 1.5}}),
        )
        .await
        .expect("write");

        let r = env.req(Read, "kv/app/db", json!({})).await.expect("read");
        assert_eq!(data(&r), json!({"pass": "p", "ttl": "30m", "user": "u"}));
        let keys: Vec<&String> = r
            .data
            .as_ref()
            .map(|d| d.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["pass", "ttl", "user"]);
        let lease = r.lease.expect("lease");
        assert_eq!(
            (
                lease.lease_id.as_str(),
                lease.lease_duration,
                lease.renewable
            ),
            ("", 1800, false)
        );

        let r = env.req(Read, "kv/app/api", json!({})).await.expect("read");
        assert_eq!(data(&r)["nested"], json!({"a": 1.5, "b": [1, {"z": null}]}));
        assert_eq!(r.lease.map(|l| l.lease_duration), Some(2_764_800));

        // LIST and GET ?list=true both arrive as List, with or without a slash.
        for (path, body) in [
            ("kv/app", json!({})),
            ("kv/app/", json!({})),
            ("kv/app/", json!({"list": "true"})),
        ] {
            let l = env.req(List, path, body).await.expect("list");
            assert_eq!(data(&l), json!({"keys": ["api", "db"]}), "{path}");
            assert!(l.warnings.is_empty());
        }
        assert_eq!(
            data(&env.req(List, "kv", json!({})).await.expect("list root")),
            json!({"keys": ["app/"]})
        );
        assert_eq!(
            data(&env.req(List, "kv/", json!({})).await.expect("list root")),
            json!({"keys": ["app/"]})
        );
        assert!(matches!(
            env.req(List, "kv/none", json!({})).await,
            Err(CoreError::NotFound)
        ));
        assert!(matches!(
            env.req(List, "kv/app/db", json!({})).await,
            Err(CoreError::NotFound)
        ));

        assert!(env
            .req(Delete, "kv/app/api", json!({}))
            .await
            .expect("delete")
            .is_empty());
        assert!(matches!(
            env.req(Read, "kv/app/api", json!({})).await,
            Err(CoreError::NotFound)
        ));
        assert!(env
            .req(Delete, "kv/app/api", json!({}))
            .await
            .expect("delete again")
            .is_empty());
        assert!(matches!(
            env.req(Read, "kv/app/nonexist", json!({})).await,
            Err(CoreError::NotFound)
        ));
        assert!(matches!(
            env.req(Read, "kv/", json!({})).await,
            Err(CoreError::NotFound)
        ));

        // Overwrite replaces the whole object.
        env.req(Update, "kv/app/db", json!({"only": "this"}))
            .await
            .expect("write");
        assert_eq!(
            data(&env.req(Read, "kv/app/db", json!({})).await.expect("read")),
            json!({"only": "this"})
        );
    }

    #[tokio::test]
    async fn lease_durations_follow_ttl_keys() {
        let env = setup().await;
        for (body, expected) in [
            (json!({"ttl": "30m"}), 1800),
            (json!({"ttl": 60}), 60),
            (json!({"ttl": "60"}), 60),
            (json!({"ttl": "2d", "lease": "5s"}), 172_800),
            (json!({"lease": "1h"}), 3600),
            (json!({"ttl": "bogus"}), 2_764_800),
            (json!({"ttl": 1.5}), 2_764_800),
            (json!({"ttl": {"a": 1}}), 2_764_800),
            (json!({"ttl": null}), 0),
            (json!({"ttl": "-5s"}), 0),
            (json!({"x": "y"}), 2_764_800),
        ] {
            env.req(Update, "kv/t", body.clone()).await.expect("write");
            let r = env.req(Read, "kv/t", json!({})).await.expect("read");
            assert_eq!(
                r.lease.as_ref().map(|l| l.lease_duration),
                Some(expected),
                "{body}"
            );
            assert_eq!(data(&r), body, "values are kept as given");
        }
        // A mount's tuned default TTL applies.
        let active = env.active();
        let mut entry = active
            .mounts(crate::mounts::TableKind::Secrets)
            .into_iter()
            .find(|m| m.path == "kv/")
            .map(|m| (*m).clone())
            .expect("kv mount");
        entry.config.default_lease_ttl = 3600;
        active.update_mount(entry).await.expect("tune");
        let r = env.req(Read, "kv/t", json!({})).await.expect("read");
        assert_eq!(r.lease.map(|l| l.lease_duration), Some(3600));
    }

    #[tokio::test]
    async fn input_errors_and_warnings() {
        let env = setup().await;
        let msg = |r: Result<crate::logical::Response, CoreError>| match r {
            Err(CoreError::InvalidRequest(m)) => m,
            other => panic!("expected 400, got {other:?}"),
        };
        assert_eq!(
            msg(env.req(Update, "kv/app/empty", json!({})).await),
            "missing data fields"
        );
        assert_eq!(
            msg(env.req(Update, "kv/app/dir/", json!({"a": "b"})).await),
            "cannot write to a path ending in '/'"
        );
        assert_eq!(
            msg(env.req(Update, "kv", json!({"a": 1})).await),
            "missing path"
        );
        env.req(Update, "kv/app/db", json!({"a": "b"}))
            .await
            .expect("write");
        let r = env
            .req(Read, "kv/app/db", json!({"foo": "bar"}))
            .await
            .expect("read");
        assert_eq!(
            r.warnings,
            ["Endpoint ignored these unrecognized parameters: [foo]"]
        );
        let r = env
            .req(Read, "kv/app/db", json!({"list": "false"}))
            .await
            .expect("read");
        assert_eq!(
            r.warnings,
            ["Endpoint ignored these unrecognized parameters: [list]"]
        );
        let mut req = crate::logical::Request::new(Patch, "kv/app/db")
            .with_token(&env.root)
            .with_data(json!({"a": "c"}));
        req.content_type = Some("application/x-www-form-urlencoded".into());
        match env.core.handle_request(req).await {
            Err(CoreError::UnsupportedMediaType(m)) => assert_eq!(
                m,
                "PATCH requires Content-Type of application/merge-patch+json, provided application/x-www-form-urlencoded"
            ),
            other => panic!("{other:?}"),
        }
        let v: Value = data(&env.req(Read, "kv/app/db", json!({})).await.expect("read"));
        assert_eq!(v, json!({"a": "b"}));
    }

    #[tokio::test]
    async fn policies_see_create_and_update_apart() {
        let env = setup().await;
        env.policy(
            "c",
            r#"path "kv/c/*" { capabilities = ["create", "read"] }"#,
        )
        .await;
        env.policy(
            "u",
            r#"path "kv/u/*" { capabilities = ["update", "read"] }"#,
        )
        .await;
        let creator = env.token(&["c"], false).await;
        let updater = env.token(&["u"], false).await;
        env.req_as(&creator, Update, "kv/c/x", json!({"a": "1"}))
            .await
            .expect("create");
        assert!(matches!(
            env.req_as(&creator, Update, "kv/c/x", json!({"a": "2"}))
                .await,
            Err(CoreError::PermissionDenied)
        ));
        assert!(matches!(
            env.req_as(&updater, Update, "kv/u/x", json!({"a": "1"}))
                .await,
            Err(CoreError::PermissionDenied)
        ));
        env.req(Update, "kv/u/x", json!({"a": "1"}))
            .await
            .expect("root create");
        env.req_as(&updater, Update, "kv/u/x", json!({"a": "2"}))
            .await
            .expect("update");
    }
}
