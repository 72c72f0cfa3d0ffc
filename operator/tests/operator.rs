//! Integration tests of the operator: the CRD and its schema rules, the builders' manifests
//! (validated with `kubernetes-validate`, snapshotted), reconcile scenarios against a fake API
//! server, and leader election.

#[path = "operator/support.rs"]
mod support;

#[path = "operator/crd.rs"]
mod crd;

#[path = "operator/manifests.rs"]
mod manifests;

#[path = "operator/reconcile.rs"]
mod reconcile;

#[path = "operator/leader.rs"]
mod leader;
