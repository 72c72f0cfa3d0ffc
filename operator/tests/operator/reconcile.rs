//! Reconcile scenarios against the fake API server: what is written, how often, and what
//! happens on API errors.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use coffer_operator::crd::VaultCluster;
use coffer_operator::metrics::Metrics;
use coffer_operator::reconcile::{self, error_policy, reconcile, Context, Error};
use kube::runtime::controller::Action;
use serde_json::{json, Value};

use crate::support::{dev_cluster, Call, FakeApi};

fn context(client: kube::Client) -> Arc<Context> {
    Arc::new(
        Context::new(
            client,
            Arc::new(Metrics::new()),
            Some("test-operator".into()),
        )
        .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
    )
}

/// The resource paths of every object a 3-member Shamir cluster `vault` is made of.
fn expected_applies() -> Vec<String> {
    [
        "/api/v1/namespaces/sec/serviceaccounts/vault",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/sec/roles/vault",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/sec/rolebindings/vault",
        "/api/v1/namespaces/sec/configmaps/vault-config",
        "/api/v1/namespaces/sec/secrets/vault-ca",
        "/api/v1/namespaces/sec/secrets/vault-tls",
        "/api/v1/namespaces/sec/services/vault",
        "/api/v1/namespaces/sec/services/vault-internal",
        "/api/v1/namespaces/sec/services/vault-active",
        "/api/v1/namespaces/sec/services/vault-standby",
        "/apis/policy/v1/namespaces/sec/poddisruptionbudgets/vault",
        "/apis/apps/v1/namespaces/sec/statefulsets/vault",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn applies(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.is_apply() && !c.path.ends_with("/status"))
        .map(|c| c.path.clone())
        .collect()
}

fn events(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.is_event() && c.method == "POST")
        .map(|c| c.body["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn status_writes(calls: &[Call]) -> usize {
    calls.iter().filter(|c| c.path.ends_with("/status")).count()
}

fn applied_body<'a>(calls: &'a [Call], suffix: &str) -> &'a Value {
    &calls
        .iter()
        .find(|c| c.is_apply() && c.path.ends_with(suffix))
        .unwrap_or_else(|| panic!("no apply of {suffix}"))
        .body
}

fn configmap_hcl(calls: &[Call]) -> String {
    applied_body(calls, "/configmaps/vault-config")["data"]["coffer.hcl"]
        .as_str()
        .expect("coffer.hcl")
        .to_owned()
}

/// Runs one reconcile of the stored cluster, as the controller would (reading it back first).
async fn reconcile_stored(
    fake: &FakeApi,
    ctx: &Arc<Context>,
) -> (Result<Action, Error>, Vec<Call>) {
    fake.clear_calls();
    let vc = fake.cluster("sec", "vault").expect("stored cluster");
    let result = reconcile(Arc::new(vc), ctx.clone()).await;
    (result, fake.calls())
}

#[tokio::test]
async fn create_applies_every_object_once() {
    let (client, fake) = FakeApi::start();
    let ctx = context(client);
    fake.put_cluster(&dev_cluster());

    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    let action = result.expect("reconcile");
    assert!(
        action != Action::await_change(),
        "a healthy cluster is looked at again later"
    );

    assert_eq!(
        applies(&calls),
        expected_applies(),
        "each object applied once, in order"
    );
    for call in calls.iter().filter(|c| c.is_apply()) {
        assert!(
            call.query.contains("fieldManager=coffer-operator"),
            "{}",
            call.query
        );
        assert!(call.query.contains("force=true"), "{}", call.query);
    }
    let gets: Vec<_> = calls
        .iter()
        .filter(|c| c.method == "GET")
        .map(|c| c.path.as_str())
        .collect();
    assert_eq!(
        gets,
        [
            "/api/v1/namespaces/sec/secrets/vault-ca",
            "/api/v1/namespaces/sec/secrets/vault-tls"
        ]
    );
    assert_eq!(status_writes(&calls), 1);
    assert_eq!(events(&calls), ["IssuedCA", "IssuedCertificate", "Created"]);
    let unexpected: Vec<_> = calls
        .iter()
        .filter(|c| c.is_write() && !c.is_apply() && !c.is_event())
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    assert!(unexpected.is_empty(), "unexpected writes: {unexpected:?}");

    // Everything carries the owner reference and the common labels.
    for call in calls
        .iter()
        .filter(|c| c.is_apply() && !c.path.ends_with("/status"))
    {
        assert_eq!(
            call.body["metadata"]["ownerReferences"][0]["kind"], "VaultCluster",
            "{}",
            call.path
        );
        assert_eq!(
            call.body["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "coffer-operator"
        );
    }

    // Status as written.
    let stored = fake.cluster("sec", "vault").expect("cluster");
    let status = stored.status.expect("status");
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.ready_members, 0);
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    assert_eq!(ready.status, "False");
}

