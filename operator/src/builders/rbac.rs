//! The server pods' identity: ServiceAccount (with `spec.serviceAccount.annotations`, e.g. the
//! IRSA role ARN), and a Role and RoleBinding that grant nothing today. The servers need no
//! Kubernetes API access: the operator, not the servers, labels pods active or standby. The Role
//! exists so a later feature that does need access has one narrowly scoped place to add it.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding, RoleRef, Subject};

use super::{metadata, BuildError, Names};
use crate::crd::VaultCluster;

/// The ServiceAccount `<cluster>`.
pub fn service_account(vc: &VaultCluster) -> Result<ServiceAccount, BuildError> {
    let n = Names::of(vc)?;
    let mut meta = metadata(vc, n.base())?;
    if !vc.spec.service_account.annotations.is_empty() {
        meta.annotations = Some(vc.spec.service_account.annotations.clone());
    }
    Ok(ServiceAccount {
        metadata: meta,
        automount_service_account_token: Some(vc.spec.service_account.automount_token),
        ..ServiceAccount::default()
    })
}

/// The Role `<cluster>`: no rules.
pub fn role(vc: &VaultCluster) -> Result<Role, BuildError> {
    let n = Names::of(vc)?;
    Ok(Role {
        metadata: metadata(vc, n.base())?,
        rules: Some(Vec::new()),
    })
}

/// The RoleBinding `<cluster>`: the Role to the ServiceAccount.
pub fn role_binding(vc: &VaultCluster) -> Result<RoleBinding, BuildError> {
    let n = Names::of(vc)?;
    Ok(RoleBinding {
        metadata: metadata(vc, n.base())?,
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: n.base(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: n.base(),
            namespace: Some(n.namespace.clone()),
            ..Subject::default()
        }]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::tests::dev;

    #[test]
    fn service_account_carries_irsa_annotations() {
        let mut vc = dev();
        vc.spec.service_account.annotations.insert(
            "eks.amazonaws.com/role-arn".into(),
            "arn:aws:iam::111122223333:role/coffer".into(),
        );
        let sa = service_account(&vc).expect("sa");
        assert_eq!(
            sa.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("eks.amazonaws.com/role-arn"))
                .map(String::as_str),
            Some("arn:aws:iam::111122223333:role/coffer")
        );
        assert_eq!(sa.automount_service_account_token, Some(false));
        assert!(service_account(&dev())
            .expect("sa")
            .metadata
            .annotations
            .is_none());
    }

    #[test]
    fn server_role_grants_nothing() {
        assert_eq!(role(&dev()).expect("role").rules, Some(vec![]));
        let rb = role_binding(&dev()).expect("rb");
        assert_eq!(rb.role_ref.name, "vault");
        assert_eq!(
            rb.subjects.as_deref().map(|s| s[0].name.as_str()),
            Some("vault")
        );
    }
}
