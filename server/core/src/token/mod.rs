//! The token store: service tokens stored under a salted HMAC of their id
//! (`sys/token/id/<hmac>`), accessor and parent indexes, batch tokens as
//! barrier-encrypted blobs that are never stored, TTLs, use counts, revocation
//! of whole trees, and cleanup of expired tokens. The `auth/token/` endpoints
//! live in [`backend`] (roles in [`roles`]).

pub mod backend;
pub mod fields;
pub mod roles;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use parking_lot::RwLock;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::barrier::Barrier;
use crate::error::CoreError;
use crate::logical::{barrier_err, Auth, Data, LoginAuth, StorageView};
use crate::mounts::MountEntry;

use fields::{calculate_ttl, sanitize_policies, TtlLimits};

/// Number of lock stripes for token writes.
const WRITE_LOCK_STRIPES: usize = 64;

const SALT_KEY: &str = "salt";
const BATCH_AAD: &str = "sys/token/batch";

/// `num_uses` of a token on its last use: it can no longer be looked up and is
/// revoked when the request that used it ends.
pub const REVOCATION_PENDING: i64 = -1;

/// A token's stored facts. The token id itself is never stored.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct TokenEntry {
    /// Salted HMAC of the token id (the storage key).
    #[serde(default)]
    pub hid: String,
    pub accessor: String,
    pub policies: Vec<String>,
    /// The parent's `hid`, empty for orphans.
    #[serde(default)]
    pub parent: String,
    pub path: String,
    pub meta: Option<BTreeMap<String, String>>,
    pub display_name: String,
    /// Remaining uses; 0 is unlimited, -1 is pending revocation.
    pub num_uses: i64,
    /// Unix seconds.
    pub creation_time: i64,
    /// RFC 3339 with nanoseconds: when the token's lease was issued.
    pub issue_time: String,
    /// The TTL given at creation (seconds); 0 is no expiry.
    pub creation_ttl: u64,
    pub explicit_max_ttl: u64,
    pub period: u64,
    /// When the token expires; `None` never.
    pub expire_time: Option<DateTime<Utc>>,
    pub renewable: bool,
    pub orphan: bool,
    /// `service` or `batch`.
    pub token_type: String,
    #[serde(default)]
    pub entity_id: String,
    #[serde(default)]
    pub bound_cidrs: Vec<String>,
    #[serde(default)]
    pub role: Option<String>,
    /// Accessor of the auth mount that minted it (for login renewals).
    #[serde(default)]
    pub mount_accessor: String,
    /// Backend-private login facts.
    #[serde(default)]
    pub internal: Data,
    /// The TTL of the current lease (seconds): the creation TTL, then the last
    /// renewal's; a renewal without an increment asks for it again.
    #[serde(default)]
    pub lease_ttl: u64,
    /// When the token was last renewed.
    #[serde(default)]
    pub last_renewal: Option<DateTime<Utc>>,
    /// The initial root token has no lease: lookups show no `issue_time` or
    /// `renewable`, and renewals fail with `invalid lease ID`.
    #[serde(default)]
    pub no_lease: bool,
    /// The max TTL a login backend set (seconds, 0 none), kept for renewals.
    #[serde(default)]
    pub login_max_ttl: u64,
}

impl TokenEntry {
    /// Seconds left, 0 when the token never expires.
    pub fn ttl_remaining(&self) -> i64 {
        match self.expire_time {
            None => 0,
            Some(t) => (t - Utc::now()).num_seconds().max(0),
        }
    }

    /// Whether the token has expired.
    pub fn expired(&self) -> bool {
        matches!(self.expire_time, Some(t) if t <= Utc::now())
    }

    /// Whether the caller's address is allowed by `bound_cidrs`.
    pub fn cidr_allows(&self, addr: Option<IpAddr>) -> bool {
        if self.bound_cidrs.is_empty() {
            return true;
        }
        let Some(addr) = addr else { return false };
        self.bound_cidrs.iter().any(|c| cidr_contains(c, addr))
    }

    /// Whether this is a batch token.
    pub fn is_batch(&self) -> bool {
        self.token_type == "batch"
    }

