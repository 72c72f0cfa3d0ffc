//! Pure builders: `VaultCluster` (plus, for TLS, the certificates to store) → the Kubernetes
//! objects the cluster is made of. No API calls, no clock, no randomness (certificates are made
//! by [`crate::tls`] and passed in), so every output is tested as data and snapshotted as YAML.
//!
//! This module owns names, labels, owner references and the [`Object`] list that reconcile
//! applies in order: ServiceAccount, Role, RoleBinding, ConfigMap, TLS Secrets, Services,
//! PodDisruptionBudget and, last, the StatefulSet (so everything its pods mount exists first).

pub mod config;
pub mod rbac;
pub mod services;
pub mod statefulset;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::ByteString;
use kube::core::ApiResource;
use kube::{Resource, ResourceExt};

use crate::crd::VaultCluster;
use crate::tls::{self, TlsMaterial, TlsPolicy};

/// Label keys and values shared by every object.
pub mod labels {
    pub const NAME: &str = "app.kubernetes.io/name";
    pub const INSTANCE: &str = "app.kubernetes.io/instance";
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    pub const COMPONENT: &str = "app.kubernetes.io/component";
    pub const VERSION: &str = "app.kubernetes.io/version";
    /// Set on server pods by the operator: `"true"` on the active member, `"false"` on standbys.
    pub const ACTIVE: &str = "coffer.dev/active";
    pub const APP: &str = "coffer";
    pub const OPERATOR: &str = "coffer-operator";
    pub const SERVER: &str = "server";
}

/// The API port of the servers.
pub const API_PORT: i32 = 8200;
/// The Raft / request-forwarding port of the servers.
pub const CLUSTER_PORT: i32 = 8201;
/// Where the Raft data volume is mounted.
pub const DATA_DIR: &str = "/coffer/data";
/// Where the ConfigMap is mounted (the server loads every file in it).
pub const CONFIG_DIR: &str = "/coffer/config";
/// Where the TLS Secret is mounted.
pub const TLS_DIR: &str = "/coffer/tls";

/// Why a VaultCluster cannot be turned into objects.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the VaultCluster has no namespace")]
    MissingNamespace,
    #[error("the VaultCluster has no uid yet (owner references need one)")]
    MissingUid,
    #[error("spec.config sets {0:?}, which the operator manages; remove it")]
    ReservedConfigKey(String),
    #[error("spec.config cannot be serialised: {0}")]
    Config(String),
    #[error("operator-made TLS needs certificates, and none were given")]
    MissingTls,
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// The names of everything a VaultCluster owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    pub cluster: String,
    pub namespace: String,
}

impl Names {
    pub fn of(vc: &VaultCluster) -> Result<Self, BuildError> {
        Ok(Self {
            cluster: vc.name_any(),
            namespace: vc.namespace().ok_or(BuildError::MissingNamespace)?,
        })
    }
    /// StatefulSet, client Service, ServiceAccount, Role, RoleBinding and PDB share this name.
    pub fn base(&self) -> String {
        self.cluster.clone()
    }
    /// The headless Service that gives each pod a stable DNS name.
    pub fn internal_service(&self) -> String {
        format!("{}-internal", self.cluster)
    }
    pub fn active_service(&self) -> String {
        format!("{}-active", self.cluster)
    }
    pub fn standby_service(&self) -> String {
        format!("{}-standby", self.cluster)
    }
    pub fn config_map(&self) -> String {
        format!("{}-config", self.cluster)
    }
    /// The Secret mounted into pods: `tls.crt`, `tls.key`, `ca.crt`.
    pub fn tls_secret(&self) -> String {
        format!("{}-tls", self.cluster)
    }
    /// The Secret holding the CA key (never mounted).
    pub fn ca_secret(&self) -> String {
        format!("{}-ca", self.cluster)
    }
    /// Pod `ordinal`'s name.
    pub fn pod(&self, ordinal: i32) -> String {
        format!("{}-{ordinal}", self.cluster)
    }
    /// Pod `ordinal`'s stable DNS name through the headless Service.
    pub fn pod_dns(&self, ordinal: i32) -> String {
        format!(
            "{}.{}.{}.svc",
            self.pod(ordinal),
            self.internal_service(),
            self.namespace
        )
    }
    /// Pod `ordinal`'s API address.
    pub fn pod_api_addr(&self, ordinal: i32) -> String {
        format!("https://{}:{API_PORT}", self.pod_dns(ordinal))
    }
}

