//! Multi-node tests: several members in one process (and one in a child
//! process for `kill -9`) on 127.0.0.1 with mutual TLS on their cluster ports.
//!
//! Covered: joining (log and snapshot catch-up), replication and read index on
//! followers, writes on followers, leadership notifications, remove-peer,
//! foreign certificates, backup / restore on a live cluster, failover with a
//! steady writer (graceful stop and `kill -9`), restart and catch-up,
//! scaling 3 → 5 → 3, and a partitioned leader.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coffer_core::physical::{Physical, PhysicalError, TxnOp};
use coffer_raft::{
    inspect_snapshot, ping, ClusterCa, ClusterTls, OpenMode, RaftBackend, RaftConfig, RaftError,
};
use tokio::net::TcpListener;

/// A leader must be replaced within this long.
const FAILOVER_BUDGET: Duration = Duration::from_secs(2);

fn test_config() -> RaftConfig {
    RaftConfig {
        write_timeout: Duration::from_secs(5),
        rpc_timeout: Duration::from_secs(3),
        join_timeout: Duration::from_secs(30),
        ..RaftConfig::default()
    }
}

struct Node {
    name: String,
    addr: String,
    b: Arc<RaftBackend>,
}

struct Cluster {
    ca: ClusterCa,
    root: tempfile::TempDir,
    config: RaftConfig,
}

async fn bind(addr: &str) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return l,
            Err(e) if Instant::now() < deadline => {
                eprintln!("bind {addr}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("bind {addr}: {e}"),
        }
    }
}

/// Logs to the test output when `RUST_LOG` is set (e.g. `openraft=info`).
fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

