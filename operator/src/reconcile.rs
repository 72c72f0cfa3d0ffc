//! The controller: turns each `VaultCluster` into its Kubernetes objects and reports status.
//!
//! One reconcile, for a cluster that is not being deleted:
//! 1. `paused` clusters are left alone: no write of any kind (deletion still runs cleanup).
//! 2. The finalizer `coffer.dev/cleanup` is added first (that patch triggers the next reconcile).
//! 3. Operator-made TLS: the CA and server Secrets are read and [`tls::plan`] decides whether to
//!    keep or (re)issue them.
//! 4. Every [`builders::build_all`] output is applied with server-side apply (field manager
//!    `coffer-operator`, forced), in order, each exactly once; the first failure ends the
//!    reconcile and [`error_policy`] requeues it with a per-cluster exponential backoff. Server-side
//!    apply is idempotent, so the retry re-applies everything without harm.
//! 5. Status (conditions, ready members, observed generation) is computed from the StatefulSet the
//!    apply returned and written to the status subresource only when it changed.
//! 6. Events record what was done: creation, spec changes, certificates issued, failures, cleanup.
//!
//! On deletion, owner references remove everything the cluster owns (the StatefulSet keeps the
//! data volumes); the finalizer only deletes what they cannot reach: the keys Secret when
//! `keys.deletePolicy: Delete` (it may live in another namespace), and the cluster's metrics.
//!
//! ## Where the lifecycle engine plugs in
//! Initialising the first member, storing and KMS-encrypting the keys, unsealing, joining members
//! into Raft, labelling pods `coffer.dev/active`, upgrading standbys first and the leader last
//! (the StatefulSet uses `OnDelete`), filling `status.members`, `status.leader` and per-member
//! seal state: none of that exists yet, and nothing here pretends to do it. It belongs after step
//! 4 of [`apply`], driven by the server API of each member; until then the `Initialized` and
//! `Unsealed` conditions are only inferred from pod readiness (the readiness probe needs an
//! initialised, unsealed member) and are `Unknown` otherwise.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use crate::builders::{self, BuildError, Names, Object};
use crate::crd::{condition, KeysDeletePolicy, VaultCluster, VaultClusterStatus};
use crate::metrics::Metrics;
use crate::tls::{self, TlsError, TlsMaterial};
use crate::OPERATOR_NAME;

