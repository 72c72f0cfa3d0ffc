//! The generated CRD: the checked-in copies match the Rust types, it validates as a
//! CustomResourceDefinition, and its CEL rules refuse the mistakes they are meant to refuse
//! (evaluated with kube-cel, the Kubernetes CEL library, over the generated schema).

use coffer_operator::crd::{crd_yaml, VaultCluster};
use kube::core::CustomResourceExt;
use serde_json::{json, Value};

use crate::support::{kubernetes_validate, repo_root};

const REGENERATE: &str =
    "cargo run -p coffer-operator --bin coffer-crdgen > crds/vaultcluster.yaml && \
                          cp crds/vaultcluster.yaml charts/coffer/crds/vaultcluster.yaml";

#[test]
fn checked_in_crd_matches_the_types() {
    let generated = crd_yaml().expect("CRD YAML");
    for file in [
        "crds/vaultcluster.yaml",
        "charts/coffer/crds/vaultcluster.yaml",
    ] {
        let path = repo_root().join(file);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "{file} is not what the VaultCluster types generate; regenerate it with:\n  {REGENERATE}\n\
             differences (- file, + generated):\n{}",
            crate::support::line_diff(&on_disk, &generated)
        );
    }
}

#[test]
fn crd_validates_against_kubernetes_schemas() {
    kubernetes_validate("crd", &crd_yaml().expect("CRD YAML"));
}

fn schema() -> Value {
    let crd = VaultCluster::crd();
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("schema");
    serde_json::to_value(schema).expect("schema JSON")
}

fn object(spec: Value) -> Value {
    json!({
        "apiVersion": "coffer.dev/v1alpha1", "kind": "VaultCluster",
        "metadata": {"name": "vault", "namespace": "sec"},
        "spec": spec
    })
}

/// The messages of the CEL rules that fail for `spec` (defaults applied first, as the API server
/// does).
fn cel_errors(spec: Value, old: Option<Value>) -> Vec<String> {
    let validator = kube_cel::Validator::new();
    match validator.validate(&schema(), &object(spec), old.map(object).as_ref()) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(|e| e.message.clone()).collect(),
    }
}

#[test]
fn the_cel_rules_compile() {
    let compiled = kube_cel::compile_schema(&schema());
    assert!(
        !compiled.has_errors(),
        "{:?}",
        compiled.compilation_errors()
    );
}

#[test]
fn valid_clusters_pass() {
    for spec in [
        json!({"unseal": {"shamir": {}}}),
        json!({"replicas": 1, "unseal": {"shamir": {"shares": 1, "threshold": 1}}}),
        json!({"replicas": 5, "unseal": {"awsKms": {"keyId": "alias/k", "region": "us-east-1"}}}),
        json!({"unseal": {"shamir": {"shares": 5, "threshold": 5}}, "tls": {"duration": "24h", "renewBefore": "8h"}}),
    ] {
        assert_eq!(
            cel_errors(spec.clone(), None),
            Vec::<String>::new(),
            "{spec}"
        );
    }
}

#[test]
fn even_replicas_are_refused() {
    for replicas in [2, 4, 6] {
        let errors = cel_errors(
            json!({"replicas": replicas, "unseal": {"shamir": {}}}),
            None,
        );
        assert!(
            errors.iter().any(|e| e.contains("replicas must be odd")),
            "{replicas}: {errors:?}"
        );
    }
}

#[test]
fn threshold_above_shares_is_refused() {
    let errors = cel_errors(
        json!({"unseal": {"shamir": {"shares": 3, "threshold": 4}}}),
        None,
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("threshold cannot be greater than")),
        "{errors:?}"
    );
    // The default threshold (3) is above 2 shares too.
    let errors = cel_errors(json!({"unseal": {"shamir": {"shares": 2}}}), None);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("threshold cannot be greater than")),
        "{errors:?}"
    );
    let errors = cel_errors(
        json!({"unseal": {"shamir": {"shares": 3, "threshold": 1}}}),
        None,
    );
    assert!(
        errors.iter().any(|e| e.contains("at least 2")),
        "{errors:?}"
    );
}

#[test]
fn exactly_one_unseal_kind() {
    let both = cel_errors(
        json!({"unseal": {"shamir": {}, "awsKms": {"keyId": "k", "region": "us-east-1"}}}),
        None,
    );
    assert!(both.iter().any(|e| e.contains("exactly one")), "{both:?}");
    let neither = cel_errors(json!({"unseal": {}}), None);
    assert!(
        neither.iter().any(|e| e.contains("exactly one")),
        "{neither:?}"
    );
}

#[test]
fn renew_before_must_be_shorter_than_the_validity() {
    let errors = cel_errors(
        json!({"unseal": {"shamir": {}}, "tls": {"duration": "24h", "renewBefore": "48h"}}),
        None,
    );
    assert!(
        errors.iter().any(|e| e.contains("renewBefore")),
        "{errors:?}"
    );
}

#[test]
fn storage_is_immutable() {
    let old = json!({"unseal": {"shamir": {}}, "storage": {"size": "10Gi"}});
    let new = json!({"unseal": {"shamir": {}}, "storage": {"size": "20Gi"}});
    let errors = cel_errors(new, Some(old.clone()));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("storage cannot be changed")),
        "{errors:?}"
    );
    assert!(cel_errors(old.clone(), Some(old)).is_empty());
}

#[test]
fn bounds_and_required_fields_are_in_the_schema() {
    let s = schema();
    let spec = &s["properties"]["spec"];
    assert_eq!(spec["required"], json!(["unseal"]));
    assert_eq!(spec["properties"]["replicas"]["minimum"], json!(1.0));
    assert_eq!(spec["properties"]["replicas"]["maximum"], json!(9.0));
    let shamir = &spec["properties"]["unseal"]["properties"]["shamir"]["properties"];
    assert_eq!(shamir["shares"]["maximum"], json!(255.0));
    assert_eq!(shamir["threshold"]["minimum"], json!(1.0));
    assert_eq!(
        spec["properties"]["config"]["x-kubernetes-preserve-unknown-fields"],
        json!(true)
    );
}
