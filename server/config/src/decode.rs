//! Turns the syntax tree of one file into a [`ServerConfig`], checking every
//! key, type and value on the way and reporting the file and line of the first
//! problem.
//!
//! The crate documentation lists where this is stricter (or looser) than
//! Vault and OpenBao; the tests compare with `bao server -config`.

use crate::error::ConfigError;
use crate::node::{Entry, Node, Value};
use crate::{
    parse_duration, AuditConfig, SealStanza, ServerConfig, StorageConfig, TcpListenerConfig,
    TlsVersion, DEFAULT_MAX_REQUEST_SIZE,
};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

/// One file's configuration, with the lines of what may conflict with other
/// files when several are merged.
pub(crate) struct Parsed {
    pub config: ServerConfig,
    /// The line of each entry of `config.audit`, in the same order.
    pub audit_lines: Vec<usize>,
    pub seal_line: Option<usize>,
}

const TOP_KEYS: &[&str] = &[
    "storage",
    "backend",
    "listener",
    "seal",
    "audit",
    "api_addr",
    "cluster_addr",
    "cluster_name",
    "disable_mlock",
    "log_level",
    "log_format",
    "ui",
    "default_lease_ttl",
    "max_lease_ttl",
];

/// Top-level keys of Vault and OpenBao that Coffer does not implement.
const TOP_UNSUPPORTED: &[&str] = &[
    "ha_storage",
    "ha_backend",
    "service_registration",
    "telemetry",
    "hsm",
    "kms",
    "entropy",
    "user_lockout",
    "initialize",
    "plugin",
    "replication",
    "sentinel",
    "reporting",
    "cache_size",
    "disable_cache",
    "disable_printable_check",
    "cluster_cipher_suites",
    "plugin_directory",
    "plugin_tmpdir",
    "plugin_file_uid",
    "plugin_file_permissions",
    "plugin_download_behavior",
    "plugin_auto_download",
    "plugin_auto_register",
    "plugin_download_max_size",
    "introspection_endpoint",
    "raw_storage_endpoint",
    "disable_clustering",
    "disable_performance_standby",
    "disable_sealwrap",
    "disable_indexing",
    "disable_sentinel_trace",
    "disable_ssc_tokens",
    "enable_response_header_hostname",
    "enable_response_header_raft_node_id",
    "log_requests_level",
    "detect_deadlocks",
    "imprecise_lease_role_tracking",
    "unsafe_cross_namespace_identity",
    "unsafe_allow_api_audit_creation",
    "allow_audit_log_prefixing",
    "disable_standby_reads",
    "allow_unauthenticated_workflows",
    "unsafe_relative_paths",
    "default_max_request_duration",
    "log_file",
    "log_rotate_bytes",
    "log_rotate_duration",
    "log_rotate_max_files",
    "pid_file",
    "license_path",
    "administrative_namespace_path",
    "experiments",
    "enable_post_unseal_trace",
    "post_unseal_trace_directory",
];

const LISTENER_KEYS: &[&str] = &[
    "address",
    "cluster_address",
    "tls_disable",
    "tls_cert_file",
    "tls_key_file",
    "tls_min_version",
    "max_request_size",
    "disable_unauthed_rekey_endpoints",
    "disable_unauthed_generate_root_endpoints",
];

const LISTENER_UNSUPPORTED: &[&str] = &[
    "type",
    "purpose",
    "role",
    "max_request_json_memory",
    "max_request_json_strings",
    "max_request_duration",
    "require_request_header",
    "tls_max_version",
    "tls_cipher_suites",
    "tls_prefer_server_cipher_suites",
    "tls_key_exchange_preferences",
    "tls_require_and_verify_client_cert",
    "tls_client_ca_file",
    "tls_disable_client_certs",
    "tls_auto_reload",
    "tls_auto_reload_interval",
    "tls_acme_cache_path",
    "tls_acme_ca_directory",
    "tls_acme_test_ca_directory",
    "tls_acme_ca_root",
    "tls_acme_eab_key_id",
    "tls_acme_eab_mac_key",
    "tls_acme_key_type",
    "tls_acme_email",
    "tls_acme_domains",
    "tls_acme_disable_http_challenge",
    "tls_acme_disable_alpn_challenge",
    "http_read_timeout",
    "http_read_header_timeout",
    "http_write_timeout",
    "http_idle_timeout",
    "proxy_protocol_behavior",
    "proxy_protocol_authorized_addrs",
    "x_forwarded_for_authorized_addrs",
    "x_forwarded_for_hop_skips",
    "x_forwarded_for_reject_not_present",
    "x_forwarded_for_reject_not_authorized",
    "x_forwarded_for_client_cert_header",
    "x_forwarded_for_client_cert_decoders",
    "x_forwarded_for_client_cert_keep_not_forwarded",
    "x_forwarded_for_client_cert_keep_unauthorized",
    "socket_mode",
    "socket_user",
    "socket_group",
    "agent_api",
    "proxy_api",
    "telemetry",
    "profiling",
    "inflight_requests_logging",
    "cors_enabled",
    "cors_allowed_origins",
    "cors_allowed_headers",
    "cors_allow_credentials",
    "custom_response_headers",
    "chroot_namespace",
    "redact_addresses",
    "redact_cluster_name",
    "redact_version",
    "unauthenticated_metrics_access",
    "disable_replication_status_endpoints",
    "disable_request_limiter",
];