impl Cluster {
    fn new(config: RaftConfig) -> Self {
        init_tracing();
        Self {
            ca: ClusterCa::generate().expect("cluster CA"),
            root: tempfile::tempdir().expect("tempdir"),
            config,
        }
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Opens `name` (on `addr`, or a free port), gives it its certificate and
    /// starts its cluster listener.
    async fn start(&self, name: &str, mode: OpenMode, addr: Option<&str>) -> Node {
        let listener = bind(addr.unwrap_or("127.0.0.1:0")).await;
        let addr = listener.local_addr().expect("local addr").to_string();
        let config = RaftConfig {
            cluster_addr: addr.clone(),
            mode,
            ..self.config.clone()
        };
        let b = RaftBackend::open_with_config(&self.dir(name), name.to_string(), config)
            .await
            .expect("open");
        b.set_cluster_tls(&self.ca.issue(name).expect("issue"))
            .expect("cluster tls");
        b.serve_cluster(listener).expect("serve");
        Node {
            name: name.to_string(),
            addr,
            b: Arc::new(b),
        }
    }

    /// Starts a join-pending node and has `leader` add it as a voter.
    async fn join(&self, leader: &Node, name: &str) -> Node {
        let n = self.start(name, OpenMode::Pending, None).await;
        assert!(!n.b.is_initialized().await.expect("initialized?"));
        leader
            .b
            .add_voter(name.to_string(), n.addr.clone())
            .await
            .expect("add voter");
        n
    }

    /// n1 bootstraps, n2..=n`count` join.
    async fn nodes(&self, count: usize) -> Vec<Node> {
        let first = self.start("n1", OpenMode::Bootstrap, None).await;
        assert!(first.b.is_leader());
        let mut nodes = vec![first];
        for i in 2..=count {
            let n = self.join(&nodes[0], &format!("n{i}")).await;
            nodes.push(n);
        }
        nodes
    }
}

/// Shuts the nodes down concurrently (each final flush waits for the disk).
async fn shutdown_all(nodes: &[Node]) {
    let tasks: Vec<_> = nodes
        .iter()
        .map(|n| {
            let b = n.b.clone();
            tokio::spawn(async move { b.shutdown().await })
        })
        .collect();
    for t in tasks {
        t.await.expect("shutdown");
    }
}

/// Puts every key with its own name as value, in one transaction.
async fn put_all(node: &Node, keys: &[String]) {
    let ops = keys
        .iter()
        .map(|k| TxnOp::Put {
            key: k.clone(),
            value: k.as_bytes().to_vec(),
        })
        .collect();
    node.b.transaction(ops).await.expect("transaction");
}

async fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if f() {
            return start.elapsed();
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Index of the single node that is leader (waits for one).
async fn leader_of(nodes: &[&Node]) -> usize {
    let mut found = 0;
    wait_until("a leader", Duration::from_secs(10), || {
        let leaders: Vec<usize> = (0..nodes.len())
            .filter(|i| nodes[*i].b.is_leader())
            .collect();
        match leaders.as_slice() {
            [one] => {
                found = *one;
                true
            }
            _ => false,
        }
    })
    .await;
    found
}

/// After a read index on `node`, every key in `keys` holds its own name.
async fn assert_has(node: &Node, keys: &[String]) {
    node.b
        .ensure_linearizable()
        .await
        .unwrap_or_else(|e| panic!("read index on {}: {e}", node.name));
    for key in keys {
        assert_eq!(
            node.b.get(key).await.expect("get").as_deref(),
            Some(key.as_bytes()),
            "{} lacks acknowledged write {key}",
            node.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_and_followers_redirect() {
    // Small snapshots: n3 joins after the log was purged and must catch up
    // through InstallSnapshot over the cluster port.
    let cluster = Cluster::new(RaftConfig {
        snapshot_threshold: 50,
        trailing_logs: 0,
        ..test_config()
    });
    let n1 = cluster.start("n1", OpenMode::Bootstrap, None).await;
    let early: Vec<String> = (0..200).map(|i| format!("early/{i:03}")).collect();
    for chunk in early.chunks(2) {
        put_all(&n1, chunk).await;
    }
    n1.b.raft()
        .wait(Some(Duration::from_secs(10)))
        .metrics(|m| m.purged.is_some(), "log purged")
        .await
        .expect("purge");
    let n2 = cluster.join(&n1, "n2").await;
    let n3 = cluster.join(&n1, "n3").await;
    let nodes = [n1, n2, n3];
    let [n1, n2, n3] = &nodes;

    let config = n1.b.configuration();
    assert_eq!(
        config
            .iter()
            .map(|p| (p.node_id.as_str(), p.address.as_str(), p.leader, p.voter))
            .collect::<Vec<_>>(),
        vec![
            ("n1", n1.addr.as_str(), true, true),
            ("n2", n2.addr.as_str(), false, true),
            ("n3", n3.addr.as_str(), false, true),
        ]
    );
    let view = |peers: Vec<coffer_raft::PeerInfo>| {
        peers
            .into_iter()
            .map(|p| (p.node_id, p.address, p.leader, p.voter))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        view(n2.b.configuration()),
        view(config.clone()),
        "followers see the same"
    );
    assert!(
        config.iter().all(|p| p.last_index.is_some()),
        "the leader knows how far each member got: {config:?}"
    );
    assert!(n2.b.configuration().iter().all(|p| p.last_index.is_none()));

    // A write on the leader is readable on every follower after a read index.
    n1.b.put("shared/x", b"shared/x".to_vec())
        .await
        .expect("put");
    for n in &nodes {
        assert_has(n, &["shared/x".to_string()]).await;
        assert_has(n, &early).await;
    }

    // Writes on a follower are refused, naming the leader.
    for f in [n2, n3] {
        match f.b.put("nope", b"x".to_vec()).await {
            Err(PhysicalError::NotWritable(msg)) => assert!(msg.contains("n1"), "{msg}"),
            other => panic!("expected NotWritable, got {other:?}"),
        }
        assert!(!f.b.is_leader());
        assert_eq!(f.b.leader(), Some(("n1".to_string(), n1.addr.clone())));
        let w = f.b.leader_watch().borrow().clone();
        assert_eq!((w.leader.as_deref(), w.is_self), (Some("n1"), false));
        assert!(matches!(
            f.b.add_voter("n9".into(), "127.0.0.1:1".into()).await,
            Err(RaftError::NotLeader { leader: Some(l) }) if l == "n1"
        ));
    }
    let w = n1.b.leader_watch().borrow().clone();
    assert!(w.is_self && w.term > 0, "{w:?}");
    assert_eq!(
        n1.b.wait_for_leader(Duration::from_secs(1))
            .await
            .expect("leader"),
        ("n1".to_string(), n1.addr.clone())
    );

    // Identity is checked before anything changes.
    match n1.b.add_voter("n9".into(), n3.addr.clone()).await {
        Err(RaftError::Membership(msg)) => assert!(msg.contains("n3"), "{msg}"),
        other => panic!("expected an identity error, got {other:?}"),
    }
    n1.b.add_voter("n2".into(), n2.addr.clone())
        .await
        .expect("re-adding a voter is a no-op");
    assert!(matches!(
        n1.b.remove_peer("n9").await,
        Err(RaftError::Membership(_))
    ));

    // Remove a peer: the cluster goes on with two voters; n3 gets nothing new.
    n1.b.remove_peer("n3").await.expect("remove n3");
    let names: Vec<String> =
        n1.b.configuration()
            .into_iter()
            .map(|p| p.node_id)
            .collect();
    assert_eq!(names, vec!["n1", "n2"]);
    n1.b.put("after/removal", b"after/removal".to_vec())
        .await
        .expect("put with two voters");
    assert_has(n2, &["after/removal".to_string()]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(n3.b.get("after/removal").await.expect("get"), None);
    shutdown_all(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_certificates_cannot_join_or_talk() {
    let cluster = Cluster::new(test_config());
    let n1 = cluster.start("n1", OpenMode::Bootstrap, None).await;
    let own = cluster.ca.issue("probe").expect("issue");
    let t = Duration::from_secs(3);
    assert_eq!(ping(&own, &n1.addr, t).await.expect("ping"), "n1");

    // A node whose certificate comes from another CA.
    let other_ca = ClusterCa::generate().expect("ca");
    let rogue_dir = tempfile::tempdir().expect("tempdir");
    let listener = bind("127.0.0.1:0").await;
    let rogue_addr = listener.local_addr().expect("addr").to_string();
    let rogue = RaftBackend::open_with_config(
        rogue_dir.path(),
        "rogue".into(),
        RaftConfig {
            cluster_addr: rogue_addr.clone(),
            mode: OpenMode::Pending,
            ..test_config()
        },
    )
    .await
    .expect("open rogue");
    rogue
        .set_cluster_tls(&other_ca.issue("rogue").expect("issue"))
        .expect("tls");
    rogue.serve_cluster(listener).expect("serve");

    // The leader cannot add it: the handshake fails both ways.
    match n1.b.add_voter("rogue".into(), rogue_addr.clone()).await {
        Err(RaftError::Network(msg)) => assert!(
            msg.contains("TLS")
                || msg.contains("refused")
                || msg.contains("closed")
                || msg.contains("reset"),
            "{msg}"
        ),
        other => panic!("expected a network error, got {other:?}"),
    }
    assert_eq!(n1.b.configuration().len(), 1, "membership unchanged");

    // Nor can it (or anything else without a cluster certificate) talk to
    // the cluster.
    let foreign = other_ca.issue("rogue").expect("issue");
    assert!(ping(&foreign, &n1.addr, t).await.is_err());
    // Trusting the right CA does not help without a certificate it signed.
    let mixed = ClusterTls {
        ca_cert_pem: cluster.ca.cert_pem.clone(),
        ..foreign.clone()
    };
    assert!(ping(&mixed, &n1.addr, t).await.is_err());
    // A self-signed certificate for the right name is refused too.
    let selfsigned =
        rcgen::generate_simple_self_signed(vec!["coffer-cluster".into()]).expect("self-signed");
    let selfsigned = ClusterTls {
        ca_cert_pem: cluster.ca.cert_pem.clone(),
        node_cert_pem: selfsigned.cert.pem(),
        node_key_pem: selfsigned.key_pair.serialize_pem().into(),
    };
    assert!(ping(&selfsigned, &n1.addr, t).await.is_err());
    // And a client trusting only the other CA does not accept the cluster.
    let wrong_trust = ClusterTls {
        ca_cert_pem: other_ca.cert_pem.clone(),
        ..own.clone()
    };
    assert!(ping(&wrong_trust, &n1.addr, t).await.is_err());

    // Without TLS material a node does not speak Raft at all.
    n1.b.clear_cluster_tls();
    assert!(ping(&own, &n1.addr, t).await.is_err());
    n1.b.set_cluster_tls(&cluster.ca.issue("n1").expect("issue"))
        .expect("tls");
    assert_eq!(ping(&own, &n1.addr, t).await.expect("ping"), "n1");
    // A replacement certificate from the same CA is accepted at once.
    assert_eq!(ping(&own, &n1.addr, t).await.expect("ping"), "n1");

    rogue.shutdown().await;
    shutdown_all(&[n1]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_on_a_live_cluster() {
    let cluster = Cluster::new(test_config());
    let nodes = cluster.nodes(3).await;
    let [n1, n2, n3] = &nodes[..] else {
        unreachable!()
    };
    // 100 keys of 8 KiB: the payload spans two restore chunks.
    let value = |i: u32, tag: u8| vec![tag; 8192 + i as usize % 7];
    let ops = |range: std::ops::Range<u32>, tag: u8| {
        range
            .map(|i| TxnOp::Put {
                key: format!("a/{i:03}"),
                value: value(i, tag),
            })
            .collect::<Vec<_>>()
    };
    n1.b.transaction(ops(0..50, 1)).await.expect("txn");
    n1.b.transaction(ops(50..100, 1)).await.expect("txn");
    let backup = n1.b.snapshot_bytes().await.expect("snapshot");
    let meta = inspect_snapshot(&backup).expect("inspect");
    assert_eq!((meta.keys, meta.node_id.as_str()), (100, "n1"));
    assert!(backup.len() > 800 << 10);
    // A follower's snapshot (after its read index) holds the same data.
    let from_follower = n2.b.snapshot_bytes().await.expect("follower snapshot");
    assert_eq!(inspect_snapshot(&from_follower).expect("inspect").keys, 100);

    // Change things after the backup.
    let b_keys: Vec<String> = (0..50).map(|i| format!("b/{i:03}")).collect();
    put_all(n1, &b_keys).await;
    n1.b.transaction(ops(0..10, 2)).await.expect("overwrite");
    n1.b.transaction(
        (90..100u32)
            .map(|i| TxnOp::Delete {
                key: format!("a/{i:03}"),
            })
            .collect(),
    )
    .await
    .expect("delete");

    // Followers cannot restore; corrupt backups are refused and change nothing.
    assert!(matches!(
        n2.b.restore_snapshot(&backup).await,
        Err(RaftError::NotLeader { leader: Some(l) }) if l == "n1"
    ));
    let mut corrupt = backup.clone();
    corrupt[backup.len() / 2] ^= 0xff;
    assert!(matches!(
        n1.b.restore_snapshot(&corrupt).await,
        Err(RaftError::InvalidSnapshot(_))
    ));
    assert!(matches!(
        n1.b.restore_snapshot(&backup[..backup.len() - 10]).await,
        Err(RaftError::InvalidSnapshot(_))
    ));
    assert_eq!(n1.b.list("b/").await.expect("list").len(), 50);

    n1.b.restore_snapshot(&backup).await.expect("restore");
    for n in &nodes {
        n.b.ensure_linearizable().await.expect("read index");
        assert_eq!(n.b.list("").await.expect("list"), vec!["a/"], "{}", n.name);
        assert_eq!(n.b.list("a/").await.expect("list").len(), 100);
        for i in [0u32, 5, 9, 50, 95, 99] {
            assert_eq!(
                n.b.get(&format!("a/{i:03}")).await.expect("get"),
                Some(value(i, 1)),
                "{} a/{i:03}",
                n.name
            );
        }
        // The reserved staging keys are invisible and gone.
        assert_eq!(
            n.b.get("\0coffer-raft/restore-commit").await.expect("get"),
            None
        );
    }
    // Clients cannot touch reserved keys.
    assert!(n1.b.put("\0coffer-raft/x", b"x".to_vec()).await.is_err());

    // The cluster keeps working, and a node that restarts after the restore
    // still agrees.
    n1.b.put("after", b"restore".to_vec()).await.expect("put");
    n3.b.shutdown().await;
    let n3b = cluster.start("n3", OpenMode::Pending, Some(&n3.addr)).await;
    n3b.b.ensure_linearizable().await.expect("read index");
    assert_eq!(n3b.b.list("a/").await.expect("list").len(), 100);
    assert_eq!(
        n3b.b.get("after").await.expect("get").as_deref(),
        Some(&b"restore"[..])
    );
    let again = n1.b.snapshot_bytes().await.expect("snapshot");
    assert_eq!(inspect_snapshot(&again).expect("inspect").keys, 101);
    n3b.b.shutdown().await;
    shutdown_all(&nodes).await;
}

/// Writes unique keys to whichever node leads, until stopped. Returns the
/// keys whose write was acknowledged.
fn steady_writer(
    nodes: Arc<Mutex<Vec<Arc<RaftBackend>>>>,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
    failures: Arc<Mutex<Vec<String>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let leader = nodes
                .lock()
                .expect("lock")
                .iter()
                .find(|b| b.is_leader())
                .cloned();
            let Some(leader) = leader else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let key = format!("steady/{i:06}");
            i += 1;
            match leader.put(&key, key.as_bytes().to_vec()).await {
                Ok(()) => acked.lock().expect("lock").push(key),
                Err(e) => {
                    failures.lock().expect("lock").push(format!("{key}: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    })
}

async fn wait_acked(acked: &Mutex<Vec<String>>, n: usize) {
    wait_until("acknowledged writes", Duration::from_secs(30), || {
        acked.lock().expect("lock").len() >= n
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_keeps_every_acknowledged_write() {
    let cluster = Cluster::new(test_config());
    let nodes = cluster.nodes(3).await;
    let backends = Arc::new(Mutex::new(nodes.iter().map(|n| n.b.clone()).collect()));
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let writer = steady_writer(
        backends.clone(),
        stop.clone(),
        acked.clone(),
        failures.clone(),
    );
    wait_acked(&acked, 100).await;

    // Stop the leader (no leadership hand-over in openraft 0.9: the others
    // must notice the silence and elect).
    let old = &nodes[0];
    assert!(old.b.is_leader());
    let mut watch = nodes[1].b.leader_watch();
    let before = acked.lock().expect("lock").len();
    backends.lock().expect("lock").remove(0);
    let t0 = Instant::now();
    // Shut down concurrently: the final flush takes a while on a busy disk
    // and does not delay the election (Raft stops first).
    let stopping = {
        let b = old.b.clone();
        tokio::spawn(async move { b.shutdown().await })
    };
    let survivors = [&nodes[1], &nodes[2]];
    let elected = wait_until("a new leader", Duration::from_secs(10), || {
        survivors.iter().any(|n| n.b.is_leader())
    })
    .await;
    let elapsed = t0.elapsed();
    stopping.await.expect("shutdown");
    let new = survivors[leader_of(&survivors).await];
    println!(
        "failover (graceful stop of the leader): {} leads after {} ms",
        new.name,
        elapsed.as_millis()
    );
    assert!(
        elapsed < FAILOVER_BUDGET,
        "failover took {elapsed:?} ({elected:?})"
    );
    // Followers are told.
    watch
        .wait_for(|s| s.leader.as_deref() == Some(new.name.as_str()))
        .await
        .expect("leader watch");

    wait_acked(&acked, before + 50).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    let acked = acked.lock().expect("lock").clone();
    println!(
        "failover: {} acknowledged writes, {} failed attempts during the election",
        acked.len(),
        failures.lock().expect("lock").len()
    );
    for n in survivors {
        assert_has(n, &acked).await;
    }

    // The old leader comes back and catches up.
    let back = cluster
        .start(&old.name, OpenMode::Pending, Some(&old.addr))
        .await;
    assert_has(&back, &acked).await;
    assert!(!back.b.is_leader());
    shutdown_all(&[back]).await;
    shutdown_all(&nodes[1..]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_three_to_five_to_three_under_load() {
    let cluster = Cluster::new(test_config());
    let mut nodes = cluster.nodes(3).await;
    let backends = Arc::new(Mutex::new(vec![nodes[0].b.clone()]));
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let writer = steady_writer(backends, stop.clone(), acked.clone(), failures.clone());
    wait_acked(&acked, 30).await;

    for name in ["n4", "n5"] {
        let n = cluster.join(&nodes[0], name).await;
        nodes.push(n);
    }
    let voters = |n: &Node| -> BTreeSet<String> {
        n.b.configuration()
            .into_iter()
            .filter(|p| p.voter)
            .map(|p| p.node_id)
            .collect()
    };
    assert_eq!(voters(&nodes[0]).len(), 5);
    let mid = acked.lock().expect("lock").len();
    wait_acked(&acked, mid + 30).await;

    // Back to three, dropping two of the original members.
    nodes[0].b.remove_peer("n2").await.expect("remove n2");
    nodes[0].b.remove_peer("n3").await.expect("remove n3");
    assert_eq!(
        voters(&nodes[0]),
        BTreeSet::from(["n1".to_string(), "n4".into(), "n5".into()])
    );
    let end = acked.lock().expect("lock").len();
    wait_acked(&acked, end + 30).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    assert!(nodes[0].b.is_leader(), "the leader never changed");
    let failures = failures.lock().expect("lock").clone();
    assert!(
        failures.is_empty(),
        "writes failed while scaling: {failures:?}"
    );
    let acked = acked.lock().expect("lock").clone();
    println!("scale 3 -> 5 -> 3: {} writes, none failed", acked.len());
    for n in [&nodes[0], &nodes[3], &nodes[4]] {
        assert_has(n, &acked).await;
    }
    // The new majority works without the removed members.
    shutdown_all(&nodes[1..3]).await;
    nodes[0]
        .b
        .put("after", b"scale".to_vec())
        .await
        .expect("put");
    shutdown_all(&nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_leader_loses_its_unacknowledged_writes() {
    let cluster = Cluster::new(RaftConfig {
        write_timeout: Duration::from_secs(2),
        ..test_config()
    });
    let nodes = cluster.nodes(3).await;
    let old = &nodes[0];
    old.b.put("before", b"before".to_vec()).await.expect("put");

    // Cut the leader off (its cluster port drops everything, both ways).
    let mut old_watch = old.b.leader_watch();
    let t0 = Instant::now();
    old.b.set_partitioned(true);
    // The minority keeps taking writes into its log but cannot commit them.
    let minority: Vec<_> = (0..20)
        .map(|i| {
            let b = old.b.clone();
            tokio::spawn(async move {
                let key = format!("minority/{i:02}");
                b.put(&key, key.as_bytes().to_vec()).await
            })
        })
        .collect();

    let majority = [&nodes[1], &nodes[2]];
    wait_until("a majority leader", Duration::from_secs(10), || {
        majority.iter().any(|n| n.b.is_leader())
    })
    .await;
    let elapsed = t0.elapsed();
    let new = majority[leader_of(&majority).await];
    println!(
        "partition: the majority elected {} {} ms after the leader was cut off",
        new.name,
        elapsed.as_millis()
    );
    assert!(elapsed < FAILOVER_BUDGET, "election took {elapsed:?}");
    // The old leader stops calling itself leader (lease expired).
    tokio::time::timeout(Duration::from_secs(2), old_watch.wait_for(|s| !s.is_self))
        .await
        .expect("old leader steps down in time")
        .expect("watch");
    assert!(!old.b.is_leader());
    assert!(old.b.ensure_linearizable().await.is_err());
    match old.b.put("late", b"x".to_vec()).await {
        Err(_) => {}
        Ok(()) => panic!("the minority acknowledged a write"),
    }

    let mut written = Vec::new();
    for i in 0..20 {
        let key = format!("majority/{i:02}");
        new.b
            .put(&key, key.as_bytes().to_vec())
            .await
            .expect("majority write");
        written.push(key);
    }
    for t in minority {
        let r = t.await.expect("task");
        assert!(r.is_err(), "the minority acknowledged a write: {r:?}");
    }

    // Heal: the old leader learns the new term, drops its uncommitted tail
    // and converges.
    old.b.set_partitioned(false);
    wait_until("the old leader follows", Duration::from_secs(10), || {
        old.b.leader().map(|(n, _)| n) == Some(new.name.clone())
    })
    .await;
    for n in &nodes {
        assert_has(n, &written).await;
        assert_has(n, &["before".to_string()]).await;
        assert!(
            n.b.list("minority/").await.expect("list").is_empty(),
            "{} holds writes the minority never committed",
            n.name
        );
        assert_eq!(n.b.get("late").await.expect("get"), None);
    }
    shutdown_all(&nodes).await;
}

const CHILD_ENV: &str = "COFFER_RAFT_CLUSTER_CHILD_DIR";
const CHILD_ADDRS_ENV: &str = "COFFER_RAFT_CLUSTER_CHILD_ADDRS";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn read_ca(dir: &Path) -> ClusterCa {
    ClusterCa {
        cert_pem: std::fs::read_to_string(dir.join("ca.pem")).expect("ca cert"),
        key_pem: std::fs::read_to_string(dir.join("ca.key"))
            .expect("ca key")
            .into(),
    }
}

/// Child half of `kill_9_of_the_leader_loses_nothing`: does nothing unless
/// started by it. Bootstraps n1 on the given address, adds n2 and n3, then
/// writes forever, printing `ACK <key>` after each acknowledged write.
#[test]
fn cluster_leader_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let addrs: Vec<String> = std::env::var(CHILD_ADDRS_ENV)
        .expect("addresses")
        .split(',')
        .map(str::to_string)
        .collect();
    runtime().block_on(async move {
        let dir = PathBuf::from(dir);
        let ca = read_ca(&dir);
        let b = RaftBackend::open_with_config(
            &dir.join("n1"),
            "n1".into(),
            RaftConfig {
                cluster_addr: addrs[0].clone(),
                ..test_config()
            },
        )
        .await
        .expect("open");
        b.set_cluster_tls(&ca.issue("n1").expect("issue"))
            .expect("tls");
        b.listen_cluster(&addrs[0]).await.expect("listen");
        b.add_voter("n2".into(), addrs[1].clone())
            .await
            .expect("add n2");
        b.add_voter("n3".into(), addrs[2].clone())
            .await
            .expect("add n3");
        println!("READY");
        let b = Arc::new(b);
        let mut tasks = Vec::new();
        for t in 0..8 {
            let b = b.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0u64.. {
                    let key = format!("k{t}/{i}");
                    if b.put(&key, key.as_bytes().to_vec()).await.is_ok() {
                        println!("ACK {key}");
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

/// A real crash of the leader: a child process leads a three-node cluster
/// (the followers live in this process) and writes; it is killed with
/// SIGKILL; a follower must lead within the failover budget and hold every
/// write the child acknowledged; the child's node then restarts here and
/// catches up.
#[test]
fn kill_9_of_the_leader_loses_nothing() {
    let cluster = Cluster::new(test_config());
    let root = cluster.root.path().to_path_buf();
    std::fs::write(root.join("ca.pem"), &cluster.ca.cert_pem).expect("write ca");
    std::fs::write(root.join("ca.key"), cluster.ca.key_pem.as_str()).expect("write key");
    let rt = runtime();
    let (n2, n3) = rt.block_on(async {
        (
            cluster.start("n2", OpenMode::Pending, None).await,
            cluster.start("n3", OpenMode::Pending, None).await,
        )
    });
    // A free port for the child's node.
    let addr1 = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .to_string();

    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .args([
            "cluster::cluster_leader_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &root)
        .env(CHILD_ADDRS_ENV, format!("{addr1},{},{}", n2.addr, n3.addr))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut acked = Vec::new();
    let mut ready = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.len() < 300 {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("child exited early or is too slow");
        if line.ends_with("READY") {
            ready = true;
        } else if let Some(key) = line.strip_prefix("ACK ") {
            acked.push(key.to_string());
        }
    }
    assert!(ready);
    child.kill().expect("kill -9");
    let t0 = Instant::now();
    child.wait().expect("wait");
    reader.join().expect("reader");
    // Lines already in the pipe were acknowledged too.
    acked.extend(
        rx.try_iter()
            .filter_map(|l| l.strip_prefix("ACK ").map(str::to_string)),
    );

    rt.block_on(async {
        let survivors = [&n2, &n3];
        wait_until("a new leader", Duration::from_secs(10), || {
            survivors.iter().any(|n| n.b.is_leader())
        })
        .await;
        let elapsed = t0.elapsed();
        let new = survivors[leader_of(&survivors).await];
        println!(
            "failover (kill -9 of the leader process): {} leads after {} ms; {} acknowledged writes",
            new.name,
            elapsed.as_millis(),
            acked.len()
        );
        assert!(elapsed < FAILOVER_BUDGET, "failover took {elapsed:?}");
        for n in survivors {
            assert_has(n, &acked).await;
        }
        new.b.put("after/kill", b"after/kill".to_vec())
            .await
            .expect("write on the new leader");

        // The killed node restarts (here) from its data directory and
        // catches up, including what was written after it died.
        let back = cluster.start("n1", OpenMode::Pending, Some(&addr1)).await;
        assert_has(&back, &acked).await;
        assert_has(&back, &["after/kill".to_string()]).await;
        shutdown_all(&[back, n2, n3]).await;
    });
}