/// Labels on every object of the cluster.
pub fn common_labels(vc: &VaultCluster) -> BTreeMap<String, String> {
    let mut l = selector_labels(vc);
    l.insert(labels::MANAGED_BY.into(), labels::OPERATOR.into());
    l
}

/// The labels that select the cluster's pods (never change after creation).
pub fn selector_labels(vc: &VaultCluster) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::NAME.to_owned(), labels::APP.to_owned()),
        (labels::INSTANCE.to_owned(), vc.name_any()),
        (labels::COMPONENT.to_owned(), labels::SERVER.to_owned()),
    ])
}

/// The controller owner reference every object carries, so deleting the VaultCluster deletes
/// them (PVCs excepted: the StatefulSet retains them).
pub fn owner_reference(vc: &VaultCluster) -> Result<OwnerReference, BuildError> {
    vc.controller_owner_ref(&()).ok_or(BuildError::MissingUid)
}

/// Metadata for an object named `name` in the cluster's namespace.
pub fn metadata(vc: &VaultCluster, name: String) -> Result<ObjectMeta, BuildError> {
    Ok(ObjectMeta {
        name: Some(name),
        namespace: Some(Names::of(vc)?.namespace),
        labels: Some(common_labels(vc)),
        owner_references: Some(vec![owner_reference(vc)?]),
        ..ObjectMeta::default()
    })
}

/// One object the operator applies.
// A dozen of these exist per reconcile; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    ServiceAccount(ServiceAccount),
    Role(Role),
    RoleBinding(RoleBinding),
    ConfigMap(ConfigMap),
    Secret(Secret),
    Service(Service),
    PodDisruptionBudget(PodDisruptionBudget),
    StatefulSet(StatefulSet),
}

impl Object {
    fn meta(&self) -> &ObjectMeta {
        match self {
            Object::ServiceAccount(o) => &o.metadata,
            Object::Role(o) => &o.metadata,
            Object::RoleBinding(o) => &o.metadata,
            Object::ConfigMap(o) => &o.metadata,
            Object::Secret(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::PodDisruptionBudget(o) => &o.metadata,
            Object::StatefulSet(o) => &o.metadata,
        }
    }

    /// The object's kind (`StatefulSet`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Object::ServiceAccount(_) => "ServiceAccount",
            Object::Role(_) => "Role",
            Object::RoleBinding(_) => "RoleBinding",
            Object::ConfigMap(_) => "ConfigMap",
            Object::Secret(_) => "Secret",
            Object::Service(_) => "Service",
            Object::PodDisruptionBudget(_) => "PodDisruptionBudget",
            Object::StatefulSet(_) => "StatefulSet",
        }
    }

    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or_default()
    }

    pub fn namespace(&self) -> &str {
        self.meta().namespace.as_deref().unwrap_or_default()
    }

    /// Group, version and plural of the object's kind, for a dynamic API client.
    pub fn api_resource(&self) -> ApiResource {
        match self {
            Object::ServiceAccount(_) => ApiResource::erase::<ServiceAccount>(&()),
            Object::Role(_) => ApiResource::erase::<Role>(&()),
            Object::RoleBinding(_) => ApiResource::erase::<RoleBinding>(&()),
            Object::ConfigMap(_) => ApiResource::erase::<ConfigMap>(&()),
            Object::Secret(_) => ApiResource::erase::<Secret>(&()),
            Object::Service(_) => ApiResource::erase::<Service>(&()),
            Object::PodDisruptionBudget(_) => ApiResource::erase::<PodDisruptionBudget>(&()),
            Object::StatefulSet(_) => ApiResource::erase::<StatefulSet>(&()),
        }
    }

    /// The object as JSON, with `apiVersion` and `kind`.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            Object::ServiceAccount(o) => serde_json::to_value(o),
            Object::Role(o) => serde_json::to_value(o),
            Object::RoleBinding(o) => serde_json::to_value(o),
            Object::ConfigMap(o) => serde_json::to_value(o),
            Object::Secret(o) => serde_json::to_value(o),
            Object::Service(o) => serde_json::to_value(o),
            Object::PodDisruptionBudget(o) => serde_json::to_value(o),
            Object::StatefulSet(o) => serde_json::to_value(o),
        }
    }
}