const RAFT_KEYS: &[&str] = &["path", "node_id", "retry_join"];

const RAFT_UNSUPPORTED: &[&str] = &[
    "performance_multiplier",
    "trailing_logs",
    "snapshot_threshold",
    "snapshot_interval",
    "snapshot_delay",
    "max_entry_size",
    "max_batch_entries",
    "max_batch_size",
    "max_mount_and_namespace_table_entry_size",
    "autopilot_reconcile_interval",
    "autopilot_update_interval",
    "autopilot_upgrade_version",
    "autopilot_redundancy_zone",
    "raft_wal",
    "raft_log_verifier_enabled",
    "raft_log_verification_interval",
    "retry_join_as_non_voter",
    "non_voter",
    "disable_autopilot",
];

/// Keys Vault lifts out of any storage stanza; Coffer wants them at the top level.
const STORAGE_COMMON: &[&str] = &[
    "redirect_addr",
    "advertise_addr",
    "cluster_addr",
    "disable_clustering",
];

const RETRY_JOIN_KEYS: &[&str] = &[
    "leader_api_addr",
    "leader_ca_cert_file",
    "leader_client_cert_file",
    "leader_client_key_file",
    "leader_tls_servername",
];

const RETRY_JOIN_UNSUPPORTED: &[&str] = &[
    "auto_join",
    "auto_join_scheme",
    "auto_join_port",
    "leader_ca_cert",
    "leader_client_cert",
    "leader_client_key",
];

const AUDIT_KEYS: &[&str] = &["description", "local", "options"];

const FILE_AUDIT_OPTIONS: &[&str] = &[
    "file_path",
    "path",
    "log_raw",
    "hmac_accessor",
    "mode",
    "format",
    "prefix",
];

const FILE_AUDIT_UNSUPPORTED: &[&str] = &["elide_list_responses", "skip_test", "fallback"];

/// Seal types of Vault and OpenBao: parsed, then refused by
/// [`ServerConfig::validate`] unless `shamir`.
const SEAL_TYPES: &[&str] = &[
    "shamir",
    "awskms",
    "azurekeyvault",
    "gcpckms",
    "ocikms",
    "alicloudkms",
    "pkcs11",
    "transit",
    "kmip",
    "static",
];

