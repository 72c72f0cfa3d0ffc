//! The `VaultCluster` custom resource (`coffer.dev/v1alpha1`): its spec, its status and the
//! CustomResourceDefinition generated from them.
//!
//! This module owns the API users write: field names, defaults and the schema rules the API
//! server enforces (OpenAPI minimum/maximum and pattern checks plus CEL
//! `x-kubernetes-validations`), so obvious mistakes — an even replica count, a Shamir threshold
//! above the share count, both or neither unseal kinds — are refused by `kubectl apply` before the
//! operator ever sees them. `crds/vaultcluster.yaml` is generated from these types by
//! `cargo run -p coffer-operator --bin coffer-crdgen > crds/vaultcluster.yaml`; a test fails
//! when the file and the types disagree.
//!
//! Defaults live in two places that must agree: serde defaults (used when the operator reads an
//! object the API server has not defaulted, e.g. in tests) and the schema `default`s that schemars
//! derives from the same functions, which the API server applies.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, ResourceRequirements, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::core::CustomResourceExt;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of every Coffer resource.
pub const GROUP: &str = "coffer.dev";
/// The image repository used when `spec.image` is not set.
pub const DEFAULT_IMAGE: &str = "ghcr.io/coffer/coffer";
/// The server version (image tag) used when `spec.version` is not set.
pub const DEFAULT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A highly available Coffer (Vault API) server cluster: a StatefulSet of servers joined into one
/// Raft cluster, initialised, unsealed and upgraded by the operator.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "coffer.dev",
    version = "v1alpha1",
    kind = "VaultCluster",
    plural = "vaultclusters",
    singular = "vaultcluster",
    shortname = "vc",
    category = "coffer",
    namespaced,
    status = "VaultClusterStatus",
    derive = "PartialEq",
    doc = "A highly available Coffer (Vault API) server cluster managed by the Coffer operator.",
    printcolumn = r#"{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "description": "Whether every member is initialised, unsealed and ready"}"#,
    printcolumn = r#"{"name": "Members", "type": "integer", "jsonPath": ".status.readyMembers", "description": "Members that are ready"}"#,
    printcolumn = r#"{"name": "Leader", "type": "string", "jsonPath": ".status.leader", "description": "The active (Raft leader) member"}"#,
    printcolumn = r#"{"name": "Sealed", "type": "integer", "jsonPath": ".status.sealedMembers", "description": "Members that are sealed"}"#,
    printcolumn = r#"{"name": "Version", "type": "string", "jsonPath": ".status.version", "description": "The server version the members run"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct VaultClusterSpec {
    /// Number of server members. Raft needs a majority, so the count is odd: 1 (development),
    /// 3 or 5 (production), at most 9.
    #[serde(default = "default_replicas")]
    #[schemars(
        range(min = 1, max = 9),
        extend("x-kubernetes-validations" = [{
            "rule": "self % 2 == 1",
            "message": "replicas must be odd (1, 3, 5, 7 or 9) so that Raft keeps a majority"
        }])
    )]
    pub replicas: i32,

    /// Server image repository, without a tag (the tag is `version`).
    #[serde(default = "default_image")]
    #[schemars(
        length(min = 1, max = 255),
        pattern(r"^[^:@\s]+(:[0-9]+)?(/[^:@\s]+)*$")
    )]
    pub image: String,

    /// Server version: the image tag. Changing it starts a leader-aware upgrade.
    #[serde(default = "default_version")]
    #[schemars(length(min = 1, max = 128), pattern(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"))]
    pub version: String,

    /// Compute resources of the server container (defaults: 250m CPU and 256Mi requested,
    /// 1Gi memory limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Raft data volume of each member. Fixed at creation: a StatefulSet's volume claim
    /// templates cannot change.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "storage cannot be changed after creation (volume claim templates are immutable)"
    }]))]
    pub storage: StorageSpec,

    /// Extra server configuration, as the JSON form of the server's configuration file (for
    /// example `{"default_lease_ttl": "24h", "ui": true}`). It is written beside the generated
    /// configuration and merged by the server. Keys the operator owns (`storage`, `listener`,
    /// `seal`, `api_addr`, `cluster_addr`, ...) are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "free_form_object")]
    pub config: Option<serde_json::Map<String, serde_json::Value>>,

    /// How members are unsealed: exactly one of `awsKms` or `shamir`.
    pub unseal: UnsealSpec,

    /// Where the unseal or recovery keys and the initial root token are kept.
    #[serde(default)]
    pub keys: KeysSpec,

    /// Server TLS: an operator-made CA and certificate (default) or an existing Secret.
    #[serde(default)]
    pub tls: TlsSpec,

    /// The server pods' ServiceAccount.
    #[serde(default)]
    pub service_account: ServiceAccountSpec,

    /// Pod affinity. When unset the operator prefers one member per node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// Pod topology spread constraints. When unset members are spread over zones (best effort)
    /// and hosts (enforced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,

    /// Node selector of the server pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,

    /// Tolerations of the server pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,

    /// The PodDisruptionBudget that keeps a Raft majority through node drains.
    #[serde(default)]
    pub pod_disruption_budget: PodDisruptionBudgetSpec,

    /// Stop reconciling: the operator makes no change to this cluster while set (deletion still
    /// runs its cleanup).
    #[serde(default)]
    pub paused: bool,
}