    /// Whether the token carries the root policy.
    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }

    /// Whether the token is on its last use and waits for revocation.
    pub fn revocation_pending(&self) -> bool {
        self.num_uses < 0
    }
}

/// Whether `cidr` (`10.0.0.0/8`, `127.0.0.1`, `::1/128`) contains `addr`.
pub fn cidr_contains(cidr: &str, addr: IpAddr) -> bool {
    let (net, bits) = match cidr.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let Ok(net) = net.trim().parse::<IpAddr>() else {
        return false;
    };
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            (u32::from(n) & mask) == (u32::from(a) & mask)
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            (u128::from(n) & mask) == (u128::from(a) & mask)
        }
        _ => false,
    }
}

/// Parameters for a new token through [`TokenStore::create`], which applies
/// default policies and TTL limits itself.
#[derive(Debug, Clone, Default)]
pub struct TokenParams {
    /// A caller-chosen id (root only).
    pub id: Option<String>,
    pub policies: Vec<String>,
    pub meta: Option<BTreeMap<String, String>>,
    pub display_name: String,
    pub num_uses: i64,
    pub ttl: Option<Duration>,
    pub explicit_max_ttl: Option<Duration>,
    pub period: Option<Duration>,
    pub renewable: bool,
    /// Parent `hid`; `None` makes an orphan.
    pub parent: Option<String>,
    pub path: String,
    pub token_type: String,
    pub no_default_policy: bool,
    pub bound_cidrs: Vec<String>,
    pub role: Option<String>,
    pub mount_accessor: String,
    pub entity_id: String,
    pub internal: Data,
    /// Mount-level max TTL (0 = system).
    pub mount_max_ttl: Option<Duration>,
    /// Mount-level default TTL (0 = system).
    pub mount_default_ttl: Option<Duration>,
}

/// A fully resolved new token: policies, TTL and flags are final.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// A caller-chosen id (service tokens only).
    pub id: Option<String>,
    pub policies: Vec<String>,
    pub meta: Option<BTreeMap<String, String>>,
    pub display_name: String,
    pub num_uses: i64,
    /// Seconds; 0 never expires.
    pub ttl: u64,
    pub explicit_max_ttl: u64,
    pub period: u64,
    pub renewable: bool,
    /// Parent `hid`; `None` makes an orphan.
    pub parent: Option<String>,
    pub path: String,
    pub batch: bool,
    pub entity_id: String,
    pub bound_cidrs: Vec<String>,
    pub role: Option<String>,
    pub mount_accessor: String,
    pub internal: Data,
    pub login_max_ttl: u64,
    pub no_lease: bool,
}

#[derive(Serialize, Deserialize)]
struct AccessorIndex {
    accessor: String,
    hid: String,
}

/// The token store.
pub struct TokenStore {
    view: StorageView,
    barrier: Arc<Barrier>,
    salt: Zeroizing<Vec<u8>>,
    cache: RwLock<HashMap<String, Arc<TokenEntry>>>,
    /// Serialises read-modify-write updates of entries (use counts, renewals).
    /// Per-token write locks, striped by the token's hash, so that writes to
    /// different tokens proceed (and group-commit) concurrently.
    write_locks: Vec<tokio::sync::Mutex<()>>,
    tidy_running: AtomicBool,
    /// System default and max lease TTLs.
    pub default_ttl: RwLock<Duration>,
    pub max_ttl: RwLock<Duration>,
    /// Told about every revoked token (the expiration manager).
    revocation_listener: RwLock<Option<Arc<dyn RevocationListener>>>,
}

/// Told about every token the store revokes, before its entry is deleted:
/// the expiration manager revokes the leases the token created. The token
/// store does not know about leases; the core installs the listener with
/// [`TokenStore::set_revocation_listener`].
#[async_trait::async_trait]
pub trait RevocationListener: Send + Sync {
    /// `hid` (a stored service token) is being revoked; an error stops the
    /// revocation.
    async fn token_revoked(&self, hid: &str) -> Result<(), CoreError>;
}

