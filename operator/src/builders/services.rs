//! The four Services of a cluster, named as in vault-helm:
//! - `<cluster>`: clients, ready members only;
//! - `<cluster>-internal`: headless, `publishNotReadyAddresses`, so every pod has a stable DNS name
//!   (`<pod>.<cluster>-internal.<ns>.svc`) even while sealed — Raft joins go through it;
//! - `<cluster>-active` / `<cluster>-standby`: the members the operator labels
//!   `coffer.dev/active: "true"` / `"false"`.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{labels, metadata, selector_labels, BuildError, Names, API_PORT, CLUSTER_PORT};
use crate::crd::VaultCluster;

fn port(name: &str, number: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port: number,
        target_port: Some(IntOrString::Int(number)),
        protocol: Some("TCP".into()),
        app_protocol: Some("https".into()),
        ..ServicePort::default()
    }
}

fn ports() -> Vec<ServicePort> {
    vec![
        port("https", API_PORT),
        port("https-internal", CLUSTER_PORT),
    ]
}

fn service(
    vc: &VaultCluster,
    name: String,
    active: Option<bool>,
    headless: bool,
) -> Result<Service, BuildError> {
    let mut selector = selector_labels(vc);
    if let Some(active) = active {
        selector.insert(labels::ACTIVE.into(), active.to_string());
    }
    Ok(Service {
        metadata: metadata(vc, name)?,
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: headless.then(|| "None".to_owned()),
            publish_not_ready_addresses: Some(headless),
            selector: Some(selector),
            ports: Some(if headless || active.is_some() {
                ports()
            } else {
                vec![port("https", API_PORT)]
            }),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    })
}

/// Client, internal (headless), active and standby Services, in that order.
pub fn all(vc: &VaultCluster) -> Result<Vec<Service>, BuildError> {
    let n = Names::of(vc)?;
    Ok(vec![
        service(vc, n.base(), None, false)?,
        service(vc, n.internal_service(), None, true)?,
        service(vc, n.active_service(), Some(true), false)?,
        service(vc, n.standby_service(), Some(false), false)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::tests::dev;

    #[test]
    fn internal_service_is_headless_and_publishes_unready_pods() {
        let svcs = all(&dev()).expect("services");
        let internal = svcs[1].spec.as_ref().expect("spec");
        assert_eq!(internal.cluster_ip.as_deref(), Some("None"));
        assert_eq!(internal.publish_not_ready_addresses, Some(true));
        let ports: Vec<_> = internal.ports.iter().flatten().map(|p| p.port).collect();
        assert_eq!(ports, [8200, 8201]);
        let client = svcs[0].spec.as_ref().expect("spec");
        assert_eq!(client.publish_not_ready_addresses, Some(false));
        assert_eq!(client.cluster_ip, None);
    }

    #[test]
    fn active_and_standby_select_on_the_active_label() {
        let svcs = all(&dev()).expect("services");
        let sel = |i: usize| {
            svcs[i]
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .and_then(|s| s.get(labels::ACTIVE))
                .cloned()
        };
        assert_eq!(svcs[2].metadata.name.as_deref(), Some("vault-active"));
        assert_eq!(sel(2).as_deref(), Some("true"));
        assert_eq!(sel(3).as_deref(), Some("false"));
        assert_eq!(sel(0), None);
    }
}
