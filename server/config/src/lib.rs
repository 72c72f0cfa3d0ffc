//! Coffer's server configuration: the files `coffer server -config=...` reads.
//!
//! Coffer reads the configuration files of HashiCorp Vault and OpenBao, in HCL
//! or in JSON:
//!
//! ```hcl
//! storage "raft" {
//!   path    = "/var/lib/coffer"
//!   node_id = "node-1"
//!   retry_join {
//!     leader_api_addr = "https://node-2.example.com:8200"
//!   }
//! }
//!
//! listener "tcp" {
//!   address       = "0.0.0.0:8200"
//!   tls_cert_file = "/etc/coffer/tls.crt"
//!   tls_key_file  = "/etc/coffer/tls.key"
//! }
//!
//! audit "file" "to-stdout" {
//!   options {
//!     file_path = "stdout"
//!   }
//! }
//!
//! api_addr          = "https://node-1.example.com:8200"
//! cluster_addr      = "https://node-1.example.com:8201"
//! default_lease_ttl = "768h"
//! ```
//!
//! * [`load`] reads files and directories (every `*.hcl` and `*.json` file in
//!   a directory, in name order) and merges them as Vault does;
//!   [`parse_str`] reads one text.
//! * [`ServerConfig::validate`] refuses what this version of Coffer cannot run
//!   (a KMS seal); [`ServerConfig::validate_for_server`] also demands the
//!   storage and listener stanzas that a server (as opposed to `-dev` mode,
//!   which builds its own configuration) needs.
//! * [`parse_duration`] reads durations as Vault does (`"768h"`, `"1h30m"`,
//!   `"3600"`, `"7d"`); the rest of the server uses it too.
//!
//! ```
//! let config = coffer_config::parse_str(
//!     r#"
//! storage "raft" {
//!   path = "/var/lib/coffer"
//! }
//! listener "tcp" {
//!   address     = "127.0.0.1:8200"
//!   tls_disable = true
//! }
//! "#,
//!     "config.hcl",
//! )?;
//! config.validate_for_server()?;
//! assert_eq!(config.listeners[0].max_request_bytes(), Some(32 * 1024 * 1024));
//!
//! let err = coffer_config::parse_str("listener \"tcp\" {\n  adress = \"x\"\n}\n", "config.hcl")
//!     .unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     r#"config.hcl:2: unknown key "adress" in listener "tcp" (did you mean "address"?)"#
//! );
//! # Ok::<(), coffer_config::ConfigError>(())
//! ```
//!
//! Every error in a file names the file, the line and the key:
//! `config.hcl:7: unknown key "adress" in listener "tcp" (did you mean
//! "address"?)`.
//!
//! ## Where Coffer differs from Vault and OpenBao
//!
//! Coffer is stricter than Vault and OpenBao, which mostly warn about
//! unknown keys and ignore them, or coerce values loosely:
//!
//! * unknown keys are errors, and keys that Vault knows but Coffer does not
//!   implement are errors too (Coffer would otherwise silently not do what the
//!   file asks);
//! * a key set twice in one stanza is an error (HCL 1 keeps the last);
//! * booleans are `true`/`false`, the strings Go's `strconv.ParseBool` accepts
//!   (`"true"`, `"1"`, `"f"`...) or the integers 0 and 1; Vault also takes any
//!   other number (non-zero is true) and `""` (false);
//! * listener addresses, `api_addr`, `cluster_addr` and `leader_api_addr` are
//!   checked for shape, and go-sockaddr templates (`{{ GetPrivateIP }}`) are
//!   refused;
//! * `tls_min_version` must be `tls12` or `tls13` (rustls has no TLS 1.0/1.1);
//! * a TLS listener must name its certificate and key (Vault fails later, when
//!   it starts listening; OpenBao 2.7 falls back to ACME, which Coffer lacks);
//! * `max_lease_ttl` alone may not be below the 768h default lease TTL; that
//!   is Vault's rule too, but checked here, in [`ServerConfig::validate`],
//!   rather than when the core starts.
//!
//! And more lenient in one place: seal and audit option values may be
//! booleans or numbers (written out as strings), where OpenBao 2.7 refuses
//! `log_raw = true` ("unknown type for string") and wants `"true"`.
//!
//! Files are read with an HCL 2 parser (hcl-edit) where Vault has HCL 1. The
//! configurations Vault documents read the same; HCL 1 oddities such as two
//! attributes on one line inside a block are syntax errors (with the line).
//! HCL 2 expressions (`${...}`, variables, function calls) are refused: a
//! configuration holds literal values only.
//!
//! `disable_mlock` is accepted and recorded for compatibility with existing
//! Vault configurations, but Coffer never locks its memory (it has no
//! `unsafe` code, and `mlockall` needs it): use encrypted swap, or no swap, on
//! servers, as OpenBao (which dropped mlock) also recommends.

