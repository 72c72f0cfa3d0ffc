//! The StatefulSet of server members.
//!
//! Choices, and why:
//! - `podManagementPolicy: Parallel`: members start together and find each other through
//!   `retry_join`; ordered start would wait on readiness, which a sealed member never reaches.
//! - `updateStrategy: OnDelete`: Kubernetes never restarts members by itself; the operator's
//!   lifecycle engine upgrades standbys first and the leader last, health-gated.
//! - Probes on `sys/health`: startup and liveness accept sealed and uninitialised members
//!   (`sealedcode=204&uninitcode=204`), so a sealed pod is never killed for being sealed;
//!   readiness wants an unsealed active or standby member.
//! - Pod hardening: non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp,
//!   no API token unless asked for, no service links.
//! - Placement: when the user gives none, prefer one member per node and spread over zones
//!   (best effort) and hosts (enforced).
//! - The data volume claims are retained when the StatefulSet is deleted or scaled down.
//! - `coffer.dev/config-checksum` on the pod template changes when the configuration that needs a
//!   restart changes (seal, extra config, TLS source, image), not when members are added.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvVar, EnvVarSource, HTTPGetAction, ObjectFieldSelector, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecretVolumeSource,
    SecurityContext, TopologySpreadConstraint, Volume, VolumeMount, VolumeResourceRequirements,
    WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sha2::{Digest, Sha256};

use super::{
    config, labels, metadata, selector_labels, BuildError, Names, API_PORT, CLUSTER_PORT,
    CONFIG_DIR, DATA_DIR, TLS_DIR,
};
use crate::crd::VaultCluster;

/// The server container's name.
pub const CONTAINER: &str = "coffer";
/// UID and GID the server runs as (distroless `nonroot`).
pub const RUN_AS: i64 = 65532;
/// Pod template annotation that changes when members must restart to pick up configuration.
pub const CONFIG_CHECKSUM: &str = "coffer.dev/config-checksum";

/// Liveness and startup: any answer from a started server, sealed or not, initialised or not.
pub const LIVENESS_PATH: &str = "/v1/sys/health?standbyok=true&sealedcode=204&uninitcode=204";
/// Readiness: an initialised, unsealed active or standby member.
pub const READINESS_PATH: &str = "/v1/sys/health?standbyok=true&perfstandbyok=true";

fn env(name: &str, value: String) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value),
        ..EnvVar::default()
    }
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn probe(path: &str, period: i32, timeout: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::Int(API_PORT),
            scheme: Some("HTTPS".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(timeout),
        failure_threshold: Some(failures),
        success_threshold: Some(1),
        ..Probe::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(read_only),
        ..VolumeMount::default()
    }
}

fn default_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity("250m".into())),
            ("memory".to_owned(), Quantity("256Mi".into())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_owned(),
            Quantity("1Gi".into()),
        )])),
        ..ResourceRequirements::default()
    }
}

fn default_affinity(vc: &VaultCluster) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some(selector_labels(vc)),
                            ..LabelSelector::default()
                        }),
                        topology_key: "kubernetes.io/hostname".into(),
                        ..PodAffinityTerm::default()
                    },
                },
            ]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    }
}

fn default_spread(vc: &VaultCluster) -> Vec<TopologySpreadConstraint> {
    let constraint = |key: &str, when: &str| TopologySpreadConstraint {
        max_skew: 1,
        topology_key: key.into(),
        when_unsatisfiable: when.into(),
        label_selector: Some(LabelSelector {
            match_labels: Some(selector_labels(vc)),
            ..LabelSelector::default()
        }),
        ..TopologySpreadConstraint::default()
    };
    vec![
        constraint("topology.kubernetes.io/zone", "ScheduleAnyway"),
        constraint("kubernetes.io/hostname", "DoNotSchedule"),
    ]
}

/// The image reference `image:version`.
pub fn image(vc: &VaultCluster) -> String {
    format!("{}:{}", vc.spec.image, vc.spec.version)
}