/// Renders objects as one multi-document YAML text.
pub fn to_yaml(objects: &[Object]) -> Result<String, yaml_serde::Error> {
    let mut out = String::new();
    for o in objects {
        let value = o
            .to_value()
            .map_err(<yaml_serde::Error as serde::ser::Error>::custom)?;
        out.push_str("---\n");
        out.push_str(&yaml_serde::to_string(&value)?);
    }
    Ok(out)
}

/// The names the server certificate must cover: every pod (through wildcards on the headless
/// Service, so scaling needs no new certificate), every Service in its short and qualified forms,
/// loopback, and `spec.tls.additionalDnsNames`.
pub fn tls_names(vc: &VaultCluster) -> Result<Vec<String>, BuildError> {
    let n = Names::of(vc)?;
    let ns = &n.namespace;
    let mut names = Vec::new();
    let internal = n.internal_service();
    for suffix in ["", ".NS", ".NS.svc", ".NS.svc.cluster.local"] {
        names.push(format!("*.{internal}{}", suffix.replace("NS", ns)));
    }
    for svc in [n.base(), n.active_service(), n.standby_service(), internal] {
        for suffix in ["", ".NS", ".NS.svc", ".NS.svc.cluster.local"] {
            names.push(format!("{svc}{}", suffix.replace("NS", ns)));
        }
    }
    names.extend([
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ]);
    for extra in &vc.spec.tls.additional_dns_names {
        if !names.contains(extra) {
            names.push(extra.clone());
        }
    }
    Ok(names)
}

/// The TLS policy for [`tls::plan`].
pub fn tls_policy(vc: &VaultCluster) -> Result<TlsPolicy, BuildError> {
    let n = Names::of(vc)?;
    Ok(TlsPolicy {
        ca_common_name: format!("Coffer CA {}/{}", n.namespace, n.cluster),
        server_common_name: format!("{}.{}.svc", n.cluster, n.namespace),
        names: tls_names(vc)?,
        validity: tls::parse_duration(&vc.spec.tls.duration)?,
        renew_before: tls::parse_duration(&vc.spec.tls.renew_before)?,
    })
}

/// The two Secrets holding operator-made TLS material.
pub fn tls_secrets(vc: &VaultCluster, tls: &TlsMaterial) -> Result<[Secret; 2], BuildError> {
    let n = Names::of(vc)?;
    let bytes = |s: &str| ByteString(s.as_bytes().to_vec());
    let ca = Secret {
        metadata: metadata(vc, n.ca_secret())?,
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([
            ("ca.crt".to_owned(), bytes(&tls.ca.cert_pem)),
            ("ca.key".to_owned(), bytes(&tls.ca.key_pem)),
        ])),
        ..Secret::default()
    };
    let server = Secret {
        metadata: metadata(vc, n.tls_secret())?,
        type_: Some("kubernetes.io/tls".into()),
        data: Some(BTreeMap::from([
            ("ca.crt".to_owned(), bytes(&tls.ca.cert_pem)),
            ("tls.crt".to_owned(), bytes(&tls.server.cert_pem)),
            ("tls.key".to_owned(), bytes(&tls.server.key_pem)),
        ])),
        ..Secret::default()
    };
    Ok([ca, server])
}

