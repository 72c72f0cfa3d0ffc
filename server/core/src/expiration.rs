//! Leases and their expiry (OpenBao's `ExpirationManager`).
//!
//! A backend issuing a dynamic secret answers with [`Response::lease`] and
//! [`Response::secret_internal`]; the core registers a lease for it: the id is
//! `REQUEST/PATH/<random>` (`pki/issue/web/abc...`), the TTL is the backend's
//! clamped by the backend's max, the mount's and the system's limits, and the
//! entry lives behind the barrier under `sys/expire/id/<lease id>`, indexed by
//! the creating token under `sys/expire/token/<token hid>/<hash of lease id>`.
//!
//! The manager keeps a schedule of due times in memory (rebuilt from storage at
//! unseal, so leases survive restarts and leader changes) and a background task
//! revokes expired leases through the backend of the mount that issued them
//! ([`Backend::revoke_secret`]). A failed revocation keeps the lease and is
//! retried with exponential backoff; after [`MAX_REVOKE_ATTEMPTS`] (or an error
//! that retrying cannot fix) the lease is marked irrevocable, shows its
//! `revoke_error` and is retried once a day, as OpenBao does.
//!
//! Tokens are leases too in OpenBao (`auth/token/create/h<hash>`). Here the
//! token store stays the only record of tokens: token leases are a view of
//! it (lookup, list, revoke), and a revoked token tells the manager (through
//! [`RevocationListener`]) to revoke every lease the token created.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::barrier::Barrier;
use crate::core::{Active, CoreConfig};
use crate::error::CoreError;
use crate::logical::{Ctx, Data, LeaseInfo, Request, Response, StorageView};
use crate::mounts::MountEntry;
use crate::token::fields::{calculate_ttl, go_quote, go_time, TtlLimits};
use crate::token::{RevocationListener, TokenEntry};

/// Failed revocations before a lease is marked irrevocable (OpenBao's
/// `maxRevokeAttempts`).
pub const MAX_REVOKE_ATTEMPTS: u32 = 6;
/// Base of the exponential backoff between revocation attempts (OpenBao's
/// `revokeRetryBase`); attempt `n` waits `2^n * base`, ±50 %.
pub const REVOKE_RETRY_BASE: Duration = Duration::from_secs(10);
/// How often an irrevocable lease is tried again.
pub const IRREVOCABLE_RETRY: Duration = Duration::from_secs(24 * 3600);
/// Longest `revoke_error` kept (OpenBao's `maxIrrevocableErrorLength`).
const MAX_REVOKE_ERROR_LEN: usize = 240;
/// Revocations run at once by the background task.
const REVOKE_CONCURRENCY: usize = 16;

/// A registered lease, stored at `sys/expire/id/<lease_id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseEntry {
    pub lease_id: String,
    /// The request path that issued the secret (`database/creds/ro`).
    pub path: String,
    /// The token the lease is indexed under: the creating service token, or
    /// a batch token's parent; empty when there is none.
    #[serde(default)]
    pub token_hid: String,
    /// Whether the creating token was a batch token (its leases end with it).
    #[serde(default)]
    pub batch_token: bool,
    pub issue_time: DateTime<Utc>,
    /// When the lease ends; `None` never (not renewable either).
    pub expire_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_renewal: Option<DateTime<Utc>>,
    /// The current lease duration in seconds.
    pub ttl: u64,
    pub renewable: bool,
    /// The backend's own max TTL in seconds (0: the mount's and system's).
    #[serde(default)]
    pub max_ttl: u64,
    /// Backend-private facts ([`crate::logical::SecretInternal::data`]).
    #[serde(default)]
    pub internal: Data,
    /// Failed revocation attempts so far.
    #[serde(default)]
    pub revoke_attempts: u32,
    /// Set once the lease is irrevocable: the last revocation error.
    #[serde(default)]
    pub revoke_error: Option<String>,
}