/// A random base62 string, as Vault's token ids and accessors.
fn random_id(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

fn now_go_time() -> (DateTime<Utc>, String) {
    let now = Utc::now();
    (now, fields::go_time(now))
}

impl TokenStore {
    /// Opens the store, creating its salt on first use.
    pub async fn new(barrier: Arc<Barrier>) -> Result<TokenStore, CoreError> {
        let view = StorageView::new(barrier.clone(), "sys/token/");
        let salt = match view.get(SALT_KEY).await? {
            Some(s) => s,
            None => {
                let mut s = Zeroizing::new(vec![0u8; 32]);
                rand::thread_rng().fill(s.as_mut_slice());
                view.put(SALT_KEY, &s).await?;
                s
            }
        };
        Ok(TokenStore {
            view,
            barrier,
            salt,
            cache: RwLock::new(HashMap::new()),
            write_locks: (0..WRITE_LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            tidy_running: AtomicBool::new(false),
            default_ttl: RwLock::new(Duration::from_secs(768 * 3600)),
            max_ttl: RwLock::new(Duration::from_secs(768 * 3600)),
            revocation_listener: RwLock::new(None),
        })
    }

    /// Installs the listener told about every revoked token.
    pub fn set_revocation_listener(&self, listener: Arc<dyn RevocationListener>) {
        *self.revocation_listener.write() = Some(listener);
    }

    /// The write lock of the stripe `hid` falls in.
    fn lock_for(&self, hid: &str) -> &tokio::sync::Mutex<()> {
        let n = hid.bytes().fold(0usize, |acc, b| {
            acc.wrapping_mul(31).wrapping_add(b as usize)
        });
        &self.write_locks[n % self.write_locks.len()]
    }

    /// Salted HMAC-SHA256 of a token id or accessor, hex.
    pub fn hash(&self, value: &str) -> String {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.salt) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Drops cached entries (on seal).
    pub fn clear_cache(&self) {
        self.cache.write().clear();
    }

    /// The system TTL limits (the token mount may narrow them).
    pub fn system_limits(&self) -> TtlLimits {
        TtlLimits {
            default_ttl: *self.default_ttl.read(),
            max_ttl: *self.max_ttl.read(),
        }
    }

    /// Creates the initial root token (`sys/init`): no lease, no expiry.
    pub async fn create_root_token(&self) -> Result<Zeroizing<String>, CoreError> {
        let (token, _) = self
            .mint(NewToken {
                policies: vec!["root".into()],
                path: "auth/token/root".into(),
                display_name: "root".into(),
                no_lease: true,
                ..Default::default()
            })
            .await?;
        Ok(token)
    }

    /// Creates a root token, optionally with a chosen id (`-dev-root-token-id`).
    /// With an id it looks like OpenBao's dev root token, which is made through
    /// `auth/token/create` (path `auth/token/create`, display name `token`).
    pub async fn create_root_token_with_id(
        &self,
        id: Option<String>,
    ) -> Result<Zeroizing<String>, CoreError> {
        if id.is_none() {
            return self.create_root_token().await;
        }
        let (token, _) = self
            .mint(NewToken {
                id,
                policies: vec!["root".into()],
                path: "auth/token/create".into(),
                display_name: "token".into(),
                ..Default::default()
            })
            .await?;
        Ok(token)
    }

    /// Creates a token from loosely specified parameters: policies are
    /// sanitised (`default` added unless asked not to), the TTL is limited by
    /// the mount and the system. Returns the token id and its entry.
    pub async fn create(
        &self,
        p: TokenParams,
    ) -> Result<(Zeroizing<String>, Arc<TokenEntry>), CoreError> {
        let policies = sanitize_policies(&p.policies, !p.no_default_policy);
        let is_root = policies.iter().any(|p| p == "root");
        let sys = self.system_limits();
        let limits = TtlLimits {
            default_ttl: p
                .mount_default_ttl
                .filter(|d| !d.is_zero())
                .unwrap_or(sys.default_ttl),
            max_ttl: p
                .mount_max_ttl
                .filter(|d| !d.is_zero())
                .unwrap_or(sys.max_ttl),
        };
        let explicit = p.explicit_max_ttl.unwrap_or_default().as_secs();
        let period = p.period.unwrap_or_default().as_secs();
        let mut ttl = p.ttl.unwrap_or_default().as_secs();
        if period > 0 || ttl > 0 || !is_root {
            ttl = calculate_ttl(limits, 0, ttl, period, 0, explicit, None)
                .map_err(CoreError::Internal)?
                .0;
        }
        if ttl == 0 && explicit > 0 {
            ttl = explicit;
        }
        let batch = p.token_type == "batch";
        self.mint(NewToken {
            id: p.id,
            policies,
            meta: p.meta,
            display_name: p.display_name,
            num_uses: p.num_uses,
            ttl,
            explicit_max_ttl: explicit,
            period,
            renewable: p.renewable && !batch && ttl > 0,
            parent: p.parent,
            path: p.path,
            batch,
            entity_id: p.entity_id,
            bound_cidrs: if ttl == 0 { Vec::new() } else { p.bound_cidrs },
            role: p.role,
            mount_accessor: p.mount_accessor,
            internal: p.internal,
            login_max_ttl: 0,
            no_lease: false,
        })
        .await
    }

    /// Stores a fully resolved token (or, for a batch token, encrypts it into
    /// its id). Returns the token id and its entry.
    pub async fn mint(
        &self,
        t: NewToken,
    ) -> Result<(Zeroizing<String>, Arc<TokenEntry>), CoreError> {
        let (now, issue_time) = now_go_time();
        let mut entry = TokenEntry {
            hid: String::new(),
            accessor: String::new(),
            policies: t.policies,
            parent: t.parent.clone().unwrap_or_default(),
            path: t.path,
            meta: t.meta,
            display_name: t.display_name,
            num_uses: t.num_uses,
            creation_time: now.timestamp(),
            issue_time,
            creation_ttl: t.ttl,
            explicit_max_ttl: t.explicit_max_ttl,
            period: t.period,
            expire_time: None,
            renewable: t.renewable && t.ttl > 0 && !t.batch,
            orphan: t.parent.is_none(),
            token_type: if t.batch {
                "batch".into()
            } else {
                "service".into()
            },
            entity_id: t.entity_id,
            bound_cidrs: t.bound_cidrs,
            role: t.role,
            mount_accessor: t.mount_accessor,
            internal: t.internal,
            lease_ttl: t.ttl,
            last_renewal: None,
            no_lease: t.no_lease,
            login_max_ttl: t.login_max_ttl,
        };

        if t.batch {
            // Batch tokens live for whole seconds from their creation time.
            let created = fields::trunc_secs(now);
            entry.issue_time = fields::go_time(created);
            entry.num_uses = 0;
            if t.ttl > 0 {
                entry.expire_time = Some(created + chrono::Duration::seconds(t.ttl as i64));
            }
            let json = Zeroizing::new(to_json(&entry)?);
            let blob = self
                .barrier
                .encrypt(BATCH_AAD, &json)
                .map_err(barrier_err)?;
            let token = Zeroizing::new(format!(
                "b.{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(blob)
            ));
            entry.hid = self.hash(&token);
            return Ok((token, Arc::new(entry)));
        }

        if t.ttl > 0 {
            entry.expire_time = Some(now + chrono::Duration::seconds(t.ttl as i64));
        }
        let token = match t.id {
            Some(id) => {
                if id.starts_with("hvs.") {
                    return Err(CoreError::invalid(
                        "custom token ID cannot have the 'hvs.' prefix",
                    ));
                }
                if id.starts_with("s.") {
                    return Err(CoreError::invalid(
                        "custom token ID cannot have the 's.' prefix",
                    ));
                }
                if id.contains('.') {
                    return Err(CoreError::invalid(
                        "custom token ID cannot have a '.' in the value",
                    ));
                }
                Zeroizing::new(id)
            }
            None => Zeroizing::new(format!("s.{}", random_id(24))),
        };

        let hid = self.hash(&token);
        let _g = self.lock_for(&hid).lock().await;
        if self.view.get(&format!("id/{hid}")).await?.is_some() {
            return Err(CoreError::invalid(
                "cannot create a token with a duplicate ID",
            ));
        }
        if let Some(parent) = &t.parent {
            if self.read_entry(parent).await?.is_none() {
                return Err(CoreError::invalid("parent token not found"));
            }
        }
        entry.hid = hid.clone();
        entry.accessor = random_id(24);
        let acc_idx = AccessorIndex {
            accessor: entry.accessor.clone(),
            hid: hid.clone(),
        };
        let mut ops = vec![
            (format!("id/{hid}"), Some(to_json(&entry)?)),
            (
                format!("accessor/{}", self.hash(&entry.accessor)),
                Some(to_json(&acc_idx)?),
            ),
        ];
        if !entry.parent.is_empty() {
            ops.push((format!("parent/{}/{hid}", entry.parent), Some(Vec::new())));
        }
        self.view.transaction(ops).await?;
        let entry = Arc::new(entry);
        self.cache.write().insert(hid, entry.clone());
        Ok((token, entry))
    }

    /// Finds a live token: unknown, expired, used-up and revoked tokens (and
    /// batch tokens whose parent is gone) give `None`.
    pub async fn lookup(&self, token: &str) -> Result<Option<Arc<TokenEntry>>, CoreError> {
        self.lookup_inner(token, false).await
    }

    /// Like [`lookup`](Self::lookup) but also returns a token on its last use
    /// (as Vault's tainted lookups, used by `lookup` and `lookup-self`).
    pub async fn lookup_tainted(&self, token: &str) -> Result<Option<Arc<TokenEntry>>, CoreError> {
        self.lookup_inner(token, true).await
    }

    async fn lookup_inner(
        &self,
        token: &str,
        tainted: bool,
    ) -> Result<Option<Arc<TokenEntry>>, CoreError> {
        if token.is_empty() {
            return Ok(None);
        }
        if let Some(blob) = token.strip_prefix("b.") {
            let Some(entry) = self.decode_batch(token, blob) else {
                return Ok(None);
            };
            if !entry.parent.is_empty() && self.lookup_hid(&entry.parent).await?.is_none() {
                return Ok(None);
            }
            return Ok(Some(entry));
        }
        let hid = self.hash(token);
        self.lookup_hid_inner(&hid, tainted).await
    }

    fn decode_batch(&self, token: &str, blob: &str) -> Option<Arc<TokenEntry>> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(blob)
            .ok()?;
        let json = self.barrier.decrypt(BATCH_AAD, &raw).ok()?;
        let mut entry: TokenEntry = serde_json::from_slice(&json).ok()?;
        if entry.expired() {
            return None;
        }
        entry.hid = self.hash(token);
        Some(Arc::new(entry))
    }

    /// Finds a live token by its hashed id.
    pub async fn lookup_hid(&self, hid: &str) -> Result<Option<Arc<TokenEntry>>, CoreError> {
        self.lookup_hid_inner(hid, false).await
    }

    /// Finds a token by its hashed id, including one pending revocation.
    pub async fn lookup_hid_tainted(
        &self,
        hid: &str,
    ) -> Result<Option<Arc<TokenEntry>>, CoreError> {
        self.lookup_hid_inner(hid, true).await
    }

    async fn lookup_hid_inner(
        &self,
        hid: &str,
        tainted: bool,
    ) -> Result<Option<Arc<TokenEntry>>, CoreError> {
        let Some(entry) = self.read_entry(hid).await? else {
            return Ok(None);
        };
        if entry.expired() {
            // Expired: gone for every caller; clean it up now rather than at
            // the next sweep.
            if let Err(e) = self.revoke_tree(hid).await {
                tracing::warn!(error = %e, "revoking an expired token failed");
            }
            return Ok(None);
        }
        if entry.revocation_pending() && !tainted {
            return Ok(None);
        }
        Ok(Some(entry))
    }

    /// The stored entry for a hashed id, whatever its state.
    async fn read_entry(&self, hid: &str) -> Result<Option<Arc<TokenEntry>>, CoreError> {
        if let Some(e) = self.cache.read().get(hid).cloned() {
            return Ok(Some(e));
        }
        let Some(e) = self
            .view
            .get_json::<TokenEntry>(&format!("id/{hid}"))
            .await?
        else {
            return Ok(None);
        };
        let e = Arc::new(e);
        self.cache.write().insert(hid.to_string(), e.clone());
        Ok(Some(e))
    }

    /// The hashed token id an accessor points at, if the index has it.
    pub async fn accessor_hid(&self, accessor: &str) -> Result<Option<String>, CoreError> {
        if accessor.is_empty() {
            return Ok(None);
        }
        Ok(self
            .view
            .get_json::<AccessorIndex>(&format!("accessor/{}", self.hash(accessor)))
            .await?
            .map(|idx| idx.hid))
    }

    /// The live entry behind an accessor.
    pub async fn lookup_accessor(
        &self,
        accessor: &str,
    ) -> Result<Option<Arc<TokenEntry>>, CoreError> {
        match self.accessor_hid(accessor).await? {
            Some(hid) => self.lookup_hid(&hid).await,
            None => Ok(None),
        }
    }

    /// Every accessor of a stored token.
    pub async fn list_accessors(&self) -> Result<Vec<String>, CoreError> {
        let mut out = Vec::new();
        for key in self.view.list("accessor/").await? {
            if let Some(idx) = self
                .view
                .get_json::<AccessorIndex>(&format!("accessor/{key}"))
                .await?
            {
                if !idx.hid.is_empty() {
                    out.push(idx.accessor);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Stores an updated entry (renewals, use counts).
    pub async fn update(&self, entry: TokenEntry) -> Result<Arc<TokenEntry>, CoreError> {
        let hid = entry.hid.clone();
        self.view
            .put(&format!("id/{hid}"), &to_json(&entry)?)
            .await?;
        let entry = Arc::new(entry);
        self.cache.write().insert(hid, entry.clone());
        Ok(entry)
    }

    /// Applies `f` to the current stored entry under the write lock. `None`
    /// when the token is gone.
    pub async fn modify<F>(&self, hid: &str, f: F) -> Result<Option<Arc<TokenEntry>>, CoreError>
    where
        F: FnOnce(&mut TokenEntry),
    {
        let _g = self.lock_for(hid).lock().await;
        let Some(current) = self.read_entry(hid).await? else {
            return Ok(None);
        };
        let mut e = (*current).clone();
        f(&mut e);
        self.update(e).await.map(Some)
    }

    /// Counts one use of a limited-use token. The last use marks the token
    /// pending revocation: it can no longer be looked up, and
    /// [`finish_use`](Self::finish_use) (or the next sweep) revokes it.
    pub async fn use_token(&self, _token: &str, entry: &TokenEntry) -> Result<(), CoreError> {
        if entry.num_uses == 0 || entry.is_batch() {
            return Ok(());
        }
        let _g = self.lock_for(&entry.hid).lock().await;
        let Some(current) = self.read_entry(&entry.hid).await? else {
            return Err(CoreError::PermissionDenied);
        };
        if current.revocation_pending() {
            return Err(CoreError::PermissionDenied);
        }
        let mut e = (*current).clone();
        if e.num_uses == 1 {
            e.num_uses = REVOCATION_PENDING;
        } else if e.num_uses > 1 {
            e.num_uses -= 1;
        }
        self.update(e).await?;
        Ok(())
    }

    /// Called when a request ends: revokes the caller's token if that request
    /// was its last use.
    pub async fn finish_use(&self, hid: &str) -> Result<(), CoreError> {
        let pending = self
            .cache
            .read()
            .get(hid)
            .map(|e| e.revocation_pending())
            .unwrap_or(false);
        if pending {
            self.revoke_tree(hid).await?;
        }
        Ok(())
    }

    /// Revokes one token and its children, recursively (children first).
    pub async fn revoke_tree(&self, hid: &str) -> Result<(), CoreError> {
        let mut stack = vec![hid.to_string()];
        let mut seen: HashSet<String> = HashSet::new();
        let mut order = Vec::new();
        while let Some(h) = stack.pop() {
            if !seen.insert(h.clone()) {
                continue;
            }
            for child in self.view.list(&format!("parent/{h}/")).await? {
                let child = child.trim_end_matches('/').to_string();
                if !seen.contains(&child) {
                    stack.push(child);
                }
            }
            order.push(h);
        }
        for h in order.into_iter().rev() {
            self.revoke_one(&h).await?;
        }
        Ok(())
    }

    /// Revokes one token; its children become orphans.
    pub async fn revoke_orphan(&self, hid: &str) -> Result<(), CoreError> {
        for child in self.view.list(&format!("parent/{hid}/")).await? {
            let child = child.trim_end_matches('/').to_string();
            self.modify(&child, |e| {
                e.parent.clear();
                e.orphan = true;
            })
            .await?;
            self.view.delete(&format!("parent/{hid}/{child}")).await?;
        }
        self.revoke_one(hid).await
    }

    async fn revoke_one(&self, hid: &str) -> Result<(), CoreError> {
        // The leases the token created go first (Vault's RevokeByToken).
        let listener = self.revocation_listener.read().clone();
        if let Some(l) = listener {
            l.token_revoked(hid).await?;
        }
        let entry = self
            .view
            .get_json::<TokenEntry>(&format!("id/{hid}"))
            .await?;
        let mut ops: Vec<(String, Option<Vec<u8>>)> = vec![(format!("id/{hid}"), None)];
        if let Some(e) = &entry {
            if !e.accessor.is_empty() {
                ops.push((format!("accessor/{}", self.hash(&e.accessor)), None));
            }
            if !e.parent.is_empty() {
                ops.push((format!("parent/{}/{hid}", e.parent), None));
            }
        }
        self.view.transaction(ops).await?;
        self.cache.write().remove(hid);
        // The token's cubbyhole goes with it.
        StorageView::new(self.barrier.clone(), format!("cubbyhole/{hid}/"))
            .delete_prefix("")
            .await?;
        Ok(())
    }

    /// Revokes every expired token (and its children) and every token whose
    /// last use has ended. Returns how many were revoked.
    pub async fn tidy_expired(&self) -> Result<usize, CoreError> {
        let mut n = 0;
        for hid in self.view.list("id/").await? {
            if hid.ends_with('/') {
                continue;
            }
            if let Some(e) = self
                .view
                .get_json::<TokenEntry>(&format!("id/{hid}"))
                .await?
            {
                if e.expired() || e.revocation_pending() {
                    self.revoke_tree(&hid).await?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// `auth/token/tidy`: revokes expired tokens, drops accessor and parent
    /// index entries that point at missing tokens, and makes tokens whose
    /// parent is gone orphans. Returns `false` when a tidy is already running.
    pub async fn tidy(&self) -> Result<bool, CoreError> {
        if self.tidy_running.swap(true, Ordering::SeqCst) {
            return Ok(false);
        }
        let result = self.tidy_inner().await;
        self.tidy_running.store(false, Ordering::SeqCst);
        result.map(|_| true)
    }

    /// Whether a tidy is running now.
    pub fn tidy_in_progress(&self) -> bool {
        self.tidy_running.load(Ordering::SeqCst)
    }

    /// Claims the tidy slot for a tidy that runs in the background; `false`
    /// when one is already running. Release with [`tidy_claimed`](Self::tidy_claimed).
    pub fn claim_tidy(&self) -> bool {
        !self.tidy_running.swap(true, Ordering::SeqCst)
    }

    /// Runs a tidy whose slot [`claim_tidy`](Self::claim_tidy) took, and frees it.
    pub async fn tidy_claimed(&self) -> Result<(), CoreError> {
        let result = self.tidy_inner().await;
        self.tidy_running.store(false, Ordering::SeqCst);
        result
    }

    async fn tidy_inner(&self) -> Result<(), CoreError> {
        self.tidy_expired().await?;
        // Accessor index entries without a token.
        for key in self.view.list("accessor/").await? {
            let path = format!("accessor/{key}");
            match self.view.get_json::<AccessorIndex>(&path).await? {
                Some(idx) if !idx.hid.is_empty() => {
                    if self.view.get(&format!("id/{}", idx.hid)).await?.is_none() {
                        self.view.delete(&path).await?;
                    }
                }
                _ => self.view.delete(&path).await?,
            }
        }
        // Parent index entries: missing children are dropped; children of a
        // missing parent become orphans.
        for parent in self.view.list("parent/").await? {
            let parent = parent.trim_end_matches('/').to_string();
            let parent_exists = self.view.get(&format!("id/{parent}")).await?.is_some();
            for child in self.view.list(&format!("parent/{parent}/")).await? {
                let child = child.trim_end_matches('/').to_string();
                let child_exists = self.view.get(&format!("id/{child}")).await?.is_some();
                if child_exists && !parent_exists {
                    self.modify(&child, |e| {
                        e.parent.clear();
                        e.orphan = true;
                    })
                    .await?;
                }
                if !child_exists || !parent_exists {
                    self.view
                        .delete(&format!("parent/{parent}/{child}"))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Mints a token for a successful login on `mount`.
    pub async fn create_from_login(
        &self,
        login: &LoginAuth,
        mount: &MountEntry,
        path: &str,
    ) -> Result<Auth, CoreError> {
        let token_type = login
            .token_type
            .clone()
            .filter(|t| !t.is_empty() && t != "default")
            .or_else(|| mount.config.token_type.clone())
            .map(|t| t.trim_start_matches("default-").to_string())
            .unwrap_or_else(|| "service".into());
        let batch = token_type == "batch";
        let policies = sanitize_policies(&login.policies, !login.no_default_policy);
        let is_root = policies.iter().any(|p| p == "root");
        let sys = self.system_limits();
        let limits = TtlLimits {
            default_ttl: Some(Duration::from_secs(mount.config.default_lease_ttl))
                .filter(|d| !d.is_zero())
                .unwrap_or(sys.default_ttl),
            max_ttl: Some(Duration::from_secs(mount.config.max_lease_ttl))
                .filter(|d| !d.is_zero())
                .unwrap_or(sys.max_ttl),
        };
        let period = login.period.unwrap_or_default().as_secs();
        let explicit = login.explicit_max_ttl.unwrap_or_default().as_secs();
        let max_ttl = login.max_ttl.unwrap_or_default().as_secs();
        let mut ttl = login.ttl.unwrap_or_default().as_secs();
        if ttl == 0 && !is_root {
            ttl = limits.default_ttl.as_secs();
        }
        if period > 0 || ttl > 0 || !is_root {
            ttl = calculate_ttl(limits, 0, ttl, period, max_ttl, explicit, None)
                .map_err(CoreError::Internal)?
                .0;
        }
        let source = mount.path.trim_end_matches('/').replace('/', "-");
        let display_name = if login.display_name.is_empty() {
            source
        } else {
            format!("{source}-{}", login.display_name)
        };
        let (token, entry) = self
            .mint(NewToken {
                policies,
                meta: if login.metadata.is_empty() {
                    None
                } else {
                    Some(login.metadata.clone())
                },
                display_name,
                num_uses: if batch { 0 } else { login.num_uses },
                ttl,
                explicit_max_ttl: explicit,
                period,
                renewable: login.renewable,
                parent: None,
                path: path.to_string(),
                batch,
                bound_cidrs: login.bound_cidrs.clone(),
                mount_accessor: mount.accessor.clone(),
                internal: login.internal.clone(),
                login_max_ttl: max_ttl,
                ..Default::default()
            })
            .await?;
        Ok(auth_for(&token, &entry))
    }
}

/// The `auth` response object for a freshly created token.
pub fn auth_for(token: &str, e: &TokenEntry) -> Auth {
    Auth {
        client_token: token.to_string(),
        accessor: e.accessor.clone(),
        policies: e.policies.clone(),
        token_policies: e.policies.clone(),
        identity_policies: Vec::new(),
        metadata: e.meta.clone(),
        lease_duration: e.lease_ttl,
        renewable: e.renewable,
        entity_id: e.entity_id.clone(),
        token_type: e.token_type.clone(),
        orphan: e.parent.is_empty(),
        mfa_requirement: None,
        num_uses: e.num_uses,
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, CoreError> {
    serde_json::to_vec(v).map_err(|e| CoreError::Internal(e.to_string()))
}