/// Decodes the top-level entries of one file.
pub(crate) fn decode(entries: &[Entry], file: &str) -> Result<Parsed, ConfigError> {
    let cx = Cx { file };
    let mut config = ServerConfig::default();
    let mut seen = Seen::default();
    let mut storage_line: Option<usize> = None;
    let mut seal_line: Option<usize> = None;
    let mut audit_lines: Vec<usize> = Vec::new();

    for e in entries {
        match e.key.as_str() {
            "storage" | "backend" => {
                for inst in cx.instances(e, 1)? {
                    if let Some(first) = storage_line {
                        return Err(cx.invalid(
                            inst.line,
                            format!("only one storage stanza is permitted (the first is on line {first})"),
                        ));
                    }
                    storage_line = Some(inst.line);
                    config.storage = Some(cx.storage(&inst)?);
                }
            }
            "listener" => {
                for inst in cx.instances(e, 1)? {
                    config.listeners.push(cx.listener(&inst)?);
                }
            }
            "seal" => {
                for inst in cx.instances(e, 1)? {
                    if let Some(first) = seal_line {
                        return Err(cx.invalid(
                            inst.line,
                            format!("only one seal stanza is permitted (the first is on line {first}); seal migration is not supported by this version of coffer"),
                        ));
                    }
                    seal_line = Some(inst.line);
                    config.seal = Some(cx.seal(&inst)?);
                }
            }
            "audit" => {
                for inst in cx.instances(e, 2)? {
                    let audit = cx.audit(&inst)?;
                    if let Some(i) = config
                        .audit
                        .iter()
                        .position(|a| crate::same_audit_path(&a.name, &audit.name))
                    {
                        return Err(cx.invalid(
                            inst.line,
                            format!(
                                "duplicate audit device \"{}\" (first declared on line {})",
                                audit.name, audit_lines[i]
                            ),
                        ));
                    }
                    config.audit.push(audit);
                    audit_lines.push(inst.line);
                }
            }
            "api_addr" | "cluster_addr" => {
                seen.once(&cx, e, "")?;
                let v = cx.string(e)?;
                if let Some(v) = &v {
                    check_url(v).map_err(|m| cx.invalid_value(e, m))?;
                }
                if e.key == "api_addr" {
                    config.api_addr = v;
                } else {
                    config.cluster_addr = v;
                }
            }
            "cluster_name" => {
                seen.once(&cx, e, "")?;
                config.cluster_name = cx.string(e)?;
            }
            "disable_mlock" => {
                seen.once(&cx, e, "")?;
                config.disable_mlock = cx.bool(e)?.unwrap_or(false);
            }
            "ui" => {
                seen.once(&cx, e, "")?;
                config.ui = cx.bool(e)?.unwrap_or(false);
            }
            "log_level" => {
                seen.once(&cx, e, "")?;
                config.log_level = match cx.string(e)? {
                    None => None,
                    Some(v) => Some(
                        crate::normalize_log_level(&v)
                            .ok_or_else(|| {
                                cx.invalid_value(
                                    e,
                                    format!("unknown log level {v:?} (use trace, debug, info, warn or error)"),
                                )
                            })?
                            .to_owned(),
                    ),
                };
            }
            "log_format" => {
                seen.once(&cx, e, "")?;
                config.log_format = match cx.string(e)? {
                    None => None,
                    Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                        "" => None,
                        f @ ("standard" | "json") => Some(f.to_owned()),
                        _ => {
                            return Err(cx.invalid_value(
                                e,
                                format!("unknown log format {v:?} (use standard or json)"),
                            ))
                        }
                    },
                };
            }
            "default_lease_ttl" | "max_lease_ttl" => {
                seen.once(&cx, e, "")?;
                // Zero means "the default", as in Vault.
                let v = cx.duration(e)?.filter(|d| !d.is_zero());
                if e.key == "default_lease_ttl" {
                    config.default_lease_ttl = v;
                } else {
                    config.max_lease_ttl = v;
                }
            }
            "disable_unauthed_rekey_endpoints" | "tls_disable" | "address" => return Err(cx
                .unsupported(
                e,
                "",
                Some("this is a listener setting; put it inside a listener \"tcp\" { ... } block"),
            )),
            k if TOP_UNSUPPORTED.contains(&k) => return Err(cx.unsupported(e, "", None)),
            _ => return Err(cx.unknown(e, "", TOP_KEYS, TOP_UNSUPPORTED)),
        }
    }

    Ok(Parsed {
        config,
        audit_lines,
        seal_line,
    })
}

/// One stanza, once its labels are known: `listener "tcp" { ... }` or the
/// JSON `{"listener": [{"tcp": { ... }}]}` are both the instance with the
/// label `tcp` and the body `{ ... }`.
struct Instance<'a> {
    labels: Vec<String>,
    line: usize,
    body: &'a [Entry],
}

/// Which keys of a stanza have been seen, to refuse duplicates.
#[derive(Default)]
struct Seen(HashMap<String, usize>);

impl Seen {
    fn once(&mut self, cx: &Cx<'_>, e: &Entry, context: &str) -> Result<(), ConfigError> {
        if let Some(first) = self.0.insert(e.key.clone(), e.line) {
            let place = if context.is_empty() {
                "at the top level".to_owned()
            } else {
                format!("in {context}")
            };
            return Err(cx.invalid(
                e.line,
                format!(
                    "duplicate key \"{}\" {place} (first set on line {first})",
                    e.key
                ),
            ));
        }
        Ok(())
    }
}

struct Cx<'a> {
    file: &'a str,
}

/// How a stanza is written, for messages about missing or extra labels.
fn usage(key: &str) -> &'static str {
    match key {
        "storage" | "backend" => "storage \"raft\" { ... }",
        "listener" => "listener \"tcp\" { ... }",
        "seal" => "seal \"shamir\" {}",
        "audit" => "audit \"file\" \"NAME\" { ... }",
        "options" => "options { ... }",
        _ => "retry_join { ... }",
    }
}

