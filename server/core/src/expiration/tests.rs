//! Lease tests through [`Core::handle_request`] on in-memory storage, with a
//! test-only dynamic-secret backend mounted at `dyn/` that records
//! revocations and can be made to fail them. Texts follow OpenBao 2.7.2
//! (`sys-leases-*.txt` and a live server with the database engine).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::{test_backends, LeaseEntry, MAX_REVOKE_ATTEMPTS};
use crate::core::{Active, InitRequest};
use crate::error::CoreError;
use crate::logical::{
    Backend, Ctx, Data, LeaseInfo, Operation, Operation::*, Request, Response, SecretInternal,
};
use crate::mounts::{MountEntry, TableKind};
use crate::physical::InmemBackend;
use crate::{Core, CoreConfig};

/// A dynamic-secret engine: `READ creds/ROLE` issues `ROLE-N` with a lease.
#[derive(Default)]
pub(crate) struct Dyn {
    /// The TTL it asks for (seconds; 0: the mount default).
    pub ttl: AtomicU64,
    /// Its max TTL (0: none of its own).
    pub max_ttl: AtomicU64,
    pub not_renewable: AtomicBool,
    /// Revocations to fail before succeeding again.
    pub fail_revokes: AtomicU32,
    /// Fail with an error retrying cannot fix.
    pub fail_unrecoverable: AtomicBool,
    pub revoked: Mutex<Vec<String>>,
    pub revoke_calls: AtomicU32,
    pub renewals: Mutex<Vec<(String, u64)>>,
    counter: AtomicU64,
}

impl Dyn {
    pub fn revoked(&self) -> Vec<String> {
        self.revoked.lock().clone()
    }
}

