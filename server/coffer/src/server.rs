//! Listeners: bind a TCP address, optionally wrap connections in TLS, and
//! serve each connection with hyper-util's auto (HTTP/1.1 and HTTP/2)
//! connection builder around the warp filter of [`crate::http`]. Shutdown is
//! graceful: stop accepting, let in-flight requests finish (bounded).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use coffer_core::Core;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::http::{self, HttpState, RemoteAddr};
use crate::tls::{self, TlsError, TlsSettings};

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for in-flight connections.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What a listener serves, from the configuration or the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    /// `host:port` to bind, exactly as configured.
    pub address: String,
    /// `None` when `tls_disable` is set.
    pub tls: Option<TlsSettings>,
    /// Largest request body in bytes.
    pub max_request_size: u64,
}

impl ListenerSpec {
    /// A plain-HTTP listener with default limits.
    pub fn plain(address: impl Into<String>) -> ListenerSpec {
        ListenerSpec {
            address: address.into(),
            tls: None,
            max_request_size: http::DEFAULT_MAX_REQUEST_SIZE,
        }
    }
}

/// Why a listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("invalid listener address {0:?}")]
    Address(String),
    #[error("binding {address}: {source}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("listener {address}: {source}")]
    Tls {
        address: String,
        #[source]
        source: TlsError,
    },
}

/// A bound listener, not yet serving.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<HttpState>,
    local_addr: SocketAddr,
}

impl Listener {
    /// Binds `spec.address` (resolving host names) and prepares TLS.
    pub async fn bind(spec: &ListenerSpec, core: Arc<Core>) -> Result<Listener, ServeError> {
        let tls = match &spec.tls {
            Some(t) => Some(tls::acceptor(t).map_err(|source| ServeError::Tls {
                address: spec.address.clone(),
                source,
            })?),
            None => None,
        };
        if spec.address.trim().is_empty() {
            return Err(ServeError::Address(spec.address.clone()));
        }
        let tcp = TcpListener::bind(spec.address.as_str())
            .await
            .map_err(|source| ServeError::Bind {
                address: spec.address.clone(),
                source,
            })?;
        let local_addr = tcp.local_addr().map_err(|source| ServeError::Bind {
            address: spec.address.clone(),
            source,
        })?;
        Ok(Listener {
            tcp,
            tls,
            state: HttpState::new(core, spec.max_request_size),
            local_addr,
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.is_tls() { "https" } else { "http" },
            self.local_addr
        )
    }

    /// Serves until `shutdown` completes, then drains open connections.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) {
        let filter = http::filter(self.state.clone());
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                r = self.tcp.accept() => r,
                () = &mut shutdown => break,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Typically out of file descriptors: back off a little.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let svc = TowerToHyperService::new(warp::service(filter.clone()));
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(RemoteAddr(peer));
                    hyper::service::Service::call(&svc, req)
                },
            );
            let watcher = graceful.watcher();
            let tls = self.tls.clone();
            tokio::spawn(async move {
                let builder = auto::Builder::new(TokioExecutor::new());
                let result = match tls {
                    None => {
                        watcher
                            .watch(builder.serve_connection(TokioIo::new(stream), svc))
                            .await
                    }
                    Some(acceptor) => {
                        let tls_stream = match tokio::time::timeout(
                            HANDSHAKE_TIMEOUT,
                            acceptor.accept(stream),
                        )
                        .await
                        {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(peer = %peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(peer = %peer, "TLS handshake timed out");
                                return;
                            }
                        };
                        watcher
                            .watch(builder.serve_connection(TokioIo::new(tls_stream), svc))
                            .await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
                }
            });
        }
        drop(self.tcp);
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(DRAIN_TIMEOUT) => {
                tracing::warn!("open connections did not finish in time");
            }
        }
    }

    /// Serves in a background task; the handle stops it.
    pub fn spawn(self) -> ServerHandle {
        let (tx, mut rx) = watch::channel(false);
        let addr = self.local_addr;
        let url = self.url();
        let task = tokio::spawn(self.serve(async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }));
        ServerHandle {
            addr,
            url,
            stop: tx,
            task,
        }
    }
}

/// A listener serving in the background.
pub struct ServerHandle {
    addr: SocketAddr,
    url: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http(s)://ADDR`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops accepting, drains connections and waits for the task.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Binds every listener (all or nothing).
pub async fn bind_all(
    specs: &[ListenerSpec],
    core: &Arc<Core>,
) -> Result<Vec<Listener>, ServeError> {
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        out.push(Listener::bind(spec, core.clone()).await?);
    }
    Ok(out)
}

/// Serves all listeners until `shutdown` completes.
pub async fn serve_all(listeners: Vec<Listener>, shutdown: impl Future<Output = ()> + Send) {
    let (tx, rx) = watch::channel(false);
    let mut tasks = Vec::new();
    for l in listeners {
        let mut rx = rx.clone();
        tasks.push(tokio::spawn(l.serve(async move {
            let _ = rx.wait_for(|stop| *stop).await;
        })));
    }
    shutdown.await;
    let _ = tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_in_process_and_stops() {
        let dev = crate::dev::dev_core(Some("root"), coffer_core::CoreConfig::default())
            .await
            .unwrap();
        let listener = Listener::bind(&ListenerSpec::plain("127.0.0.1:0"), dev.core.clone())
            .await
            .unwrap();
        assert!(!listener.is_tls());
        let handle = listener.spawn();
        assert!(handle.url().starts_with("http://127.0.0.1:"));
        let addr = handle.addr();
        let answer = tokio::task::spawn_blocking(move || get(addr, "/v1/sys/leader"))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("cache-control: no-store\r\n"), "{answer}");
        assert!(answer.ends_with("{\"ha_enabled\":false}\n"), "{answer}");
        handle.shutdown().await;
        assert!(std::net::TcpStream::connect(addr).is_err());
    }

    #[tokio::test]
    async fn bind_errors() {
        let core = coffer_core::Core::new(
            Arc::new(coffer_core::physical::InmemBackend::new()),
            coffer_core::CoreConfig::default(),
        );
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let spec = ListenerSpec::plain(taken.local_addr().unwrap().to_string());
        assert!(matches!(
            Listener::bind(&spec, core.clone()).await,
            Err(ServeError::Bind { .. })
        ));
        let spec = ListenerSpec::plain("not an address");
        assert!(matches!(
            Listener::bind(&spec, core.clone()).await,
            Err(ServeError::Bind { .. })
        ));
        let spec = ListenerSpec {
            tls: Some(TlsSettings {
                cert_file: "/nonexistent/c.pem".into(),
                key_file: "/nonexistent/k.pem".into(),
                min_version: crate::tls::TlsMinVersion::Tls12,
            }),
            ..ListenerSpec::plain("127.0.0.1:0")
        };
        assert!(matches!(
            Listener::bind(&spec, core).await,
            Err(ServeError::Tls { .. })
        ));
    }
}
