//! Prometheus metrics of the operator, served as OpenMetrics text on `/metrics` by [`crate::http`].
//!
//! - `coffer_operator_reconciles_total{namespace,name}` and
//!   `coffer_operator_reconcile_errors_total{namespace,name,error}` (`error` is
//!   [`crate::reconcile::Error::metric_label`]);
//! - `coffer_operator_reconcile_duration_seconds` (histogram, no labels);
//! - per cluster: `coffer_vaultcluster_ready` (1 or 0), `coffer_vaultcluster_ready_members` and
//!   `coffer_vaultcluster_desired_members`, removed when the cluster is deleted;
//! - `coffer_operator_leader` (1 on the replica that holds the Lease).

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterLabels {
    namespace: String,
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    namespace: String,
    name: String,
    error: String,
}

/// The operator's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ClusterLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    duration: Histogram,
    ready: Family<ClusterLabels, Gauge>,
    ready_members: Family<ClusterLabels, Gauge>,
    desired_members: Family<ClusterLabels, Gauge>,
    leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Observes a reconcile's duration when dropped.
pub struct ReconcileTimer<'a> {
    start: Instant,
    histogram: &'a Histogram,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

fn labels(namespace: &str, name: &str) -> ClusterLabels {
    ClusterLabels {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let reconciles = Family::<ClusterLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let duration = Histogram::new(exponential_buckets(0.01, 2.0, 12));
        let ready = Family::<ClusterLabels, Gauge>::default();
        let ready_members = Family::<ClusterLabels, Gauge>::default();
        let desired_members = Family::<ClusterLabels, Gauge>::default();
        let leader = Gauge::default();
        registry.register(
            "coffer_operator_reconciles",
            "VaultCluster reconciles started",
            reconciles.clone(),
        );
        registry.register(
            "coffer_operator_reconcile_errors",
            "VaultCluster reconciles that failed, by error kind",
            errors.clone(),
        );
        registry.register(
            "coffer_operator_reconcile_duration_seconds",
            "Time spent in one reconcile",
            duration.clone(),
        );
        registry.register(
            "coffer_vaultcluster_ready",
            "1 when every member of the cluster is ready, else 0",
            ready.clone(),
        );
        registry.register(
            "coffer_vaultcluster_ready_members",
            "Members whose pods are ready",
            ready_members.clone(),
        );
        registry.register(
            "coffer_vaultcluster_desired_members",
            "Members the cluster should have",
            desired_members.clone(),
        );
        registry.register(
            "coffer_operator_leader",
            "1 when this operator replica holds the leader Lease",
            leader.clone(),
        );
        Self {
            registry,
            reconciles,
            errors,
            duration,
            ready,
            ready_members,
            desired_members,
            leader,
        }
    }

    /// Counts a reconcile and times it until the returned guard is dropped.
    pub fn reconcile_started(&self, namespace: &str, name: &str) -> ReconcileTimer<'_> {
        self.reconciles
            .get_or_create(&labels(namespace, name))
            .inc();
        ReconcileTimer {
            start: Instant::now(),
            histogram: &self.duration,
        }
    }

    pub fn reconcile_failed(&self, namespace: &str, name: &str, error: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                error: error.to_owned(),
            })
            .inc();
    }

    /// Sets the per-cluster health gauges.
    pub fn set_health(
        &self,
        namespace: &str,
        name: &str,
        ready: bool,
        ready_members: i32,
        desired: i32,
    ) {
        let l = labels(namespace, name);
        self.ready.get_or_create(&l).set(i64::from(ready));
        self.ready_members
            .get_or_create(&l)
            .set(i64::from(ready_members));
        self.desired_members
            .get_or_create(&l)
            .set(i64::from(desired));
    }

    /// Drops every per-cluster series of a deleted cluster.
    pub fn forget(&self, namespace: &str, name: &str) {
        let l = labels(namespace, name);
        self.reconciles.remove(&l);
        self.ready.remove(&l);
        self.ready_members.remove(&l);
        self.desired_members.remove(&l);
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_forgets_per_cluster_series() {
        let m = Metrics::new();
        drop(m.reconcile_started("sec", "vault"));
        m.reconcile_failed("sec", "vault", "apply");
        m.set_health("sec", "vault", true, 3, 3);
        m.set_leader(true);
        let text = m.render();
        assert!(
            text.contains(r#"coffer_operator_reconciles_total{namespace="sec",name="vault"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"coffer_operator_reconcile_errors_total{namespace="sec",name="vault",error="apply"} 1"#));
        assert!(text.contains(r#"coffer_vaultcluster_ready{namespace="sec",name="vault"} 1"#));
        assert!(text.contains("coffer_operator_reconcile_duration_seconds_count 1"));
        assert!(text.contains("coffer_operator_leader 1"));
        m.forget("sec", "vault");
        assert!(!m
            .render()
            .contains(r#"coffer_vaultcluster_ready{namespace="sec""#));
    }
}
