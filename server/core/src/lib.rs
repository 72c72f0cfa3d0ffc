//! coffer-core: the secrets server without HTTP, AWS or Kubernetes types.
//!
//! Request path: [`core::Core::handle_request`] -> sealed? -> route (longest
//! mount prefix) -> token lookup -> ACL -> audit (fail closed) -> engine or auth
//! method -> token creation for logins -> lease registration
//! ([`expiration`]) -> response wrapping ([`wrapping`]) -> audit -> response.
//! Storage: engine ->
//! mount view ([`logical::StorageView`]) -> [`barrier::Barrier`] ->
//! [`physical::Physical`].

pub mod audit;
pub mod barrier;
pub mod core;
pub mod credential;
pub mod engines;
pub mod error;
pub mod expiration;
pub mod logical;
pub mod mounts;
pub mod physical;
pub mod policy_store;
pub mod seal;
pub mod sys;
pub mod token;
pub mod wrapping;

pub use crate::core::{Core, CoreConfig};
pub use error::CoreError;