/// Reads TLS material back from the two Secrets (None when either is missing or incomplete).
pub fn tls_from_secrets(
    ca: Option<&Secret>,
    server: Option<&Secret>,
) -> (
    Option<tls::CertificateAuthority>,
    Option<tls::ServerCertificate>,
) {
    let field = |s: Option<&Secret>, key: &str| {
        s.and_then(|s| s.data.as_ref())
            .and_then(|d| d.get(key))
            .and_then(|b| String::from_utf8(b.0.clone()).ok())
    };
    let ca = match (field(ca, "ca.crt"), field(ca, "ca.key")) {
        (Some(cert_pem), Some(key_pem)) => Some(tls::CertificateAuthority { cert_pem, key_pem }),
        _ => None,
    };
    let server = match (field(server, "tls.crt"), field(server, "tls.key")) {
        (Some(cert_pem), Some(key_pem)) => Some(tls::ServerCertificate { cert_pem, key_pem }),
        _ => None,
    };
    (ca, server)
}

/// The PodDisruptionBudget: at most `maxUnavailable` members down for voluntary disruptions;
/// unhealthy (e.g. sealed) pods may always be evicted so a drain never waits on them.
pub fn pod_disruption_budget(vc: &VaultCluster) -> Result<PodDisruptionBudget, BuildError> {
    let n = Names::of(vc)?;
    Ok(PodDisruptionBudget {
        metadata: metadata(vc, n.base())?,
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(
                vc.spec.pod_disruption_budget.max_unavailable,
            )),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(vc)),
                ..LabelSelector::default()
            }),
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".into()),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    })
}

/// Checks everything the builders would refuse, without making certificates: run it before any
/// API call so an invalid spec changes nothing.
pub fn check(vc: &VaultCluster) -> Result<(), BuildError> {
    owner_reference(vc)?;
    config::config_map(vc)?;
    statefulset::config_checksum(vc)?;
    if vc.spec.tls.existing_secret.is_none() {
        tls_policy(vc)?;
    }
    Ok(())
}

