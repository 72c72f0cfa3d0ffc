//! The request and response types every backend speaks, the [`Backend`] trait,
//! and the storage view a mount sees.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::barrier::{Barrier, BarrierError};
use crate::core::Active;
use crate::error::CoreError;
use crate::mounts::MountEntry;
use crate::token::TokenEntry;

/// Request or response data: a JSON object.
pub type Data = serde_json::Map<String, Value>;

/// What a request does. HTTP maps GET to Read (or List with `?list=true`),
/// LIST to List, PUT and POST to Update (which becomes Create when the target
/// does not exist and the backend can tell), DELETE to Delete, PATCH to Patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Create,
    Read,
    Update,
    Patch,
    Delete,
    List,
}

impl Operation {
    /// The lower-case name Vault uses (`create`, `read`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
            Operation::List => "list",
        }
    }

    /// The operation as the policy engine names it.
    pub fn to_policy(self) -> coffer_policy::Operation {
        match self {
            Operation::Create => coffer_policy::Operation::Create,
            Operation::Read => coffer_policy::Operation::Read,
            Operation::Update => coffer_policy::Operation::Update,
            Operation::Patch => coffer_policy::Operation::Patch,
            Operation::Delete => coffer_policy::Operation::Delete,
            Operation::List => coffer_policy::Operation::List,
        }
    }
}

/// A client request as the core sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Request id (UUID), echoed as `request_id`.
    pub id: String,
    pub operation: Operation,
    /// Full path without the leading `/v1/`, e.g. `secret/data/app`.
    pub path: String,
    /// Body (or query parameters for reads and lists).
    pub data: Data,
    /// The token as the client sent it.
    pub client_token: Option<Zeroizing<String>>,
    pub remote_addr: Option<IpAddr>,
    /// The `Content-Type` header, for PATCH.
    pub content_type: Option<String>,
    /// `X-Vault-Wrap-TTL`, parsed.
    pub wrap_ttl: Option<Duration>,
    /// Set by the core: the caller's token entry once looked up.
    pub token: Option<Arc<TokenEntry>>,
    /// Set by the core: the path relative to the mount.
    pub mount_point: String,
}

impl Request {
    /// A request with defaults for the optional parts.
    pub fn new(operation: Operation, path: impl Into<String>) -> Self {
        Request {
            id: uuid::Uuid::new_v4().to_string(),
            operation,
            path: path.into(),
            data: Data::new(),
            client_token: None,
            remote_addr: None,
            content_type: None,
            wrap_ttl: None,
            token: None,
            mount_point: String::new(),
        }
    }

    /// Builder: the client token.
    pub fn with_token(mut self, token: &str) -> Self {
        self.client_token = Some(Zeroizing::new(token.to_string()));
        self
    }

    /// Builder: the data.
    pub fn with_data(mut self, data: Value) -> Self {
        if let Value::Object(m) = data {
            self.data = m;
        }
        self
    }