fn user_of(lease: &LeaseEntry) -> String {
    lease
        .internal
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[async_trait]
impl Backend for Dyn {
    async fn handle(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
        match (req.operation, ctx.path) {
            (Read, "static") => Ok(Response {
                // An informational lease duration, as KV v1 gives: no lease.
                data: Some(Data::new()),
                lease: Some(LeaseInfo {
                    lease_id: String::new(),
                    lease_duration: 60,
                    renewable: false,
                }),
                ..Default::default()
            }),
            (Read, p) if p.starts_with("creds/") => {
                let n = self.counter.fetch_add(1, Ordering::SeqCst);
                let user = format!("{}-{n}", &p["creds/".len()..]);
                let mut data = Data::new();
                data.insert("username".into(), json!(user));
                data.insert("password".into(), json!(format!("pw-{n}")));
                let mut internal = Data::new();
                internal.insert("username".into(), json!(user));
                Ok(Response {
                    data: Some(data),
                    lease: Some(LeaseInfo {
                        lease_id: String::new(),
                        lease_duration: self.ttl.load(Ordering::SeqCst),
                        renewable: !self.not_renewable.load(Ordering::SeqCst),
                    }),
                    secret_internal: Some(SecretInternal {
                        data: internal,
                        max_ttl: self.max_ttl.load(Ordering::SeqCst),
                    }),
                    ..Default::default()
                })
            }
            _ => Err(CoreError::UnsupportedPath),
        }
    }

    async fn renew_secret(
        &self,
        _ctx: &Ctx<'_>,
        lease: &LeaseEntry,
        increment: u64,
    ) -> Result<Response, CoreError> {
        self.renewals.lock().push((user_of(lease), increment));
        Ok(Response {
            lease: Some(LeaseInfo {
                lease_id: String::new(),
                lease_duration: self.ttl.load(Ordering::SeqCst),
                renewable: true,
            }),
            secret_internal: Some(SecretInternal {
                data: lease.internal.clone(),
                max_ttl: self.max_ttl.load(Ordering::SeqCst),
            }),
            ..Default::default()
        })
    }

    async fn revoke_secret(&self, _ctx: &Ctx<'_>, lease: &LeaseEntry) -> Result<(), CoreError> {
        self.revoke_calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_unrecoverable.load(Ordering::SeqCst) {
            return Err(CoreError::invalid("role is gone"));
        }
        let left = self.fail_revokes.load(Ordering::SeqCst);
        if left > 0 {
            self.fail_revokes.store(left - 1, Ordering::SeqCst);
            return Err(CoreError::Internal("target is down".into()));
        }
        self.revoked.lock().push(user_of(lease));
        Ok(())
    }
}

/// An unsealed core (with its unseal key) and `dyn/` mounted.
pub(crate) struct Env {
    pub core: Arc<Core>,
    pub root: String,
    pub key: String,
    pub dynb: Arc<Dyn>,
}

pub(crate) async fn env() -> Env {
    env_with(CoreConfig::default()).await
}

pub(crate) async fn env_with(config: CoreConfig) -> Env {
    let core = Core::new(Arc::new(InmemBackend::new()), config);
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
    let dynb = Arc::new(Dyn {
        ttl: AtomicU64::new(3600),
        ..Default::default()
    });
    let ty = format!("dyn-test-{}", uuid::Uuid::new_v4().simple());
    test_backends::register(&ty, dynb.clone());
    let env = Env {
        core,
        root,
        key,
        dynb,
    };
    let active = env.active();
    active
        .mount(MountEntry::new(TableKind::Secrets, "dyn", &ty, ""))
        .await
        .expect("mount dyn/");
    active.expiration.set_retry_base(Duration::from_millis(20));
    env
}

impl Env {
    pub fn active(&self) -> Arc<Active> {
        self.core.active().expect("unsealed")
    }

    pub async fn call(
        &self,
        token: Option<&str>,
        op: Operation,
        path: &str,
        data: Value,
    ) -> Result<Response, CoreError> {
        let mut req = Request::new(op, path).with_data(data);
        if let Some(t) = token {
            req = req.with_token(t);
        }
        self.core.handle_request(req).await
    }

    pub async fn root(
        &self,
        op: Operation,
        path: &str,
        data: Value,
    ) -> Result<Response, CoreError> {
        let root = self.root.clone();
        self.call(Some(&root), op, path, data).await
    }

    pub async fn ok(&self, op: Operation, path: &str, data: Value) -> Response {
        self.root(op, path, data)
            .await
            .unwrap_or_else(|e| panic!("{} {path}: {e:?}", op.as_str()))
    }

    /// Issues a secret from `dyn/creds/ROLE` with `token` (root when `None`).
    pub async fn issue(&self, token: Option<&str>, role: &str) -> (String, Response) {
        let root = self.root.clone();
        let r = self
            .call(
                Some(token.unwrap_or(&root)),
                Read,
                &format!("dyn/creds/{role}"),
                json!({}),
            )
            .await
            .expect("issue");
        let id = r.lease.as_ref().expect("lease").lease_id.clone();
        (id, r)
    }

    pub async fn lookup(&self, id: &str) -> Result<Data, CoreError> {
        self.root(Update, "sys/leases/lookup", json!({"lease_id": id}))
            .await
            .map(|r| r.data.expect("data"))
    }

    pub async fn token(&self, policies: &[&str], extra: Value) -> String {
        let mut body = json!({"policies": policies});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        self.ok(Update, "auth/token/create", body)
            .await
            .auth
            .expect("auth")
            .client_token
    }

    pub async fn seal_unseal(&self) {
        self.core.seal().await.expect("seal");
        self.core.unseal(&self.key).await.expect("unseal");
    }
}

fn invalid(r: Result<impl std::fmt::Debug, CoreError>) -> String {
    match r {
        Err(CoreError::InvalidRequest(m)) => m,
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

/// Polls `f` until it holds (or panics after `secs`).
pub(crate) async fn eventually<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

fn keys(r: &Response) -> Vec<String> {
    serde_json::from_value(r.data.as_ref().expect("data")["keys"].clone()).expect("keys")
}

// ------------------------------------------------------------ registering

#[tokio::test]
async fn dynamic_secrets_get_leases() {
    let e = env().await;
    let (id, r) = e.issue(None, "web").await;
    let suffix = id.strip_prefix("dyn/creds/web/").expect("id shape");
    assert_eq!(suffix.len(), 24);
    assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()));
    let lease = r.lease.expect("lease");
    assert_eq!((lease.lease_duration, lease.renewable), (3600, true));
    assert!(r.secret_internal.is_none());
    assert_eq!(r.data.expect("data")["username"], "web-0");

    let d = e.lookup(&id).await.expect("lookup");
    assert_eq!(
        d.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "expire_time",
            "id",
            "issue_time",
            "last_renewal",
            "path",
            "renewable",
            "ttl"
        ]
    );
    assert_eq!(d["id"], json!(id));
    assert_eq!(d["path"], "dyn/creds/web");
    assert_eq!(d["renewable"], true);
    assert_eq!(d["last_renewal"], Value::Null);
    let ttl = d["ttl"].as_i64().expect("ttl");
    assert!((3598..=3600).contains(&ttl), "{ttl}");
    assert!(d["issue_time"].as_str().expect("issue").ends_with('Z'));

    // The stored lease keeps the backend's internal data, behind the barrier.
    let stored = e
        .active()
        .expiration
        .load(&id)
        .await
        .expect("load")
        .expect("stored");
    assert_eq!(stored.internal["username"], "web-0");
    assert!(stored.internal.get("password").is_none());

    // An informational lease duration (KV v1 style) registers nothing.
    let r = e.ok(Read, "dyn/static", json!({})).await;
    assert_eq!(r.lease.as_ref().map(|l| l.lease_id.as_str()), Some(""));
    e.ok(Update, "sys/mounts/kv1", json!({"type": "kv"})).await;
    e.ok(Update, "kv1/x", json!({"a": "b"})).await;
    let r = e.ok(Read, "kv1/x", json!({})).await;
    assert_eq!(r.lease.as_ref().map(|l| l.lease_id.as_str()), Some(""));
    assert!(matches!(
        e.root(List, "sys/leases/lookup/kv1", json!({})).await,
        Err(CoreError::NotFound)
    ));
    assert!(matches!(
        e.root(List, "sys/leases/lookup/dyn/static", json!({}))
            .await,
        Err(CoreError::NotFound)
    ));
}