/// Every object of the cluster, in apply order. `tls` is the operator-made material and is
/// required unless `spec.tls.existingSecret` is set (then it is ignored).
pub fn build_all(vc: &VaultCluster, tls: Option<&TlsMaterial>) -> Result<Vec<Object>, BuildError> {
    let mut out = vec![
        Object::ServiceAccount(rbac::service_account(vc)?),
        Object::Role(rbac::role(vc)?),
        Object::RoleBinding(rbac::role_binding(vc)?),
        Object::ConfigMap(config::config_map(vc)?),
    ];
    if vc.spec.tls.existing_secret.is_none() {
        let material = tls.ok_or(BuildError::MissingTls)?;
        out.extend(tls_secrets(vc, material)?.map(Object::Secret));
    }
    out.extend(services::all(vc)?.into_iter().map(Object::Service));
    if vc.spec.pod_disruption_budget.enabled {
        out.push(Object::PodDisruptionBudget(pod_disruption_budget(vc)?));
    }
    out.push(Object::StatefulSet(statefulset::stateful_set(vc)?));
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crd::VaultClusterSpec;

    pub(crate) fn cluster(spec: serde_json::Value) -> VaultCluster {
        let spec: VaultClusterSpec = serde_json::from_value(spec).expect("spec");
        let mut vc = VaultCluster::new("vault", spec);
        vc.metadata.namespace = Some("sec".into());
        vc.metadata.uid = Some("0b4a0c35-6d1c-4b9e-9f65-6cf1d7b0c001".into());
        vc
    }

    pub(crate) fn dev() -> VaultCluster {
        cluster(serde_json::json!({"unseal": {"shamir": {}}}))
    }

    #[test]
    fn names_are_stable() {
        let n = Names::of(&dev()).expect("names");
        assert_eq!(n.pod_dns(2), "vault-2.vault-internal.sec.svc");
        assert_eq!(
            n.pod_api_addr(0),
            "https://vault-0.vault-internal.sec.svc:8200"
        );
        assert_eq!(n.config_map(), "vault-config");
    }

    #[test]
    fn every_object_has_labels_namespace_and_an_owner() {
        let vc = dev();
        let material = tls::plan(
            None,
            None,
            &tls_policy(&vc).expect("policy"),
            std::time::SystemTime::now(),
        )
        .expect("tls")
        .material;
        let objects = build_all(&vc, Some(&material)).expect("build");
        let kinds: Vec<_> = objects
            .iter()
            .map(|o| format!("{}/{}", o.kind(), o.name()))
            .collect();
        assert_eq!(
            kinds,
            [
                "ServiceAccount/vault",
                "Role/vault",
                "RoleBinding/vault",
                "ConfigMap/vault-config",
                "Secret/vault-ca",
                "Secret/vault-tls",
                "Service/vault",
                "Service/vault-internal",
                "Service/vault-active",
                "Service/vault-standby",
                "PodDisruptionBudget/vault",
                "StatefulSet/vault",
            ]
        );
        for o in &objects {
            let m = o.meta();
            assert_eq!(m.namespace.as_deref(), Some("sec"));
            let l = m.labels.as_ref().expect("labels");
            assert_eq!(l.get(labels::NAME).map(String::as_str), Some("coffer"));
            assert_eq!(l.get(labels::INSTANCE).map(String::as_str), Some("vault"));
            assert_eq!(
                l.get(labels::MANAGED_BY).map(String::as_str),
                Some("coffer-operator")
            );
            let owners = m.owner_references.as_ref().expect("owners");
            assert_eq!(owners.len(), 1);
            assert_eq!(owners[0].kind, "VaultCluster");
            assert_eq!(owners[0].controller, Some(true));
        }
    }

    #[test]
    fn existing_tls_secret_means_no_operator_made_secrets() {
        let mut vc = dev();
        vc.spec.tls.existing_secret = Some("my-certs".into());
        let objects = build_all(&vc, None).expect("build");
        assert!(objects.iter().all(|o| o.kind() != "Secret"));
        assert!(matches!(
            build_all(&dev(), None),
            Err(BuildError::MissingTls)
        ));
    }

    #[test]
    fn refuses_a_cluster_without_uid_or_namespace() {
        let mut vc = dev();
        vc.metadata.uid = None;
        assert!(matches!(build_all(&vc, None), Err(BuildError::MissingUid)));
        let mut vc = dev();
        vc.metadata.namespace = None;
        assert!(matches!(
            build_all(&vc, None),
            Err(BuildError::MissingNamespace)
        ));
    }

    #[test]
    fn tls_names_cover_pods_services_and_extras() {
        let mut vc = dev();
        vc.spec.tls.additional_dns_names = vec!["vault.example.com".into()];
        let names = tls_names(&vc).expect("names");
        for want in [
            "*.vault-internal.sec.svc",
            "*.vault-internal",
            "vault.sec.svc",
            "vault-active.sec.svc.cluster.local",
            "vault-standby",
            "127.0.0.1",
            "vault.example.com",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
    }

    #[test]
    fn tls_secrets_round_trip() {
        let vc = dev();
        let material = tls::plan(
            None,
            None,
            &tls_policy(&vc).expect("policy"),
            std::time::SystemTime::now(),
        )
        .expect("tls")
        .material;
        let [ca, server] = tls_secrets(&vc, &material).expect("secrets");
        assert_eq!(server.type_.as_deref(), Some("kubernetes.io/tls"));
        let (ca_back, server_back) = tls_from_secrets(Some(&ca), Some(&server));
        assert_eq!(ca_back.as_ref(), Some(&material.ca));
        assert_eq!(server_back.as_ref(), Some(&material.server));
        assert_eq!(tls_from_secrets(None, Some(&server)).0, None);
    }

    #[test]
    fn pdb_keeps_a_majority() {
        let pdb = pod_disruption_budget(&dev()).expect("pdb");
        let spec = pdb.spec.expect("spec");
        assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
        assert_eq!(
            spec.unhealthy_pod_eviction_policy.as_deref(),
            Some("AlwaysAllow")
        );
    }
}