/// The Raft data volume of each member.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Requested size of each member's volume.
    #[serde(default = "default_storage_size")]
    pub size: Quantity,
    /// StorageClass of the volumes (the cluster default when unset; `gp3` on EKS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            size: default_storage_size(),
            storage_class_name: None,
        }
    }
}

/// How members are unsealed. Exactly one kind is set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "has(self.awsKms) != has(self.shamir)",
    "message": "set exactly one of unseal.awsKms or unseal.shamir"
}]))]
pub struct UnsealSpec {
    /// Auto-unseal with an AWS KMS key (credentials through IRSA on EKS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_kms: Option<AwsKmsSeal>,
    /// Shamir unseal keys, kept by the operator in the keys Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shamir: Option<ShamirSeal>,
}

/// AWS KMS auto-unseal.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsKmsSeal {
    /// KMS key id, ARN or alias (`alias/coffer-unseal`).
    #[schemars(length(min = 1, max = 2048))]
    pub key_id: String,
    /// AWS region of the key.
    #[schemars(length(min = 1, max = 64), pattern(r"^[a-z0-9-]+$"))]
    pub region: String,
    /// KMS endpoint override (VPC endpoint, or a local KMS in tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^https?://[^\s]+$"))]
    pub endpoint: Option<String>,
}

/// Shamir unseal: the root key is split into `shares`, `threshold` of which unseal.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "self.threshold <= self.shares",
        "message": "unseal.shamir.threshold cannot be greater than unseal.shamir.shares"
    },
    {
        "rule": "self.shares == 1 || self.threshold >= 2",
        "message": "unseal.shamir.threshold must be at least 2 when there are several shares"
    }
]))]
pub struct ShamirSeal {
    /// Number of key shares.
    #[serde(default = "default_shares")]
    #[schemars(range(min = 1, max = 255))]
    pub shares: i32,
    /// Number of shares needed to unseal.
    #[serde(default = "default_threshold")]
    #[schemars(range(min = 1, max = 255))]
    pub threshold: i32,
}

impl Default for ShamirSeal {
    fn default() -> Self {
        Self {
            shares: default_shares(),
            threshold: default_threshold(),
        }
    }
}

/// Where the unseal (or recovery) keys and the root token are kept.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeysSpec {
    /// Name of the Kubernetes Secret holding the keys (default `<cluster>-keys`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: Option<String>,
    /// Namespace of that Secret (default: the cluster's namespace). A Secret in another
    /// namespace cannot carry an owner reference; the operator's finalizer handles it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub secret_namespace: Option<String>,
    /// When set, the keys are encrypted with this KMS key before they are written to the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub kms_key_id: Option<String>,
    /// Revoke the initial root token once the cluster is bootstrapped.
    #[serde(default = "default_true")]
    pub revoke_root_token: bool,
    /// What happens to the keys Secret when the VaultCluster is deleted. `Retain` (default)
    /// keeps it, like the data volumes, so the data can still be unsealed.
    #[serde(default)]
    pub delete_policy: KeysDeletePolicy,
}

impl Default for KeysSpec {
    fn default() -> Self {
        Self {
            secret_name: None,
            secret_namespace: None,
            kms_key_id: None,
            revoke_root_token: true,
            delete_policy: KeysDeletePolicy::Retain,
        }
    }
}

/// What the finalizer does with the keys Secret.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum KeysDeletePolicy {
    /// Keep the Secret.
    #[default]
    Retain,
    /// Delete the Secret with the cluster.
    Delete,
}

/// Server TLS.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "duration(self.renewBefore) < duration(self.duration)",
    "message": "tls.renewBefore must be shorter than tls.duration"
}]))]
pub struct TlsSpec {
    /// A Secret with `tls.crt`, `tls.key` and `ca.crt` (cert-manager's layout) to use instead of
    /// operator-made certificates. It must cover the names listed in the documentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub existing_secret: Option<String>,
    /// Validity of operator-made server certificates (Go duration: `2160h`).
    #[serde(default = "default_cert_duration")]
    #[schemars(pattern(r"^([0-9]+(h|m|s))+$"))]
    pub duration: String,
    /// Renew operator-made certificates this long before they expire (Go duration: `720h`).
    #[serde(default = "default_renew_before")]
    #[schemars(pattern(r"^([0-9]+(h|m|s))+$"))]
    pub renew_before: String,
    /// Extra DNS names for the server certificate (an ingress or load balancer name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub additional_dns_names: Vec<String>,
}

impl Default for TlsSpec {
    fn default() -> Self {
        Self {
            existing_secret: None,
            duration: default_cert_duration(),
            renew_before: default_renew_before(),
            additional_dns_names: Vec::new(),
        }
    }
}

