//! End-to-end tests of the Raft backend: conformance, restart, crash (runtime
//! drop and a real `kill -9` of a child process), snapshots with log purging,
//! and a group-commit throughput measurement; the multi-node tests (mutual
//! TLS, membership, failover, partition, backup / restore) are in [`cluster`].

#[path = "cluster/mod.rs"]
mod cluster;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coffer_core::physical::{conformance, Physical, PhysicalError, TxnOp};
use coffer_raft::{RaftBackend, RaftConfig};

const NODE: &str = "node1";

async fn open(dir: &Path) -> RaftBackend {
    RaftBackend::open(dir, NODE.to_string())
        .await
        .expect("open")
}

fn multi_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[tokio::test]
async fn passes_conformance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = open(dir.path()).await;
    assert_eq!(b.storage_type(), "raft");
    assert_eq!(b.node_id(), NODE);
    assert!(b.is_leader());
    conformance::run(&b).await;
    assert!(b.applied_index().await > 0);
    assert!(b.committed_index().await >= b.applied_index().await);
    b.shutdown().await;
}

#[tokio::test]
async fn restart_keeps_everything_and_accepts_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let b = open(dir.path()).await;
        for i in 0..500u32 {
            b.put(&format!("k/{i:03}"), i.to_be_bytes().to_vec())
                .await
                .expect("put");
        }
        for i in (0..500u32).step_by(5) {
            b.delete(&format!("k/{i:03}")).await.expect("delete");
        }
        b.transaction(vec![
            TxnOp::Put {
                key: "t/a".into(),
                value: b"a".to_vec(),
            },
            TxnOp::Put {
                key: "t/b".into(),
                value: b"b".to_vec(),
            },
        ])
        .await
        .expect("txn");
        b.shutdown().await;
        // Writes after shutdown are refused, not lost silently.
        assert!(matches!(
            b.put("late", b"x".to_vec()).await,
            Err(PhysicalError::NotWritable(_))
        ));
    }
    let b = open(dir.path()).await;
    assert!(b.is_leader());
    for i in 0..500u32 {
        let got = b.get(&format!("k/{i:03}")).await.expect("get");
        if i % 5 == 0 {
            assert_eq!(got, None, "k/{i:03} was deleted");
        } else {
            assert_eq!(got, Some(i.to_be_bytes().to_vec()), "k/{i:03}");
        }
    }
    assert_eq!(b.list("k/").await.expect("list").len(), 400);
    assert_eq!(b.list("t/").await.expect("list"), vec!["a", "b"]);
    assert_eq!(b.get("late").await.expect("get"), None);

    b.put("after/restart", b"yes".to_vec()).await.expect("put");
    b.delete("k/001").await.expect("delete");
    assert_eq!(
        b.get("after/restart").await.expect("get").as_deref(),
        Some(&b"yes"[..])
    );
    b.shutdown().await;

    let b = open(dir.path()).await;
    assert_eq!(
        b.get("after/restart").await.expect("get").as_deref(),
        Some(&b"yes"[..])
    );
    assert_eq!(b.get("k/001").await.expect("get"), None);
    b.shutdown().await;
}

