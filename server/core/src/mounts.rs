//! Mount tables (secrets engines under `core/mounts`, auth methods under
//! `core/auth`) and the router that finds the mount for a request path by the
//! longest matching prefix.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::logical::{Backend, StorageView};

/// Barrier path of the secrets mount table.
pub const MOUNT_TABLE_PATH: &str = "core/mounts";
/// Barrier path of the auth mount table.
pub const AUTH_TABLE_PATH: &str = "core/auth";

/// Which table a mount belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableKind {
    Secrets,
    Auth,
}

/// Per-mount tunables.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MountConfig {
    /// Seconds; 0 means the system default.
    #[serde(default)]
    pub default_lease_ttl: u64,
    /// Seconds; 0 means the system default.
    #[serde(default)]
    pub max_lease_ttl: u64,
    #[serde(default)]
    pub force_no_cache: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_visibility: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passthrough_request_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_response_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_non_hmac_request_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_non_hmac_response_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
}

/// One mounted engine or auth method.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MountEntry {
    pub table: TableKind,
    /// Path with a trailing slash, relative to the table (`secret/`, `userpass/`).
    pub path: String,
    #[serde(rename = "type")]
    pub mount_type: String,
    #[serde(default)]
    pub description: String,
    pub uuid: String,
    pub accessor: String,
    #[serde(default)]
    pub config: MountConfig,
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub local: bool,
    #[serde(default)]
    pub seal_wrap: bool,
    #[serde(default)]
    pub external_entropy_access: bool,
}

impl MountEntry {
    /// A new entry with fresh uuid and accessor.
    pub fn new(table: TableKind, path: &str, mount_type: &str, description: &str) -> Self {
        let path = normalize_mount_path(path);
        MountEntry {
            table,
            path,
            mount_type: mount_type.to_string(),
            description: description.to_string(),
            uuid: uuid::Uuid::new_v4().to_string(),
            accessor: new_accessor(accessor_prefix(table, mount_type)),
            config: MountConfig::default(),
            options: None,
            local: false,
            seal_wrap: false,
            external_entropy_access: false,
        }
    }

    /// The path from the API root (`auth/userpass/` for auth mounts).
    pub fn full_path(&self) -> String {
        match self.table {
            TableKind::Secrets => self.path.clone(),
            TableKind::Auth => format!("auth/{}", self.path),
        }
    }

    /// Where the mount's data lives behind the barrier.
    pub fn storage_prefix(&self) -> String {
        match (self.table, self.mount_type.as_str()) {
            (_, "system") => "sys/".to_string(),
            (_, "token") => "sys/token/".to_string(),
            (_, "cubbyhole") => "cubbyhole/".to_string(),
            (TableKind::Secrets, _) => format!("logical/{}/", self.uuid),
            (TableKind::Auth, _) => format!("auth/{}/", self.uuid),
        }
    }

    /// The KV version from `options.version` (`1` when absent).
    pub fn kv_version(&self) -> u8 {
        match self
            .options
            .as_ref()
            .and_then(|o| o.get("version"))
            .map(|s| s.as_str())
        {
            Some("2") => 2,
            _ => 1,
        }
    }

    /// The JSON shape `sys/mounts` and `sys/auth` show for this entry.
    pub fn to_api(&self, version: &str) -> Value {
        let mut config = json!({
            "default_lease_ttl": self.config.default_lease_ttl,
            "force_no_cache": self.config.force_no_cache,
            "max_lease_ttl": self.config.max_lease_ttl,
        });
        if let Value::Object(c) = &mut config {
            if !self.config.passthrough_request_headers.is_empty() {
                c.insert(
                    "passthrough_request_headers".into(),
                    json!(self.config.passthrough_request_headers),
                );
            }
            if !self.config.allowed_response_headers.is_empty() {
                c.insert(
                    "allowed_response_headers".into(),
                    json!(self.config.allowed_response_headers),
                );
            }
            if !self.config.audit_non_hmac_request_keys.is_empty() {
                c.insert(
                    "audit_non_hmac_request_keys".into(),
                    json!(self.config.audit_non_hmac_request_keys),
                );
            }
            if !self.config.audit_non_hmac_response_keys.is_empty() {
                c.insert(
                    "audit_non_hmac_response_keys".into(),
                    json!(self.config.audit_non_hmac_response_keys),
                );
            }
            if let Some(v) = &self.config.listing_visibility {
                c.insert("listing_visibility".into(), json!(v));
            }
            if let Some(t) = &self.config.token_type {
                c.insert("token_type".into(), json!(t));
            }
        }
        let mut v = json!({
            "accessor": self.accessor,
            "config": config,
            "description": self.description,
            "external_entropy_access": self.external_entropy_access,
            "local": self.local,
            "options": self.options,
            "plugin_version": "",
            "running_plugin_version": format!("v{version}+builtin.coffer"),
            "running_sha256": "",
            "seal_wrap": self.seal_wrap,
            "type": self.mount_type,
            "uuid": self.uuid,
        });
        if self.mount_type == "kv" {
            if let Value::Object(m) = &mut v {
                m.insert("deprecation_status".into(), json!("supported"));
            }
        }
        v
    }
}