#[tokio::test]
async fn lookup_errors_and_listing() {
    let e = env().await;
    assert_eq!(
        invalid(e.lookup("dyn/creds/web/nope").await),
        "invalid lease"
    );
    assert_eq!(
        invalid(e.root(Update, "sys/leases/lookup", json!({})).await),
        "lease_id must be specified"
    );
    let (a, _) = e.issue(None, "web").await;
    let (b, _) = e.issue(None, "web").await;
    let (c, _) = e.issue(None, "db").await;
    let suffix = |id: &str| id.rsplit('/').next().expect("suffix").to_string();

    let mut want = vec![suffix(&a), suffix(&b)];
    want.sort();
    for path in [
        "sys/leases/lookup/dyn/creds/web",
        "sys/leases/lookup/dyn/creds/web/",
    ] {
        assert_eq!(keys(&e.ok(List, path, json!({})).await), want, "{path}");
    }
    assert_eq!(
        keys(
            &e.ok(List, "sys/leases/lookup/dyn/creds/db", json!({}))
                .await
        ),
        [suffix(&c)]
    );
    assert_eq!(
        keys(&e.ok(List, "sys/leases/lookup/dyn", json!({})).await),
        ["creds/"]
    );
    assert_eq!(
        keys(&e.ok(List, "sys/leases/lookup/dyn/creds", json!({})).await),
        ["db/", "web/"]
    );
    assert!(keys(&e.ok(List, "sys/leases/lookup", json!({})).await).contains(&"dyn/".to_string()));
    assert!(keys(&e.ok(List, "sys/leases/lookup/", json!({})).await).contains(&"dyn/".to_string()));
    assert!(matches!(
        e.root(List, "sys/leases/lookup/nothing", json!({})).await,
        Err(CoreError::NotFound)
    ));
    assert!(matches!(
        e.root(Read, "sys/leases/lookup/dyn/creds/web", json!({}))
            .await,
        Err(CoreError::UnsupportedOperation)
    ));
    assert!(matches!(
        e.root(Update, "sys/leases/lookup/dyn/creds/web", json!({}))
            .await,
        Err(CoreError::UnsupportedOperation)
    ));

    // Listing needs sudo; looking one up does not.
    e.ok(
        Update,
        "sys/policies/acl/leases",
        json!({"policy": "path \"sys/leases/*\" { capabilities = [\"update\", \"list\"] }"}),
    )
    .await;
    let t = e.token(&["leases"], json!({})).await;
    for path in [
        "sys/leases/lookup/dyn/creds/web",
        "sys/leases/lookup",
        "sys/leases/lookup/",
    ] {
        assert!(
            matches!(
                e.call(Some(&t), List, path, json!({})).await,
                Err(CoreError::PermissionDenied)
            ),
            "{path}"
        );
    }
    e.call(
        Some(&t),
        Update,
        "sys/leases/lookup",
        json!({"lease_id": a}),
    )
    .await
    .expect("lookup without sudo");

    // The legacy endpoints are gone, as in OpenBao.
    for path in ["sys/renew", "sys/revoke", "sys/revoke-prefix/dyn"] {
        assert!(
            matches!(
                e.root(Update, path, json!({"lease_id": a})).await,
                Err(CoreError::UnsupportedPath)
            ),
            "{path}"
        );
    }
    for path in [
        "sys/leases/revoke-prefix",
        "sys/leases/revoke-force",
        "sys/leases/nope",
    ] {
        assert!(
            matches!(
                e.root(Update, path, json!({})).await,
                Err(CoreError::UnsupportedPath)
            ),
            "{path}"
        );
    }
}

#[tokio::test]
async fn ttls_are_clamped_by_backend_mount_and_system() {
    let e = env_with(CoreConfig {
        default_lease_ttl: Duration::from_secs(1800),
        max_lease_ttl: Duration::from_secs(7200),
        ..Default::default()
    })
    .await;
    // Beyond the system max: capped, with OpenBao's warning.
    e.dynb.ttl.store(100_000, Ordering::SeqCst);
    let (_, r) = e.issue(None, "a").await;
    assert_eq!(r.lease.as_ref().expect("lease").lease_duration, 7200);
    assert_eq!(
        r.warnings,
        ["TTL of \"27h46m40s\" exceeded the effective max_ttl of \"2h\"; TTL value is capped accordingly"]
    );
    // No TTL of its own: the system default.
    e.dynb.ttl.store(0, Ordering::SeqCst);
    let (_, r) = e.issue(None, "a").await;
    assert_eq!(r.lease.expect("lease").lease_duration, 1800);
    // The backend's own max.
    e.dynb.ttl.store(3600, Ordering::SeqCst);
    e.dynb.max_ttl.store(600, Ordering::SeqCst);
    let (_, r) = e.issue(None, "a").await;
    assert_eq!(r.lease.expect("lease").lease_duration, 600);
    // The mount's tuned limits.
    e.dynb.max_ttl.store(0, Ordering::SeqCst);
    e.dynb.ttl.store(0, Ordering::SeqCst);
    e.ok(
        Update,
        "sys/mounts/dyn/tune",
        json!({"default_lease_ttl": "5m", "max_lease_ttl": "10m"}),
    )
    .await;
    let (_, r) = e.issue(None, "a").await;
    assert_eq!(r.lease.expect("lease").lease_duration, 300);
    e.dynb.ttl.store(3600, Ordering::SeqCst);
    let (_, r) = e.issue(None, "a").await;
    assert_eq!(r.lease.expect("lease").lease_duration, 600);
}