mod decode;
mod duration;
mod error;
mod json;
mod node;

pub use duration::parse_duration;
pub use error::ConfigError;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The address of a `listener "tcp"` stanza that does not set `address`.
pub const DEFAULT_LISTENER_ADDRESS: &str = "127.0.0.1:8200";

/// The request body limit of a listener that does not set `max_request_size`
/// (or sets it to 0): 32 MiB, as in Vault.
pub const DEFAULT_MAX_REQUEST_SIZE: i64 = 32 * 1024 * 1024;

/// The default and maximum lease TTL when the configuration sets none: 768h
/// (32 days), as in Vault.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(768 * 3600);

/// A whole server configuration, from one file or several merged.
///
/// `Default` is the empty configuration (no storage, no listener); the `-dev`
/// mode builds on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerConfig {
    /// The `storage` stanza (`backend` is read as an old name for it).
    pub storage: Option<StorageConfig>,
    /// The `listener "tcp"` stanzas, in order.
    pub listeners: Vec<TcpListenerConfig>,
    /// `api_addr`: the URL other nodes and clients are sent to for this node.
    pub api_addr: Option<String>,
    /// `cluster_addr`: the URL other nodes reach this node's cluster port at.
    /// Vault requires it with raft storage, unless `VAULT_CLUSTER_ADDR` is set;
    /// that check belongs to the server, which knows the environment.
    pub cluster_addr: Option<String>,
    /// `cluster_name`.
    pub cluster_name: Option<String>,
    /// `disable_mlock`: accepted and recorded only; Coffer never locks memory
    /// (see the crate documentation).
    pub disable_mlock: bool,
    /// `log_level`, normalised to one of `trace`, `debug`, `info`, `warn`,
    /// `error` (the file may also say `notice`, `warning` or `err`).
    pub log_level: Option<String>,
    /// `log_format`: `standard` or `json`.
    pub log_format: Option<String>,
    /// `ui`: whether to serve the web UI.
    pub ui: bool,
    /// `default_lease_ttl`; `None` means [`DEFAULT_LEASE_TTL`] (0 in the file
    /// also means the default, as in Vault).
    pub default_lease_ttl: Option<Duration>,
    /// `max_lease_ttl`; `None` means [`DEFAULT_LEASE_TTL`].
    pub max_lease_ttl: Option<Duration>,
    /// The `audit "TYPE" "NAME"` stanzas (OpenBao's declarative audit devices), in order.
    pub audit: Vec<AuditConfig>,
    /// The `seal` stanza. Only `shamir` can be used by this version; others
    /// are kept as parsed and refused by [`ServerConfig::validate`].
    pub seal: Option<SealStanza>,
}

/// The `storage` stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// `storage "raft" { ... }`.
    Raft {
        /// `path`: the directory the node keeps its data in (required).
        path: PathBuf,
        /// `node_id`; Vault generates and stores one when it is not set.
        node_id: Option<String>,
        /// The `retry_join` blocks: the leaders to try to join.
        retry_join: Vec<RetryJoin>,
    },
    /// `storage "inmem" {}`: nothing survives a restart; for tests and `-dev`.
    Inmem,
}

/// A `retry_join` block of `storage "raft"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryJoin {
    /// `leader_api_addr`: the API URL of a node to join through (required,
    /// since cloud `auto_join` is not supported).
    pub leader_api_addr: String,
    /// `leader_ca_cert_file`: the CA to verify the leader's certificate with.
    pub leader_ca_cert_file: Option<PathBuf>,
    /// `leader_client_cert_file`: a client certificate to present (with the key).
    pub leader_client_cert_file: Option<PathBuf>,
    /// `leader_client_key_file`: the key of that client certificate.
    pub leader_client_key_file: Option<PathBuf>,
    /// `leader_tls_servername`: the name to expect in the leader's certificate.
    pub leader_tls_servername: Option<String>,
}