/// The finalizer the operator puts on every VaultCluster.
pub const FINALIZER: &str = "coffer.dev/cleanup";
/// How often a healthy cluster is looked at again without any change.
pub const RESYNC: Duration = Duration::from_secs(300);
/// First retry delay after a failure; doubles per consecutive failure up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_secs(5);
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("applying {kind} {name}: {source}")]
    Apply {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("reading {what}: {source}")]
    Read {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing status: {0}")]
    Status(#[source] kube::Error),
    #[error("deleting the keys Secret {name}: {source}")]
    Cleanup {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("updating the finalizer: {0}")]
    Finalizer(#[source] kube::Error),
    #[error("invalid VaultCluster: {0}")]
    Invalid(#[from] BuildError),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("serialising an object: {0}")]
    Serialize(#[from] serde_json::Error),
}

impl Error {
    /// A short, bounded label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Apply { .. } => "apply",
            Error::Read { .. } => "read",
            Error::Status(_) => "status",
            Error::Cleanup { .. } => "cleanup",
            Error::Finalizer(_) => "finalizer",
            Error::Invalid(_) => "invalid_spec",
            Error::Tls(_) => "tls",
            Error::Serialize(_) => "serialize",
        }
    }

    /// The HTTP status of the API error behind this one, if any.
    pub fn api_code(&self) -> Option<u16> {
        let source = match self {
            Error::Apply { source, .. }
            | Error::Read { source, .. }
            | Error::Cleanup { source, .. } => source,
            Error::Status(e) | Error::Finalizer(e) => e,
            _ => return None,
        };
        match source {
            kube::Error::Api(s) => Some(s.code),
            _ => None,
        }
    }
}

impl From<finalizer::Error<Error>> for Error {
    fn from(e: finalizer::Error<Error>) -> Self {
        match e {
            finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
            finalizer::Error::AddFinalizer(e) | finalizer::Error::RemoveFinalizer(e) => {
                Error::Finalizer(e)
            }
            finalizer::Error::UnnamedObject => Error::Invalid(BuildError::MissingUid),
            finalizer::Error::InvalidFinalizer => {
                Error::Serialize(serde::de::Error::custom("invalid finalizer name"))
            }
        }
    }
}

/// Shared state of the controller.
pub struct Context {
    pub client: Client,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    /// Consecutive failures per cluster (namespace, name), for the backoff.
    failures: Mutex<HashMap<(String, String), u32>>,
    /// The clock; tests move it.
    clock: Box<dyn Fn() -> SystemTime + Send + Sync>,
}

impl Context {
    pub fn new(client: Client, metrics: Arc<Metrics>, instance: Option<String>) -> Self {
        let reporter = Reporter {
            controller: OPERATOR_NAME.to_owned(),
            instance,
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            failures: Mutex::default(),
            clock: Box::new(SystemTime::now),
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    fn now(&self) -> SystemTime {
        (self.clock)()
    }

    fn record_failure(&self, key: (String, String)) -> u32 {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    fn clear_failures(&self, key: &(String, String)) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Consecutive failures recorded for a cluster.
    pub fn failures(&self, namespace: &str, name: &str) -> u32 {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(namespace.to_owned(), name.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    async fn publish(
        &self,
        vc: &VaultCluster,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &vc.object_ref(&())).await {
            warn!(error = %e, reason, "publishing an event");
        }
    }
}

/// Retry delay after `failures` consecutive failures: 5s, 10s, 20s ... up to 5 minutes.
pub fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    MIN_BACKOFF.saturating_mul(1 << exp).min(MAX_BACKOFF)
}

fn key(vc: &VaultCluster) -> (String, String) {
    (vc.namespace().unwrap_or_default(), vc.name_any())
}

/// Reconciles one VaultCluster (see the module documentation for the steps).
pub async fn reconcile(vc: Arc<VaultCluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    let (ns, name) = key(&vc);
    if ns.is_empty() {
        return Err(Error::Invalid(BuildError::MissingNamespace));
    }
    let _timer = ctx.metrics.reconcile_started(&ns, &name);
    let deleting = vc.meta().deletion_timestamp.is_some();
    if vc.spec.paused && !deleting {
        info!(namespace = %ns, name = %name, "paused; not reconciling");
        return Ok(Action::await_change());
    }
    let api: Api<VaultCluster> = Api::namespaced(ctx.client.clone(), &ns);
    let result = finalizer(&api, FINALIZER, vc.clone(), |event| async {
        match event {
            finalizer::Event::Apply(vc) => apply(&vc, &ctx).await,
            finalizer::Event::Cleanup(vc) => cleanup(&vc, &ctx).await,
        }
    })
    .await
    .map_err(Error::from);
    match &result {
        Ok(_) => ctx.clear_failures(&(ns, name)),
        Err(e) => {
            ctx.publish(
                &vc,
                EventType::Warning,
                "ReconcileFailed",
                "Reconcile",
                e.to_string(),
            )
            .await;
            if let Error::Invalid(_) = e {
                // A spec the builders refuse is the user's to fix: say so in the status.
                let mut status = vc.status.clone().unwrap_or_default();
                let now = Time(jiff_now(ctx.now()));
                set_condition(
                    &mut status.conditions,
                    vc.meta().generation,
                    now,
                    condition::DEGRADED,
                    true,
                    "InvalidSpec",
                    &e.to_string(),
                );
                let _ = write_status(&api, &vc, status).await;
            }
        }
    }
    result
}

/// The error policy: count the failure and retry after [`backoff`].
pub fn error_policy(vc: Arc<VaultCluster>, error: &Error, ctx: Arc<Context>) -> Action {
    let (ns, name) = key(&vc);
    ctx.metrics
        .reconcile_failed(&ns, &name, error.metric_label());
    let failures = ctx.record_failure((ns.clone(), name.clone()));
    let delay = backoff(failures);
    warn!(namespace = %ns, name = %name, error = %error, failures, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

fn jiff_now(t: SystemTime) -> jiff::Timestamp {
    jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

async fn apply(vc: &VaultCluster, ctx: &Context) -> Result<Action, Error> {
    let names = Names::of(vc)?;
    builders::check(vc)?;
    let now = ctx.now();

    // TLS first: the StatefulSet mounts it.
    let (material, renew_at) = if vc.spec.tls.existing_secret.is_none() {
        let (material, renew_at) = plan_tls(vc, ctx, &names, now).await?;
        (Some(material), Some(renew_at))
    } else {
        (None, None)
    };

    let objects = builders::build_all(vc, material.as_ref())?;
    let mut statefulset: Option<StatefulSet> = None;
    for object in &objects {
        let applied = apply_object(&ctx.client, object).await?;
        if let Object::StatefulSet(_) = object {
            statefulset = applied.try_parse::<StatefulSet>().ok();
        }
    }

    let generation = vc.meta().generation;
    let first = vc.status.is_none();
    let spec_changed = vc.status.as_ref().and_then(|s| s.observed_generation) != generation;
    if first {
        ctx.publish(
            vc,
            EventType::Normal,
            "Created",
            "Apply",
            format!(
                "applied {} objects: {} members of {}",
                objects.len(),
                vc.spec.replicas,
                builders::statefulset::image(vc)
            ),
        )
        .await;
    } else if spec_changed {
        ctx.publish(
            vc,
            EventType::Normal,
            "Updated",
            "Apply",
            format!(
                "applied generation {}: {} members of {}",
                generation.unwrap_or_default(),
                vc.spec.replicas,
                builders::statefulset::image(vc)
            ),
        )
        .await;
    }

    // Status.
    let api: Api<VaultCluster> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let status = compute_status(vc, statefulset.as_ref(), jiff_now(now));
    let ready = status
        .conditions
        .iter()
        .any(|c| c.type_ == condition::READY && c.status == "True");
    ctx.metrics.set_health(
        &names.namespace,
        &names.cluster,
        ready,
        status.ready_members,
        vc.spec.replicas,
    );
    if vc.status.as_ref() != Some(&status) {
        match write_status(&api, vc, status).await {
            Ok(()) => {}
            // The cluster was deleted while we worked: nothing left to do.
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Action::await_change()),
            Err(e) => return Err(Error::Status(e)),
        }
    }

    let mut next = RESYNC;
    if let Some(renew_at) = renew_at {
        let until = renew_at.duration_since(now).unwrap_or(Duration::ZERO);
        next = next.min(until.max(Duration::from_secs(1)));
    }
    Ok(Action::requeue(next))
}

async fn plan_tls(
    vc: &VaultCluster,
    ctx: &Context,
    names: &Names,
    now: SystemTime,
) -> Result<(TlsMaterial, SystemTime), Error> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let read = |name: String| {
        let secrets = secrets.clone();
        async move {
            secrets.get_opt(&name).await.map_err(|source| Error::Read {
                what: format!("Secret {name}"),
                source,
            })
        }
    };
    let ca_secret = read(names.ca_secret()).await?;
    let server_secret = read(names.tls_secret()).await?;
    let (ca, server) = builders::tls_from_secrets(ca_secret.as_ref(), server_secret.as_ref());
    let policy = builders::tls_policy(vc)?;
    let plan = tls::plan(ca, server, &policy, now)?;
    if plan.issued_ca {
        ctx.publish(
            vc,
            EventType::Normal,
            "IssuedCA",
            "IssueCertificate",
            format!("made a new CA in Secret {}", names.ca_secret()),
        )
        .await;
    }
    if let Some(reason) = &plan.reason {
        ctx.publish(
            vc,
            EventType::Normal,
            "IssuedCertificate",
            "IssueCertificate",
            format!(
                "issued the server certificate in Secret {} ({reason})",
                names.tls_secret()
            ),
        )
        .await;
    }
    Ok((plan.material, plan.renew_at))
}

/// Server-side applies one object; returns what the API server made of it.
pub async fn apply_object(client: &Client, object: &Object) -> Result<DynamicObject, Error> {
    let resource = object.api_resource();
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), object.namespace(), &resource);
    let value = object.to_value()?;
    api.patch(
        object.name(),
        &PatchParams::apply(OPERATOR_NAME).force(),
        &Patch::Apply(&value),
    )
    .await
    .map_err(|source| Error::Apply {
        kind: object.kind(),
        name: object.name().to_owned(),
        source,
    })
}

async fn write_status(
    api: &Api<VaultCluster>,
    vc: &VaultCluster,
    status: VaultClusterStatus,
) -> Result<(), kube::Error> {
    let patch = json!({
        "apiVersion": VaultCluster::api_version(&()),
        "kind": VaultCluster::kind(&()),
        "status": status,
    });
    api.patch_status(
        &vc.name_any(),
        &PatchParams::apply(OPERATOR_NAME).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(|_| ())
}

/// Sets a condition, keeping its `lastTransitionTime` when its status does not change.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    now: Time,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
) {
    set_condition_str(
        conditions,
        generation,
        now,
        type_,
        if status { "True" } else { "False" },
        reason,
        message,
    );
}

fn set_condition_str(
    conditions: &mut Vec<Condition>,
    generation: Option<i64>,
    now: Time,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
) {
    let existing = conditions.iter().position(|c| c.type_ == type_);
    let last_transition_time = match existing.map(|i| &conditions[i]) {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => now,
    };
    let c = Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: generation,
        last_transition_time,
    };
    match existing {
        Some(i) => conditions[i] = c,
        None => conditions.push(c),
    }
}

/// The status a successful apply leads to, from the StatefulSet the API server returned.
/// Conditions keep their transition times when unchanged, so an unchanged cluster produces an
/// identical status and no write.
pub fn compute_status(
    vc: &VaultCluster,
    sts: Option<&StatefulSet>,
    now: jiff::Timestamp,
) -> VaultClusterStatus {
    let old = vc.status.clone().unwrap_or_default();
    let generation = vc.meta().generation;
    let desired = vc.spec.replicas;
    let sts_status = sts.and_then(|s| s.status.clone()).unwrap_or_default();
    let ready = sts_status.ready_replicas.unwrap_or(0);
    let outdated = match (&sts_status.current_revision, &sts_status.update_revision) {
        (Some(current), Some(update)) if current != update => desired
            .saturating_sub(sts_status.updated_replicas.unwrap_or(0))
            .max(0),
        _ => 0,
    };
    let now = Time(now);
    let mut conditions = old.conditions.clone();
    let mut set = |t: &str, s: &str, reason: &str, message: String| {
        set_condition_str(
            &mut conditions,
            generation,
            now.clone(),
            t,
            s,
            reason,
            &message,
        );
    };
    let all_ready = ready >= desired && desired > 0;
    set(
        condition::READY,
        if all_ready { "True" } else { "False" },
        if all_ready {
            "AllMembersReady"
        } else {
            "MembersNotReady"
        },
        format!("{ready} of {desired} members ready"),
    );
    if ready > 0 {
        set(
            condition::INITIALIZED,
            "True",
            "MemberReady",
            "a member passes the readiness check, which needs an initialised server".into(),
        );
    } else {
        set(condition::INITIALIZED, "Unknown", "AwaitingLifecycle",
            "no member is ready; initialisation is done by the lifecycle engine (not yet implemented)".into());
    }
    if all_ready {
        set(
            condition::UNSEALED,
            "True",
            "AllMembersReady",
            "every member passes the readiness check, which needs an unsealed server".into(),
        );
    } else {
        set(
            condition::UNSEALED,
            "Unknown",
            "AwaitingLifecycle",
            format!(
                "{} members are not ready; per-member seal state comes from the lifecycle engine",
                desired - ready.min(desired)
            ),
        );
    }
    if outdated > 0 {
        set(condition::UPGRADING, "True", "MembersOutdated",
            format!("{outdated} members run an older pod template; they are restarted by the lifecycle engine, standbys first"));
    } else {
        set(
            condition::UPGRADING,
            "False",
            "UpToDate",
            "every member runs the current pod template".into(),
        );
    }
    set(
        condition::DEGRADED,
        "False",
        "Reconciled",
        "every object was applied".into(),
    );

    VaultClusterStatus {
        observed_generation: generation,
        members: old.members.clone(),
        conditions,
        leader: old.leader.clone(),
        ready_members: ready,
        sealed_members: old.sealed_members,
        version: (outdated == 0 && all_ready)
            .then(|| vc.spec.version.clone())
            .or(old.version),
    }
}

async fn cleanup(vc: &VaultCluster, ctx: &Context) -> Result<Action, Error> {
    let (ns, name) = key(vc);
    if vc.spec.keys.delete_policy == KeysDeletePolicy::Delete {
        let (secret, secret_ns) = vc.keys_secret();
        let secret_ns = secret_ns.unwrap_or_else(|| ns.clone());
        let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &secret_ns);
        match api.delete(&secret, &DeleteParams::default()).await {
            Ok(_) => {
                ctx.publish(
                    vc,
                    EventType::Normal,
                    "DeletedKeys",
                    "Cleanup",
                    format!(
                        "deleted the keys Secret {secret_ns}/{secret} (keys.deletePolicy: Delete)"
                    ),
                )
                .await;
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(source) => {
                return Err(Error::Cleanup {
                    name: format!("{secret_ns}/{secret}"),
                    source,
                })
            }
        }
    }
    ctx.metrics.forget(&ns, &name);
    ctx.publish(
        vc,
        EventType::Normal,
        "Deleted",
        "Cleanup",
        "cleanup done; owned objects are garbage-collected, data volumes are retained".into(),
    )
    .await;
    Ok(Action::await_change())
}

/// Runs the controller until `shutdown` completes. Fails at once, with a clear message, when the
/// VaultCluster CRD is not installed.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), kube::Error> {
    let client = ctx.client.clone();
    let clusters: Api<VaultCluster> = Api::all(client.clone());
    if let Err(e) = clusters.list(&ListParams::default().limit(1)).await {
        tracing::error!(error = %e, "cannot list VaultClusters: is the CRD installed (crds/vaultcluster.yaml) and may the operator list them?");
        return Err(e);
    }
    let owned = watcher::Config::default().labels(&format!(
        "{}={}",
        builders::labels::MANAGED_BY,
        OPERATOR_NAME
    ));
    Controller::new(clusters, watcher::Config::default().any_semantic())
        .owns(Api::<StatefulSet>::all(client.clone()), owned.clone())
        .owns(Api::<Service>::all(client.clone()), owned.clone())
        .owns(Api::<ConfigMap>::all(client), owned)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(namespace = ?object.namespace, name = %object.name, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile failed"),
            }
        })
        .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSetStatus;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(4), Duration::from_secs(40));
        assert_eq!(backoff(7), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    fn vc() -> VaultCluster {
        let mut vc = crate::builders::tests::dev();
        vc.metadata.generation = Some(2);
        vc
    }

    fn sts(ready: i32, current: &str, update: &str, updated: i32) -> StatefulSet {
        StatefulSet {
            status: Some(StatefulSetStatus {
                ready_replicas: Some(ready),
                current_revision: Some(current.into()),
                update_revision: Some(update.into()),
                updated_replicas: Some(updated),
                replicas: 3,
                ..StatefulSetStatus::default()
            }),
            ..StatefulSet::default()
        }
    }

    fn cond<'a>(s: &'a VaultClusterStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).expect(t)
    }

    #[test]
    fn status_from_a_ready_statefulset() {
        let t0 = jiff::Timestamp::from_second(1_800_000_000).expect("t");
        let s = compute_status(&vc(), Some(&sts(3, "a", "a", 3)), t0);
        assert_eq!(s.ready_members, 3);
        assert_eq!(s.observed_generation, Some(2));
        assert_eq!(cond(&s, "Ready").status, "True");
        assert_eq!(cond(&s, "Initialized").status, "True");
        assert_eq!(cond(&s, "Upgrading").status, "False");
        assert_eq!(cond(&s, "Degraded").status, "False");
        assert_eq!(s.version.as_deref(), Some(crate::crd::DEFAULT_VERSION));
        assert!(s
            .conditions
            .iter()
            .all(|c| c.observed_generation == Some(2)));
    }

    #[test]
    fn unchanged_status_is_identical_and_transitions_are_kept() {
        let t0 = jiff::Timestamp::from_second(1_800_000_000).expect("t");
        let t1 = jiff::Timestamp::from_second(1_800_000_100).expect("t");
        let mut cluster = vc();
        let first = compute_status(&cluster, Some(&sts(1, "a", "a", 3)), t0);
        cluster.status = Some(first.clone());
        let again = compute_status(&cluster, Some(&sts(1, "a", "a", 3)), t1);
        assert_eq!(again, first, "no change, no new status (and no write)");
        let ready = compute_status(&cluster, Some(&sts(3, "a", "a", 3)), t1);
        assert_eq!(cond(&ready, "Ready").last_transition_time.0, t1);
        assert_eq!(cond(&ready, "Degraded").last_transition_time.0, t0);
    }

    #[test]
    fn outdated_members_mean_upgrading() {
        let t0 = jiff::Timestamp::from_second(1_800_000_000).expect("t");
        let s = compute_status(&vc(), Some(&sts(3, "a", "b", 1)), t0);
        assert_eq!(cond(&s, "Upgrading").status, "True");
        assert!(cond(&s, "Upgrading").message.starts_with("2 members"));
        let none = compute_status(&vc(), None, t0);
        assert_eq!(cond(&none, "Ready").status, "False");
        assert_eq!(cond(&none, "Initialized").status, "Unknown");
    }

    #[test]
    fn metric_labels_are_bounded() {
        let e = Error::Invalid(BuildError::MissingUid);
        assert_eq!(e.metric_label(), "invalid_spec");
        assert_eq!(e.api_code(), None);
    }
}