// -------------------------------------------------------------- renewing

#[tokio::test]
async fn renew_within_max_and_capped_beyond() {
    let e = env().await;
    e.dynb.max_ttl.store(5400, Ordering::SeqCst);
    let (id, _) = e.issue(None, "web").await;

    let r = e
        .ok(
            Update,
            "sys/leases/renew",
            json!({"lease_id": id, "increment": 60}),
        )
        .await;
    let l = r.lease.clone().expect("lease");
    assert_eq!(
        (l.lease_id.as_str(), l.lease_duration, l.renewable),
        (id.as_str(), 60, true)
    );
    assert!(r.data.is_none() && r.warnings.is_empty());
    assert_eq!(e.dynb.renewals.lock().clone(), [("web-0".to_string(), 60)]);
    let d = e.lookup(&id).await.expect("lookup");
    assert!(d["last_renewal"].is_string());
    assert!((58..=60).contains(&d["ttl"].as_i64().expect("ttl")));

    // No increment: the backend's TTL; the URL form takes the id.
    let r = e
        .ok(Update, &format!("sys/leases/renew/{id}"), json!({}))
        .await;
    assert_eq!(r.lease.expect("lease").lease_duration, 3600);
    let r = e
        .ok(
            Update,
            "sys/leases/renew",
            json!({"lease_id": id, "increment": "30s"}),
        )
        .await;
    assert_eq!(r.lease.expect("lease").lease_duration, 30);

    // Beyond the max TTL (counted from the issue time): capped, with a warning.
    let r = e
        .ok(
            Update,
            "sys/leases/renew",
            json!({"lease_id": id, "increment": 100_000}),
        )
        .await;
    let got = r.lease.expect("lease").lease_duration;
    assert!((5398..=5400).contains(&got), "{got}");
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].starts_with("TTL of \"27h46m40s\" exceeded the effective max_ttl of \"1h")
    );
    assert!(r.warnings[0].ends_with("\"; TTL value is capped accordingly"));

    assert_eq!(
        invalid(e.root(Update, "sys/leases/renew", json!({})).await),
        "lease_id must be specified"
    );
    assert_eq!(
        invalid(
            e.root(Update, "sys/leases/renew", json!({"lease_id": "dyn/x/y"}))
                .await
        ),
        "lease not found"
    );
    assert!(matches!(
        e.root(Read, "sys/leases/renew", json!({})).await,
        Err(CoreError::UnsupportedOperation)
    ));
    e.dynb.not_renewable.store(true, Ordering::SeqCst);
    let (fixed, r) = e.issue(None, "web").await;
    assert!(!r.lease.expect("lease").renewable);
    assert_eq!(
        invalid(
            e.root(Update, "sys/leases/renew", json!({"lease_id": fixed}))
                .await
        ),
        "lease is not renewable"
    );
    assert_eq!(e.lookup(&fixed).await.expect("lookup")["renewable"], false);
}

#[tokio::test]
async fn backends_without_renewal_refuse() {
    // A backend that keeps the trait's default renew_secret.
    struct Plain;
    #[async_trait]
    impl Backend for Plain {
        async fn handle(&self, _ctx: &Ctx<'_>, _req: &Request) -> Result<Response, CoreError> {
            Ok(Response {
                data: Some(Data::new()),
                lease: Some(LeaseInfo {
                    lease_id: String::new(),
                    lease_duration: 120,
                    renewable: true,
                }),
                secret_internal: Some(SecretInternal::default()),
                ..Default::default()
            })
        }
    }
    let e = env().await;
    let ty = format!("plain-{}", uuid::Uuid::new_v4().simple());
    test_backends::register(&ty, Arc::new(Plain));
    e.active()
        .mount(MountEntry::new(TableKind::Secrets, "plain", &ty, ""))
        .await
        .expect("mount");
    let r = e.ok(Read, "plain/anything", json!({})).await;
    let id = r.lease.expect("lease").lease_id;
    assert!(id.starts_with("plain/anything/"));
    assert_eq!(
        invalid(
            e.root(Update, "sys/leases/renew", json!({"lease_id": id}))
                .await
        ),
        "lease is not renewable"
    );
    // Revocation defaults to "nothing to undo".
    e.ok(Update, "sys/leases/revoke", json!({"lease_id": id}))
        .await;
    assert_eq!(invalid(e.lookup(&id).await), "invalid lease");
}