#[tokio::test]
async fn an_unchanged_cluster_writes_no_status_and_no_new_certificates() {
    let (client, fake) = FakeApi::start();
    let ctx = context(client);
    fake.put_cluster(&dev_cluster());
    reconcile_stored(&fake, &ctx).await.0.expect("first");
    let ca_before = fake
        .get("/api/v1/namespaces/sec/secrets/vault-ca")
        .expect("ca");

    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    result.expect("second");
    assert_eq!(applies(&calls), expected_applies());
    assert_eq!(status_writes(&calls), 0, "status unchanged, not rewritten");
    assert!(
        events(&calls).is_empty(),
        "nothing happened worth an event: {:?}",
        events(&calls)
    );
    assert_eq!(
        applied_body(&calls, "/secrets/vault-ca")["data"],
        ca_before["data"],
        "the stored CA is kept"
    );
}

#[tokio::test]
async fn status_follows_readiness() {
    let (client, fake) = FakeApi::start();
    let ctx = context(client);
    fake.put_cluster(&dev_cluster());
    reconcile_stored(&fake, &ctx).await.0.expect("first");
    fake.set_ready_replicas(3);
    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    result.expect("second");
    assert_eq!(status_writes(&calls), 1);
    let status = fake
        .cluster("sec", "vault")
        .and_then(|c| c.status)
        .expect("status");
    assert_eq!(status.ready_members, 3);
    let get = |t: &str| {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == t)
            .map(|c| c.status.clone())
    };
    assert_eq!(get("Ready").as_deref(), Some("True"));
    assert_eq!(get("Unsealed").as_deref(), Some("True"));
    assert_eq!(
        status.version.as_deref(),
        Some(coffer_operator::crd::DEFAULT_VERSION)
    );
}

#[tokio::test]
async fn the_first_reconcile_only_adds_the_finalizer() {
    let (client, fake) = FakeApi::start();
    let ctx = context(client);
    let mut vc = dev_cluster();
    vc.metadata.finalizers = None;
    fake.put_cluster(&vc);

    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    assert_eq!(result.expect("reconcile"), Action::await_change());
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].content_type.starts_with("application/json-patch"));
    let stored = fake.cluster("sec", "vault").expect("cluster");
    assert_eq!(
        stored.metadata.finalizers,
        Some(vec![reconcile::FINALIZER.to_owned()])
    );
}

#[tokio::test]
async fn scaling_3_to_5_updates_the_statefulset_and_retry_join() {
    let (client, fake) = FakeApi::start();
    let ctx = context(client);
    fake.put_cluster(&dev_cluster());
    let (_, first) = reconcile_stored(&fake, &ctx).await;
    let checksum_before = applied_body(&first, "/statefulsets/vault")["spec"]["template"]
        ["metadata"]["annotations"]["coffer.dev/config-checksum"]
        .clone();
    assert!(!configmap_hcl(&first).contains("vault-3."));

    let mut vc = fake.cluster("sec", "vault").expect("cluster");
    vc.spec.replicas = 5;
    vc.metadata.generation = Some(2);
    fake.put_cluster(&vc);
    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    result.expect("reconcile");

    assert_eq!(
        applies(&calls),
        expected_applies(),
        "each object applied once"
    );
    let sts = applied_body(&calls, "/statefulsets/vault");
    assert_eq!(sts["spec"]["replicas"], 5);
    assert_eq!(
        sts["spec"]["template"]["metadata"]["annotations"]["coffer.dev/config-checksum"],
        checksum_before,
        "adding members does not make the existing ones outdated"
    );
    let hcl = configmap_hcl(&calls);
    for i in 0..5 {
        assert!(
            hcl.contains(&format!("https://vault-{i}.vault-internal.sec.svc:8200")),
            "{hcl}"
        );
    }
    assert_eq!(
        events(&calls),
        ["Updated"],
        "wildcard names cover new pods: no new certificate"
    );
}