fn accessor_prefix(table: TableKind, mount_type: &str) -> &str {
    match (table, mount_type) {
        (TableKind::Auth, "token") => "auth_token",
        (TableKind::Auth, "userpass") => "auth_userpass",
        (TableKind::Auth, t) => t,
        (TableKind::Secrets, t) => t,
    }
}

/// `name_xxxxxxxx` with 8 random hex digits.
pub fn new_accessor(prefix: &str) -> String {
    let n: u32 = rand::thread_rng().gen();
    format!("{prefix}_{n:08x}")
}

/// Trims slashes and adds exactly one trailing slash.
pub fn normalize_mount_path(path: &str) -> String {
    let p = path.trim_matches('/');
    format!("{p}/")
}

/// A mount with its live backend and storage view.
#[derive(Clone)]
pub struct RouteEntry {
    pub entry: Arc<MountEntry>,
    pub backend: Arc<dyn Backend>,
    pub storage: StorageView,
}

/// The routing table: full mount path -> route, looked up by longest prefix.
#[derive(Clone, Default)]
pub struct Router {
    routes: BTreeMap<String, RouteEntry>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route at `entry.full_path()`.
    pub fn insert(&mut self, route: RouteEntry) {
        self.routes.insert(route.entry.full_path(), route);
    }

    /// Removes the route at a full path.
    pub fn remove(&mut self, full_path: &str) -> Option<RouteEntry> {
        self.routes.remove(full_path)
    }

    /// The route whose mount path is the longest prefix of `path`, with the
    /// remaining path. `path` `secret` also finds mount `secret/`.
    pub fn route(&self, path: &str) -> Option<(&RouteEntry, String)> {
        let mut best: Option<(&String, &RouteEntry)> = None;
        // Candidates are the prefixes of `path` ending at a '/' (and the whole path + '/').
        let with_slash = format!("{path}/");
        for (i, ch) in with_slash.char_indices() {
            if ch == '/' {
                let cand = &with_slash[..=i];
                if let Some((k, r)) = self.routes.get_key_value(cand) {
                    best = Some((k, r));
                }
            }
        }
        best.map(|(k, r)| {
            let rest = if path.len() >= k.len() {
                path[k.len()..].to_string()
            } else {
                String::new()
            };
            (r, rest)
        })
    }

    /// The exact route at a full mount path.
    pub fn get(&self, full_path: &str) -> Option<&RouteEntry> {
        self.routes.get(full_path)
    }

    /// Every route, ordered by path.
    pub fn entries(&self) -> impl Iterator<Item = &RouteEntry> {
        self.routes.values()
    }

    /// Whether `full_path` would clash with an existing mount (equal, or one is a prefix of the other).
    pub fn conflict(&self, full_path: &str) -> Option<String> {
        self.routes
            .keys()
            .find(|k| k.starts_with(full_path) || full_path.starts_with(k.as_str()))
            .cloned()
    }
}

/// The stored form of a table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MountTable {
    pub entries: Vec<MountEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize_mount_path("/secret/"), "secret/");
        assert_eq!(normalize_mount_path("a/b"), "a/b/");
    }

    #[test]
    fn accessor_shape() {
        let a = new_accessor("kv");
        assert!(a.starts_with("kv_") && a.len() == 11, "{a}");
    }
}