// -------------------------------------------------------------- revoking

#[tokio::test]
async fn revoke_and_revoke_prefix() {
    let e = env().await;
    let (a, _) = e.issue(None, "web").await;
    let r = e
        .ok(Update, "sys/leases/revoke", json!({"lease_id": a}))
        .await;
    assert!(r.is_empty(), "204");
    assert_eq!(e.dynb.revoked(), ["web-0"]);
    assert_eq!(invalid(e.lookup(&a).await), "invalid lease");
    // Unknown leases revoke fine; an id is required.
    assert!(e
        .ok(Update, "sys/leases/revoke", json!({"lease_id": "dyn/x"}))
        .await
        .is_empty());
    assert!(e
        .ok(Update, "sys/leases/revoke/dyn/x", json!({}))
        .await
        .is_empty());
    assert_eq!(
        invalid(e.root(Update, "sys/leases/revoke", json!({})).await),
        "lease_id must be specified"
    );

    // The URL form, and the lazy form (202, revoked by the background task).
    let (b, _) = e.issue(None, "web").await;
    assert!(e
        .ok(Update, &format!("sys/leases/revoke/{b}"), json!({}))
        .await
        .is_empty());
    let (c, _) = e.issue(None, "web").await;
    let r = e
        .ok(
            Update,
            "sys/leases/revoke",
            json!({"lease_id": c, "sync": false}),
        )
        .await;
    let raw = r.raw.expect("raw 202");
    assert_eq!((raw.status, raw.body.len()), (202, 0));
    eventually(20, "lazy revocation", || async {
        e.dynb.revoked().len() == 3
    })
    .await;
    assert_eq!(invalid(e.lookup(&c).await), "invalid lease");

    // revoke-prefix: a partial segment matches nothing; a segment matches all.
    let mut ids = Vec::new();
    for role in ["web", "web", "db"] {
        ids.push(e.issue(None, role).await.0);
    }
    assert!(e
        .ok(Update, "sys/leases/revoke-prefix/dyn/creds/we", json!({}))
        .await
        .is_empty());
    assert_eq!(e.dynb.revoked().len(), 3);
    assert!(e
        .ok(Update, "sys/leases/revoke-prefix/dyn/creds/web", json!({}))
        .await
        .is_empty());
    assert_eq!(e.dynb.revoked().len(), 5);
    e.lookup(&ids[2]).await.expect("db lease stays");
    // An exact lease id works as a prefix too.
    assert!(e
        .ok(
            Update,
            &format!("sys/leases/revoke-prefix/{}", ids[2]),
            json!({})
        )
        .await
        .is_empty());
    assert_eq!(e.dynb.revoked().len(), 6);
    // sync=false: 202, then revoked in the background.
    let (d, _) = e.issue(None, "web").await;
    let r = e
        .ok(
            Update,
            "sys/leases/revoke-prefix/dyn",
            json!({"sync": false}),
        )
        .await;
    assert_eq!(r.raw.expect("raw").status, 202);
    eventually(20, "lazy prefix revocation", || async {
        e.dynb.revoked().len() == 7
    })
    .await;
    assert_eq!(invalid(e.lookup(&d).await), "invalid lease");
    // Nothing under a prefix is fine.
    assert!(e
        .ok(Update, "sys/leases/revoke-prefix/nothing", json!({}))
        .await
        .is_empty());
    assert!(e
        .ok(Update, "sys/leases/revoke-force/nothing", json!({}))
        .await
        .is_empty());

    // Both prefix endpoints need sudo.
    e.ok(
        Update,
        "sys/policies/acl/leases",
        json!({"policy": "path \"sys/leases/*\" { capabilities = [\"update\"] }"}),
    )
    .await;
    let t = e.token(&["leases"], json!({})).await;
    for path in [
        "sys/leases/revoke-prefix/dyn",
        "sys/leases/revoke-force/dyn",
    ] {
        assert!(
            matches!(
                e.call(Some(&t), Update, path, json!({})).await,
                Err(CoreError::PermissionDenied)
            ),
            "{path}"
        );
    }
}