#[tokio::test]
async fn a_version_change_updates_the_image_without_rolling_pods() {
    let (client, fake) = FakeApi::start();
    let ctx = context(client);
    fake.put_cluster(&dev_cluster());
    reconcile_stored(&fake, &ctx).await.0.expect("first");

    let mut vc = fake.cluster("sec", "vault").expect("cluster");
    vc.spec.version = "0.2.0".into();
    vc.metadata.generation = Some(2);
    fake.put_cluster(&vc);
    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    result.expect("reconcile");
    let sts = applied_body(&calls, "/statefulsets/vault");
    assert_eq!(
        sts["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("{}:0.2.0", coffer_operator::crd::DEFAULT_IMAGE)
    );
    assert_eq!(sts["spec"]["updateStrategy"]["type"], "OnDelete");
    assert_eq!(
        sts["metadata"]["labels"]["app.kubernetes.io/version"],
        "0.2.0"
    );
    assert_eq!(applies(&calls), expected_applies());
}

#[tokio::test]
async fn a_paused_cluster_gets_no_writes() {
    let (client, fake) = FakeApi::start();
    let ctx = context(client);
    let mut vc = dev_cluster();
    vc.spec.paused = true;
    fake.put_cluster(&vc);
    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    assert_eq!(result.expect("reconcile"), Action::await_change());
    assert!(
        calls.is_empty(),
        "a paused cluster is not touched: {calls:?}"
    );
}

#[tokio::test]
async fn deletion_cleans_up_and_removes_the_finalizer() {
    let (client, fake) = FakeApi::start();
    let ctx = context(client);
    let mut vc = dev_cluster();
    vc.spec.keys.delete_policy = coffer_operator::crd::KeysDeletePolicy::Delete;
    vc.spec.keys.secret_namespace = Some("vault-keys".into());
    vc.spec.paused = true; // deletion still proceeds
    vc.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        jiff::Timestamp::from_second(1_800_000_000).expect("t"),
    ));
    fake.put_cluster(&vc);
    fake.put(
        "/api/v1/namespaces/vault-keys/secrets/vault-keys",
        json!({"metadata": {"name": "vault-keys"}}),
    );

    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    assert_eq!(result.expect("reconcile"), Action::await_change());
    assert!(
        applies(&calls).is_empty(),
        "nothing is applied to a deleting cluster"
    );
    let deletes: Vec<_> = calls
        .iter()
        .filter(|c| c.method == "DELETE")
        .map(|c| c.path.as_str())
        .collect();
    assert_eq!(
        deletes,
        ["/api/v1/namespaces/vault-keys/secrets/vault-keys"]
    );
    assert!(fake
        .get("/api/v1/namespaces/vault-keys/secrets/vault-keys")
        .is_none());
    assert_eq!(events(&calls), ["DeletedKeys", "Deleted"]);
    let stored = fake.cluster("sec", "vault").expect("cluster");
    assert_eq!(
        stored.metadata.finalizers,
        Some(vec![]),
        "finalizer removed"
    );

    // With the default Retain policy the keys are left alone.
    let (client, fake) = FakeApi::start();
    let ctx = context(client);
    let mut vc = dev_cluster();
    vc.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        jiff::Timestamp::from_second(1_800_000_000).expect("t"),
    ));
    fake.put_cluster(&vc);
    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    result.expect("reconcile");
    assert!(calls.iter().all(|c| c.method != "DELETE"));
    assert_eq!(
        fake.cluster("sec", "vault")
            .and_then(|c| c.metadata.finalizers),
        Some(vec![])
    );
}