impl Cx<'_> {
    // ---- errors ----

    fn invalid(&self, line: usize, message: String) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            line,
            message,
        }
    }

    fn invalid_value(&self, e: &Entry, message: String) -> ConfigError {
        ConfigError::InvalidValue {
            file: self.file.to_owned(),
            line: e.line,
            key: e.key.clone(),
            message,
        }
    }

    fn wrong_type(&self, e: &Entry, expected: &'static str) -> ConfigError {
        ConfigError::WrongType {
            file: self.file.to_owned(),
            line: e.line,
            key: e.key.clone(),
            expected,
            found: e.describe(),
        }
    }

    fn unknown(
        &self,
        e: &Entry,
        context: &str,
        known: &[&str],
        unsupported: &[&str],
    ) -> ConfigError {
        ConfigError::UnknownKey {
            file: self.file.to_owned(),
            line: e.line,
            key: e.key.clone(),
            context: context.to_owned(),
            suggestion: suggest(&e.key, known.iter().chain(unsupported)),
        }
    }

    fn unsupported(&self, e: &Entry, context: &str, hint: Option<&str>) -> ConfigError {
        ConfigError::UnsupportedKey {
            file: self.file.to_owned(),
            line: e.line,
            key: e.key.clone(),
            context: context.to_owned(),
            hint: hint.map(str::to_owned),
        }
    }

    fn missing(&self, line: usize, key: &str, context: &str, hint: Option<&str>) -> ConfigError {
        ConfigError::MissingKey {
            file: self.file.to_owned(),
            line,
            key: key.to_owned(),
            context: context.to_owned(),
            hint: hint.map(str::to_owned),
        }
    }

    // ---- stanzas ----

    /// Finds the instances of a stanza that takes `n` labels.
    fn instances<'e>(&self, e: &'e Entry, n: usize) -> Result<Vec<Instance<'e>>, ConfigError> {
        let mut out = Vec::new();
        self.expand(e, e.labels.clone(), &e.value, e.line, n, &mut out)?;
        Ok(out)
    }

    fn expand<'e>(
        &self,
        e: &'e Entry,
        labels: Vec<String>,
        node: &'e Node,
        line: usize,
        n: usize,
        out: &mut Vec<Instance<'e>>,
    ) -> Result<(), ConfigError> {
        if labels.len() > n {
            let what = match n {
                0 => "no labels".to_owned(),
                1 => "one label".to_owned(),
                _ => format!("{n} labels"),
            };
            return Err(self.invalid(
                line,
                format!(
                    "\"{}\" takes {what}, got {}; write {}",
                    e.key,
                    labels.len(),
                    usage(&e.key)
                ),
            ));
        }
        match &node.value {
            Value::List(items) => {
                for item in items {
                    self.expand(e, labels.clone(), item, item.line, n, out)?;
                }
                Ok(())
            }
            Value::Object(body) if labels.len() == n => {
                out.push(Instance { labels, line, body });
                Ok(())
            }
            Value::Object(body) => {
                if body.is_empty() {
                    return Err(self.invalid(
                        line,
                        format!(
                            "\"{}\" stanza without a type; write {}",
                            e.key,
                            usage(&e.key)
                        ),
                    ));
                }
                for inner in body {
                    let mut more = labels.clone();
                    more.push(inner.key.clone());
                    more.extend(inner.labels.iter().cloned());
                    self.expand(e, more, &inner.value, inner.line, n, out)?;
                }
                Ok(())
            }
            _ => Err(ConfigError::WrongType {
                file: self.file.to_owned(),
                line,
                key: e.key.clone(),
                expected: "a block",
                found: node.describe(),
            }),
        }
    }

    fn storage(&self, inst: &Instance<'_>) -> Result<StorageConfig, ConfigError> {
        let kind = label(inst, 0).to_ascii_lowercase();
        match kind.as_str() {
            "raft" => self.raft(inst),
            "inmem" => {
                let context = "storage \"inmem\"";
                match inst.body.first() {
                    None => Ok(StorageConfig::Inmem),
                    Some(e) if STORAGE_COMMON.contains(&e.key.as_str()) => Err(self.unsupported(
                        e,
                        context,
                        Some("set api_addr and cluster_addr at the top level"),
                    )),
                    Some(e) => Err(self.unknown(e, context, &[], &[])),
                }
            }
            _ => Err(ConfigError::UnsupportedType {
                file: self.file.to_owned(),
                line: inst.line,
                stanza: "storage".to_owned(),
                kind: label(inst, 0).to_owned(),
                supported: "raft, inmem".to_owned(),
            }),
        }
    }

    fn raft(&self, inst: &Instance<'_>) -> Result<StorageConfig, ConfigError> {
        let context = "storage \"raft\"";
        let mut seen = Seen::default();
        let mut path = None;
        let mut node_id = None;
        let mut retry_join = Vec::new();
        for e in inst.body {
            match e.key.as_str() {
                "path" => {
                    seen.once(self, e, context)?;
                    path = self.string(e)?.map(PathBuf::from);
                }
                "node_id" => {
                    seen.once(self, e, context)?;
                    node_id = self.string(e)?;
                }
                "retry_join" => {
                    for join in self.instances(e, 0)? {
                        retry_join.push(self.retry_join(&join)?);
                    }
                }
                k if STORAGE_COMMON.contains(&k) => {
                    return Err(self.unsupported(
                        e,
                        context,
                        Some("set api_addr and cluster_addr at the top level"),
                    ))
                }
                k if RAFT_UNSUPPORTED.contains(&k) => {
                    return Err(self.unsupported(e, context, None))
                }
                _ => return Err(self.unknown(e, context, RAFT_KEYS, RAFT_UNSUPPORTED)),
            }
        }
        let path = path.ok_or_else(|| {
            self.missing(
                inst.line,
                "path",
                context,
                Some("the directory raft keeps its data in"),
            )
        })?;
        Ok(StorageConfig::Raft {
            path,
            node_id,
            retry_join,
        })
    }

    fn retry_join(&self, inst: &Instance<'_>) -> Result<crate::RetryJoin, ConfigError> {
        let context = "retry_join";
        let mut seen = Seen::default();
        let mut join = crate::RetryJoin::default();
        let mut client_cert_line = None;
        for e in inst.body {
            seen.once(self, e, context)?;
            match e.key.as_str() {
                "leader_api_addr" => {
                    if let Some(v) = self.string(e)? {
                        check_url(&v).map_err(|m| self.invalid_value(e, m))?;
                        join.leader_api_addr = v;
                    }
                }
                "leader_ca_cert_file" => join.leader_ca_cert_file = self.path(e)?,
                "leader_client_cert_file" => {
                    client_cert_line = Some(e.line);
                    join.leader_client_cert_file = self.path(e)?;
                }
                "leader_client_key_file" => {
                    client_cert_line.get_or_insert(e.line);
                    join.leader_client_key_file = self.path(e)?;
                }
                "leader_tls_servername" => join.leader_tls_servername = self.string(e)?,
                "auto_join" | "auto_join_scheme" | "auto_join_port" => return Err(self
                    .unsupported(
                    e,
                    context,
                    Some("cloud auto-join is not available; name each leader with leader_api_addr"),
                )),
                "leader_ca_cert" | "leader_client_cert" | "leader_client_key" => {
                    return Err(self.unsupported(
                        e,
                        context,
                        Some("put the PEM in a file and use the *_file key"),
                    ))
                }
                _ => return Err(self.unknown(e, context, RETRY_JOIN_KEYS, RETRY_JOIN_UNSUPPORTED)),
            }
        }
        if join.leader_api_addr.is_empty() {
            return Err(self.missing(inst.line, "leader_api_addr", context, None));
        }
        if join.leader_client_cert_file.is_some() != join.leader_client_key_file.is_some() {
            return Err(self.invalid(
                client_cert_line.unwrap_or(inst.line),
                "retry_join: leader_client_cert_file and leader_client_key_file must be set together".to_owned(),
            ));
        }
        Ok(join)
    }

    fn listener(&self, inst: &Instance<'_>) -> Result<TcpListenerConfig, ConfigError> {
        let kind = label(inst, 0).to_ascii_lowercase();
        if kind != "tcp" {
            return Err(ConfigError::UnsupportedType {
                file: self.file.to_owned(),
                line: inst.line,
                stanza: "listener".to_owned(),
                kind: label(inst, 0).to_owned(),
                supported: "tcp".to_owned(),
            });
        }
        let context = "listener \"tcp\"";
        let mut seen = Seen::default();
        let mut l = TcpListenerConfig::default();
        for e in inst.body {
            if LISTENER_KEYS.contains(&e.key.as_str()) {
                seen.once(self, e, context)?;
            }
            match e.key.as_str() {
                "address" => {
                    if let Some(v) = self.string(e)? {
                        check_host_port(&v).map_err(|m| self.invalid_value(e, m))?;
                        l.address = v;
                    }
                }
                "cluster_address" => {
                    l.cluster_address = self.string(e)?;
                    if let Some(v) = &l.cluster_address {
                        check_host_port(v).map_err(|m| self.invalid_value(e, m))?;
                    }
                }
                "tls_disable" => l.tls_disable = self.bool(e)?.unwrap_or(false),
                "tls_cert_file" => l.tls_cert_file = self.path(e)?,
                "tls_key_file" => l.tls_key_file = self.path(e)?,
                "tls_min_version" => {
                    if let Some(v) = self.string(e)? {
                        l.tls_min_version = match v.as_str() {
                            "tls12" => TlsVersion::Tls12,
                            "tls13" => TlsVersion::Tls13,
                            "tls10" | "tls11" => {
                                return Err(self.invalid_value(
                                    e,
                                    format!("{v} is not supported; coffer speaks tls12 and tls13"),
                                ))
                            }
                            _ => {
                                return Err(self.invalid_value(
                                    e,
                                    format!("unknown TLS version {v:?} (use tls12 or tls13)"),
                                ))
                            }
                        };
                    }
                }
                "max_request_size" => {
                    if let Some(v) = self.int(e)? {
                        // As Vault: 0 is the default, a negative size means no limit.
                        l.max_request_size = if v == 0 { DEFAULT_MAX_REQUEST_SIZE } else { v };
                    }
                }
                "disable_unauthed_rekey_endpoints" => {
                    l.disable_unauthed_rekey_endpoints = self.bool(e)?.unwrap_or(true);
                }
                "disable_unauthed_generate_root_endpoints" => {
                    l.disable_unauthed_generate_root_endpoints = self.bool(e)?.unwrap_or(true);
                }
                k if LISTENER_UNSUPPORTED.contains(&k) => {
                    return Err(self.unsupported(e, context, None))
                }
                _ => return Err(self.unknown(e, context, LISTENER_KEYS, LISTENER_UNSUPPORTED)),
            }
        }
        if !l.tls_disable {
            // OpenBao would fetch a certificate with ACME here; Coffer cannot.
            let hint = Some("TLS is on unless tls_disable = true, and then coffer needs both tls_cert_file and tls_key_file; ACME certificates are not supported");
            if l.tls_cert_file.is_none() {
                return Err(self.missing(inst.line, "tls_cert_file", context, hint));
            }
            if l.tls_key_file.is_none() {
                return Err(self.missing(inst.line, "tls_key_file", context, hint));
            }
        }
        Ok(l)
    }

    fn seal(&self, inst: &Instance<'_>) -> Result<SealStanza, ConfigError> {
        let kind = label(inst, 0).to_ascii_lowercase();
        if !SEAL_TYPES.contains(&kind.as_str()) {
            return Err(ConfigError::UnsupportedType {
                file: self.file.to_owned(),
                line: inst.line,
                stanza: "seal".to_owned(),
                kind: label(inst, 0).to_owned(),
                supported: "shamir".to_owned(),
            });
        }
        let context = format!("seal \"{kind}\"");
        let mut seen = Seen::default();
        let mut seal = SealStanza {
            seal_type: kind.clone(),
            disabled: false,
            options: BTreeMap::new(),
        };
        for e in inst.body {
            seen.once(self, e, &context)?;
            if e.key == "disabled" {
                seal.disabled = self.bool(e)?.unwrap_or(false);
            } else if kind == "shamir" {
                // The Shamir seal takes no options.
                return Err(self.unknown(e, &context, &["disabled"], &[]));
            } else if let Some(v) = self.scalar_string(e)? {
                seal.options.insert(e.key.clone(), v);
            }
        }
        Ok(seal)
    }

    fn audit(&self, inst: &Instance<'_>) -> Result<AuditConfig, ConfigError> {
        let device_type = label(inst, 0).to_ascii_lowercase();
        let name = label(inst, 1).to_owned();
        if device_type != "file" {
            return Err(ConfigError::UnsupportedType {
                file: self.file.to_owned(),
                line: inst.line,
                stanza: "audit".to_owned(),
                kind: label(inst, 0).to_owned(),
                supported: "file".to_owned(),
            });
        }
        let context = format!("audit \"{device_type}\" \"{name}\"");
        if name.trim_matches('/').is_empty() {
            return Err(self.invalid(
                inst.line,
                format!("{context}: the audit device needs a name (its path)"),
            ));
        }
        let mut seen = Seen::default();
        let mut audit = AuditConfig {
            device_type,
            name,
            description: None,
            local: false,
            options: BTreeMap::new(),
        };
        for e in inst.body {
            seen.once(self, e, &context)?;
            match e.key.as_str() {
                "description" => audit.description = self.string(e)?,
                "local" => audit.local = self.bool(e)?.unwrap_or(false),
                "options" => {
                    let opts = self.instances(e, 0)?;
                    let options_context = format!("options of {context}");
                    let mut seen_opt = Seen::default();
                    for opt in opts.iter().flat_map(|o| o.body) {
                        seen_opt.once(self, opt, &options_context)?;
                        let key = opt.key.as_str();
                        if FILE_AUDIT_UNSUPPORTED.contains(&key) {
                            return Err(self.unsupported(opt, &options_context, None));
                        }
                        if !FILE_AUDIT_OPTIONS.contains(&key) {
                            return Err(self.unknown(
                                opt,
                                &options_context,
                                FILE_AUDIT_OPTIONS,
                                FILE_AUDIT_UNSUPPORTED,
                            ));
                        }
                        let Some(value) = self.file_audit_option(opt)? else {
                            continue;
                        };
                        // OpenBao reads "path" when "file_path" is missing.
                        let key = if key == "path" { "file_path" } else { key };
                        if audit.options.insert(key.to_owned(), value).is_some() {
                            return Err(self.invalid(
                                opt.line,
                                format!("{options_context}: \"path\" and \"file_path\" both given"),
                            ));
                        }
                    }
                }
                _ => return Err(self.unknown(e, &context, AUDIT_KEYS, &[])),
            }
        }
        if !audit.options.contains_key("file_path") {
            return Err(self.missing(
                inst.line,
                "file_path",
                &context,
                Some("in its options block; \"stdout\" and \"discard\" are accepted too"),
            ));
        }
        Ok(audit)
    }

    /// Checks and normalises one option of a file audit device.
    fn file_audit_option(&self, e: &Entry) -> Result<Option<String>, ConfigError> {
        Ok(Some(match e.key.as_str() {
            "log_raw" | "hmac_accessor" => match self.bool(e)? {
                None => return Ok(None),
                Some(b) => b.to_string(),
            },
            "mode" => {
                let Some(v) = self.scalar_string(e)? else {
                    return Ok(None);
                };
                match u32::from_str_radix(&v, 8) {
                    Ok(m) if m <= 0o7777 => v,
                    _ => {
                        return Err(self.invalid_value(
                            e,
                            format!("{v:?} is not an octal file mode such as \"0600\""),
                        ))
                    }
                }
            }
            "format" => {
                match self.string(e)?.as_deref() {
                    None | Some("json") => "json".to_owned(),
                    Some("jsonx") => return Err(self.invalid_value(
                        e,
                        "jsonx formatting has been removed; omit \"format\" or set it to \"json\""
                            .to_owned(),
                    )),
                    Some(other) => {
                        return Err(
                            self.invalid_value(e, format!("unknown format {other:?} (use json)"))
                        )
                    }
                }
            }
            _ => match self.string(e)? {
                None => return Ok(None),
                Some(v) => v,
            },
        }))
    }

    // ---- scalars ----

    /// The entry's value, if it is a plain `key = value` (not a block).
    fn plain<'e>(&self, e: &'e Entry, expected: &'static str) -> Result<&'e Value, ConfigError> {
        if e.is_block || !e.labels.is_empty() {
            return Err(self.wrong_type(e, expected));
        }
        Ok(&e.value.value)
    }

    /// A string; `null` and `""` mean "not set", as in Vault.
    fn string(&self, e: &Entry) -> Result<Option<String>, ConfigError> {
        match self.plain(e, "a string")? {
            Value::Null => Ok(None),
            Value::Str(s) if s.is_empty() => Ok(None),
            Value::Str(s) => Ok(Some(s.clone())),
            _ => Err(self.wrong_type(e, "a string")),
        }
    }

    fn path(&self, e: &Entry) -> Result<Option<PathBuf>, ConfigError> {
        Ok(self.string(e)?.map(PathBuf::from))
    }

    /// A string, number or boolean, as a string (for the free-form option maps).
    fn scalar_string(&self, e: &Entry) -> Result<Option<String>, ConfigError> {
        match self.plain(e, "a string")? {
            Value::Null => Ok(None),
            Value::Str(s) => Ok(Some(s.clone())),
            Value::Bool(b) => Ok(Some(b.to_string())),
            Value::Int(i) => Ok(Some(i.to_string())),
            Value::Float(f) => Ok(Some(f.to_string())),
            _ => Err(self.wrong_type(e, "a string")),
        }
    }

    /// A boolean: `true`/`false`, the strings Go's `strconv.ParseBool`
    /// accepts, or the integers 0 and 1.
    fn bool(&self, e: &Entry) -> Result<Option<bool>, ConfigError> {
        match self.plain(e, "a boolean")? {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            Value::Int(0) => Ok(Some(false)),
            Value::Int(1) => Ok(Some(true)),
            Value::Str(s) => match s.as_str() {
                "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(Some(true)),
                "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(Some(false)),
                _ => Err(self.wrong_type(e, "a boolean")),
            },
            _ => Err(self.wrong_type(e, "a boolean")),
        }
    }

    /// An integer, or a string holding one (as Vault's `parseutil.ParseInt`).
    fn int(&self, e: &Entry) -> Result<Option<i64>, ConfigError> {
        match self.plain(e, "an integer")? {
            Value::Null => Ok(None),
            Value::Int(i) => Ok(Some(*i)),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => {
                // In range and whole, so the conversion is exact.
                #[allow(clippy::cast_possible_truncation)]
                Ok(Some(*f as i64))
            }
            Value::Str(s) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| self.wrong_type(e, "an integer")),
            _ => Err(self.wrong_type(e, "an integer")),
        }
    }

    /// A duration: a string for [`parse_duration`], or a number of seconds.
    fn duration(&self, e: &Entry) -> Result<Option<Duration>, ConfigError> {
        match self.plain(e, "a duration")? {
            Value::Null => Ok(None),
            // As Vault: "" is no duration (the default).
            Value::Str(s) if s.is_empty() => Ok(None),
            Value::Str(s) => parse_duration(s)
                .map(Some)
                .map_err(|m| self.invalid_value(e, m)),
            Value::Int(i) => parse_duration(&i.to_string())
                .map(Some)
                .map_err(|m| self.invalid_value(e, m)),
            Value::Float(f) => {
                if *f < 0.0 {
                    return Err(
                        self.invalid_value(e, format!("negative duration {f} is not allowed"))
                    );
                }
                Duration::try_from_secs_f64(*f)
                    .ok()
                    .filter(|d| d.as_nanos() <= i64::MAX as u128)
                    .map(Some)
                    .ok_or_else(|| self.invalid_value(e, format!("duration {f} is out of range")))
            }
            _ => Err(self.wrong_type(e, "a duration")),
        }
    }
}