impl LeaseEntry {
    /// Whether the lease may be renewed now, with OpenBao's refusals.
    pub fn check_renewable(&self) -> Result<(), String> {
        if self.revoke_error.is_some() {
            return Err("lease is expired and has failed previous revocation attempts".into());
        }
        let Some(expire) = self.expire_time else {
            return Err("lease is not renewable".into());
        };
        if self.batch_token {
            return Err("lease is not renewable".into());
        }
        if expire < Utc::now() {
            return Err("lease expired".into());
        }
        if !self.renewable {
            return Err("lease is not renewable".into());
        }
        Ok(())
    }

    /// Whether the lease has expired.
    pub fn expired(&self) -> bool {
        matches!(self.expire_time, Some(t) if t <= Utc::now())
    }
}

/// Seconds left until `expire`, as OpenBao's `leaseEntry.ttl()` computes it
/// (against the current time rounded to the second, truncated).
fn ttl_left(expire: DateTime<Utc>) -> i64 {
    let now = Utc::now();
    let rounded = DateTime::from_timestamp(
        now.timestamp() + i64::from(now.timestamp_subsec_nanos() >= 500_000_000),
        0,
    )
    .unwrap_or(now);
    let d = expire - rounded;
    d.num_seconds()
}

/// The lookup data shared by secret and token leases, keys sorted as Go's
/// JSON encoding of a map orders them.
#[allow(clippy::too_many_arguments)]
fn lookup_data(
    id: &str,
    path: &str,
    issue_time: Option<String>,
    expire_time: Option<DateTime<Utc>>,
    last_renewal: Option<DateTime<Utc>>,
    renewable: bool,
    revoke_error: Option<&str>,
) -> Data {
    let mut d = Data::new();
    d.insert(
        "expire_time".into(),
        expire_time
            .map(|t| json!(go_time(t)))
            .unwrap_or(Value::Null),
    );
    d.insert("id".into(), json!(id));
    d.insert("issue_time".into(), json!(issue_time));
    d.insert(
        "last_renewal".into(),
        last_renewal
            .map(|t| json!(go_time(t)))
            .unwrap_or(Value::Null),
    );
    d.insert("path".into(), json!(path));
    d.insert("renewable".into(), json!(renewable));
    if let Some(e) = revoke_error {
        d.insert("revoke_error".into(), json!(e));
    }
    d.insert("ttl".into(), json!(expire_time.map(ttl_left).unwrap_or(0)));
    d
}

/// A random base62 lease suffix, as OpenBao's (24 characters).
fn random_suffix() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..24)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// The TTL limits of a mount: its own, or the system's where unset.
pub fn mount_limits(config: &CoreConfig, mount: &MountEntry) -> TtlLimits {
    let pick = |secs: u64, system: Duration| {
        if secs == 0 {
            system
        } else {
            Duration::from_secs(secs)
        }
    };
    TtlLimits {
        default_ttl: pick(mount.config.default_lease_ttl, config.default_lease_ttl),
        max_ttl: pick(mount.config.max_lease_ttl, config.max_lease_ttl),
    }
}

/// The lease id OpenBao gives a token: its creation path and `h` + its hash.
/// `None` for tokens without a lease (the initial root token, batch tokens).
pub fn token_lease_id(t: &TokenEntry) -> Option<String> {
    if t.no_lease || t.is_batch() || t.hid.is_empty() || t.path.is_empty() {
        return None;
    }
    Some(format!("{}/h{}", t.path.trim_end_matches('/'), t.hid))
}

/// Whether a revocation error will not go away by retrying (OpenBao's
/// `errIsUnrecoverable`): the lease is marked irrevocable at once.
fn unrecoverable(e: &CoreError) -> bool {
    matches!(
        e,
        CoreError::InvalidRequest(_)
            | CoreError::InvalidRequestMulti(_)
            | CoreError::UnsupportedPath
            | CoreError::UnsupportedOperation
    )
}

/// How a backend's revocation failure reads, as OpenBao's `revokeEntry` wraps it.
fn revoke_failed(e: &CoreError) -> String {
    format!("failed to revoke entry: resp: (*logical.Response)(nil) err: {e}")
}

/// The in-memory schedule of due times.
#[derive(Default)]
struct Schedule {
    by_time: BTreeSet<(DateTime<Utc>, String)>,
    by_id: HashMap<String, DateTime<Utc>>,
}