    /// A string field, if present and a string (numbers are turned into strings).
    pub fn get_str(&self, key: &str) -> Option<String> {
        match self.data.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// What a credential backend returns on a successful login; the core turns it into a token.
#[derive(Debug, Clone, Default)]
pub struct LoginAuth {
    pub policies: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub display_name: String,
    pub ttl: Option<Duration>,
    pub max_ttl: Option<Duration>,
    pub explicit_max_ttl: Option<Duration>,
    pub period: Option<Duration>,
    pub num_uses: i64,
    pub renewable: bool,
    /// `service` (default) or `batch`.
    pub token_type: Option<String>,
    pub no_default_policy: bool,
    pub bound_cidrs: Vec<String>,
    /// Backend-private facts kept with the token (e.g. the user name, for renewals).
    pub internal: Data,
}

/// The `auth` object of a response.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Auth {
    pub client_token: String,
    pub accessor: String,
    pub policies: Vec<String>,
    pub token_policies: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identity_policies: Vec<String>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub lease_duration: u64,
    pub renewable: bool,
    pub entity_id: String,
    pub token_type: String,
    pub orphan: bool,
    pub mfa_requirement: Option<Value>,
    pub num_uses: i64,
}

/// A lease attached to a secret.
#[derive(Debug, Clone, Default)]
pub struct LeaseInfo {
    pub lease_id: String,
    pub lease_duration: u64,
    pub renewable: bool,
}

/// What a backend issuing a dynamic secret returns next to
/// [`Response::lease`] (whose `lease_id` it leaves empty and whose
/// `lease_duration` is the TTL it asks for, 0 for the mount default). Its
/// presence is the explicit flag that makes the core register a lease; KV v1's
/// informational `lease_duration` comes without it and is never registered.
#[derive(Debug, Clone, Default)]
pub struct SecretInternal {
    /// Backend-private facts kept with the lease (behind the barrier) and
    /// handed back on renewal and revocation, e.g. a user name or a serial.
    pub data: Data,
    /// The backend's own max TTL in seconds (a role's `max_ttl`); 0 leaves
    /// the mount's and the system's.
    pub max_ttl: u64,
}

/// A response with a body that does not use the envelope (e.g. `sys/health`).
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A backend's answer.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub data: Option<Data>,
    pub auth: Option<Auth>,
    /// Set by credential backends on login; the core mints the token.
    pub login: Option<LoginAuth>,
    pub lease: Option<LeaseInfo>,
    /// Set with `lease` by backends issuing dynamic secrets: the core registers
    /// the lease and fills `lease.lease_id` (see [`SecretInternal`]).
    pub secret_internal: Option<SecretInternal>,
    pub warnings: Vec<String>,
    pub wrap_info: Option<Value>,
    /// A status other than 200/204 that still carries the envelope (e.g. 404 for a deleted KV v2 version).
    pub status: Option<u16>,
    /// Repeat the `data` keys at the top level of the envelope (sys/mounts, sys/policy, ...).
    pub top_level_data: bool,
    /// A bare body instead of the envelope.
    pub raw: Option<RawResponse>,
}

impl Response {
    /// A response with `data`.
    pub fn with_data(data: Data) -> Self {
        Response {
            data: Some(data),
            ..Default::default()
        }
    }

    /// A response with `data` built from a JSON value (must be an object).
    pub fn json(value: Value) -> Self {
        match value {
            Value::Object(m) => Self::with_data(m),
            _ => Self::default(),
        }
    }

    /// An empty response (HTTP 204).
    pub fn empty() -> Self {
        Self::default()
    }

    /// A list response: `{"keys": [...]}`; an empty list is a 404 as in Vault.
    pub fn list(keys: Vec<String>) -> Result<Self, CoreError> {
        if keys.is_empty() {
            return Err(CoreError::NotFound);
        }
        let mut m = Data::new();
        m.insert(
            "keys".into(),
            Value::Array(keys.into_iter().map(Value::String).collect()),
        );
        Ok(Self::with_data(m))
    }

    /// Whether the HTTP answer would be a 204.
    pub fn is_empty(&self) -> bool {
        self.data.is_none()
            && self.auth.is_none()
            && self.lease.is_none()
            && self.warnings.is_empty()
            && self.wrap_info.is_none()
            && self.raw.is_none()
    }
}

/// A mount's private slice of the barrier: every key is prefixed.
#[derive(Clone)]
pub struct StorageView {
    barrier: Arc<Barrier>,
    prefix: String,
}

impl StorageView {
    /// A view of `barrier` under `prefix` (empty or ending with `/`).
    pub fn new(barrier: Arc<Barrier>, prefix: impl Into<String>) -> Self {
        StorageView {
            barrier,
            prefix: prefix.into(),
        }
    }

    /// A narrower view under `sub/`.
    pub fn sub(&self, sub: &str) -> StorageView {
        StorageView {
            barrier: self.barrier.clone(),
            prefix: format!("{}{}", self.prefix, sub),
        }
    }