fn label<'a>(inst: &'a Instance<'_>, i: usize) -> &'a str {
    inst.labels.get(i).map_or("", String::as_str)
}

/// Checks a URL such as `https://vault.example.com:8200`.
fn check_url(v: &str) -> Result<(), String> {
    no_template(v)?;
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .ok_or_else(|| format!("{v:?} must be a URL starting with https:// or http://"))?;
    if rest.is_empty() || rest.starts_with(['/', ':']) {
        return Err(format!("{v:?} has no host"));
    }
    if rest.chars().any(char::is_whitespace) {
        return Err(format!("{v:?} contains whitespace"));
    }
    Ok(())
}

/// Checks a listening address such as `0.0.0.0:8200` or `[::1]:8200`.
fn check_host_port(v: &str) -> Result<(), String> {
    no_template(v)?;
    let Some((host, port)) = v.rsplit_once(':') else {
        return Err(format!("{v:?} must be HOST:PORT, e.g. 0.0.0.0:8200"));
    };
    if port.parse::<u16>().is_err() {
        return Err(format!("{v:?} has an invalid port {port:?}"));
    }
    if host.is_empty() {
        return Err(format!(
            "{v:?} has no host; write 0.0.0.0{v} to listen on every interface"
        ));
    }
    if host.starts_with('[') != host.ends_with(']')
        || (!host.starts_with('[') && host.contains(':'))
    {
        return Err(format!(
            "{v:?}: an IPv6 address must be in brackets, e.g. [::]:8200"
        ));
    }
    if host.chars().any(char::is_whitespace) {
        return Err(format!("{v:?} contains whitespace"));
    }
    Ok(())
}

