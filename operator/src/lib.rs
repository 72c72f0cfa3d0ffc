//! Coffer's Kubernetes operator: a `VaultCluster` becomes a StatefulSet of Coffer servers with
//! their Services, configuration, TLS, identity and disruption budget.
//!
//! - [`crd`]: the `VaultCluster` resource and its generated CRD.
//! - [`builders`]: pure `VaultCluster` → Kubernetes object functions.
//! - [`tls`]: operator-made CA and server certificates, and renewal decisions.
//! - [`reconcile`]: the controller: server-side apply of every builder output, finalizer,
//!   status, events, error policy.
//! - [`metrics`], [`leader`], [`http`]: what the binary needs to run as a well-behaved
//!   controller (Prometheus metrics, Lease leader election, health endpoints).
//!
//! The lifecycle engine (init, unseal, Raft join, active/standby labels, leader-last upgrades)
//! is not here yet; see [`reconcile`] for where it plugs in.

pub mod builders;
pub mod crd;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod reconcile;
pub mod tls;

/// The operator's name: field manager, finalizer prefix and event reporter.
pub const OPERATOR_NAME: &str = "coffer-operator";