    /// The prefix of this view.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn full(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    pub async fn get(&self, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, CoreError> {
        self.barrier.get(&self.full(key)).await.map_err(barrier_err)
    }

    pub async fn put(&self, key: &str, value: &[u8]) -> Result<(), CoreError> {
        self.barrier
            .put(&self.full(key), value)
            .await
            .map_err(barrier_err)
    }

    pub async fn delete(&self, key: &str) -> Result<(), CoreError> {
        self.barrier
            .delete(&self.full(key))
            .await
            .map_err(barrier_err)
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, CoreError> {
        self.barrier
            .list(&self.full(prefix))
            .await
            .map_err(barrier_err)
    }

    /// Writes several keys atomically; `None` deletes.
    pub async fn transaction(&self, ops: Vec<(String, Option<Vec<u8>>)>) -> Result<(), CoreError> {
        let ops = ops.into_iter().map(|(k, v)| (self.full(&k), v)).collect();
        self.barrier.transaction(ops).await.map_err(barrier_err)
    }

    /// Reads and decodes a JSON value.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, CoreError> {
        match self.get(key).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| CoreError::Internal(format!("decoding {}: {e}", self.full(key)))),
        }
    }

    /// Encodes and writes a JSON value.
    pub async fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), CoreError> {
        let bytes = Zeroizing::new(
            serde_json::to_vec(value).map_err(|e| CoreError::Internal(format!("encoding: {e}")))?,
        );
        self.put(key, &bytes).await
    }

    /// Deletes every key under `prefix` (recursively).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), CoreError> {
        let mut stack = vec![prefix.to_string()];
        while let Some(p) = stack.pop() {
            for child in self.list(&p).await? {
                let full = format!("{p}{child}");
                if child.ends_with('/') {
                    stack.push(full);
                } else {
                    self.delete(&full).await?;
                }
            }
        }
        Ok(())
    }
}

/// Maps barrier failures into core errors.
pub fn barrier_err(e: BarrierError) -> CoreError {
    match e {
        BarrierError::Sealed => CoreError::Sealed,
        BarrierError::Physical(p) => CoreError::Physical(p),
        other => CoreError::Barrier(other.to_string()),
    }
}

/// What a backend sees while handling one request.
pub struct Ctx<'a> {
    /// Path relative to the mount (e.g. `data/app` on `secret/`).
    pub path: &'a str,
    /// The mount's storage.
    pub storage: &'a StorageView,
    /// The mount entry.
    pub mount: &'a MountEntry,
    /// The unsealed core (tokens, policies, mounts, config).
    pub core: &'a Arc<Active>,
}

/// A secrets engine or auth method mounted at a path.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Paths (relative to the mount; a trailing `*` is a prefix) reachable
    /// without a token, e.g. `login/*`.
    fn unauthenticated_paths(&self) -> &'static [&'static str] {
        &[]
    }

    /// Paths (relative; trailing `*` prefix) that need `sudo`.
    fn root_paths(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether the target of a create/update exists: `None` when the backend
    /// has no existence check for the path (the request stays an update).
    async fn existence(&self, _ctx: &Ctx<'_>, _req: &Request) -> Result<Option<bool>, CoreError> {
        Ok(None)
    }

    /// Handles the request.
    async fn handle(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError>;

    /// For credential backends: whether a token minted by a login may be renewed
    /// (e.g. the user still exists). `internal` is what the login stored.
    async fn renew_login(&self, _ctx: &Ctx<'_>, _internal: &Data) -> Result<bool, CoreError> {
        Ok(true)
    }

    /// Renews a lease this backend issued (`sys/leases/renew`). `lease` is the
    /// stored lease (its internal data, issue time, current TTL), `increment`
    /// the seconds the client asked for (0: none). Answer like the issuing
    /// response: `lease` with the TTL the backend allows and `renewable`, and
    /// optionally `secret_internal` (new internal data, the backend's max TTL);
    /// the core clamps the TTL by the increment and the mount and system
    /// limits. By default leases cannot be renewed.
    async fn renew_secret(
        &self,
        _ctx: &Ctx<'_>,
        _lease: &crate::expiration::LeaseEntry,
        _increment: u64,
    ) -> Result<Response, CoreError> {
        Err(CoreError::invalid("lease is not renewable"))
    }

    /// Revokes a secret this backend issued, when its lease expires or is
    /// revoked. An error keeps the lease (the expiration manager retries with
    /// backoff). By default there is nothing to undo.
    async fn revoke_secret(
        &self,
        _ctx: &Ctx<'_>,
        _lease: &crate::expiration::LeaseEntry,
    ) -> Result<(), CoreError> {
        Ok(())
    }
}

/// Matches `path` against patterns with an optional trailing `*`.
pub fn path_matches(patterns: &[&str], path: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => *p == path,
    })
}