impl Schedule {
    fn set(&mut self, id: &str, at: DateTime<Utc>) {
        if let Some(old) = self.by_id.insert(id.to_string(), at) {
            self.by_time.remove(&(old, id.to_string()));
        }
        self.by_time.insert((at, id.to_string()));
    }

    fn remove(&mut self, id: &str) {
        if let Some(old) = self.by_id.remove(id) {
            self.by_time.remove(&(old, id.to_string()));
        }
    }

    fn next(&self) -> Option<DateTime<Utc>> {
        self.by_time.first().map(|(t, _)| *t)
    }

    fn take_due(&mut self, now: DateTime<Utc>, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.by_time.first() {
                Some((t, _)) if *t <= now => {}
                _ => break,
            }
            if let Some((_, id)) = self.by_time.pop_first() {
                self.by_id.remove(&id);
                out.push(id);
            }
        }
        out
    }
}

/// The expiration manager of an unsealed core.
pub struct ExpirationManager {
    view: StorageView,
    schedule: Mutex<Schedule>,
    wake: tokio::sync::Notify,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    retry_base: RwLock<Duration>,
    tidy_running: AtomicBool,
}

impl ExpirationManager {
    /// A manager over `sys/expire/` with an empty schedule (see [`run`](Self::run)).
    pub fn new(barrier: Arc<Barrier>) -> Arc<Self> {
        Arc::new(ExpirationManager {
            view: StorageView::new(barrier, "sys/expire/"),
            schedule: Mutex::new(Schedule::default()),
            wake: tokio::sync::Notify::new(),
            locks: Mutex::new(HashMap::new()),
            retry_base: RwLock::new(REVOKE_RETRY_BASE),
            tidy_running: AtomicBool::new(false),
        })
    }

    /// Changes the backoff base (tests use milliseconds).
    pub fn set_retry_base(&self, base: Duration) {
        *self.retry_base.write() = base;
    }