/// A `listener "tcp"` stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpListenerConfig {
    /// `address`, `HOST:PORT`; default [`DEFAULT_LISTENER_ADDRESS`].
    pub address: String,
    /// `cluster_address`; Vault's default is the address's port plus one.
    pub cluster_address: Option<String>,
    /// `tls_disable`; false by default, as in Vault: a listener speaks TLS
    /// unless told not to, and then `tls_cert_file` and `tls_key_file` are set
    /// (the parser makes sure of that).
    pub tls_disable: bool,
    /// `tls_cert_file`: PEM certificate chain.
    pub tls_cert_file: Option<PathBuf>,
    /// `tls_key_file`: PEM private key.
    pub tls_key_file: Option<PathBuf>,
    /// `tls_min_version`; default TLS 1.2.
    pub tls_min_version: TlsVersion,
    /// `max_request_size` in bytes; default [`DEFAULT_MAX_REQUEST_SIZE`] (the
    /// parser turns a 0 in the file into it); negative means no limit, as in
    /// Vault. See [`TcpListenerConfig::max_request_bytes`].
    pub max_request_size: i64,
    /// `disable_unauthed_rekey_endpoints` (OpenBao): whether the
    /// unauthenticated `sys/rekey/*` and `sys/rekey-recovery-key/*` endpoints
    /// are refused on this listener. True by default, as in OpenBao.
    pub disable_unauthed_rekey_endpoints: bool,
    /// `disable_unauthed_generate_root_endpoints` (OpenBao): the same for
    /// `sys/generate-root/*`. True by default, as in OpenBao.
    pub disable_unauthed_generate_root_endpoints: bool,
}

impl Default for TcpListenerConfig {
    fn default() -> Self {
        TcpListenerConfig {
            address: DEFAULT_LISTENER_ADDRESS.to_owned(),
            cluster_address: None,
            tls_disable: false,
            tls_cert_file: None,
            tls_key_file: None,
            tls_min_version: TlsVersion::Tls12,
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            disable_unauthed_rekey_endpoints: true,
            disable_unauthed_generate_root_endpoints: true,
        }
    }
}

impl TcpListenerConfig {
    /// The request body limit in bytes, or `None` for no limit.
    pub fn max_request_bytes(&self) -> Option<u64> {
        match self.max_request_size {
            0 => Some(DEFAULT_MAX_REQUEST_SIZE.unsigned_abs()),
            n if n < 0 => None,
            n => Some(n.unsigned_abs()),
        }
    }
}

/// The oldest TLS version a listener accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// `tls12`.
    #[default]
    Tls12,
    /// `tls13`.
    Tls13,
}

/// An `audit "TYPE" "NAME" { ... }` stanza: an audit device declared in the
/// configuration, as OpenBao does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The device type; only `file` is supported.
    pub device_type: String,
    /// The device's name, which is its path (`sys/audit/NAME`).
    pub name: String,
    /// `description`.
    pub description: Option<String>,
    /// `local`: not replicated (accepted for compatibility).
    pub local: bool,
    /// `options`: for `file`, `file_path` (always present; `path` in the file
    /// is read as `file_path`), and optionally `log_raw` and `hmac_accessor`
    /// (normalised to `"true"`/`"false"`), `mode` (an octal string), `format`
    /// (`"json"`) and `prefix`.
    pub options: BTreeMap<String, String>,
}

/// A `seal "TYPE" { ... }` stanza.
#[derive(Clone, PartialEq, Eq)]
pub struct SealStanza {
    /// The seal type, lower case: `shamir`, `awskms`, `transit`...
    pub seal_type: String,
    /// `disabled`: Vault's marker of the old seal during a seal migration.
    pub disabled: bool,
    /// The other keys, as strings (numbers and booleans written out). They
    /// may hold credentials, so `Debug` shows only their names.
    pub options: BTreeMap<String, String>,
}

