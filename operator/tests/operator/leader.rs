//! Lease leader election against the fake API server: two candidates, one leader.

use coffer_operator::leader::{LeaderElector, LeaseConfig};
use jiff::Timestamp;
use serde_json::json;

use crate::support::FakeApi;

const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/coffer-operator";

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).expect("t")
}

#[tokio::test]
async fn one_leader_at_a_time_and_takeover_after_expiry() {
    let (client, fake) = FakeApi::start();
    let a = LeaderElector::new(client.clone(), LeaseConfig::new("ops", "a"));
    let b = LeaderElector::new(client, LeaseConfig::new("ops", "b"));

    assert!(
        a.try_acquire_or_renew(t(0)).await.expect("a"),
        "a creates the Lease"
    );
    assert!(
        !b.try_acquire_or_renew(t(1)).await.expect("b"),
        "b follows a valid Lease"
    );
    assert!(a.try_acquire_or_renew(t(5)).await.expect("a renews"));
    let lease = fake.get(LEASE).expect("lease");
    assert_eq!(lease["spec"]["holderIdentity"], "a");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 15);

    // a stops renewing; b waits for the full duration after the last renewal.
    assert!(!b.try_acquire_or_renew(t(19)).await.expect("b"));
    assert!(b.try_acquire_or_renew(t(20)).await.expect("b takes over"));
    let lease = fake.get(LEASE).expect("lease");
    assert_eq!(lease["spec"]["holderIdentity"], "b");
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
    assert!(
        !a.try_acquire_or_renew(t(21)).await.expect("a"),
        "a is a follower now"
    );

    // b releases on shutdown; a takes over at once.
    b.release().await.expect("release");
    assert!(a.try_acquire_or_renew(t(22)).await.expect("a"));
}

#[tokio::test]
async fn losing_a_race_is_not_an_error() {
    let (client, fake) = FakeApi::start();
    let a = LeaderElector::new(client, LeaseConfig::new("ops", "a"));
    // An expired Lease held by c; the replace conflicts because someone else wrote first.
    fake.put(LEASE, json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "coffer-operator", "namespace": "ops", "resourceVersion": "7"},
        "spec": {"holderIdentity": "c", "leaseDurationSeconds": 15, "renewTime": "2020-01-01T00:00:00.000000Z"}
    }));
    fake.fail("PUT", "/leases/coffer-operator", 409, 1);
    assert!(!a
        .try_acquire_or_renew(t(0))
        .await
        .expect("conflict means follower"));
    assert!(a.try_acquire_or_renew(t(1)).await.expect("next round wins"));
    fake.fail("GET", "/leases/coffer-operator", 500, 1);
    assert!(
        a.try_acquire_or_renew(t(2)).await.is_err(),
        "other errors are reported"
    );
}
