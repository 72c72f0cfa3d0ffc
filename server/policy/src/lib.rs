//! Vault/OpenBao ACL policies for Coffer.
//!
//! This crate owns the policy language and its evaluation, and nothing else:
//! no storage, no HTTP, no async. It
//!
//! * parses policy text ([`Policy::parse`]) the way OpenBao does: HCL
//!   version 1 (not HCL2, see below) or JSON, with
//!   the same accepted keys, the deprecated `policy = "read"` shorthand,
//!   parameter constraints, wrapping TTLs, expirations and the same errors
//!   for unknown keys or capabilities;
//! * merges the rules of several policies into an [`Acl`] and answers
//!   "may this operation run on this path?" ([`Acl::allow`],
//!   [`Acl::allow_request`]) and "what may this token do here?"
//!   ([`Acl::capabilities`], the data behind `sys/capabilities`), with
//!   OpenBao's rule selection: exact rules first, then the highest-priority
//!   glob or `+` pattern;
//! * ships the text of the built-in `default` policy ([`DEFAULT_POLICY`]).
//!
//! Identity templates in paths (`{{identity.entity.id}}`) are validated for
//! balanced braces and kept verbatim; substituting them is left to the
//! caller.
//!
//! Policy text is read with a small HCL1 parser of our own because Vault
//! policies are HCL1 documents, which HCL2 parsers reject or read
//! differently (several attributes on one line, `${` in strings, quoted keys
//! in blocks). Behaviour was checked against OpenBao 2.7.2.

mod acl;
mod goparse;
mod hcl1;
mod policy;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod table_tests;

use std::fmt;
use std::str::FromStr;

pub use acl::{Acl, AclRequest, AclResult};
pub use policy::{ControlGroup, ControlGroupFactor, ParameterValues, PathRule, Policy};

/// A capability a policy can grant on a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    Create,
    Read,
    Update,
    Patch,
    Delete,
    List,
    Sudo,
    Deny,
    /// OpenBao's recursive-listing capability (`scan`).
    Scan,
}

impl Capability {
    /// All capabilities, in declaration order.
    pub const ALL: [Capability; 9] = [
        Capability::Create,
        Capability::Read,
        Capability::Update,
        Capability::Patch,
        Capability::Delete,
        Capability::List,
        Capability::Sudo,
        Capability::Deny,
        Capability::Scan,
    ];

    /// The name used in policies and in `sys/capabilities` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Create => "create",
            Capability::Read => "read",
            Capability::Update => "update",
            Capability::Patch => "patch",
            Capability::Delete => "delete",
            Capability::List => "list",
            Capability::Sudo => "sudo",
            Capability::Deny => "deny",
            Capability::Scan => "scan",
        }
    }

    pub(crate) fn bit(self) -> u16 {
        match self {
            Capability::Deny => 1,
            Capability::Create => 1 << 1,
            Capability::Read => 1 << 2,
            Capability::Update => 1 << 3,
            Capability::Delete => 1 << 4,
            Capability::List => 1 << 5,
            Capability::Sudo => 1 << 6,
            Capability::Patch => 1 << 7,
            Capability::Scan => 1 << 8,
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Capability {
    type Err = PolicyError;

    /// Exact, case-sensitive names, as Vault accepts them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| PolicyError::UnknownCapability(s.to_string()))
    }
}

/// The operation a request performs (Vault's `logical.Operation`, limited to
/// those that ACLs check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Read,
    Update,
    Patch,
    Delete,
    List,
    /// OpenBao's recursive listing (`SCAN` method); needs `scan`.
    Scan,
}