/// Checksum of the inputs whose change needs a member restart. Member count is left out:
/// `retry_join` only matters to members that have not joined yet.
pub fn config_checksum(vc: &VaultCluster) -> Result<String, BuildError> {
    let inputs = serde_json::json!({
        "unseal": vc.spec.unseal,
        "config": config::extra_json(vc)?,
        "tlsSecret": vc.spec.tls.existing_secret,
    });
    let bytes = serde_json::to_vec(&inputs).map_err(|e| BuildError::Config(e.to_string()))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// The StatefulSet `<cluster>`.
pub fn stateful_set(vc: &VaultCluster) -> Result<StatefulSet, BuildError> {
    let n = Names::of(vc)?;
    let spec = &vc.spec;
    let mut meta = metadata(vc, n.base())?;
    if let Some(l) = meta.labels.as_mut() {
        l.insert(labels::VERSION.into(), spec.version.clone());
    }
    let mut pod_labels = super::common_labels(vc);
    pod_labels.insert(labels::VERSION.into(), spec.version.clone());

    let internal = n.internal_service();
    let pod_addr =
        |port: i32| format!("https://$(POD_NAME).{internal}.$(POD_NAMESPACE).svc:{port}");
    let container = Container {
        name: CONTAINER.into(),
        image: Some(image(vc)),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec!["coffer".into()]),
        args: Some(vec!["server".into(), format!("-config={CONFIG_DIR}")]),
        ports: Some(vec![
            ContainerPort {
                name: Some("https".into()),
                container_port: API_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some("https-internal".into()),
                container_port: CLUSTER_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
        ]),
        env: Some(vec![
            field_env("POD_NAME", "metadata.name"),
            field_env("POD_NAMESPACE", "metadata.namespace"),
            field_env("POD_IP", "status.podIP"),
            env("VAULT_API_ADDR", pod_addr(API_PORT)),
            env("VAULT_CLUSTER_ADDR", pod_addr(CLUSTER_PORT)),
            env("VAULT_RAFT_NODE_ID", "$(POD_NAME)".into()),
            env("VAULT_ADDR", format!("https://127.0.0.1:{API_PORT}")),
            env("VAULT_CACERT", format!("{TLS_DIR}/ca.crt")),
            env("HOME", "/tmp".into()),
        ]),
        resources: Some(spec.resources.clone().unwrap_or_else(default_resources)),
        startup_probe: Some(probe(LIVENESS_PATH, 5, 3, 60)),
        liveness_probe: Some(probe(LIVENESS_PATH, 10, 5, 6)),
        readiness_probe: Some(probe(READINESS_PATH, 5, 3, 2)),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..SeccompProfile::default()
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![
            mount("data", DATA_DIR, false),
            mount("config", CONFIG_DIR, true),
            mount("tls", TLS_DIR, true),
            mount("tmp", "/tmp", false),
        ]),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        ..Container::default()
    };

    let tls_secret = spec
        .tls
        .existing_secret
        .clone()
        .unwrap_or_else(|| n.tls_secret());
    let pod = PodSpec {
        service_account_name: Some(n.base()),
        automount_service_account_token: Some(spec.service_account.automount_token),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(60),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            fs_group: Some(RUN_AS),
            fs_group_change_policy: Some("OnRootMismatch".into()),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..SeccompProfile::default()
            }),
            ..PodSecurityContext::default()
        }),
        affinity: Some(
            spec.affinity
                .clone()
                .unwrap_or_else(|| default_affinity(vc)),
        ),
        topology_spread_constraints: Some(
            spec.topology_spread_constraints
                .clone()
                .unwrap_or_else(|| default_spread(vc)),
        ),
        node_selector: spec.node_selector.clone(),
        tolerations: spec.tolerations.clone(),
        containers: vec![container],
        volumes: Some(vec![
            Volume {
                name: "config".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: n.config_map(),
                    default_mode: Some(0o444),
                    ..ConfigMapVolumeSource::default()
                }),
                ..Volume::default()
            },
            Volume {
                name: "tls".into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(tls_secret),
                    default_mode: Some(0o440),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            },
            Volume {
                name: "tmp".into(),
                empty_dir: Some(EmptyDirVolumeSource {
                    medium: Some("Memory".into()),
                    size_limit: Some(Quantity("64Mi".into())),
                }),
                ..Volume::default()
            },
        ]),
        ..PodSpec::default()
    };

    let claim = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".into()),
            labels: Some(selector_labels(vc)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: spec.storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    spec.storage.size.clone(),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    };

    Ok(StatefulSet {
        metadata: meta,
        spec: Some(StatefulSetSpec {
            replicas: Some(spec.replicas),
            service_name: Some(n.internal_service()),
            pod_management_policy: Some("Parallel".into()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("OnDelete".into()),
                ..StatefulSetUpdateStrategy::default()
            }),
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Retain".into()),
                    when_scaled: Some("Retain".into()),
                },
            ),
            revision_history_limit: Some(10),
            selector: LabelSelector {
                match_labels: Some(selector_labels(vc)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(BTreeMap::from([(
                        CONFIG_CHECKSUM.to_owned(),
                        config_checksum(vc)?,
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            volume_claim_templates: Some(vec![claim]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::tests::{cluster, dev};
    use serde_json::json;

    fn pod(sts: &StatefulSet) -> &PodSpec {
        sts.spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("pod spec")
    }

    #[test]
    fn shape_for_an_operator_driven_raft_cluster() {
        let sts = stateful_set(&dev()).expect("sts");
        let spec = sts.spec.as_ref().expect("spec");
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
        assert_eq!(
            spec.update_strategy
                .as_ref()
                .and_then(|u| u.type_.as_deref()),
            Some("OnDelete")
        );
        assert_eq!(spec.service_name.as_deref(), Some("vault-internal"));
        let claim = &spec.volume_claim_templates.as_ref().expect("claims")[0];
        assert_eq!(claim.metadata.name.as_deref(), Some("data"));
        let c = &pod(&sts).containers[0];
        assert_eq!(
            c.image.as_deref(),
            Some(
                format!(
                    "{}:{}",
                    crate::crd::DEFAULT_IMAGE,
                    crate::crd::DEFAULT_VERSION
                )
                .as_str()
            )
        );
        let data = c
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.name == "data")
            .expect("data");
        assert_eq!(data.mount_path, "/coffer/data");
    }

    #[test]
    fn probes_never_kill_a_sealed_member() {
        let sts = stateful_set(&dev()).expect("sts");
        let c = &pod(&sts).containers[0];
        let path = |p: &Option<Probe>| {
            p.as_ref()
                .and_then(|p| p.http_get.as_ref())
                .and_then(|h| h.path.clone())
                .expect("path")
        };
        assert!(path(&c.liveness_probe).contains("sealedcode=204"));
        assert!(path(&c.liveness_probe).contains("uninitcode=204"));
        assert!(path(&c.startup_probe).contains("sealedcode=204"));
        assert_eq!(
            path(&c.readiness_probe),
            "/v1/sys/health?standbyok=true&perfstandbyok=true"
        );
        let startup = c.startup_probe.as_ref().expect("startup");
        let budget = startup.period_seconds.unwrap_or(10) * startup.failure_threshold.unwrap_or(3);
        assert!(budget >= 300, "startup probe allows only {budget}s");
    }

    #[test]
    fn hardened_pod() {
        let sts = stateful_set(&dev()).expect("sts");
        let p = pod(&sts);
        let psc = p.security_context.as_ref().expect("psc");
        assert_eq!(psc.run_as_non_root, Some(true));
        let sc = p.containers[0].security_context.as_ref().expect("sc");
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(
            sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
            Some(vec!["ALL".to_owned()])
        );
        assert_eq!(
            sc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
            Some("RuntimeDefault")
        );
        assert_eq!(p.automount_service_account_token, Some(false));
    }

    #[test]
    fn per_pod_addresses_come_from_the_pod_name() {
        let sts = stateful_set(&dev()).expect("sts");
        let envs = pod(&sts).containers[0].env.clone().expect("env");
        let get = |k: &str| {
            envs.iter()
                .find(|e| e.name == k)
                .and_then(|e| e.value.clone())
        };
        assert_eq!(
            get("VAULT_API_ADDR").as_deref(),
            Some("https://$(POD_NAME).vault-internal.$(POD_NAMESPACE).svc:8200")
        );
        assert_eq!(get("VAULT_RAFT_NODE_ID").as_deref(), Some("$(POD_NAME)"));
        // Dependent variables must be declared after the ones they use.
        let idx = |k: &str| envs.iter().position(|e| e.name == k).expect(k);
        assert!(idx("POD_NAME") < idx("VAULT_API_ADDR"));
    }

    #[test]
    fn default_placement_spreads_and_user_placement_wins() {
        let sts = stateful_set(&dev()).expect("sts");
        let spread = pod(&sts)
            .topology_spread_constraints
            .clone()
            .expect("spread");
        let keys: Vec<_> = spread.iter().map(|t| t.topology_key.as_str()).collect();
        assert_eq!(
            keys,
            ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        );
        assert!(pod(&sts)
            .affinity
            .as_ref()
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .is_some());

        let vc = cluster(json!({
            "unseal": {"shamir": {}},
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                           "whenUnsatisfiable": "DoNotSchedule"}],
            "nodeSelector": {"pool": "vault"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "vault", "effect": "NoSchedule"}]
        }));
        let sts = stateful_set(&vc).expect("sts");
        assert_eq!(
            pod(&sts).topology_spread_constraints.as_ref().map(Vec::len),
            Some(1)
        );
        assert_eq!(
            pod(&sts)
                .node_selector
                .as_ref()
                .and_then(|n| n.get("pool"))
                .map(String::as_str),
            Some("vault")
        );
        assert_eq!(pod(&sts).tolerations.as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn checksum_ignores_scaling_but_not_seal_changes() {
        let a = config_checksum(&dev()).expect("a");
        let mut scaled = dev();
        scaled.spec.replicas = 5;
        assert_eq!(config_checksum(&scaled).expect("b"), a);
        let kms = cluster(json!({"unseal": {"awsKms": {"keyId": "k", "region": "us-east-1"}}}));
        assert_ne!(config_checksum(&kms).expect("c"), a);
    }

    #[test]
    fn existing_tls_secret_is_mounted() {
        let mut vc = dev();
        vc.spec.tls.existing_secret = Some("cert-manager-tls".into());
        let sts = stateful_set(&vc).expect("sts");
        let tls = pod(&sts)
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "tls")
            .expect("tls");
        assert_eq!(
            tls.secret.as_ref().and_then(|s| s.secret_name.as_deref()),
            Some("cert-manager-tls")
        );
    }
}