#[tokio::test]
async fn failed_revocations_keep_the_lease_and_force_drops_it() {
    let e = env().await;
    let (a, _) = e.issue(None, "web").await;
    let (b, _) = e.issue(None, "web").await;
    e.dynb.fail_revokes.store(10, Ordering::SeqCst);
    let msg = invalid(
        e.root(Update, "sys/leases/revoke", json!({"lease_id": a}))
            .await,
    );
    assert_eq!(
        msg,
        "failed to revoke entry: resp: (*logical.Response)(nil) err: internal error: target is down"
    );
    e.lookup(&a).await.expect("kept");
    let msg = invalid(
        e.root(Update, "sys/leases/revoke-prefix/dyn/creds", json!({}))
            .await,
    );
    assert!(
        msg.starts_with(&format!(
            "failed to revoke \"{a}\" (1 / 2): failed to revoke entry:"
        )) || msg.starts_with(&format!(
            "failed to revoke \"{b}\" (1 / 2): failed to revoke entry:"
        )),
        "{msg}"
    );
    e.lookup(&a).await.expect("kept");
    e.lookup(&b).await.expect("kept");

    // revoke-force ignores the backend.
    assert!(e
        .ok(Update, "sys/leases/revoke-force/dyn/creds", json!({}))
        .await
        .is_empty());
    assert_eq!(invalid(e.lookup(&a).await), "invalid lease");
    assert_eq!(invalid(e.lookup(&b).await), "invalid lease");
    assert!(e.dynb.revoked().is_empty());
}

// ---------------------------------------------------------------- expiry

#[tokio::test]
async fn expired_leases_are_revoked_through_the_backend() {
    let e = env().await;
    e.dynb.ttl.store(1, Ordering::SeqCst);
    let (id, r) = e.issue(None, "short").await;
    assert_eq!(r.lease.expect("lease").lease_duration, 1);
    assert!(e.dynb.revoked().is_empty());
    eventually(20, "expiry", || async { e.dynb.revoked() == ["short-0"] }).await;
    assert_eq!(invalid(e.lookup(&id).await), "invalid lease");
    assert_eq!(e.active().expiration.pending_count(), 0);
}

