//! Stored ACL policies (`sys/policy/<name>` behind the barrier), the built-in
//! `root` and `default` policies, and a cache of parsed policies and merged ACLs.

use std::collections::HashMap;
use std::sync::Arc;

use coffer_policy::{Acl, Policy, DEFAULT_POLICY};
use parking_lot::RwLock;

use crate::barrier::Barrier;
use crate::error::CoreError;
use crate::logical::StorageView;

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredPolicy {
    name: String,
    raw: String,
    /// Check-and-set version, 1 for a new policy (0 in entries written before it existed).
    #[serde(default)]
    version: u64,
    /// Last write, RFC 3339 with nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    modified: Option<String>,
    #[serde(default)]
    cas_required: bool,
}

/// A stored policy with its metadata, as `sys/policy/NAME` shows it.
#[derive(Debug, Clone)]
pub struct PolicyInfo {
    pub name: String,
    pub raw: String,
    pub version: u64,
    pub modified: Option<String>,
    pub cas_required: bool,
}

/// The policy store.
pub struct PolicyStore {
    view: StorageView,
    policies: RwLock<HashMap<String, Arc<Policy>>>,
    acls: RwLock<HashMap<Vec<String>, Arc<Acl>>>,
    /// Serialises writes so check-and-set sees a stable version.
    write_lock: tokio::sync::Mutex<()>,
}

impl PolicyStore {
    /// A store over the barrier.
    pub fn new(barrier: Arc<Barrier>) -> Self {
        PolicyStore {
            view: StorageView::new(barrier, "sys/policy/"),
            policies: RwLock::new(HashMap::new()),
            acls: RwLock::new(HashMap::new()),
            write_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Writes the `default` policy on first initialisation.
    pub async fn setup_defaults(&self) -> Result<(), CoreError> {
        if self.get("default").await?.is_none() {
            self.set("default", DEFAULT_POLICY).await?;
        }
        Ok(())
    }

    /// Stores a built-in policy (`response-wrapping`) unless it is stored
    /// with this text already; run at every unseal.
    pub async fn ensure_builtin(&self, name: &str, raw: &str) -> Result<(), CoreError> {
        match self.info(name).await? {
            Some(p) if p.raw == raw => Ok(()),
            _ => self.set(name, raw).await,
        }
    }

    /// Forgets cached policies and ACLs.
    pub fn clear_cache(&self) {
        self.policies.write().clear();
        self.acls.write().clear();
    }

    /// Normalises a policy name as Vault does (lower case, trimmed).
    pub fn normalize(name: &str) -> String {
        name.trim().to_lowercase()
    }

    /// A policy by name; `root` is built in and has no text.
    pub async fn get(&self, name: &str) -> Result<Option<Arc<Policy>>, CoreError> {
        let name = Self::normalize(name);
        if let Some(p) = self.policies.read().get(&name) {
            return Ok(Some(p.clone()));
        }
        let Some(stored) = self.view.get_json::<StoredPolicy>(&name).await? else {
            return Ok(None);
        };
        let p = Policy::parse(&name, &stored.raw).map_err(|e| {
            CoreError::Internal(format!("stored policy {name:?} does not parse: {e}"))
        })?;
        let p = Arc::new(p);
        self.policies.write().insert(name, p.clone());
        Ok(Some(p))
    }

    /// Creates or replaces a policy after parsing it.
    pub async fn set(&self, name: &str, raw: &str) -> Result<(), CoreError> {
        self.set_checked(name, raw, None, false).await
    }

    /// Creates or replaces a policy with OpenBao's check-and-set rules: `cas`
    /// must equal the stored version (`-1`: must not exist), and is required
    /// when the stored or the new policy has `cas_required`.
    pub async fn set_checked(
        &self,
        name: &str,
        raw: &str,
        cas: Option<i64>,
        cas_required: bool,
    ) -> Result<(), CoreError> {
        let name = Self::normalize(name);
        if name == "root" {
            return Err(CoreError::invalid("cannot update \"root\" policy"));
        }
        if name.is_empty() {
            return Err(CoreError::invalid("policy name must be provided"));
        }
        let p = Policy::parse(&name, raw).map_err(|e| {
            let msg = e.to_string();
            if msg.starts_with("failed to parse policy") {
                CoreError::invalid(msg)
            } else {
                CoreError::invalid(format!("failed to parse policy: {msg}"))
            }
        })?;
        let _guard = self.write_lock.lock().await;
        let existing = self.view.get_json::<StoredPolicy>(&name).await?;
        let current = existing.as_ref().map(|e| e.version).unwrap_or(0);
        let required = existing.as_ref().is_some_and(|e| e.cas_required) || cas_required;
        match cas {
            None if required => {
                return Err(CoreError::invalid(
                    "check-and-set parameter required for this call",
                ))
            }
            Some(-1) if existing.is_some() => {
                return Err(CoreError::invalid(
                    "check-and-set parameter set to -1 on existing entry",
                ))
            }
            Some(c) if c != -1 && c != current as i64 => {
                return Err(CoreError::invalid(format!(
                    "check-and-set parameter {c} did not match the current version {current}"
                )))
            }
            _ => {}
        }
        self.view
            .put_json(
                &name,
                &StoredPolicy {
                    name: name.clone(),
                    raw: raw.to_string(),
                    version: current + 1,
                    modified: Some(
                        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                    ),
                    cas_required,
                },
            )
            .await?;
        self.policies.write().insert(name, Arc::new(p));
        self.acls.write().clear();
        Ok(())
    }

    /// A stored policy's text and metadata (`None` for `root` and unknown names).
    pub async fn info(&self, name: &str) -> Result<Option<PolicyInfo>, CoreError> {
        let name = Self::normalize(name);
        Ok(self
            .view
            .get_json::<StoredPolicy>(&name)
            .await?
            .map(|s| PolicyInfo {
                name: s.name,
                raw: s.raw,
                version: s.version,
                modified: s.modified,
                cas_required: s.cas_required,
            }))
    }

    /// Deletes a policy; `root` and `default` cannot be deleted.
    pub async fn delete(&self, name: &str) -> Result<(), CoreError> {
        let name = Self::normalize(name);
        if name == "root" {
            return Err(CoreError::invalid("cannot delete \"root\" policy"));
        }
        if name == "default" {
            return Err(CoreError::invalid("cannot delete \"default\" policy"));
        }
        self.view.delete(&name).await?;
        self.policies.write().remove(&name);
        self.acls.write().clear();
        Ok(())
    }

    /// Names of all policies, `root` included, sorted. The built-in
    /// `response-wrapping` policy is not listed, as in OpenBao.
    pub async fn list(&self) -> Result<Vec<String>, CoreError> {
        let mut names = self.view.list("").await?;
        names.retain(|n| n != "response-wrapping");
        names.push("root".into());
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The merged ACL for a set of policy names (missing policies are skipped).
    pub async fn acl(&self, names: &[String]) -> Result<Arc<Acl>, CoreError> {
        if let Some(a) = self.acls.read().get(names) {
            return Ok(a.clone());
        }
        let acl = if names.iter().any(|n| n == "root") {
            Acl::root()
        } else {
            let mut loaded = Vec::new();
            for n in names {
                if let Some(p) = self.get(n).await? {
                    loaded.push(p);
                }
            }
            let refs: Vec<&Policy> = loaded.iter().map(|p| p.as_ref()).collect();
            Acl::new(&refs)
        };
        let acl = Arc::new(acl);
        self.acls.write().insert(names.to_vec(), acl.clone());
        Ok(acl)
    }
}
