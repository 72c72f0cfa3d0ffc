//! The builders' output as the API server would receive it: every object validates with
//! `kubernetes-validate --strict` for Kubernetes 1.33 and 1.37, the YAML matches the snapshots
//! (`UPDATE_SNAPSHOTS=1` to accept a change), the server configuration parses with the server's
//! own configuration crate, and the example VaultClusters in `manifests/` are valid.

use std::time::{Duration, UNIX_EPOCH};

use coffer_operator::builders::{self, config, Object};
use coffer_operator::crd::VaultCluster;
use coffer_operator::tls;
use kube::core::CustomResourceExt;

use crate::support::{assert_snapshot, dev_cluster, eks_cluster, kubernetes_validate, repo_root};

fn material(vc: &VaultCluster) -> tls::TlsMaterial {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    tls::plan(None, None, &builders::tls_policy(vc).expect("policy"), now)
        .expect("tls")
        .material
}

fn objects(vc: &VaultCluster) -> Vec<Object> {
    builders::build_all(vc, Some(&material(vc))).expect("build")
}

/// Snapshot text: Secret data replaced (keys are random), everything else verbatim.
fn redacted_yaml(objects: &[Object]) -> String {
    let redacted: Vec<Object> = objects
        .iter()
        .cloned()
        .map(|o| match o {
            Object::Secret(mut s) => {
                if let Some(data) = s.data.as_mut() {
                    for v in data.values_mut() {
                        *v = k8s_openapi::ByteString(b"<redacted>".to_vec());
                    }
                }
                Object::Secret(s)
            }
            o => o,
        })
        .collect();
    builders::to_yaml(&redacted).expect("yaml")
}

#[test]
fn default_cluster_manifests_validate_and_match_the_snapshot() {
    let objects = objects(&dev_cluster());
    kubernetes_validate("default", &builders::to_yaml(&objects).expect("yaml"));
    assert_snapshot("default.yaml", &redacted_yaml(&objects));
}

#[test]
fn eks_cluster_manifests_validate_and_match_the_snapshot() {
    let objects = objects(&eks_cluster());
    kubernetes_validate("eks", &builders::to_yaml(&objects).expect("yaml"));
    assert_snapshot("eks.yaml", &redacted_yaml(&objects));
}

#[test]
fn existing_tls_secret_manifests_validate() {
    let mut vc = dev_cluster();
    vc.spec.tls.existing_secret = Some("vault-cert-manager".into());
    vc.spec.pod_disruption_budget.enabled = false;
    let objects = builders::build_all(&vc, None).expect("build");
    kubernetes_validate("existing-tls", &builders::to_yaml(&objects).expect("yaml"));
}

#[test]
fn the_server_accepts_the_generated_configuration() {
    // Shamir: the whole configuration is one the server can run.
    let hcl = config::server_hcl(&dev_cluster()).expect("hcl");
    let parsed = coffer_config::parse_str(&hcl, config::MAIN_FILE)
        .unwrap_or_else(|e| panic!("the server refuses the generated configuration: {e}\n{hcl}"));
    parsed
        .validate_for_server()
        .unwrap_or_else(|e| panic!("{e}\n{hcl}"));
    assert_eq!(parsed.listeners.len(), 1);
    assert_eq!(parsed.cluster_name.as_deref(), Some("vault"));

    // KMS: it parses; this server version refuses only the seal it does not implement yet.
    let vc = eks_cluster();
    let hcl = config::server_hcl(&vc).expect("hcl");
    let parsed = coffer_config::parse_str(&hcl, config::MAIN_FILE)
        .unwrap_or_else(|e| panic!("the server cannot parse the KMS configuration: {e}\n{hcl}"));
    assert_eq!(
        parsed.seal.as_ref().map(|s| s.seal_type.as_str()),
        Some("awskms")
    );
    if let Err(e) = parsed.validate() {
        assert!(e.to_string().contains("awskms"), "unexpected refusal: {e}");
    }

    // The user's extra JSON merges over the generated file.
    let extra = config::extra_json(&vc).expect("extra").expect("some");
    let extra = coffer_config::parse_str(&extra, config::EXTRA_FILE)
        .unwrap_or_else(|e| panic!("the server refuses extra.json: {e}\n{extra}"));
    let merged = coffer_config::parse_str(
        &config::server_hcl(&dev_cluster()).expect("hcl"),
        config::MAIN_FILE,
    )
    .expect("parse")
    .merge(extra)
    .expect("merge");
    assert_eq!(
        merged.default_lease_ttl,
        Some(Duration::from_secs(24 * 3600))
    );
}

fn example(file: &str) -> VaultCluster {
    let path = repo_root().join("manifests").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut vc: VaultCluster =
        yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    vc.metadata
        .namespace
        .get_or_insert_with(|| "default".into());
    vc.metadata.uid = Some("00000000-0000-4000-8000-000000000000".into());
    vc
}

#[test]
fn example_vaultclusters_are_valid() {
    let validator = kube_cel::Validator::new();
    let crd = VaultCluster::crd();
    let schema = serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("schema"),
    )
    .expect("schema json");
    for file in ["eks-vaultcluster.yaml", "dev-vaultcluster.yaml"] {
        let vc = example(file);
        let value = serde_json::to_value(&vc).expect("json");
        if let Err(errors) = validator.validate(&schema, &value, None) {
            panic!("{file} breaks the CRD rules: {errors:?}");
        }
        let objects = builders::build_all(&vc, Some(&material(&vc))).expect("build");
        kubernetes_validate(file, &builders::to_yaml(&objects).expect("yaml"));
    }
    let eks = example("eks-vaultcluster.yaml");
    assert!(eks.spec.unseal.aws_kms.is_some());
    assert_eq!(eks.spec.replicas, 3);
    assert_eq!(eks.spec.storage.storage_class_name.as_deref(), Some("gp3"));
    assert!(eks
        .spec
        .service_account
        .annotations
        .contains_key("eks.amazonaws.com/role-arn"));
}