impl fmt::Debug for SealStanza {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealStanza")
            .field("seal_type", &self.seal_type)
            .field("disabled", &self.disabled)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ServerConfig {
    /// Refuses what this version of Coffer cannot run, whatever the mode: any
    /// seal but `shamir` (`seal "awskms": not yet supported by this version of
    /// coffer`), a disabled seal (seal migration), and a default lease TTL
    /// above the maximum (with [`DEFAULT_LEASE_TTL`] for either when unset,
    /// as Vault does).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(seal) = &self.seal {
            if seal.seal_type != "shamir" {
                return Err(ConfigError::UnsupportedSeal {
                    seal_type: seal.seal_type.clone(),
                });
            }
            if seal.disabled {
                return Err(ConfigError::InvalidConfig(
                    "seal \"shamir\": disabled = true (seal migration) is not supported by this version of coffer".to_owned(),
                ));
            }
        }
        let default = self.default_lease_ttl.unwrap_or(DEFAULT_LEASE_TTL);
        let max = self.max_lease_ttl.unwrap_or(DEFAULT_LEASE_TTL);
        if default > max {
            return Err(ConfigError::InvalidConfig(format!(
                "default_lease_ttl ({}s) cannot be greater than max_lease_ttl ({}s){}",
                default.as_secs(),
                max.as_secs(),
                if self.default_lease_ttl.is_none() {
                    "; the default lease TTL is 768h unless default_lease_ttl is set"
                } else {
                    ""
                }
            )));
        }
        Ok(())
    }

    /// [`validate`](Self::validate), and the stanzas a server needs: a
    /// `storage` stanza ("no storage stanza") and at least one listener.
    /// The `-dev` mode builds its own storage and listener and calls only
    /// [`validate`](Self::validate).
    pub fn validate_for_server(&self) -> Result<(), ConfigError> {
        self.validate()?;
        if self.storage.is_none() {
            return Err(ConfigError::NoStorage);
        }
        if self.listeners.is_empty() {
            return Err(ConfigError::NoListener);
        }
        Ok(())
    }

    /// Merges a configuration read later into this one, as Vault merges
    /// configuration files:
    ///
    /// * `storage`: the later stanza replaces the earlier;
    /// * listeners and audit devices: the later ones are added after;
    /// * strings (`api_addr`, `log_level`...): the later value wins when set;
    /// * `ui`, `disable_mlock`: true if either is (Vault ORs booleans);
    /// * lease TTLs: the larger wins (Vault takes the maximum).
    ///
    /// Two seal stanzas, or two audit devices of one name, are a
    /// [`ConfigError::Conflict`]. [`load`] does the same with file and line in
    /// its errors.
    pub fn merge(self, later: ServerConfig) -> Result<ServerConfig, ConfigError> {
        if let (Some(a), Some(b)) = (&self.seal, &later.seal) {
            return Err(ConfigError::Conflict(format!(
                "two seal stanzas (seal \"{}\" and seal \"{}\"); seal migration is not supported by this version of coffer",
                a.seal_type, b.seal_type
            )));
        }
        if let Some(dup) = later
            .audit
            .iter()
            .find(|b| self.audit.iter().any(|a| same_audit_path(&a.name, &b.name)))
        {
            return Err(ConfigError::Conflict(format!(
                "duplicate audit device \"{}\"",
                dup.name
            )));
        }
        let mut merged = self;
        merge_unchecked(&mut merged, later);
        Ok(merged)
    }
}

fn merge_unchecked(acc: &mut ServerConfig, later: ServerConfig) {
    let ServerConfig {
        storage,
        listeners,
        api_addr,
        cluster_addr,
        cluster_name,
        disable_mlock,
        log_level,
        log_format,
        ui,
        default_lease_ttl,
        max_lease_ttl,
        audit,
        seal,
    } = later;
    if storage.is_some() {
        acc.storage = storage;
    }
    acc.listeners.extend(listeners);
    for (slot, value) in [
        (&mut acc.api_addr, api_addr),
        (&mut acc.cluster_addr, cluster_addr),
        (&mut acc.cluster_name, cluster_name),
        (&mut acc.log_level, log_level),
        (&mut acc.log_format, log_format),
    ] {
        if value.is_some() {
            *slot = value;
        }
    }
    acc.disable_mlock |= disable_mlock;
    acc.ui |= ui;
    acc.default_lease_ttl = acc.default_lease_ttl.max(default_lease_ttl);
    acc.max_lease_ttl = acc.max_lease_ttl.max(max_lease_ttl);
    acc.audit.extend(audit);
    if seal.is_some() {
        acc.seal = seal;
    }
}

/// Audit paths `foo` and `foo/` are the same device.
fn same_audit_path(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Reads a log level as Vault does (case and surrounding spaces do not
/// matter) and returns its canonical name: `trace`, `debug`, `info` (also
/// for `notice`), `warn` (also `warning`) or `error` (also `err`).
pub fn normalize_log_level(level: &str) -> Option<&'static str> {
    match level.trim().to_ascii_lowercase().as_str() {
        "trace" => Some("trace"),
        "debug" => Some("debug"),
        "info" | "notice" => Some("info"),
        "warn" | "warning" => Some("warn"),
        "err" | "error" => Some("error"),
        _ => None,
    }
}

/// Parses one configuration text. It is JSON when `file_name` ends in `.json`
/// or the text starts with `{` (as Vault decides), HCL otherwise.
/// `file_name` is used in error messages. The result is not validated: see
/// [`ServerConfig::validate`] and [`ServerConfig::validate_for_server`].
pub fn parse_str(text: &str, file_name: &str) -> Result<ServerConfig, ConfigError> {
    parse_file(text, file_name).map(|parsed| parsed.config)
}

fn parse_file(text: &str, file_name: &str) -> Result<decode::Parsed, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let is_json =
        file_name.to_ascii_lowercase().ends_with(".json") || text.trim_start().starts_with('{');
    let entries = if is_json {
        json::parse_json(text, file_name)?
    } else {
        node::parse_hcl(text, file_name)?
    };
    decode::decode(&entries, file_name)
}

