//! `coffer server`: from a configuration (or `-dev`) to serving listeners,
//! and a graceful stop on SIGINT/SIGTERM (listeners drain, then storage is
//! closed cleanly).

use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use coffer_config::{ServerConfig, StorageConfig, TcpListenerConfig, TlsVersion};
use coffer_core::audit::AuditDeviceConfig;
use coffer_core::physical::{InmemBackend, Physical};
use coffer_core::{Core, CoreConfig, CoreError};
use coffer_raft::{RaftBackend, RaftConfig};

use crate::cli::ServerArgs;
use crate::server::{self, ListenerSpec, ServeError};
use crate::tls::{TlsMinVersion, TlsSettings};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] coffer_config::ConfigError),
    #[error("{0}")]
    Logging(String),
    #[error("storage \"raft\": {0}")]
    Raft(#[from] coffer_raft::RaftError),
    #[error("storage \"raft\": node id file {path}: {source}")]
    NodeId {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Listener(#[from] ServeError),
    #[error("dev mode set-up failed: {0}")]
    Dev(CoreError),
}

/// The storage a server runs on; raft needs a clean shutdown.
pub enum Storage {
    Inmem(Arc<InmemBackend>),
    Raft(Arc<RaftBackend>),
}

impl Storage {
    /// The backend as the core sees it.
    pub fn physical(&self) -> Arc<dyn Physical> {
        match self {
            Storage::Inmem(b) => b.clone(),
            Storage::Raft(b) => b.clone(),
        }
    }

    /// Closes the storage (raft: flush and release the data directory).
    pub async fn shutdown(&self) {
        if let Storage::Raft(r) = self {
            r.shutdown().await;
        }
    }
}

/// The listener specification for a `listener "tcp"` stanza.
pub fn listener_spec(l: &TcpListenerConfig) -> ListenerSpec {
    let tls = if l.tls_disable {
        None
    } else {
        Some(TlsSettings {
            cert_file: l.tls_cert_file.clone().unwrap_or_default(),
            key_file: l.tls_key_file.clone().unwrap_or_default(),
            min_version: match l.tls_min_version {
                TlsVersion::Tls12 => TlsMinVersion::Tls12,
                TlsVersion::Tls13 => TlsMinVersion::Tls13,
            },
        })
    };
    ListenerSpec {
        address: l.address.clone(),
        tls,
        max_request_size: l.max_request_bytes().unwrap_or(u64::MAX),
    }
}

/// The core settings from a configuration.
pub fn core_config(cfg: &ServerConfig) -> CoreConfig {
    CoreConfig {
        cluster_name: cfg.cluster_name.clone(),
        default_lease_ttl: cfg
            .default_lease_ttl
            .unwrap_or(coffer_config::DEFAULT_LEASE_TTL),
        max_lease_ttl: cfg
            .max_lease_ttl
            .unwrap_or(coffer_config::DEFAULT_LEASE_TTL),
        audit_devices: cfg
            .audit
            .iter()
            .map(|a| AuditDeviceConfig {
                name: a.name.clone(),
                device_type: a.device_type.clone(),
                description: a.description.clone().unwrap_or_default(),
                options: a.options.clone(),
                local: a.local,
                from_config: true,
            })
            .collect(),
        ha_enabled: matches!(cfg.storage, Some(StorageConfig::Raft { .. })),
        api_addr: cfg.api_addr.clone(),
        cluster_addr: cfg.cluster_addr.clone(),
    }
}

/// The raft node id: configured, else kept in `<path>/node-id` (made on first
/// start), as Vault does.
pub fn raft_node_id(path: &Path, configured: Option<&str>) -> Result<String, StartError> {
    if let Some(id) = configured.filter(|s| !s.is_empty()) {
        return Ok(id.to_string());
    }
    let file = path.join("node-id");
    let err = |source| StartError::NodeId {
        path: file.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&file) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(err(e)),
        _ => {
            std::fs::create_dir_all(path).map_err(err)?;
            let id = uuid::Uuid::new_v4().to_string();
            std::fs::write(&file, &id).map_err(err)?;
            Ok(id)
        }
    }
}

/// Opens the configured storage.
pub async fn open_storage(cfg: &ServerConfig) -> Result<Storage, StartError> {
    match &cfg.storage {
        Some(StorageConfig::Raft { path, node_id, .. }) => {
            let id = raft_node_id(path, node_id.as_deref())?;
            let raft_cfg = RaftConfig {
                cluster_addr: cfg.cluster_addr.clone().unwrap_or_default(),
                ..RaftConfig::default()
            };
            let backend = RaftBackend::open_with_config(path, id, raft_cfg).await?;
            Ok(Storage::Raft(Arc::new(backend)))
        }
        Some(StorageConfig::Inmem) | None => Ok(Storage::Inmem(Arc::new(InmemBackend::new()))),
    }
}

fn print_ready(listeners: &[server::Listener]) {
    let mut out = std::io::stdout().lock();
    for l in listeners {
        let _ = writeln!(out, "coffer: listening on {}", l.url());
    }
    let _ = out.flush();
}

/// Installs the SIGINT and SIGTERM handlers now (so that a signal arriving
/// once the ready line is out is never lost to the default action) and
/// returns a future that completes on the first of them.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (int, term) {
                (Ok(mut int), Ok(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                (Ok(mut int), Err(_)) => {
                    int.recv().await;
                }
                (Err(_), Ok(mut term)) => {
                    term.recv().await;
                }
                (Err(e), Err(_)) => {
                    tracing::warn!(error = %e, "no signal handlers: stop the server with SIGKILL");
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Runs `coffer server` with a configuration until `shutdown` completes.
pub async fn run_config(
    args: &ServerArgs,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartError> {
    let cfg = coffer_config::load(&args.config)?;
    cfg.validate_for_server()?;
    crate::logging::init(
        args.log_level.as_deref().or(cfg.log_level.as_deref()),
        args.log_format.as_deref().or(cfg.log_format.as_deref()),
    )
    .map_err(StartError::Logging)?;
    let specs: Vec<ListenerSpec> = cfg.listeners.iter().map(listener_spec).collect();
    // TLS files are checked before storage is opened: a typo should not
    // leave a raft directory half set up.
    for s in &specs {
        if let Some(t) = &s.tls {
            crate::tls::server_config(t).map_err(|source| ServeError::Tls {
                address: s.address.clone(),
                source,
            })?;
        }
    }
    let storage = open_storage(&cfg).await?;
    let core = Core::new(storage.physical(), core_config(&cfg));
    let listeners = match server::bind_all(&specs, &core).await {
        Ok(l) => l,
        Err(e) => {
            storage.shutdown().await;
            return Err(e.into());
        }
    };
    tracing::info!(
        storage = storage.physical().storage_type(),
        "coffer server started"
    );
    print_ready(&listeners);
    server::serve_all(listeners, shutdown).await;
    tracing::info!("shutting down");
    if let Err(e) = core.seal().await {
        tracing::warn!(error = %e, "sealing on shutdown failed");
    }
    storage.shutdown().await;
    Ok(())
}

/// Runs `coffer server -dev` until `shutdown` completes.
pub async fn run_dev(
    args: &ServerArgs,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartError> {
    let mut cfg = if args.config.is_empty() {
        ServerConfig::default()
    } else {
        coffer_config::load(&args.config)?
    };
    cfg.validate()?;
    cfg.storage = Some(StorageConfig::Inmem);
    crate::logging::init(
        args.log_level.as_deref().or(cfg.log_level.as_deref()),
        args.log_format.as_deref().or(cfg.log_format.as_deref()),
    )
    .map_err(StartError::Logging)?;
    let mut core_cfg = core_config(&cfg);
    core_cfg.ha_enabled = false;
    let spec = ListenerSpec::plain(args.dev_listen_address());
    let dev = crate::dev::dev_core(args.dev_root_token_id.as_deref(), core_cfg)
        .await
        .map_err(StartError::Dev)?;
    let listener = server::Listener::bind(&spec, dev.core.clone()).await?;
    {
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "==> Coffer server configuration:\n\n{:>24}: {url}\n{:>24}: tcp (addr: \"{addr}\", max_request_size: \"{max}\", tls: \"disabled\")\n{:>24}: inmem\n{:>24}: Coffer v{version}\n\n",
            "Api Address",
            "Listener 1",
            "Storage",
            "Version",
            url = listener.url(),
            addr = listener.local_addr(),
            max = spec.max_request_size,
            version = crate::VERSION,
        );
        let _ = write!(
            out,
            "{}",
            crate::dev::banner(&listener.url(), &dev.unseal_key, &dev.root_token)
        );
        let _ = out.flush();
    }
    print_ready(std::slice::from_ref(&listener));
    server::serve_all(vec![listener], shutdown).await;
    Ok(())
}

/// Runs `coffer server` as the command line asks.
pub async fn run_server(args: &ServerArgs) -> Result<(), StartError> {
    if args.dev {
        run_dev(args, shutdown_signal()).await
    } else {
        run_config(args, shutdown_signal()).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn listener_specs_from_config() {
        let cfg = coffer_config::parse_str(
            r#"
listener "tcp" {
  address     = "127.0.0.1:1"
  tls_disable = true
  max_request_size = 1024
}
listener "tcp" {
  address         = "127.0.0.1:2"
  tls_cert_file   = "/c.pem"
  tls_key_file    = "/k.pem"
  tls_min_version = "tls13"
  max_request_size = -1
}
"#,
            "t.hcl",
        )
        .unwrap();
        let a = listener_spec(&cfg.listeners[0]);
        assert_eq!(
            a,
            ListenerSpec {
                max_request_size: 1024,
                ..ListenerSpec::plain("127.0.0.1:1")
            }
        );
        let b = listener_spec(&cfg.listeners[1]);
        assert_eq!(b.max_request_size, u64::MAX);
        let tls = b.tls.unwrap();
        assert_eq!(tls.cert_file, std::path::PathBuf::from("/c.pem"));
        assert_eq!(tls.min_version, TlsMinVersion::Tls13);
    }

    #[test]
    fn core_config_from_config() {
        let cfg = coffer_config::parse_str(
            r#"
storage "raft" {
  path = "/tmp/x"
}
api_addr = "http://127.0.0.1:8200"
cluster_name = "c1"
default_lease_ttl = "1h"
max_lease_ttl = "2h"
audit "file" "a1" {
  options {
    file_path = "/tmp/audit.log"
  }
}
"#,
            "t.hcl",
        )
        .unwrap();
        let c = core_config(&cfg);
        assert!(c.ha_enabled);
        assert_eq!(c.cluster_name.as_deref(), Some("c1"));
        assert_eq!(c.api_addr.as_deref(), Some("http://127.0.0.1:8200"));
        assert_eq!(c.default_lease_ttl.as_secs(), 3600);
        assert_eq!(c.max_lease_ttl.as_secs(), 7200);
        assert_eq!(c.audit_devices.len(), 1);
        assert_eq!(c.audit_devices[0].name, "a1");
        assert!(c.audit_devices[0].from_config);
        let c = core_config(&ServerConfig::default());
        assert!(!c.ha_enabled);
        assert_eq!(c.default_lease_ttl, coffer_config::DEFAULT_LEASE_TTL);
    }

    #[test]
    fn node_ids() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(raft_node_id(dir.path(), Some("n1")).unwrap(), "n1");
        let generated = raft_node_id(&dir.path().join("data"), None).unwrap();
        assert_eq!(
            raft_node_id(&dir.path().join("data"), None).unwrap(),
            generated
        );
    }
}
