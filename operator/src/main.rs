//! The `coffer-operator` binary: JSON logs, the metrics/health endpoint, Lease leader election,
//! and the VaultCluster controller while this replica leads.
//!
//! Environment: `POD_NAME` (Lease identity, event reporter), `POD_NAMESPACE` (where the Lease
//! lives), `METRICS_ADDR` (default `0.0.0.0:8080`), `RUST_LOG` (default `info`), `LOG_FORMAT`
//! (`json`, the default, or `text`), `LEADER_ELECTION` (`false` to run without it, e.g. locally).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use coffer_operator::http::{self, Health};
use coffer_operator::leader::{LeaderElector, LeaseConfig};
use coffer_operator::metrics::Metrics;
use coffer_operator::reconcile::{self, Context};
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let text = std::env::var("LOG_FORMAT").is_ok_and(|f| f == "text");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    if text {
        builder.init();
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .map_err(|_| anyhow::anyhow!("another rustls crypto provider is already installed"))?;

    let pod = std::env::var("POD_NAME").ok();
    let namespace = std::env::var("POD_NAMESPACE").unwrap_or_else(|_| "coffer-system".into());
    let metrics_addr: SocketAddr = std::env::var("METRICS_ADDR")
        .unwrap_or_else(|_| "0.0.0.0:8080".into())
        .parse()
        .context("METRICS_ADDR must be host:port")?;
    let leader_election = std::env::var("LEADER_ELECTION").map_or(true, |v| v != "false");

    let client = kube::Client::try_default()
        .await
        .context("no Kubernetes client configuration (in-cluster or KUBECONFIG)")?;
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::default());

    // Shutdown: SIGTERM / Ctrl-C, or losing the Lease.
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = {
        let rx = stop_rx.clone();
        move || {
            let mut rx = rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        }
    };
    {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
        });
    }

    let (listener, bound) = http::bind(metrics_addr)
        .await
        .context("binding the metrics address")?;
    tracing::info!(address = %bound, "serving /metrics, /healthz and /readyz");
    let server = tokio::spawn(http::serve(
        listener,
        metrics.clone(),
        health.clone(),
        stopped(),
    ));

    let identity = pod
        .clone()
        .unwrap_or_else(|| format!("coffer-operator-{}", std::process::id()));
    let elector = LeaderElector::new(client.clone(), LeaseConfig::new(&namespace, &identity));
    health.set_ready(true);

    let mut lost_leadership = false;
    if leader_election {
        tracing::info!(lease = %elector.config().name, %namespace, %identity, "waiting to lead");
        loop {
            if *stop_rx.borrow() {
                server.abort();
                return Ok(());
            }
            match elector.try_acquire_or_renew(jiff::Timestamp::now()).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "reading the leader Lease"),
            }
            tokio::time::sleep(elector.config().renew_every).await;
        }
        tracing::info!("leading");
        metrics.set_leader(true);
        // Renew in the background; stop everything if the Lease cannot be kept.
        let (elector2, stop_tx2) = (elector.clone(), stop_tx.clone());
        let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let lost2 = lost.clone();
        tokio::spawn(async move {
            let config = elector2.config().clone();
            let mut last_renewed = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(config.renew_every).await;
                match elector2.try_acquire_or_renew(jiff::Timestamp::now()).await {
                    Ok(true) => last_renewed = tokio::time::Instant::now(),
                    Ok(false) => {
                        tracing::error!("another replica took the leader Lease");
                        break;
                    }
                    Err(e) => tracing::warn!(error = %e, "renewing the leader Lease"),
                }
                // Give up strictly before the Lease can expire for others.
                if last_renewed.elapsed() + config.renew_every >= config.lease_duration {
                    tracing::error!("could not renew the leader Lease in time");
                    break;
                }
            }
            lost2.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = stop_tx2.send(true);
        });
        let ctx = Arc::new(Context::new(client.clone(), metrics.clone(), pod));
        reconcile::run(ctx, stopped())
            .await
            .context("running the controller")?;
        lost_leadership = lost.load(std::sync::atomic::Ordering::SeqCst);
        metrics.set_leader(false);
        if !lost_leadership {
            if let Err(e) = elector.release().await {
                tracing::warn!(error = %e, "releasing the leader Lease");
            }
        }
    } else {
        let ctx = Arc::new(Context::new(client.clone(), metrics.clone(), pod));
        reconcile::run(ctx, stopped())
            .await
            .context("running the controller")?;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    if lost_leadership {
        anyhow::bail!("lost the leader Lease; exiting so that only one replica reconciles");
    }
    Ok(())
}
