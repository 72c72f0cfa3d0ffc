//! Test helpers: an initialised, unsealed core on in-memory storage with KV v2
//! at `secret/` and KV v1 at `kv/`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::core::{Active, InitRequest};
use crate::error::CoreError;
use crate::logical::{Operation, Request, Response};
use crate::mounts::{MountEntry, TableKind};
use crate::physical::{InmemBackend, Physical};
use crate::token::TokenParams;
use crate::{Core, CoreConfig};

/// A running core for engine tests.
pub struct TestEnv {
    pub core: Arc<Core>,
    pub root: String,
    pub physical: Arc<InmemBackend>,
}

/// Builds a [`TestEnv`]: init with one share, unseal, mount `secret/` (KV v2)
/// and `kv/` (KV v1).
pub async fn setup() -> TestEnv {
    let physical = Arc::new(InmemBackend::new());
    let core = Core::new(physical.clone(), CoreConfig::default());
    let init = core
        .init(InitRequest {
            secret_shares: 1,
            secret_threshold: 1,
        })
        .await
        .expect("init");
    let key = init.keys[0].clone();
    let root = init.root_token.clone();
    drop(init);
    core.unseal(&key).await.expect("unseal");
    let active = core.active().expect("unsealed");
    let mut v2 = MountEntry::new(
        TableKind::Secrets,
        "secret",
        "kv",
        "key/value secret storage",
    );
    v2.options = Some(BTreeMap::from([("version".to_string(), "2".to_string())]));
    active.mount(v2).await.expect("mount secret/");
    let v1 = MountEntry::new(TableKind::Secrets, "kv", "kv", "");
    active.mount(v1).await.expect("mount kv/");
    TestEnv {
        core,
        root,
        physical,
    }
}

impl TestEnv {
    /// The unsealed state.
    pub fn active(&self) -> Arc<Active> {
        self.core.active().expect("unsealed")
    }

    /// A request with the root token.
    pub async fn req(&self, op: Operation, path: &str, data: Value) -> Result<Response, CoreError> {
        self.req_as(&self.root.clone(), op, path, data).await
    }

    /// A request with a given token.
    pub async fn req_as(
        &self,
        token: &str,
        op: Operation,
        path: &str,
        data: Value,
    ) -> Result<Response, CoreError> {
        let req = Request::new(op, path).with_token(token).with_data(data);
        self.core.handle_request(req).await
    }

    /// A PATCH with a content type.
    pub async fn patch(
        &self,
        path: &str,
        content_type: Option<&str>,
        data: Value,
    ) -> Result<Response, CoreError> {
        let mut req = Request::new(Operation::Patch, path)
            .with_token(&self.root.clone())
            .with_data(data);
        req.content_type = content_type.map(|s| s.to_string());
        self.core.handle_request(req).await
    }

    /// A service (or batch) token with the given policies.
    pub async fn token(&self, policies: &[&str], batch: bool) -> String {
        let (token, _) = self
            .active()
            .tokens
            .create(TokenParams {
                policies: policies.iter().map(|s| s.to_string()).collect(),
                path: "auth/token/create".into(),
                token_type: if batch {
                    "batch".into()
                } else {
                    "service".into()
                },
                renewable: true,
                ..Default::default()
            })
            .await
            .expect("token");
        token.to_string()
    }

    /// Writes an ACL policy.
    pub async fn policy(&self, name: &str, hcl: &str) {
        self.active().policies.set(name, hcl).await.expect("policy");
    }

    /// Every raw value held by the physical store (for leak checks).
    pub async fn raw_values(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![String::new()];
        while let Some(prefix) = stack.pop() {
            for child in self.physical.list(&prefix).await.expect("list") {
                let full = format!("{prefix}{child}");
                if child.ends_with('/') {
                    stack.push(full);
                } else if let Some(v) = self.physical.get(&full).await.expect("get") {
                    out.push((full, v));
                }
            }
        }
        out
    }
}

/// The data of a response, as JSON.
pub fn data(resp: &Response) -> Value {
    resp.data.clone().map(Value::Object).unwrap_or(Value::Null)
}
