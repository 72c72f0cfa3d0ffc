//! The core's error type. Each variant carries meaning; only the HTTP layer maps
//! them to status codes and the `{"errors":[...]}` body.

use crate::physical::PhysicalError;

/// Errors from handling a request in the core.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The barrier is sealed (503 `Vault is sealed`).
    #[error("Vault is sealed")]
    Sealed,
    /// `sys/init` has not run yet.
    #[error("Vault is not initialized")]
    NotInitialized,
    /// A second `sys/init`.
    #[error("Vault is already initialized")]
    AlreadyInitialized,
    /// No token, an unknown token, or an ACL denial (403 `permission denied`).
    #[error("permission denied")]
    PermissionDenied,
    /// A denial with its own message (403 with this text), e.g. the
    /// `sys/internal/ui/mounts` pre-flight check.
    #[error("{0}")]
    Forbidden(String),
    /// A missing resource: 404 with an empty `errors` list.
    #[error("not found")]
    NotFound,
    /// No mount matches the path (404 `no handler for route ...`).
    #[error("no handler for route {0:?}. route entry not found.")]
    NoRoute(String),
    /// A mount exists but none of its paths matches (404 `unsupported path`).
    #[error("unsupported path")]
    UnsupportedPath,
    /// The path exists but not for this operation (405 `unsupported operation`).
    #[error("unsupported operation")]
    UnsupportedOperation,
    /// Bad input from the client (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// Bad input reported by a logical backend: Vault wraps these as a
    /// multi-error (`1 error occurred:\n\t* msg\n\n`).
    #[error("{0}")]
    InvalidRequestMulti(String),
    /// PATCH without `application/merge-patch+json` (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Storage failed.
    #[error("storage: {0}")]
    Physical(#[from] PhysicalError),
    /// Barrier failed (decrypt error, missing keyring).
    #[error("barrier: {0}")]
    Barrier(String),
    /// Every audit device failed: the request is refused (fail closed).
    #[error("failed to audit request")]
    AuditFailed,
    /// Anything else that is our fault (500). The message must not carry secrets.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    /// Shorthand for an invalid-request error.
    pub fn invalid(msg: impl Into<String>) -> Self {
        CoreError::InvalidRequest(msg.into())
    }
    /// Shorthand for a multi-error style invalid request from a backend.
    pub fn bad(msg: impl Into<String>) -> Self {
        CoreError::InvalidRequestMulti(msg.into())
    }
}

/// Formats messages as Go's `multierror` does, which Vault uses for many
/// backend errors: `1 error occurred:\n\t* msg\n\n`.
pub fn multierror(msgs: &[&str]) -> String {
    let mut s = if msgs.len() == 1 {
        "1 error occurred:\n".to_string()
    } else {
        format!("{} errors occurred:\n", msgs.len())
    };
    for m in msgs {
        s.push_str("\t* ");
        s.push_str(m);
        s.push('\n');
    }
    s.push('\n');
    s
}