#[tokio::test]
async fn renewal_postpones_expiry() {
    let e = env().await;
    e.dynb.ttl.store(1, Ordering::SeqCst);
    let (id, _) = e.issue(None, "r").await;
    e.ok(
        Update,
        "sys/leases/renew",
        json!({"lease_id": id, "increment": 3}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(e.dynb.revoked().is_empty(), "renewed past the first expiry");
    e.lookup(&id).await.expect("alive");
    eventually(20, "expiry after renewal", || async {
        e.dynb.revoked().len() == 1
    })
    .await;
}

#[tokio::test]
async fn revocation_is_retried_with_backoff() {
    let e = env().await;
    e.dynb.ttl.store(1, Ordering::SeqCst);
    e.dynb.fail_revokes.store(2, Ordering::SeqCst);
    let (id, _) = e.issue(None, "flaky").await;
    eventually(20, "first failed attempt", || async {
        e.dynb.revoke_calls.load(Ordering::SeqCst) >= 1
    })
    .await;
    // The lease is kept, with the attempt recorded.
    let kept = e.active().expiration.load(&id).await.expect("load");
    if let Some(l) = kept {
        assert!(l.revoke_error.is_none());
        assert!(l.expired());
        assert_eq!(
            invalid(
                e.root(Update, "sys/leases/renew", json!({"lease_id": id}))
                    .await
            ),
            "lease expired"
        );
    }
    eventually(20, "revocation after retries", || async {
        e.dynb.revoked() == ["flaky-0"]
    })
    .await;
    assert_eq!(e.dynb.revoke_calls.load(Ordering::SeqCst), 3);
    assert_eq!(invalid(e.lookup(&id).await), "invalid lease");
}

#[tokio::test]
async fn leases_become_irrevocable_after_the_last_retry() {
    let e = env().await;
    e.active()
        .expiration
        .set_retry_base(Duration::from_millis(5));
    e.dynb.ttl.store(1, Ordering::SeqCst);
    e.dynb.fail_revokes.store(1000, Ordering::SeqCst);
    let (id, _) = e.issue(None, "stuck").await;
    eventually(10, "irrevocable", || async {
        e.lookup(&id)
            .await
            .is_ok_and(|d| d.contains_key("revoke_error"))
    })
    .await;
    assert_eq!(
        e.dynb.revoke_calls.load(Ordering::SeqCst),
        MAX_REVOKE_ATTEMPTS
    );
    let d = e.lookup(&id).await.expect("lookup");
    assert_eq!(
        d["revoke_error"],
        "out of retries: internal error: target is down"
    );
    assert_eq!(d["renewable"], false);
    assert_eq!(
        invalid(
            e.root(Update, "sys/leases/renew", json!({"lease_id": id}))
                .await
        ),
        "lease is expired and has failed previous revocation attempts"
    );
    // An error that retrying cannot fix makes a lease irrevocable at once.
    e.dynb.fail_unrecoverable.store(true, Ordering::SeqCst);
    let calls = e.dynb.revoke_calls.load(Ordering::SeqCst);
    let (other, _) = e.issue(None, "gone").await;
    eventually(20, "irrevocable at once", || async {
        e.lookup(&other)
            .await
            .is_ok_and(|d| d.get("revoke_error") == Some(&json!("role is gone")))
    })
    .await;
    assert_eq!(e.dynb.revoke_calls.load(Ordering::SeqCst), calls + 1);
    // Force revocation clears them.
    e.ok(Update, "sys/leases/revoke-force/dyn", json!({})).await;
    assert_eq!(invalid(e.lookup(&id).await), "invalid lease");
    assert_eq!(invalid(e.lookup(&other).await), "invalid lease");
}

#[tokio::test]
async fn leases_survive_seal_and_unseal() {
    let e = env().await;
    let (long, _) = e.issue(None, "long").await;
    e.dynb.ttl.store(2, Ordering::SeqCst);
    let (short, _) = e.issue(None, "short").await;
    e.core.seal().await.expect("seal");
    // Expires while sealed: nothing can revoke it.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert!(e.dynb.revoked().is_empty());
    e.core.unseal(&e.key).await.expect("unseal");
    // The new manager reloads the leases from storage and revokes the due one.
    eventually(20, "revocation after unseal", || async {
        e.dynb.revoked() == ["short-1"]
    })
    .await;
    assert_eq!(invalid(e.lookup(&short).await), "invalid lease");
    let d = e.lookup(&long).await.expect("long lease survives");
    assert_eq!(d["path"], "dyn/creds/long");
    assert_eq!(e.active().expiration.pending_count(), 1);
    // And it can still be renewed and revoked.
    e.ok(
        Update,
        "sys/leases/renew",
        json!({"lease_id": long, "increment": 100}),
    )
    .await;
    e.ok(Update, "sys/leases/revoke", json!({"lease_id": long}))
        .await;
    assert_eq!(e.dynb.revoked(), ["short-1", "long-0"]);
}

#[tokio::test]
async fn failing_revocations_resume_after_unseal() {
    let e = env().await;
    // No retry before the seal: the revocation must resume after unseal.
    e.active()
        .expiration
        .set_retry_base(Duration::from_secs(60));
    e.dynb.ttl.store(1, Ordering::SeqCst);
    e.dynb.fail_revokes.store(1, Ordering::SeqCst);
    let (id, _) = e.issue(None, "x").await;
    eventually(20, "a failed attempt", || async {
        e.dynb.revoke_calls.load(Ordering::SeqCst) == 1
    })
    .await;
    e.seal_unseal().await;
    eventually(20, "revocation after unseal", || async {
        e.dynb.revoked() == ["x-0"]
    })
    .await;
    assert_eq!(invalid(e.lookup(&id).await), "invalid lease");
}

// ---------------------------------------------------------------- tokens

#[tokio::test]
async fn revoking_a_token_revokes_its_leases() {
    let e = env().await;
    e.ok(
        Update,
        "sys/policies/acl/dyn",
        json!({"policy": "path \"dyn/*\" { capabilities = [\"read\"] }\npath \"auth/token/create\" { capabilities = [\"update\"] }"}),
    )
    .await;
    let parent = e.token(&["dyn"], json!({})).await;
    let child = {
        let r = e
            .call(
                Some(&parent),
                Update,
                "auth/token/create",
                json!({"policies": ["dyn"]}),
            )
            .await
            .expect("child");
        r.auth.expect("auth").client_token
    };
    let (p_lease, _) = e.issue(Some(&parent), "p").await;
    let (c_lease, _) = e.issue(Some(&child), "c").await;
    let (root_lease, _) = e.issue(None, "r").await;
    e.ok(Update, "auth/token/revoke", json!({"token": parent}))
        .await;
    eventually(20, "the tree's leases revoked", || async {
        let mut r = e.dynb.revoked();
        r.sort();
        r == ["c-1", "p-0"]
    })
    .await;
    assert_eq!(invalid(e.lookup(&p_lease).await), "invalid lease");
    assert_eq!(invalid(e.lookup(&c_lease).await), "invalid lease");
    e.lookup(&root_lease).await.expect("other leases stay");

    // A token's leases are marked expired at once, before the backend is asked.
    let t = e.token(&["dyn"], json!({})).await;
    e.dynb.fail_revokes.store(1000, Ordering::SeqCst);
    let (l, _) = e.issue(Some(&t), "t").await;
    e.ok(Update, "auth/token/revoke", json!({"token": t})).await;
    let d = e.lookup(&l).await.expect("kept while the backend fails");
    assert_eq!(d["renewable"], false);
    assert_eq!(d["ttl"], 0);

    // Tidy revokes leases whose token is gone (forcibly).
    let ok = e.active().expiration.tidy(&e.active()).await.expect("tidy");
    assert!(ok);
    assert_eq!(invalid(e.lookup(&l).await), "invalid lease");
    e.lookup(&root_lease)
        .await
        .expect("live token's lease stays");
}

#[tokio::test]
async fn a_last_use_token_cannot_take_a_lease_away() {
    let e = env().await;
    e.ok(
        Update,
        "sys/policies/acl/dyn",
        json!({"policy": "path \"dyn/*\" { capabilities = [\"read\"] }"}),
    )
    .await;
    let t = e.token(&["dyn"], json!({"num_uses": 1})).await;
    let r = e.call(Some(&t), Read, "dyn/creds/once", json!({})).await;
    assert_eq!(
        invalid(r),
        "Secret cannot be returned; token had one use left, so leased credentials were immediately revoked."
    );
    eventually(20, "the lease revoked", || async {
        e.dynb.revoked() == ["once-0"]
    })
    .await;
}

#[tokio::test]
async fn batch_token_leases_end_with_the_token() {
    let e = env().await;
    e.ok(
        Update,
        "sys/policies/acl/dyn",
        json!({"policy": "path \"dyn/*\" { capabilities = [\"read\"] }"}),
    )
    .await;
    let b = e
        .token(&["dyn"], json!({"type": "batch", "ttl": "1h"}))
        .await;
    e.dynb.ttl.store(7200, Ordering::SeqCst);
    let (id, r) = e.issue(Some(&b), "b").await;
    let l = r.lease.expect("lease");
    assert!(
        (3598..=3600).contains(&l.lease_duration),
        "{}",
        l.lease_duration
    );
    assert!(!l.renewable);
    assert_eq!(
        invalid(
            e.root(Update, "sys/leases/renew", json!({"lease_id": id}))
                .await
        ),
        "lease is not renewable"
    );
}

#[tokio::test]
async fn tokens_are_leases_too() {
    let e = env().await;
    let t = e.token(&["default"], json!({"ttl": "1h"})).await;
    let hid = e.active().tokens.hash(&t);
    let id = format!("auth/token/create/h{hid}");
    let listed = keys(
        &e.ok(List, "sys/leases/lookup/auth/token/create/", json!({}))
            .await,
    );
    assert_eq!(listed, [format!("h{hid}")]);
    assert_eq!(
        keys(&e.ok(List, "sys/leases/lookup/auth", json!({})).await),
        ["token/"]
    );
    let d = e.lookup(&id).await.expect("token lease");
    assert_eq!(d["path"], "auth/token/create");
    assert_eq!(d["renewable"], true);
    assert!((3598..=3600).contains(&d["ttl"].as_i64().expect("ttl")));
    assert_eq!(
        invalid(
            e.root(Update, "sys/leases/renew", json!({"lease_id": id}))
                .await
        ),
        "tokens cannot be renewed through this endpoint"
    );
    // The initial root token has no lease.
    let root_hid = e.active().tokens.hash(&e.root);
    assert_eq!(
        invalid(e.lookup(&format!("auth/token/root/h{root_hid}")).await),
        "invalid lease"
    );
    // Revoking the lease revokes the token.
    e.ok(
        Update,
        "sys/leases/revoke-prefix/auth/token/create",
        json!({}),
    )
    .await;
    assert!(e
        .active()
        .tokens
        .lookup(&t)
        .await
        .expect("lookup")
        .is_none());
    assert_eq!(invalid(e.lookup(&id).await), "invalid lease");
}

// ------------------------------------------------------------ misc paths

#[tokio::test]
async fn tidy_endpoint_answers_202() {
    let e = env().await;
    let r = e.ok(Update, "sys/leases/tidy", json!({})).await;
    assert_eq!(r.status, Some(202));
    assert!(r.data.is_none());
    assert_eq!(
        r.warnings,
        ["Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs."]
    );
    assert!(matches!(
        e.root(Read, "sys/leases/tidy", json!({})).await,
        Err(CoreError::UnsupportedOperation)
    ));
}

#[tokio::test]
async fn unmounting_revokes_the_mounts_leases() {
    let e = env().await;
    let (id, _) = e.issue(None, "m").await;
    e.ok(Delete, "sys/mounts/dyn", json!({})).await;
    assert_eq!(e.dynb.revoked(), ["m-0"]);
    assert_eq!(invalid(e.lookup(&id).await), "invalid lease");
}

#[tokio::test]
async fn wrapped_leased_secrets_keep_their_lease() {
    let e = env().await;
    let mut req = Request::new(Read, "dyn/creds/w").with_token(&e.root);
    req.wrap_ttl = Some(Duration::from_secs(60));
    let r = e.core.handle_request(req).await.expect("wrapped");
    assert!(r.lease.is_none() && r.data.is_none());
    let token = r.wrap_info.expect("wrap_info")["token"]
        .as_str()
        .expect("token")
        .to_string();
    let u = e
        .call(Some(&token), Update, "sys/wrapping/unwrap", json!({}))
        .await
        .expect("unwrap");
    let body: Value = serde_json::from_slice(&u.raw.expect("raw").body).expect("json");
    let id = body["lease_id"].as_str().expect("lease id").to_string();
    assert!(id.starts_with("dyn/creds/w/"));
    assert_eq!(
        (body["renewable"].clone(), body["lease_duration"].clone()),
        (json!(true), json!(3600))
    );
    assert_eq!(body["data"]["username"], "w-0");
    e.lookup(&id).await.expect("registered");
}
