//! The core: seal lifecycle (init, unseal, seal, status) and the request
//! pipeline of an unsealed server ([`Active`]).

use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::RwLock;
use serde::Serialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::audit::{AuditBroker, AuditDeviceConfig};
use crate::barrier::{self, Barrier, Key, ROOT_KEY_PATH, SEAL_CONFIG_PATH};
use crate::engines;
use crate::error::CoreError;
use crate::expiration::ExpirationManager;
use crate::logical::{barrier_err, path_matches, Ctx, Operation, Request, Response};
use crate::mounts::{
    MountEntry, MountTable, RouteEntry, Router, TableKind, AUTH_TABLE_PATH, MOUNT_TABLE_PATH,
};
use crate::physical::Physical;
use crate::policy_store::PolicyStore;
use crate::seal::{self, SealConfig};
use crate::token::TokenStore;

/// The version reported by `sys/seal-status`, `sys/health` and mounts.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Barrier path of the cluster identity.
const CLUSTER_INFO_PATH: &str = "core/cluster-info";

/// Settings the core needs from the server configuration.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub cluster_name: Option<String>,
    pub default_lease_ttl: Duration,
    pub max_lease_ttl: Duration,
    pub audit_devices: Vec<AuditDeviceConfig>,
    /// Whether storage is HA-capable (Raft): `sys/leader` reports `ha_enabled`.
    pub ha_enabled: bool,
    pub api_addr: Option<String>,
    pub cluster_addr: Option<String>,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            cluster_name: None,
            default_lease_ttl: Duration::from_secs(768 * 3600),
            max_lease_ttl: Duration::from_secs(768 * 3600),
            audit_devices: Vec::new(),
            ha_enabled: false,
            api_addr: None,
            cluster_addr: None,
        }
    }
}

/// `sys/seal-status` and `sys/unseal` body.
#[derive(Debug, Clone, Serialize)]
pub struct SealStatus {
    #[serde(rename = "type")]
    pub seal_type: String,
    pub initialized: bool,
    pub sealed: bool,
    pub t: u8,
    pub n: u8,
    pub progress: usize,
    pub nonce: String,
    pub recovery_seal: bool,
    pub version: String,
    pub commit_date: String,
    pub migration: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    pub storage_type: String,
}

/// `sys/health` facts; the HTTP layer picks the status code.
#[derive(Debug, Clone, Serialize)]
pub struct HealthStatus {
    pub initialized: bool,
    pub sealed: bool,
    pub standby: bool,
    pub performance_standby: bool,
    pub replication_performance_mode: String,
    pub replication_dr_mode: String,
    pub server_time_utc: i64,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
}

/// `sys/init` input.
#[derive(Debug, Clone, Default)]
pub struct InitRequest {
    pub secret_shares: u64,
    pub secret_threshold: u64,
}

/// `sys/init` output.
#[derive(Debug, Clone, Serialize)]
pub struct InitResponse {
    pub keys: Vec<String>,
    pub keys_base64: Vec<String>,
    pub root_token: String,
}

impl Drop for InitResponse {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.keys.zeroize();
        self.keys_base64.zeroize();
        self.root_token.zeroize();
    }
}

#[derive(Default)]
struct UnsealProgress {
    nonce: String,
    shares: Vec<Zeroizing<Vec<u8>>>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct ClusterInfo {
    name: String,
    id: String,
}

/// The server core: owns storage and the barrier, and, while unsealed, an [`Active`].
pub struct Core {
    barrier: Arc<Barrier>,
    config: CoreConfig,
    active: RwLock<Option<Arc<Active>>>,
    progress: tokio::sync::Mutex<UnsealProgress>,
    lifecycle: tokio::sync::Mutex<()>,
}

impl Core {
    /// A sealed core over `physical`.
    pub fn new(physical: Arc<dyn Physical>, config: CoreConfig) -> Arc<Core> {
        Arc::new(Core {
            barrier: Arc::new(Barrier::new(physical)),
            config,
            active: RwLock::new(None),
            progress: tokio::sync::Mutex::new(UnsealProgress::default()),
            lifecycle: tokio::sync::Mutex::new(()),
        })
    }