#[tokio::test]
async fn a_500_stops_the_reconcile_and_backs_off() {
    let (client, fake) = FakeApi::start();
    let ctx = context(client);
    fake.put_cluster(&dev_cluster());
    fake.fail("PATCH", "/configmaps/vault-config", 500, 2);

    let vc = Arc::new(fake.cluster("sec", "vault").expect("cluster"));
    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    let err = result.expect_err("the 500 fails the reconcile");
    assert_eq!(err.metric_label(), "apply");
    assert_eq!(err.api_code(), Some(500));
    assert_eq!(
        applies(&calls),
        expected_applies()[..4].to_vec(),
        "objects before the failure applied once, the failing one tried once, none after"
    );
    assert_eq!(status_writes(&calls), 0);
    assert_eq!(
        events(&calls).last().map(String::as_str),
        Some("ReconcileFailed")
    );
    assert_eq!(
        error_policy(vc.clone(), &err, ctx.clone()),
        Action::requeue(Duration::from_secs(5))
    );

    let (result, _) = reconcile_stored(&fake, &ctx).await;
    let err = result.expect_err("second failure");
    assert_eq!(
        error_policy(vc.clone(), &err, ctx.clone()),
        Action::requeue(Duration::from_secs(10))
    );
    assert_eq!(ctx.failures("sec", "vault"), 2);

    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    result.expect("the API recovered");
    assert_eq!(applies(&calls), expected_applies());
    assert_eq!(
        ctx.failures("sec", "vault"),
        0,
        "success resets the backoff"
    );
    let metrics = ctx.metrics.render();
    assert!(metrics.contains(r#"coffer_operator_reconcile_errors_total{namespace="sec",name="vault",error="apply"} 2"#), "{metrics}");
}

#[tokio::test]
async fn a_409_on_the_statefulset_is_retried_later() {
    let (client, fake) = FakeApi::start();
    let ctx = context(client);
    fake.put_cluster(&dev_cluster());
    fake.fail("PATCH", "/statefulsets/vault", 409, 1);
    let vc = Arc::new(fake.cluster("sec", "vault").expect("cluster"));
    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    let err = result.expect_err("conflict");
    assert_eq!(err.api_code(), Some(409));
    assert!(
        matches!(
            err,
            Error::Apply {
                kind: "StatefulSet",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        applies(&calls),
        expected_applies(),
        "each object tried exactly once"
    );
    assert_eq!(status_writes(&calls), 0);
    assert_eq!(
        error_policy(vc, &err, ctx.clone()),
        Action::requeue(Duration::from_secs(5))
    );
}

#[tokio::test]
async fn a_404_on_status_means_the_cluster_is_gone() {
    let (client, fake) = FakeApi::start();
    let ctx = context(client);
    fake.put_cluster(&dev_cluster());
    fake.fail("PATCH", "/vaultclusters/vault/status", 404, 1);
    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    assert_eq!(result.expect("not an error"), Action::await_change());
    assert_eq!(applies(&calls), expected_applies());
    assert_eq!(status_writes(&calls), 1, "no retry of the status write");
}

#[tokio::test]
async fn a_failing_secret_read_applies_nothing() {
    let (client, fake) = FakeApi::start();
    let ctx = context(client);
    fake.put_cluster(&dev_cluster());
    fake.fail("GET", "/secrets/vault-ca", 500, 1);
    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    let err = result.expect_err("read error");
    assert_eq!(err.metric_label(), "read");
    assert!(applies(&calls).is_empty());
}

#[tokio::test]
async fn an_invalid_spec_is_reported_not_applied() {
    let (client, fake) = FakeApi::start();
    let ctx = context(client);
    let mut vc: VaultCluster = dev_cluster();
    vc.spec.config = serde_json::from_value(json!({"storage": {"inmem": {}}})).expect("config");
    fake.put_cluster(&vc);
    let (result, calls) = reconcile_stored(&fake, &ctx).await;
    let err = result.expect_err("invalid");
    assert_eq!(err.metric_label(), "invalid_spec");
    assert!(err.to_string().contains("\"storage\""), "{err}");
    assert!(applies(&calls).is_empty());
    assert_eq!(events(&calls), ["ReconcileFailed"]);
    let status = fake
        .cluster("sec", "vault")
        .and_then(|c| c.status)
        .expect("status");
    let degraded = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .expect("Degraded");
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "InvalidSpec")
    );
}