/// The server pods' ServiceAccount.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountSpec {
    /// Annotations, e.g. `eks.amazonaws.com/role-arn` for IRSA.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Mount a Kubernetes API token in the server pods. The servers need none to run (the
    /// operator labels the pods); IRSA tokens are projected separately.
    #[serde(default)]
    pub automount_token: bool,
}

/// The PodDisruptionBudget of the members.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    /// Whether to create it.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Members that may be disrupted at once.
    #[serde(default = "default_max_unavailable")]
    #[schemars(range(min = 0))]
    pub max_unavailable: i32,
}

impl Default for PodDisruptionBudgetSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            max_unavailable: default_max_unavailable(),
        }
    }
}

/// What the operator observed of the cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultClusterStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// One entry per member (pod).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub members: Vec<MemberStatus>,
    /// `Initialized`, `Unsealed`, `Ready`, `Upgrading` and `Degraded`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The active member (Raft leader).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// Members whose pods are ready.
    #[serde(default)]
    pub ready_members: i32,
    /// Members known to be sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_members: Option<i32>,
    /// The server version the members run (when they all agree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One member as the operator last saw it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberStatus {
    /// Pod name.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialized: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<bool>,
    #[serde(default)]
    pub leader: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raft_voter: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Condition types the operator reports.
pub mod condition {
    pub const INITIALIZED: &str = "Initialized";
    pub const UNSEALED: &str = "Unsealed";
    pub const READY: &str = "Ready";
    pub const UPGRADING: &str = "Upgrading";
    pub const DEGRADED: &str = "Degraded";
}

fn default_replicas() -> i32 {
    3
}
fn default_image() -> String {
    DEFAULT_IMAGE.to_owned()
}
fn default_version() -> String {
    DEFAULT_VERSION.to_owned()
}
fn default_storage_size() -> Quantity {
    Quantity("10Gi".to_owned())
}
fn default_shares() -> i32 {
    5
}
fn default_threshold() -> i32 {
    3
}
fn default_true() -> bool {
    true
}
fn default_cert_duration() -> String {
    "2160h".to_owned()
}
fn default_renew_before() -> String {
    "720h".to_owned()
}
fn default_max_unavailable() -> i32 {
    1
}

fn free_form_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

impl VaultCluster {
    /// The keys Secret's name and namespace.
    pub fn keys_secret(&self) -> (String, Option<String>) {
        let name = self
            .spec
            .keys
            .secret_name
            .clone()
            .unwrap_or_else(|| format!("{}-keys", kube::ResourceExt::name_any(self)));
        let namespace = self
            .spec
            .keys
            .secret_namespace
            .clone()
            .or_else(|| kube::ResourceExt::namespace(self));
        (name, namespace)
    }
}

/// The CRD as YAML: what `crds/vaultcluster.yaml` holds.
pub fn crd_yaml() -> Result<String, yaml_serde::Error> {
    let body = yaml_serde::to_string(&VaultCluster::crd())?;
    Ok(format!(
        "# Generated by `cargo run -p coffer-operator --bin coffer-crdgen > crds/vaultcluster.yaml`.\n\
         # Do not edit: change operator/src/crd.rs and regenerate.\n{body}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_defaults_match_the_documented_ones() {
        let spec: VaultClusterSpec =
            serde_json::from_value(serde_json::json!({"unseal": {"shamir": {}}}))
                .unwrap_or_else(|e| panic!("minimal spec: {e}"));
        assert_eq!(spec.replicas, 3);
        assert_eq!(spec.image, DEFAULT_IMAGE);
        assert_eq!(spec.version, DEFAULT_VERSION);
        assert_eq!(spec.storage.size.0, "10Gi");
        assert_eq!(spec.unseal.shamir, Some(ShamirSeal::default()));
        assert!(spec.keys.revoke_root_token);
        assert_eq!(spec.keys.delete_policy, KeysDeletePolicy::Retain);
        assert_eq!(spec.tls.renew_before, "720h");
        assert!(spec.pod_disruption_budget.enabled);
        assert_eq!(spec.pod_disruption_budget.max_unavailable, 1);
        assert!(!spec.paused);
    }

    #[test]
    fn crd_names_and_subresources() {
        let crd = VaultCluster::crd();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("vaultclusters.coffer.dev")
        );
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.short_names, Some(vec!["vc".to_owned()]));
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some());
        let columns: Vec<_> = version
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            columns,
            ["Ready", "Members", "Leader", "Sealed", "Version", "Age"]
        );
    }

    #[test]
    fn keys_secret_defaults_to_the_cluster_namespace() {
        let mut vc = VaultCluster::new(
            "vault",
            serde_json::from_value(serde_json::json!({"unseal": {"shamir": {}}}))
                .unwrap_or_else(|e| panic!("{e}")),
        );
        vc.metadata.namespace = Some("sec".into());
        assert_eq!(vc.keys_secret(), ("vault-keys".into(), Some("sec".into())));
        vc.spec.keys.secret_namespace = Some("vault-keys-ns".into());
        vc.spec.keys.secret_name = Some("k".into());
        assert_eq!(vc.keys_secret(), ("k".into(), Some("vault-keys-ns".into())));
    }
}