    /// The configuration the core was built with.
    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    /// The unsealed state, or `Sealed`.
    pub fn active(&self) -> Result<Arc<Active>, CoreError> {
        self.active.read().clone().ok_or(CoreError::Sealed)
    }

    /// Whether the barrier is sealed.
    pub fn is_sealed(&self) -> bool {
        self.active.read().is_none()
    }

    /// Whether `sys/init` has run.
    pub async fn initialized(&self) -> Result<bool, CoreError> {
        Ok(self.physical().get(SEAL_CONFIG_PATH).await?.is_some())
    }

    fn physical(&self) -> &Arc<dyn Physical> {
        self.barrier.physical()
    }

    async fn seal_config(&self) -> Result<Option<SealConfig>, CoreError> {
        match self.physical().get(SEAL_CONFIG_PATH).await? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| CoreError::Internal(format!("seal config: {e}"))),
        }
    }

    /// Initialises storage: seal config, root key, keyring, default mounts and
    /// policies, and a root token. The server stays sealed afterwards.
    pub async fn init(self: &Arc<Self>, req: InitRequest) -> Result<InitResponse, CoreError> {
        let _guard = self.lifecycle.lock().await;
        if self.initialized().await? {
            return Err(CoreError::AlreadyInitialized);
        }
        let cfg = SealConfig::validate(req.secret_shares, req.secret_threshold)
            .map_err(|e| CoreError::InvalidRequest(format!("invalid seal configuration: {e}")))?;
        let root_key = barrier::random_key();
        let unseal_key = barrier::random_key();
        let shares = seal::split(&unseal_key, cfg.secret_shares, cfg.secret_threshold)
            .map_err(|e| CoreError::InvalidRequest(e.to_string()))?;

        let wrapped =
            barrier::seal_value(&unseal_key, 0, ROOT_KEY_PATH.as_bytes(), root_key.as_ref());
        self.physical().put(ROOT_KEY_PATH, wrapped).await?;
        self.barrier
            .initialize(&root_key)
            .await
            .map_err(barrier_err)?;

        let cluster = ClusterInfo {
            name: self.config.cluster_name.clone().unwrap_or_else(|| {
                format!(
                    "vault-cluster-{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..8]
                )
            }),
            id: uuid::Uuid::new_v4().to_string(),
        };
        let bytes = serde_json::to_vec(&cluster).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.barrier
            .put(CLUSTER_INFO_PATH, &bytes)
            .await
            .map_err(barrier_err)?;

        let active = self.setup_active(true).await?;
        let root_token = active.tokens.create_root_token().await?;
        active.teardown().await;
        self.barrier.seal();

        // Writing the seal config last marks initialisation complete.
        let cfg_bytes = serde_json::to_vec(&cfg).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.physical().put(SEAL_CONFIG_PATH, cfg_bytes).await?;

        use base64::Engine;
        Ok(InitResponse {
            keys: shares.iter().map(|s| hex::encode(s.as_slice())).collect(),
            keys_base64: shares
                .iter()
                .map(|s| base64::engine::general_purpose::STANDARD.encode(s.as_slice()))
                .collect(),
            root_token: root_token.to_string(),
        })
    }

    /// Adds one key share; unseals when the threshold is reached.
    pub async fn unseal(self: &Arc<Self>, key: &str) -> Result<SealStatus, CoreError> {
        let share = seal::decode_share(key)
            .ok_or_else(|| CoreError::invalid("'key' must be a valid hex or base64 string"))?;
        let _guard = self.lifecycle.lock().await;
        let cfg = self.seal_config().await?.ok_or(CoreError::NotInitialized)?;
        if !self.is_sealed() {
            drop(_guard);
            return self.seal_status().await;
        }
        if share.len() < 16 {
            return Err(CoreError::invalid(
                "invalid key: key is shorter than minimum 16 bytes",
            ));
        }
        if share.len() > 33 {
            return Err(CoreError::invalid(
                "invalid key: key is longer than maximum 33 bytes",
            ));
        }
        let ready = {
            let mut p = self.progress.lock().await;
            if !p.shares.iter().any(|s| s.as_slice() == share.as_slice()) {
                if p.shares.is_empty() {
                    p.nonce = uuid::Uuid::new_v4().to_string();
                }
                p.shares.push(share);
            }
            if p.shares.len() >= cfg.secret_threshold as usize {
                Some(std::mem::take(&mut p.shares))
            } else {
                None
            }
        };
        if let Some(shares) = ready {
            let result = self.unseal_with_shares(&cfg, &shares).await;
            self.progress.lock().await.nonce.clear();
            result?;
        }
        drop(_guard);
        self.seal_status().await
    }

    async fn unseal_with_shares(
        self: &Arc<Self>,
        cfg: &SealConfig,
        shares: &[Zeroizing<Vec<u8>>],
    ) -> Result<(), CoreError> {
        let unseal_key = seal::combine(shares, cfg.secret_threshold).map_err(|e| {
            CoreError::invalid(format!("invalid key: failed to compute combined key: {e}"))
        })?;
        let root_key = self.unwrap_root_key(&unseal_key).await?;
        self.barrier.unseal(&root_key).await.map_err(|_| {
            CoreError::invalid("failed to unseal: the keyring could not be decrypted")
        })?;
        let active = match self.setup_active(false).await {
            Ok(a) => a,
            Err(e) => {
                self.barrier.seal();
                return Err(e);
            }
        };
        *self.active.write() = Some(active);
        tracing::info!("vault is unsealed");
        Ok(())
    }

    async fn unwrap_root_key(&self, unseal_key: &Key) -> Result<Key, CoreError> {
        let blob = self
            .physical()
            .get(ROOT_KEY_PATH)
            .await?
            .ok_or(CoreError::NotInitialized)?;
        let plain = barrier::open_value(unseal_key, ROOT_KEY_PATH.as_bytes(), &blob).ok_or_else(|| {
            CoreError::invalid(
                "Error unsealing: failed to decrypt the root key: the combined unseal key is not valid for this server",
            )
        })?;
        if plain.len() != 32 {
            return Err(CoreError::Internal(
                "stored root key has the wrong length".into(),
            ));
        }
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(&plain);
        Ok(k)
    }

    /// Discards the unseal progress.
    pub async fn reset_unseal(&self) {
        let mut p = self.progress.lock().await;
        p.shares.clear();
        p.nonce.clear();
    }

    /// Seals: stops the active state and forgets every key.
    pub async fn seal(&self) -> Result<(), CoreError> {
        let _guard = self.lifecycle.lock().await;
        let active = self.active.write().take();
        if let Some(a) = active {
            a.teardown().await;
        }
        self.barrier.seal();
        tracing::info!("vault is sealed");
        Ok(())
    }

    /// `sys/seal-status`.
    pub async fn seal_status(&self) -> Result<SealStatus, CoreError> {
        let cfg = self.seal_config().await?;
        let p = self.progress.lock().await;
        let active = self.active.read().clone();
        Ok(SealStatus {
            seal_type: "shamir".into(),
            initialized: cfg.is_some(),
            sealed: active.is_none(),
            t: cfg.as_ref().map(|c| c.secret_threshold).unwrap_or(0),
            n: cfg.as_ref().map(|c| c.secret_shares).unwrap_or(0),
            progress: if active.is_some() { 0 } else { p.shares.len() },
            nonce: if active.is_some() {
                String::new()
            } else {
                p.nonce.clone()
            },
            recovery_seal: false,
            version: VERSION.into(),
            commit_date: String::new(),
            migration: false,
            cluster_name: active.as_ref().map(|a| a.cluster_name.clone()),
            cluster_id: active.as_ref().map(|a| a.cluster_id.clone()),
            storage_type: self.physical().storage_type().into(),
        })
    }

    /// `sys/health` facts.
    pub async fn health(&self) -> Result<HealthStatus, CoreError> {
        let initialized = self.initialized().await?;
        let active = self.active.read().clone();
        let mode = if !initialized || active.is_none() {
            "unknown"
        } else {
            "disabled"
        };
        Ok(HealthStatus {
            initialized,
            sealed: active.is_none(),
            standby: active.is_none(),
            performance_standby: false,
            replication_performance_mode: mode.into(),
            replication_dr_mode: mode.into(),
            server_time_utc: chrono::Utc::now().timestamp(),
            version: VERSION.into(),
            cluster_name: active.as_ref().map(|a| a.cluster_name.clone()),
            cluster_id: active.as_ref().map(|a| a.cluster_id.clone()),
        })
    }

    /// `sys/leader` body (503 while sealed).
    pub async fn leader(&self) -> Result<Value, CoreError> {
        let active = self.active()?;
        if !self.config.ha_enabled {
            return Ok(serde_json::json!({"ha_enabled": false}));
        }
        let mut v = serde_json::json!({
            "ha_enabled": true,
            "is_self": true,
            "active_time": active.active_time,
            "leader_address": self.config.api_addr.clone().unwrap_or_default(),
            "leader_cluster_address": self.config.cluster_addr.clone().unwrap_or_default(),
        });
        if let (Some((committed, applied)), Value::Object(m)) =
            (self.physical().raft_indexes().await, &mut v)
        {
            m.insert("raft_committed_index".into(), committed.into());
            m.insert("raft_applied_index".into(), applied.into());
        }
        Ok(v)
    }

    /// Handles a logical request through the unsealed pipeline.
    pub async fn handle_request(&self, req: Request) -> Result<Response, CoreError> {
        let active = self.active()?;
        active.handle(req).await
    }

    /// Builds the unsealed state: cluster info, mount tables, policies, audit.
    async fn setup_active(self: &Arc<Self>, first_time: bool) -> Result<Arc<Active>, CoreError> {
        let info: ClusterInfo = match self
            .barrier
            .get(CLUSTER_INFO_PATH)
            .await
            .map_err(barrier_err)?
        {
            Some(b) => {
                serde_json::from_slice(&b).map_err(|e| CoreError::Internal(e.to_string()))?
            }
            None => return Err(CoreError::Internal("cluster info missing".into())),
        };
        let tokens = TokenStore::new(self.barrier.clone()).await?;
        *tokens.default_ttl.write() = self.config.default_lease_ttl;
        *tokens.max_ttl.write() = self.config.max_lease_ttl;
        let policies = PolicyStore::new(self.barrier.clone());
        if first_time {
            policies.setup_defaults().await?;
        }
        policies
            .ensure_builtin(
                crate::wrapping::RESPONSE_WRAPPING_POLICY,
                crate::wrapping::RESPONSE_WRAPPING_POLICY_TEXT,
            )
            .await?;
        let expiration = ExpirationManager::new(self.barrier.clone());
        tokens.set_revocation_listener(expiration.clone());
        let audit = AuditBroker::new(self.barrier.clone(), &self.config.audit_devices).await?;
        let active = Arc::new(Active {
            core: Arc::downgrade(self),
            barrier: self.barrier.clone(),
            router: RwLock::new(Router::new()),
            tokens,
            policies,
            audit,
            config: self.config.clone(),
            cluster_name: info.name,
            cluster_id: info.id,
            active_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            mount_lock: tokio::sync::Mutex::new(()),
            expiration,
            background: parking_lot::Mutex::new(Vec::new()),
        });
        active.load_mounts(first_time).await?;
        active.start_background();
        Ok(active)
    }

    /// Rotates the barrier key (adds a term).
    pub async fn rotate(&self) -> Result<u32, CoreError> {
        self.barrier.rotate().await.map_err(barrier_err)
    }
}

