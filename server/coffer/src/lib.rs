//! coffer: the server binary's library part: the Vault-compatible HTTP layer
//! over [`coffer_core::Core`], the listeners (plain and TLS), the command line,
//! dev mode and server start-up from a configuration file.
//!
//! The HTTP layer is a thin adapter: it parses requests into
//! [`coffer_core::logical::Request`], hands them to the core and renders the
//! core's answers and errors exactly as Vault/OpenBao do. The unauthenticated
//! lifecycle endpoints (`sys/init`, `sys/seal-status`, `sys/unseal`,
//! `sys/health`, `sys/leader`) are answered here by calling the core directly.
//!
//! Integration tests can run a server in-process:
//! [`server::Listener::bind`] then [`server::Listener::spawn`].

pub mod cli;
pub mod dev;
pub mod gojson;
pub mod health;
pub mod http;
pub mod logging;
pub mod parse;
pub mod render;
pub mod run;
pub mod server;
pub mod tls;

/// The version printed by `coffer version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