    /// How many leases are waiting in the schedule.
    pub fn pending_count(&self) -> usize {
        self.schedule.lock().by_id.len()
    }

    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock();
        if locks.len() > 1024 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks
            .entry(id.to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(())))
            .clone()
    }

    fn schedule_at(&self, id: &str, at: DateTime<Utc>) {
        self.schedule.lock().set(id, at);
        self.wake.notify_one();
    }

    fn unschedule(&self, id: &str) {
        self.schedule.lock().remove(id);
    }

    fn entry_key(id: &str) -> String {
        format!("id/{id}")
    }

    fn index_key(token_hid: &str, id: &str) -> String {
        format!(
            "token/{token_hid}/{}",
            hex::encode(Sha256::digest(id.as_bytes()))
        )
    }

    /// A valid lease id: not empty, no empty segment, no trailing slash.
    fn valid_id(id: &str) -> bool {
        !id.is_empty() && !id.ends_with('/') && !id.starts_with('/') && !id.contains("//")
    }

    /// The stored lease with this id.
    pub async fn load(&self, id: &str) -> Result<Option<LeaseEntry>, CoreError> {
        if !Self::valid_id(id) {
            return Ok(None);
        }
        self.view.get_json(&Self::entry_key(id)).await
    }

    async fn persist(&self, e: &LeaseEntry) -> Result<(), CoreError> {
        self.view.put_json(&Self::entry_key(&e.lease_id), e).await
    }

    async fn delete(&self, e: &LeaseEntry) -> Result<(), CoreError> {
        let mut ops = vec![(Self::entry_key(&e.lease_id), None)];
        if !e.token_hid.is_empty() {
            ops.push((Self::index_key(&e.token_hid, &e.lease_id), None));
        }
        self.view.transaction(ops).await?;
        self.unschedule(&e.lease_id);
        Ok(())
    }

    /// Every stored lease id under `prefix` (which ends with `/` or is empty).
    async fn collect_ids(&self, prefix: &str) -> Result<Vec<String>, CoreError> {
        let mut out = Vec::new();
        let mut stack = vec![prefix.to_string()];
        while let Some(p) = stack.pop() {
            for child in self.view.list(&format!("id/{p}")).await? {
                let full = format!("{p}{child}");
                if child.ends_with('/') {
                    stack.push(full);
                } else {
                    out.push(full);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    // ------------------------------------------------------------ registering

    /// Registers the lease of a response carrying `secret_internal`: clamps
    /// the TTL, stores the lease and its token index, and fills
    /// `resp.lease`. Responses without `secret_internal` are left alone.
    pub async fn register(
        &self,
        config: &CoreConfig,
        mount: &MountEntry,
        req: &Request,
        resp: &mut Response,
    ) -> Result<(), CoreError> {
        let Some(internal) = resp.secret_internal.take() else {
            return Ok(());
        };
        let asked = resp.lease.as_ref().map(|l| l.lease_duration).unwrap_or(0);
        let renewable = resp.lease.as_ref().is_some_and(|l| l.renewable);
        let (mut ttl, warnings) = calculate_ttl(
            mount_limits(config, mount),
            0,
            asked,
            0,
            internal.max_ttl,
            0,
            None,
        )
        .map_err(CoreError::invalid)?;
        resp.warnings.extend(warnings);

        let now = Utc::now();
        let mut expire = now + chrono::Duration::seconds(ttl as i64);
        let (token_hid, batch) = match &req.token {
            Some(t) if t.is_batch() => {
                // A batch token's leases end with it; they are indexed under
                // its parent, as OpenBao does.
                if let Some(te) = t.expire_time {
                    if te < expire {
                        expire = te;
                        ttl = (te - now).num_seconds().max(0) as u64;
                    }
                }
                (t.parent.clone(), true)
            }
            Some(t) => (t.hid.clone(), false),
            None => (String::new(), false),
        };
        let path = req.path.trim_matches('/').to_string();
        let id = format!("{path}/{}", random_suffix());
        let entry = LeaseEntry {
            lease_id: id.clone(),
            path,
            token_hid,
            batch_token: batch,
            issue_time: now,
            expire_time: Some(expire),
            last_renewal: None,
            ttl,
            renewable: renewable && !batch,
            max_ttl: internal.max_ttl,
            internal: internal.data,
            revoke_attempts: 0,
            revoke_error: None,
        };
        let bytes = Zeroizing::new(
            serde_json::to_vec(&entry).map_err(|e| CoreError::Internal(e.to_string()))?,
        );
        let mut ops = vec![(Self::entry_key(&id), Some(bytes.to_vec()))];
        if !entry.token_hid.is_empty() {
            ops.push((
                Self::index_key(&entry.token_hid, &id),
                Some(id.clone().into_bytes()),
            ));
        }
        self.view.transaction(ops).await?;
        self.schedule_at(&id, expire);
        resp.lease = Some(LeaseInfo {
            lease_id: id,
            lease_duration: ttl,
            renewable: entry.renewable,
        });
        Ok(())
    }

    // --------------------------------------------------------------- lookups

    /// `sys/leases/lookup`: the lease's facts, or `None` for an unknown id.
    pub async fn lookup(&self, active: &Active, id: &str) -> Result<Option<Data>, CoreError> {
        if let Some(t) = token_for_lease(active, id).await? {
            let renewable = t.expire_time.is_some() && !t.expired() && t.renewable;
            let issue = if t.issue_time.is_empty() {
                None
            } else {
                Some(t.issue_time.clone())
            };
            return Ok(Some(lookup_data(
                id,
                t.path.trim_end_matches('/'),
                issue,
                t.expire_time,
                t.last_renewal,
                renewable,
                None,
            )));
        }
        let Some(e) = self.load(id).await? else {
            return Ok(None);
        };
        Ok(Some(lookup_data(
            id,
            &e.path,
            Some(go_time(e.issue_time)),
            e.expire_time,
            e.last_renewal,
            e.check_renewable().is_ok(),
            e.revoke_error.as_deref(),
        )))
    }

    /// `LIST sys/leases/lookup/PREFIX`: the next path segments under `prefix`
    /// (secret leases and token leases), sorted.
    pub async fn list(&self, active: &Active, prefix: &str) -> Result<Vec<String>, CoreError> {
        let prefix = match prefix.trim_start_matches('/') {
            "" => String::new(),
            p if p.ends_with('/') => p.to_string(),
            p => format!("{p}/"),
        };
        let mut keys: BTreeSet<String> = self
            .view
            .list(&format!("id/{prefix}"))
            .await?
            .into_iter()
            .collect();
        for (id, _) in token_leases(active, &prefix).await? {
            let rest = &id[prefix.len()..];
            match rest.find('/') {
                Some(i) => keys.insert(rest[..=i].to_string()),
                None => keys.insert(rest.to_string()),
            };
        }
        Ok(keys.into_iter().collect())
    }

    // -------------------------------------------------------------- renewing

    /// `sys/leases/renew`: asks the issuing backend, clamps the TTL from the
    /// issue time (capping it with a warning, refusing once past the max) and
    /// stores the new expiry.
    pub async fn renew(
        &self,
        active: &Arc<Active>,
        id: &str,
        increment: u64,
    ) -> Result<Response, CoreError> {
        if let Some(t) = token_for_lease(active, id).await? {
            if t.expire_time.is_none() || !t.renewable {
                return Err(CoreError::invalid("lease is not renewable"));
            }
            if t.expired() {
                return Err(CoreError::invalid("lease expired"));
            }
            return Err(CoreError::invalid(
                "tokens cannot be renewed through this endpoint",
            ));
        }
        let lock = self.lock_for(id);
        let _g = lock.lock().await;
        let Some(mut e) = self.load(id).await? else {
            return Err(CoreError::invalid("lease not found"));
        };
        e.check_renewable().map_err(CoreError::invalid)?;
        let Some((route, rel)) = active.route(&e.path) else {
            return Err(CoreError::invalid(format!(
                "no handler for route {:?}. route entry not found.",
                e.path
            )));
        };
        let ctx = Ctx {
            path: &rel,
            storage: &route.storage,
            mount: &route.entry,
            core: active,
        };
        let mut answer = route.backend.renew_secret(&ctx, &e, increment).await?;
        let backend_ttl = answer.lease.as_ref().map(|l| l.lease_duration).unwrap_or(0);
        let renewable = answer.lease.as_ref().map(|l| l.renewable).unwrap_or(false);
        let (internal, backend_max) = match answer.secret_internal.take() {
            Some(s) => (Some(s.data), s.max_ttl),
            None => (None, e.max_ttl),
        };
        let (ttl, warnings) = calculate_ttl(
            mount_limits(&active.config, &route.entry),
            increment,
            backend_ttl,
            0,
            backend_max,
            0,
            Some(e.issue_time),
        )
        .map_err(CoreError::invalid)?;
        let now = Utc::now();
        e.expire_time = Some(now + chrono::Duration::seconds(ttl as i64));
        e.last_renewal = Some(now);
        e.ttl = ttl;
        e.renewable = renewable;
        e.max_ttl = backend_max;
        if let Some(d) = internal {
            e.internal = d;
        }
        self.persist(&e).await?;
        if let Some(t) = e.expire_time {
            self.schedule_at(id, t);
        }
        answer.warnings.extend(warnings);
        answer.lease = Some(LeaseInfo {
            lease_id: id.to_string(),
            lease_duration: ttl,
            renewable,
        });
        Ok(answer)
    }

    // ------------------------------------------------------------- revoking

    /// Asks the backend of the mount that issued the lease to revoke it.
    async fn revoke_through_backend(
        &self,
        active: &Arc<Active>,
        e: &LeaseEntry,
    ) -> Result<(), CoreError> {
        let Some((route, rel)) = active.route(&e.path) else {
            return Err(CoreError::NoRoute(e.path.clone()));
        };
        let ctx = Ctx {
            path: &rel,
            storage: &route.storage,
            mount: &route.entry,
            core: active,
        };
        route.backend.revoke_secret(&ctx, e).await
    }

    /// Revokes one lease now. A backend failure is returned (the lease stays)
    /// unless `force`, which deletes the lease anyway. An unknown id is fine.
    pub async fn revoke(
        &self,
        active: &Arc<Active>,
        id: &str,
        force: bool,
    ) -> Result<(), CoreError> {
        if let Some(t) = token_for_lease(active, id).await? {
            return active.tokens.revoke_tree(&t.hid).await;
        }
        let lock = self.lock_for(id);
        let _g = lock.lock().await;
        let Some(e) = self.load(id).await? else {
            return Ok(());
        };
        if let Err(err) = self.revoke_through_backend(active, &e).await {
            if !force {
                return Err(CoreError::invalid(revoke_failed(&err)));
            }
            tracing::warn!(lease_id = %id, error = %err,
                "revocation from the backend failed, but in force mode so ignoring");
        }
        self.delete(&e).await
    }

    /// Marks a lease expired now and leaves the revocation to the background
    /// task (OpenBao's `LazyRevoke`). Token leases are revoked at once.
    pub async fn revoke_lazy(&self, active: &Arc<Active>, id: &str) -> Result<(), CoreError> {
        if let Some(t) = token_for_lease(active, id).await? {
            return active.tokens.revoke_tree(&t.hid).await;
        }
        self.expire_now(id).await
    }

    async fn expire_now(&self, id: &str) -> Result<(), CoreError> {
        let lock = self.lock_for(id);
        let _g = lock.lock().await;
        let Some(mut e) = self.load(id).await? else {
            return Ok(());
        };
        let now = Utc::now();
        e.expire_time = Some(now);
        self.persist(&e).await?;
        self.schedule_at(id, now);
        Ok(())
    }

    /// `sys/leases/revoke-prefix` (`force`: `revoke-force`): every lease whose
    /// id starts with `prefix/` (or the one lease named `prefix`), secrets and
    /// tokens. `sync` revokes now and stops at the first failure; otherwise the
    /// leases are marked expired for the background task.
    pub async fn revoke_prefix(
        &self,
        active: &Arc<Active>,
        prefix: &str,
        force: bool,
        sync: bool,
    ) -> Result<(), CoreError> {
        let mut prefix = prefix.trim_start_matches('/').to_string();
        if !prefix.ends_with('/') {
            let exact = self.load(&prefix).await?.is_some()
                || token_for_lease(active, &prefix).await?.is_some();
            if exact {
                let r = if sync {
                    self.revoke(active, &prefix, force).await
                } else {
                    self.revoke_lazy(active, &prefix).await
                };
                return r.map_err(|e| {
                    CoreError::invalid(format!("failed to revoke {}: {e}", go_quote(&prefix)))
                });
            }
            prefix.push('/');
        }
        let mut ids = self.collect_ids(&prefix).await?;
        ids.extend(
            token_leases(active, &prefix)
                .await?
                .into_iter()
                .map(|(id, _)| id),
        );
        let n = ids.len();
        for (i, id) in ids.iter().enumerate() {
            let r = if sync {
                self.revoke(active, id, force).await
            } else {
                self.revoke_lazy(active, id).await
            };
            r.map_err(|e| {
                CoreError::invalid(format!(
                    "failed to revoke {} ({} / {n}): {e}",
                    go_quote(id),
                    i + 1
                ))
            })?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- tidy

    /// `sys/leases/tidy`: revokes (forcibly) every lease whose token is gone
    /// or that has none, and drops token index entries without a lease.
    /// Returns `false` when a tidy is already running.
    pub async fn tidy(&self, active: &Arc<Active>) -> Result<bool, CoreError> {
        if self.tidy_running.swap(true, Ordering::SeqCst) {
            tracing::warn!("tidy operation on leases is already in progress");
            return Ok(false);
        }
        let r = self.tidy_inner(active).await;
        self.tidy_running.store(false, Ordering::SeqCst);
        r.map(|_| true)
    }

    async fn tidy_inner(&self, active: &Arc<Active>) -> Result<(), CoreError> {
        tracing::info!("beginning tidy operation on leases");
        let mut valid: HashMap<String, bool> = HashMap::new();
        let (mut scanned, mut revoked) = (0usize, 0usize);
        for id in self.collect_ids("").await? {
            scanned += 1;
            let Some(e) = self.load(&id).await? else {
                continue;
            };
            if e.batch_token {
                // Not stored: a batch token's leases end with it.
                continue;
            }
            let ok = if e.token_hid.is_empty() {
                false
            } else if let Some(v) = valid.get(&e.token_hid) {
                *v
            } else {
                let v = active
                    .tokens
                    .lookup_hid_tainted(&e.token_hid)
                    .await?
                    .is_some();
                valid.insert(e.token_hid.clone(), v);
                v
            };
            if !ok {
                self.revoke(active, &id, true).await?;
                revoked += 1;
            }
        }
        // Index entries whose lease is gone.
        for hid in self.view.list("token/").await? {
            let dir = format!("token/{hid}");
            for key in self.view.list(&dir).await? {
                let path = format!("{dir}{key}");
                let Some(raw) = self.view.get(&path).await? else {
                    continue;
                };
                let id = String::from_utf8_lossy(&raw).to_string();
                if self.load(&id).await?.is_none() {
                    self.view.delete(&path).await?;
                }
            }
        }
        tracing::info!(scanned, revoked, "finished tidy operation on leases");
        Ok(())
    }

    // ------------------------------------------------------ background task

    /// Rebuilds the schedule from storage (at unseal).
    pub async fn restore(&self) -> Result<usize, CoreError> {
        let ids = self.collect_ids("").await?;
        let now = Utc::now();
        let mut n = 0;
        for id in ids {
            let Some(e) = self.load(&id).await? else {
                continue;
            };
            let at = if e.revoke_error.is_some() {
                now + chrono::Duration::from_std(IRREVOCABLE_RETRY).unwrap_or_default()
            } else {
                match e.expire_time {
                    Some(t) => t,
                    None => continue,
                }
            };
            self.schedule.lock().set(&id, at);
            n += 1;
        }
        self.wake.notify_one();
        tracing::info!(leases = n, "restored leases");
        Ok(n)
    }

    /// The background task: restores the schedule, then sleeps until the next
    /// due lease and revokes what is due. Ends when the core is gone (the
    /// core aborts it when sealing).
    pub async fn run(self: Arc<Self>, active: Weak<Active>) {
        loop {
            match self.restore().await {
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = %e, "restoring leases failed; retrying");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    if active.strong_count() == 0 {
                        return;
                    }
                }
            }
        }
        loop {
            let next = self.schedule.lock().next();
            let now = Utc::now();
            match next {
                None => {
                    self.wake.notified().await;
                    continue;
                }
                Some(t) if t > now => {
                    let wait = (t - now).to_std().unwrap_or(Duration::ZERO);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.wake.notified() => {}
                    }
                    continue;
                }
                Some(_) => {}
            }
            let due = self.schedule.lock().take_due(now, REVOKE_CONCURRENCY);
            let Some(a) = active.upgrade() else { return };
            let mut set = tokio::task::JoinSet::new();
            for id in due {
                let (m, a) = (self.clone(), a.clone());
                set.spawn(async move { m.expire_one(&a, &id).await });
            }
            drop(a);
            while set.join_next().await.is_some() {}
        }
    }

    /// Revokes one due lease through its backend; on failure records the
    /// attempt and schedules the next one (or marks the lease irrevocable).
    async fn expire_one(&self, active: &Arc<Active>, id: &str) {
        let lock = self.lock_for(id);
        let _g = lock.lock().await;
        let mut e = match self.load(id).await {
            Ok(Some(e)) => e,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(lease_id = %id, error = %err, "loading an expiring lease failed");
                self.schedule_at(id, Utc::now() + self.backoff(1));
                return;
            }
        };
        match e.expire_time {
            None => return,
            Some(t) if t > Utc::now() => {
                // Renewed since it was scheduled.
                self.schedule_at(id, t);
                return;
            }
            Some(_) => {}
        }
        let err = match self.revoke_through_backend(active, &e).await {
            Ok(()) => match self.delete(&e).await {
                Ok(()) => {
                    tracing::info!(lease_id = %id, "revoked lease");
                    return;
                }
                Err(err) => err,
            },
            Err(err) => err,
        };
        e.revoke_attempts += 1;
        let next = if e.revoke_attempts >= MAX_REVOKE_ATTEMPTS || unrecoverable(&err) {
            let mut msg = err.to_string();
            if e.revoke_attempts >= MAX_REVOKE_ATTEMPTS {
                msg = format!("out of retries: {msg}");
            }
            if msg.is_empty() {
                msg = "unknown".into();
            }
            msg.truncate(
                (0..=MAX_REVOKE_ERROR_LEN.min(msg.len()))
                    .rev()
                    .find(|i| msg.is_char_boundary(*i))
                    .unwrap_or(0),
            );
            tracing::error!(lease_id = %id, error = %msg, "failed to revoke lease; marking it irrevocable");
            e.revoke_error = Some(msg);
            chrono::Duration::from_std(IRREVOCABLE_RETRY).unwrap_or_default()
        } else {
            let wait = self.backoff(e.revoke_attempts);
            tracing::error!(lease_id = %id, error = %err, attempts = e.revoke_attempts,
                next_attempt = ?wait, "failed to revoke lease");
            wait
        };
        if let Err(perr) = self.persist(&e).await {
            tracing::warn!(lease_id = %id, error = %perr, "recording a failed revocation failed");
        }
        self.schedule_at(id, Utc::now() + next);
    }

    /// `2^attempt * base`, ±50 % (OpenBao's `revokeExponentialBackoff`).
    fn backoff(&self, attempt: u32) -> chrono::Duration {
        let base = *self.retry_base.read();
        let exp = base.saturating_mul(1u32 << attempt.min(20));
        let factor: f64 = rand::thread_rng().gen_range(0.5..1.5);
        chrono::Duration::from_std(exp.mul_f64(factor)).unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl RevocationListener for ExpirationManager {
    /// Marks every lease the token created expired now; the background task
    /// revokes them through their backends (OpenBao's `RevokeByToken`).
    async fn token_revoked(&self, hid: &str) -> Result<(), CoreError> {
        let dir = format!("token/{hid}/");
        for key in self.view.list(&dir).await? {
            let Some(raw) = self.view.get(&format!("{dir}{key}")).await? else {
                continue;
            };
            let id = String::from_utf8_lossy(&raw).to_string();
            self.expire_now(&id).await?;
        }
        Ok(())
    }
}

/// The live token whose lease id is `id` (`PATH/h<hid>`), if any.
async fn token_for_lease(active: &Active, id: &str) -> Result<Option<Arc<TokenEntry>>, CoreError> {
    let Some((_, last)) = id.rsplit_once('/') else {
        return Ok(None);
    };
    let Some(hid) = last.strip_prefix('h') else {
        return Ok(None);
    };
    if hid.len() != 64 || !hid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Some(t) = active.tokens.lookup_hid(hid).await? else {
        return Ok(None);
    };
    Ok(token_lease_id(&t).filter(|l| l == id).map(|_| t))
}

/// Every live token lease whose id starts with `prefix`.
async fn token_leases(
    active: &Active,
    prefix: &str,
) -> Result<Vec<(String, Arc<TokenEntry>)>, CoreError> {
    let mut out = Vec::new();
    for acc in active.tokens.list_accessors().await? {
        let Some(t) = active.tokens.lookup_accessor(&acc).await? else {
            continue;
        };
        if let Some(id) = token_lease_id(&t) {
            if id.starts_with(prefix) {
                out.push((id, t));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Test support: backends that tests mount under their own type names
/// (never registered in the production factory).
#[cfg(test)]
pub(crate) mod test_backends {
    use std::sync::Arc;

    use crate::logical::Backend;

    static REGISTRY: parking_lot::Mutex<Vec<(String, Arc<dyn Backend>)>> =
        parking_lot::Mutex::new(Vec::new());

    /// Makes `mount_type` build `backend` (the same instance every time, so
    /// it survives seal and unseal).
    pub fn register(mount_type: &str, backend: Arc<dyn Backend>) {
        REGISTRY.lock().push((mount_type.to_string(), backend));
    }

    /// The backend registered for `mount_type`.
    pub fn lookup(mount_type: &str) -> Option<Arc<dyn Backend>> {
        REGISTRY
            .lock()
            .iter()
            .find(|(t, _)| t == mount_type)
            .map(|(_, b)| b.clone())
    }
}

#[cfg(test)]
mod tests;