fn no_template(v: &str) -> Result<(), String> {
    if v.contains("{{") {
        return Err(format!(
            "{v:?}: go-sockaddr templates are not supported by coffer; write the address out"
        ));
    }
    Ok(())
}

/// The known key closest to `key`, if it is a likely misspelling.
fn suggest<'k>(key: &str, known: impl Iterator<Item = &'k &'k str>) -> Option<String> {
    let key = key.to_ascii_lowercase();
    let max = if key.chars().count() <= 4 { 1 } else { 2 };
    known
        .map(|k| (edit_distance(&key, k), *k))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.to_owned())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("adress", "address"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            suggest("adress", LISTENER_KEYS.iter()),
            Some("address".to_owned())
        );
        assert_eq!(suggest("zzzzzzzz", LISTENER_KEYS.iter()), None);
    }

    #[test]
    fn urls_and_addresses() {
        assert!(check_url("https://a.example:8200").is_ok());
        assert!(check_url("http://10.0.0.1:8200").is_ok());
        assert!(check_url("a.example:8200").is_err());
        assert!(check_url("https://").is_err());
        assert!(check_url("https://{{ GetPrivateIP }}:8200").is_err());
        assert!(check_host_port("0.0.0.0:8200").is_ok());
        assert!(check_host_port("[::]:8200").is_ok());
        assert!(check_host_port("localhost:1").is_ok());
        assert!(check_host_port(":8200").is_err());
        assert!(check_host_port("::1:8200").is_err());
        assert!(check_host_port("0.0.0.0").is_err());
        assert!(check_host_port("0.0.0.0:99999").is_err());
        assert!(check_host_port("{{ GetPrivateIP }}:8200").is_err());
    }

    #[test]
    fn key_lists_do_not_overlap() {
        for (known, unsupported) in [
            (TOP_KEYS, TOP_UNSUPPORTED),
            (LISTENER_KEYS, LISTENER_UNSUPPORTED),
            (RAFT_KEYS, RAFT_UNSUPPORTED),
            (RETRY_JOIN_KEYS, RETRY_JOIN_UNSUPPORTED),
            (FILE_AUDIT_OPTIONS, FILE_AUDIT_UNSUPPORTED),
        ] {
            for k in known {
                assert!(!unsupported.contains(k), "{k}");
            }
        }
    }
}