/// The unsealed server: routing, tokens, policies, audit.
pub struct Active {
    core: Weak<Core>,
    pub barrier: Arc<Barrier>,
    pub router: RwLock<Router>,
    pub tokens: TokenStore,
    pub policies: PolicyStore,
    pub audit: AuditBroker,
    pub config: CoreConfig,
    pub cluster_name: String,
    pub cluster_id: String,
    pub active_time: String,
    mount_lock: tokio::sync::Mutex<()>,
    background: parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Leases: registration, renewal, revocation and expiry.
    pub expiration: Arc<ExpirationManager>,
}

impl Active {
    /// The owning core (for seal and status from `sys/` endpoints).
    pub fn core(&self) -> Option<Arc<Core>> {
        self.core.upgrade()
    }

    async fn teardown(&self) {
        for h in self.background.lock().drain(..) {
            h.abort();
        }
        self.tokens.clear_cache();
        self.policies.clear_cache();
    }

    fn start_background(self: &Arc<Self>) {
        let expiry = tokio::spawn(self.expiration.clone().run(Arc::downgrade(self)));
        self.background.lock().push(expiry);
        let weak = Arc::downgrade(self);
        let h = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tick.tick().await;
                let Some(a) = weak.upgrade() else { break };
                if let Err(e) = a.tokens.tidy_expired().await {
                    tracing::warn!(error = %e, "expired token cleanup failed");
                }
            }
        });
        self.background.lock().push(h);
    }

    /// Loads (or on first start, creates) the mount tables and mounts every entry.
    async fn load_mounts(self: &Arc<Self>, first_time: bool) -> Result<(), CoreError> {
        let mut secrets = self.read_table(MOUNT_TABLE_PATH).await?;
        let mut auth = self.read_table(AUTH_TABLE_PATH).await?;
        if first_time || secrets.entries.is_empty() {
            let mut cubby = MountEntry::new(
                TableKind::Secrets,
                "cubbyhole",
                "cubbyhole",
                "per-token private secret storage",
            );
            cubby.local = true;
            let mut sys = MountEntry::new(
                TableKind::Secrets,
                "sys",
                "system",
                "system endpoints used for control, policy and debugging",
            );
            sys.seal_wrap = true;
            sys.config.passthrough_request_headers = vec!["Accept".into()];
            secrets.entries = vec![cubby, sys];
            self.write_table(MOUNT_TABLE_PATH, &secrets).await?;
        }
        if first_time || auth.entries.is_empty() {
            auth.entries = vec![MountEntry::new(
                TableKind::Auth,
                "token",
                "token",
                "token based credentials",
            )];
            self.write_table(AUTH_TABLE_PATH, &auth).await?;
        }
        let mut router = Router::new();
        for e in secrets.entries.into_iter().chain(auth.entries) {
            let route = self.route_for(e)?;
            router.insert(route);
        }
        *self.router.write() = router;
        Ok(())
    }

    fn route_for(&self, entry: MountEntry) -> Result<RouteEntry, CoreError> {
        let backend = engines::new_backend(&entry)?;
        let storage =
            crate::logical::StorageView::new(self.barrier.clone(), entry.storage_prefix());
        Ok(RouteEntry {
            entry: Arc::new(entry),
            backend,
            storage,
        })
    }

    async fn read_table(&self, path: &str) -> Result<MountTable, CoreError> {
        match self.barrier.get(path).await.map_err(barrier_err)? {
            None => Ok(MountTable::default()),
            Some(b) => serde_json::from_slice(&b)
                .map_err(|e| CoreError::Internal(format!("mount table: {e}"))),
        }
    }

    async fn write_table(&self, path: &str, table: &MountTable) -> Result<(), CoreError> {
        let b = serde_json::to_vec(table).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.barrier.put(path, &b).await.map_err(barrier_err)
    }

    fn table_path(kind: TableKind) -> &'static str {
        match kind {
            TableKind::Secrets => MOUNT_TABLE_PATH,
            TableKind::Auth => AUTH_TABLE_PATH,
        }
    }

    /// Mounts a new engine or auth method.
    pub async fn mount(&self, entry: MountEntry) -> Result<(), CoreError> {
        let _g = self.mount_lock.lock().await;
        let full = entry.full_path();
        if let Some(existing) = self.router.read().conflict(&full) {
            return Err(CoreError::invalid(match entry.table {
                TableKind::Secrets => format!("path is already in use at {existing}"),
                TableKind::Auth => format!("path is already in use at {existing}"),
            }));
        }
        let route = self.route_for(entry.clone())?;
        let mut table = self.read_table(Self::table_path(entry.table)).await?;
        table.entries.push(entry.clone());
        self.write_table(Self::table_path(entry.table), &table)
            .await?;
        self.router.write().insert(route);
        Ok(())
    }

    /// Unmounts and deletes the mount's data.
    pub async fn unmount(self: &Arc<Self>, kind: TableKind, path: &str) -> Result<(), CoreError> {
        let _g = self.mount_lock.lock().await;
        let path = crate::mounts::normalize_mount_path(path);
        let mut table = self.read_table(Self::table_path(kind)).await?;
        let Some(pos) = table.entries.iter().position(|e| e.path == path) else {
            return Ok(());
        };
        // The mount's leases are revoked through it first, as OpenBao does.
        let full = table.entries[pos].full_path();
        self.expiration
            .revoke_prefix(self, &full, false, true)
            .await?;
        let entry = table.entries.remove(pos);
        self.write_table(Self::table_path(kind), &table).await?;
        // Take the route out before awaiting: the router lock is not held across `.await`.
        let removed = self.router.write().remove(&entry.full_path());
        if let Some(route) = removed {
            route.storage.delete_prefix("").await?;
        }
        Ok(())
    }

    /// Replaces a mount entry's tunables (the route keeps its storage).
    pub async fn update_mount(&self, entry: MountEntry) -> Result<(), CoreError> {
        let _g = self.mount_lock.lock().await;
        let mut table = self.read_table(Self::table_path(entry.table)).await?;
        let Some(slot) = table.entries.iter_mut().find(|e| e.path == entry.path) else {
            return Err(CoreError::invalid(format!("no mount at {}", entry.path)));
        };
        *slot = entry.clone();
        self.write_table(Self::table_path(entry.table), &table)
            .await?;
        let route = self.route_for(entry)?;
        self.router.write().insert(route);
        Ok(())
    }

    /// The mount entries of one table, ordered by path.
    pub fn mounts(&self, kind: TableKind) -> Vec<Arc<MountEntry>> {
        self.router
            .read()
            .entries()
            .filter(|r| r.entry.table == kind)
            .map(|r| r.entry.clone())
            .collect()
    }

    /// The route for a full path, with the path relative to the mount.
    pub fn route(&self, path: &str) -> Option<(RouteEntry, String)> {
        self.router
            .read()
            .route(path)
            .map(|(r, rest)| (r.clone(), rest))
    }

    /// The request pipeline.
    pub async fn handle(self: &Arc<Self>, mut req: Request) -> Result<Response, CoreError> {
        let path = req.path.trim_start_matches('/').to_string();
        req.path = path.clone();
        let Some((route, rel)) = self.route(&path) else {
            return Err(CoreError::NoRoute(path));
        };
        req.mount_point = route.entry.full_path();
        let ctx = Ctx {
            path: &rel,
            storage: &route.storage,
            mount: &route.entry,
            core: self,
        };

        // The wrapping token of `sys/wrapping/{lookup,unwrap,rewrap}` is
        // checked before the request's own token, as OpenBao does.
        if let Err(e) = crate::wrapping::validate(self, &req).await {
            self.audit.log_request(&req).await?;
            self.audit.log_error(&req, &e).await?;
            return Err(e);
        }

        let unauthenticated = path_matches(route.backend.unauthenticated_paths(), &rel);
        if !unauthenticated {
            let token = req
                .client_token
                .clone()
                .ok_or(CoreError::PermissionDenied)?;
            let entry = self
                .tokens
                .lookup(&token)
                .await?
                .ok_or(CoreError::PermissionDenied)?;
            if !entry.cidr_allows(req.remote_addr) {
                return Err(CoreError::PermissionDenied);
            }
            req.token = Some(entry.clone());

            if matches!(req.operation, Operation::Create | Operation::Update) {
                req.operation = match route.backend.existence(&ctx, &req).await? {
                    None | Some(true) => Operation::Update,
                    Some(false) => Operation::Create,
                };
            }
            let acl = self.policies.acl(&entry.policies).await?;
            let needs_sudo = path_matches(route.backend.root_paths(), &rel);
            let acl_path = if req.operation == Operation::List && !path.ends_with('/') {
                format!("{path}/")
            } else {
                path.clone()
            };
            let decision = acl.allow_request(&coffer_policy::AclRequest {
                operation: req.operation.to_policy(),
                path: &acl_path,
                needs_sudo,
                data: Some(&req.data),
                wrap_ttl: req.wrap_ttl,
            });
            if !decision.allowed {
                self.audit.log_denied(&req).await?;
                return Err(CoreError::PermissionDenied);
            }
            self.tokens.use_token(&token, &entry).await?;
        }

        self.audit.log_request(&req).await?;
        let mut leased = false;
        let mut result = match route.backend.handle(&ctx, &req).await {
            Ok(mut resp) => match self.complete(&req, &route.entry, &path, &mut resp).await {
                Ok(registered) => {
                    leased = registered;
                    Ok(resp)
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if let Some(entry) = &req.token {
            // A limited-use token whose last use this was is revoked now,
            // with the leases it created.
            if let Err(e) = self.tokens.finish_use(&entry.hid).await {
                tracing::warn!(error = %e, "revoking a used-up token failed");
            }
            if leased && entry.num_uses == 1 && result.is_ok() {
                result = Err(CoreError::invalid(
                    "Secret cannot be returned; token had one use left, so leased credentials were immediately revoked.",
                ));
            }
        }
        let mut resp = match result {
            Ok(r) => r,
            Err(e) => {
                self.audit.log_error(&req, &e).await?;
                return Err(e);
            }
        };
        if let Some(ttl) = req.wrap_ttl {
            resp = match crate::wrapping::wrap(self, &req, resp, ttl).await {
                Ok(r) => r,
                Err(e) => {
                    self.audit.log_error(&req, &e).await?;
                    return Err(e);
                }
            };
        }
        self.audit.log_response(&req, &resp).await?;
        Ok(resp)
    }

    /// What follows a backend's answer: the token of a login is minted and
    /// the lease of a dynamic secret registered. Returns whether a lease was.
    async fn complete(
        &self,
        req: &Request,
        mount: &MountEntry,
        path: &str,
        resp: &mut Response,
    ) -> Result<bool, CoreError> {
        if let Some(login) = resp.login.take() {
            let auth = self.tokens.create_from_login(&login, mount, path).await?;
            resp.auth = Some(auth);
        }
        if resp.secret_internal.is_none() {
            return Ok(false);
        }
        self.expiration
            .register(&self.config, mount, req, resp)
            .await?;
        Ok(true)
    }
}
