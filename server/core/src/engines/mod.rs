//! Builds the backend for a mount entry: secrets engines (KV v1 and v2,
//! cubbyhole), the system backend, and auth methods (token, userpass).

pub mod cubbyhole;
pub mod kv1;
pub mod kv2;
pub mod kvutil;
#[cfg(test)]
pub mod test_util;
pub mod transit;

use std::sync::Arc;

use crate::error::CoreError;
use crate::logical::Backend;
use crate::mounts::{MountEntry, TableKind};

/// Secrets engine types that can be mounted through `sys/mounts`.
pub const SECRET_TYPES: &[&str] = &["kv", "kv-v1", "kv-v2", "cubbyhole", "transit"];
/// Auth method types that can be enabled through `sys/auth`.
pub const AUTH_TYPES: &[&str] = &["userpass", "approle", "token"];

/// The backend for `entry`, or `plugin not found in the catalog`.
pub fn new_backend(entry: &MountEntry) -> Result<Arc<dyn Backend>, CoreError> {
    #[cfg(test)]
    if let Some(b) = crate::expiration::test_backends::lookup(&entry.mount_type) {
        return Ok(b);
    }
    let b: Arc<dyn Backend> = match (entry.table, entry.mount_type.as_str()) {
        (TableKind::Secrets, "system") => Arc::new(crate::sys::SystemBackend),
        (TableKind::Secrets, "cubbyhole") => Arc::new(cubbyhole::Cubbyhole),
        (TableKind::Secrets, "transit") => Arc::new(transit::Transit::new()),
        (TableKind::Secrets, "kv") => {
            if entry.kv_version() == 2 {
                Arc::new(kv2::KvV2)
            } else {
                Arc::new(kv1::KvV1)
            }
        }
        (TableKind::Auth, "token") => Arc::new(crate::token::backend::TokenBackend),
        (TableKind::Auth, "userpass") => Arc::new(crate::credential::userpass::Userpass),
        (TableKind::Auth, "approle") => Arc::new(crate::credential::approle::Approle::new()),
        (_, t) => {
            return Err(CoreError::invalid(format!(
                "plugin not found in the catalog: {t}"
            )))
        }
    };
    Ok(b)
}
