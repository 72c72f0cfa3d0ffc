//! Integration tests of the `coffer` binary: each test starts a real server
//! process (see [`harness`]) and talks to it over HTTP.
//!
//! Add new test modules next to this file (or in subdirectories) and list
//! them below; reuse [`harness`] to start servers and make clients.

#![allow(clippy::unwrap_used)]

mod harness;
mod http;
mod openbao;

mod acl_differential;
mod approle;
mod bao_cli;
mod parse_props;
mod security;
mod transit;
mod vaultrs_client;
mod wrapping;