/// Writers run on their own runtime, which is dropped mid-flight: no
/// `shutdown`, tasks cancelled wherever they are. Every acknowledged write
/// must be there after reopening.
#[test]
fn dropped_without_shutdown_keeps_acknowledged_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    {
        let rt = multi_thread_runtime();
        let acked = acked.clone();
        let path = dir.path().to_path_buf();
        rt.block_on(async move {
            let b = Arc::new(open(&path).await);
            let count = Arc::new(AtomicUsize::new(0));
            for t in 0..16 {
                let b = b.clone();
                let acked = acked.clone();
                let count = count.clone();
                tokio::spawn(async move {
                    for i in 0.. {
                        let key = format!("w{t}/{i}");
                        if b.put(&key, key.as_bytes().to_vec()).await.is_err() {
                            return;
                        }
                        acked.lock().expect("lock").push(key);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            while count.load(Ordering::Relaxed) < 600 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        // Writers are still running here; dropping the runtime cancels them
        // and the Raft tasks without a graceful shutdown.
        drop(rt);
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= 600);
    multi_thread_runtime().block_on(async {
        let b = open(dir.path()).await;
        for key in &acked {
            assert_eq!(
                b.get(key).await.expect("get").as_deref(),
                Some(key.as_bytes()),
                "acknowledged write {key} lost"
            );
        }
        b.put("after", b"crash".to_vec())
            .await
            .expect("put after reopen");
        b.shutdown().await;
    });
}

const CRASH_CHILD_ENV: &str = "COFFER_RAFT_CRASH_CHILD_DIR";

/// Child half of `kill_9_keeps_acknowledged_writes`: does nothing unless the
/// parent started this binary with `CRASH_CHILD_ENV` set. Writes forever and
/// prints `ACK <key>` after each acknowledged write.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CRASH_CHILD_ENV) else {
        return;
    };
    multi_thread_runtime().block_on(async move {
        let b = Arc::new(open(Path::new(&dir)).await);
        let mut tasks = Vec::new();
        for t in 0..8 {
            let b = b.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0u64.. {
                    let key = format!("c{t}/{i}");
                    b.put(&key, key.as_bytes().to_vec()).await.expect("put");
                    println!("ACK {key}");
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

/// A real crash: a child process writes, is killed with SIGKILL, and every
/// write it acknowledged (printed) must be there when the parent reopens.
#[test]
fn kill_9_keeps_acknowledged_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CRASH_CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.len() < 1_500 {
        assert!(Instant::now() < deadline, "child too slow");
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(key) = line.strip_prefix("ACK ") {
                    acked.push(key.to_string());
                }
            }
            _ => panic!("child exited early"),
        }
    }
    child.kill().expect("kill -9");
    child.wait().expect("wait");
    // Lines already in the pipe were acknowledged too.
    for line in lines.map_while(Result::ok) {
        if let Some(key) = line.strip_prefix("ACK ") {
            acked.push(key.to_string());
        }
    }
    multi_thread_runtime().block_on(async {
        let b = open(dir.path()).await;
        for key in &acked {
            assert_eq!(
                b.get(key).await.expect("get").as_deref(),
                Some(key.as_bytes()),
                "acknowledged write {key} lost after kill -9"
            );
        }
        println!("kill -9: {} acknowledged writes all present", acked.len());
        b.put("after", b"kill".to_vec())
            .await
            .expect("put after reopen");
        b.shutdown().await;
    });
}

fn small_snapshot_config() -> RaftConfig {
    RaftConfig {
        snapshot_threshold: 50,
        trailing_logs: 0,
        ..RaftConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_purge_and_reopen_keep_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = RaftBackend::open_with_config(dir.path(), NODE.into(), small_snapshot_config())
        .await
        .expect("open");
    for i in 0..300u32 {
        b.put(&format!("s/{i:03}"), vec![(i % 251) as u8; 100])
            .await
            .expect("put");
    }
    for i in 0..30u32 {
        b.delete(&format!("s/{i:03}")).await.expect("delete");
    }
    let m = b
        .raft()
        .wait(Some(Duration::from_secs(20)))
        .metrics(
            |m| m.snapshot.map(|s| s.index).unwrap_or(0) >= 250 && m.purged.is_some(),
            "snapshot built and log purged",
        )
        .await
        .expect("snapshot + purge");
    let purged = m.purged.expect("purged").index;
    assert!(purged > 200, "purged up to {purged}");
    b.shutdown().await;
    assert!(dir.path().join("snapshot.bin").exists());

    let b = RaftBackend::open_with_config(dir.path(), NODE.into(), small_snapshot_config())
        .await
        .expect("reopen");
    let m = b.raft().metrics().borrow().clone();
    assert!(
        m.purged.map(|p| p.index).unwrap_or(0) >= purged,
        "log stays purged after reopen: {:?}",
        m.purged
    );
    for i in 0..300u32 {
        let got = b.get(&format!("s/{i:03}")).await.expect("get");
        if i < 30 {
            assert_eq!(got, None);
        } else {
            assert_eq!(got, Some(vec![(i % 251) as u8; 100]), "s/{i:03}");
        }
    }
    assert_eq!(b.list("s/").await.expect("list").len(), 270);
    // The snapshot openraft would ship to a follower holds the key space.
    let snap = b
        .raft()
        .get_snapshot()
        .await
        .expect("get snapshot")
        .expect("a snapshot exists");
    assert!(snap.meta.last_log_id.map(|l| l.index).unwrap_or(0) >= 250);
    assert!(snap.snapshot.get_ref().len() > 270 * 100);

    for i in 0..100u32 {
        b.put(&format!("after/{i}"), b"v".to_vec())
            .await
            .expect("put");
    }
    b.shutdown().await;
    let b = RaftBackend::open_with_config(dir.path(), NODE.into(), small_snapshot_config())
        .await
        .expect("reopen");
    assert_eq!(b.list("after/").await.expect("list").len(), 100);
    assert_eq!(b.list("s/").await.expect("list").len(), 270);
    b.shutdown().await;
}

async fn measure(config: RaftConfig, label: &str, writes: usize) -> f64 {
    const TASKS: usize = 32;
    let dir = tempfile::tempdir().expect("tempdir");
    let b = Arc::new(
        RaftBackend::open_with_config(dir.path(), NODE.into(), config)
            .await
            .expect("open"),
    );
    let start_index = b.applied_index().await;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            for i in (t..writes).step_by(TASKS) {
                b.put(&format!("bench/{i:05}"), vec![7u8; 64])
                    .await
                    .expect("put");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let elapsed = start.elapsed();
    let entries = b.applied_index().await - start_index;
    let rate = writes as f64 / elapsed.as_secs_f64();
    println!(
        "raft throughput [{label}]: {writes} puts from {TASKS} tasks in {:.3}s = {:.0} writes/s \
         ({entries} log entries, {:.1} puts/entry)",
        elapsed.as_secs_f64(),
        rate,
        writes as f64 / entries.max(1) as f64
    );
    assert_eq!(b.list("bench/").await.expect("list").len(), writes);
    b.shutdown().await;
    rate
}

/// Not asserted: prints the durable-write ceiling with and without batching.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_throughput() {
    measure(RaftConfig::default(), "group commit", 2_000).await;
    // For comparison: the fsync-per-write ceiling without batching.
    measure(
        RaftConfig {
            max_batch_ops: 1,
            ..RaftConfig::default()
        },
        "one put per entry",
        500,
    )
    .await;
}