/// Loads and merges the configuration at `paths`, as `vault server
/// -config=PATH -config=PATH...` does. Each path is a file (HCL, or JSON when
/// it ends in `.json` or starts with `{`) or a directory, which stands for
/// every `*.hcl` and `*.json` file in it (not in subdirectories, and not
/// editor backups such as `x.hcl~` or `#x.hcl#`), in name order. A file named
/// twice (say, directly and through its directory) is read once. Files are
/// merged in order as [`ServerConfig::merge`] describes.
///
/// The result is not validated: see [`ServerConfig::validate`] and
/// [`ServerConfig::validate_for_server`].
pub fn load(paths: &[PathBuf]) -> Result<ServerConfig, ConfigError> {
    if paths.is_empty() {
        return Err(ConfigError::NoPaths);
    }
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(io_error(path))?;
        if meta.is_dir() {
            files.extend(config_files_in(path)?);
        } else {
            files.push(path.clone());
        }
    }
    let mut seen = HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));

    let mut merger = Merger::default();
    for file in &files {
        let bytes = std::fs::read(file).map_err(io_error(file))?;
        let text =
            String::from_utf8(bytes).map_err(|_| ConfigError::NotUtf8 { path: file.clone() })?;
        let name = file.display().to_string();
        merger.absorb(parse_file(&text, &name)?, &name)?;
    }
    Ok(merger.config)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ConfigError + '_ {
    move |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The configuration files of a directory, sorted.
fn config_files_in(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let editor_file = name.ends_with('~')
            || name.starts_with(".#")
            || (name.starts_with('#') && name.ends_with('#'));
        if editor_file || !(name.ends_with(".hcl") || name.ends_with(".json")) {
            continue;
        }
        let path = entry.path();
        // Follows symbolic links, as Vault does.
        if std::fs::metadata(&path).map_err(io_error(&path))?.is_dir() {
            continue;
        }
        found.push(path);
    }
    if found.is_empty() {
        return Err(ConfigError::EmptyDirectory {
            path: dir.to_path_buf(),
        });
    }
    found.sort();
    Ok(found)
}

/// Merges files one by one, remembering where seals and audit devices were
/// declared so that conflicts name both places.
#[derive(Default)]
struct Merger {
    config: ServerConfig,
    /// (name, file, line) of every audit device so far.
    audits: Vec<(String, String, usize)>,
    /// (file, line) of the seal stanza, if any.
    seal: Option<(String, usize)>,
}

impl Merger {
    fn absorb(&mut self, parsed: decode::Parsed, file: &str) -> Result<(), ConfigError> {
        for (audit, &line) in parsed.config.audit.iter().zip(&parsed.audit_lines) {
            if let Some((_, first_file, first_line)) = self
                .audits
                .iter()
                .find(|(name, _, _)| same_audit_path(name, &audit.name))
            {
                return Err(ConfigError::Invalid {
                    file: file.to_owned(),
                    line,
                    message: format!(
                        "duplicate audit device \"{}\" (first declared at {first_file}:{first_line})",
                        audit.name
                    ),
                });
            }
        }
        if let (Some(line), Some((first_file, first_line))) = (parsed.seal_line, &self.seal) {
            return Err(ConfigError::Invalid {
                file: file.to_owned(),
                line,
                message: format!(
                    "only one seal stanza is permitted (the first is at {first_file}:{first_line}); seal migration is not supported by this version of coffer"
                ),
            });
        }
        for (audit, &line) in parsed.config.audit.iter().zip(&parsed.audit_lines) {
            self.audits
                .push((audit.name.clone(), file.to_owned(), line));
        }
        if let Some(line) = parsed.seal_line {
            self.seal = Some((file.to_owned(), line));
        }
        merge_unchecked(&mut self.config, parsed.config);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