impl Operation {
    /// Vault's lower-case operation name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
            Operation::List => "list",
            Operation::Scan => "scan",
        }
    }

    /// The capability this operation needs.
    pub fn required_capability(self) -> Capability {
        match self {
            Operation::Create => Capability::Create,
            Operation::Read => Capability::Read,
            Operation::Update => Capability::Update,
            Operation::Patch => Capability::Patch,
            Operation::Delete => Capability::Delete,
            Operation::List => Capability::List,
            Operation::Scan => Capability::Scan,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why policy text was rejected.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// The text is empty (OpenBao: "'policy' parameter not supplied or empty").
    #[error("policy text is empty")]
    Empty,
    /// HCL/JSON syntax error, or a value of the wrong type.
    #[error("failed to parse policy: {0}")]
    Syntax(String),
    /// A top-level key other than `path` or `name`.
    #[error("failed to parse policy: invalid key {key:?} on line {line}")]
    InvalidKey { key: String, line: usize },
    /// A capability name that does not exist, inside a policy.
    #[error("failed to parse policy: path {path:?}: invalid capability {capability:?}")]
    InvalidCapability { path: String, capability: String },
    /// Any other problem with one `path` block (unknown key, bad shorthand
    /// `policy`, bad TTL, `+*`, ...).
    #[error("failed to parse policy: path {path:?}: {message}")]
    InvalidPath { path: String, message: String },
    /// Unbalanced `{{`/`}}` in a path.
    #[error("failed to parse policy: failed to validate policy templating: {0}")]
    Template(String),
    /// A capability name that does not exist ([`Capability::from_str`]).
    #[error("invalid capability {0:?}")]
    UnknownCapability(String),
}

/// The text of the built-in `default` policy, granting the same paths and
/// capabilities as OpenBao 2.7.2's `default` policy.
pub const DEFAULT_POLICY: &str = r#"# Built-in "default" policy: what every token may do for itself.

# Token self-service: look up, renew and revoke the calling token.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# Ask which capabilities the calling token has on a path.
path "sys/capabilities-self" {
  capabilities = ["update"]
}

# Read the token's own identity entity, by id or by name.
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}

# The merged ACL of the token, used by user interfaces.
path "sys/internal/ui/resultant-acl" {
  capabilities = ["read"]
}

# Renew or look up a lease whose id is given in the request body.
path "sys/leases/renew" {
  capabilities = ["update"]
}
path "sys/leases/lookup" {
  capabilities = ["update"]
}

# The token's private cubbyhole.
path "cubbyhole/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

# Response wrapping: wrap a value, inspect a wrapping token, unwrap it.
path "sys/wrapping/wrap" {
  capabilities = ["update"]
}
path "sys/wrapping/lookup" {
  capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}

# Hashing helpers.
path "sys/tools/hash" {
  capabilities = ["update"]
}
path "sys/tools/hash/*" {
  capabilities = ["update"]
}

# OIDC provider authorization endpoint.
path "identity/oidc/provider/+/authorize" {
  capabilities = ["read", "update"]
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_round_trip() {
        for c in Capability::ALL {
            assert_eq!(c.as_str().parse::<Capability>(), Ok(c));
            assert_eq!(c.to_string(), c.as_str());
        }
        let err = "foo".parse::<Capability>().expect_err("unknown");
        assert_eq!(err.to_string(), "invalid capability \"foo\"");
        assert!("Read".parse::<Capability>().is_err());
    }

    #[test]
    fn operations_need_their_capability() {
        assert_eq!(Operation::Create.required_capability(), Capability::Create);
        assert_eq!(Operation::Patch.required_capability(), Capability::Patch);
        assert_eq!(Operation::List.as_str(), "list");
    }

    #[test]
    fn default_policy_parses_with_openbao_paths() {
        let p = Policy::parse("default", DEFAULT_POLICY).expect("default policy parses");
        assert!(p.is_templated());
        let acl = Acl::new(&[&p]);
        let caps = |path: &str| acl.capabilities(path);
        assert_eq!(caps("auth/token/lookup-self"), ["read"]);
        assert_eq!(caps("auth/token/renew-self"), ["update"]);
        assert_eq!(caps("sys/capabilities-self"), ["update"]);
        assert_eq!(
            caps("cubbyhole/x/y"),
            ["create", "delete", "list", "read", "update"]
        );
        assert_eq!(caps("sys/tools/hash/sha2-256"), ["update"]);
        assert_eq!(
            caps("identity/oidc/provider/p1/authorize"),
            ["read", "update"]
        );
        assert_eq!(caps("sys/renew"), ["deny"]);
        assert_eq!(caps("secret/data/x"), ["deny"]);
        assert_eq!(p.rules.len(), 16);
    }
}
