//! Test harness: start the real `coffer` binary (dev mode, or with a
//! configuration written to a temporary directory), wait for its
//! `coffer: listening on URL` line, talk to it, and kill it on drop.
//!
//! ```ignore
//! let server = CofferServer::dev();                  // root token "root"
//! let client = harness::client();
//! let resp = client.get(server.api("sys/health")).send().await?;
//!
//! let server = CofferServer::raft();                 // uninitialised raft node
//! let keys = harness::init(&server, 1, 1).await;    // PUT sys/init
//! harness::unseal_all(&server, &keys).await;
//! ```

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The path of the binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_coffer");

/// How long a server may take to print its ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The prefix of the ready line.
pub const READY_PREFIX: &str = "coffer: listening on ";

/// A free TCP port on 127.0.0.1 (bound and released; a tiny race remains,
/// which [`CofferServer::start`] absorbs by retrying).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// `127.0.0.1:<free port>`.
pub fn free_addr() -> String {
    format!("127.0.0.1:{}", free_port())
}

/// Installs the aws-lc-rs rustls provider for the test process (idempotent).
pub fn install_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A plain-HTTP client that ignores proxy settings from the environment.
pub fn client() -> reqwest::Client {
    install_crypto();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("reqwest client")
}

/// An HTTPS client trusting only `ca_pem` (never the system or environment stores).
pub fn tls_client(ca_pem: &str) -> reqwest::Client {
    tls_client_builder(ca_pem)
        .build()
        .expect("reqwest TLS client")
}

/// [`tls_client`] as a builder, for further settings (TLS versions, ...).
pub fn tls_client_builder(ca_pem: &str) -> reqwest::ClientBuilder {
    install_crypto();
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA PEM");
    reqwest::Client::builder()
        .no_proxy()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(60))
}

/// A self-signed certificate for `127.0.0.1` and `localhost`, written as
/// `cert.pem` and `key.pem` into `dir`. Returns (cert path, key path, CA PEM).
pub fn write_self_signed(dir: &Path) -> (PathBuf, PathBuf, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("rcgen certificate");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let pem = ck.cert.pem();
    std::fs::write(&cert, &pem).expect("write cert");
    std::fs::write(&key, ck.key_pair.serialize_pem()).expect("write key");
    (cert, key, pem)
}

/// A running `coffer` process; killed (SIGKILL) when dropped.
pub struct CofferServer {
    child: Option<Child>,
    /// The URL from the ready line (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// Root token: `root` in dev mode; set by [`init`] otherwise.
    pub root_token: Option<String>,
    /// The dev unseal key (base64) when in dev mode.
    pub unseal_key: Option<String>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// Temporary directory with the configuration (and raft data).
    pub dir: Option<tempfile::TempDir>,
    /// The configuration file, when started with one.
    pub config_path: Option<PathBuf>,
    /// The arguments the server was started with (for [`CofferServer::restart`]).
    args: Vec<String>,
}

/// Why a server did not come up.
#[derive(Debug)]
pub struct StartFailure {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub reason: String,
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (exit {:?})\n--- stdout\n{}\n--- stderr\n{}",
            self.reason, self.status, self.stdout, self.stderr
        )
    }
}

fn pump<R: Read + Send + 'static>(
    r: R,
    sink: Arc<Mutex<Vec<String>>>,
    ready: Option<mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if let (Some(tx), Some(url)) = (&ready, line.strip_prefix(READY_PREFIX)) {
                let _ = tx.send(url.trim().to_string());
            }
            if let Ok(mut v) = sink.lock() {
                v.push(line);
            }
        }
    });
}

impl CofferServer {
    /// `coffer server -dev -dev-root-token-id=root` on a free port.
    pub fn dev() -> CofferServer {
        Self::dev_with_token("root")
    }

    /// Dev mode with the given root token id.
    pub fn dev_with_token(token: &str) -> CofferServer {
        let mut last = None;
        for _ in 0..3 {
            let args = vec![
                "server".to_string(),
                "-dev".to_string(),
                format!("-dev-root-token-id={token}"),
                format!("-dev-listen-address={}", free_addr()),
            ];
            match Self::start(&args) {
                Ok(mut s) => {
                    s.root_token = Some(token.to_string());
                    s.unseal_key = s
                        .stdout_text()
                        .lines()
                        .find_map(|l| l.strip_prefix("Unseal Key: ").map(str::to_string));
                    return s;
                }
                Err(e) => last = Some(e),
            }
        }
        panic!(
            "dev server did not start: {}",
            last.map(|e| e.to_string()).unwrap_or_default()
        );
    }

    /// Starts `coffer server -config=<dir>/config.hcl` with `config`, in which
    /// `{{ADDR}}` stands for a free `127.0.0.1:PORT` and `{{DIR}}` for the
    /// temporary directory (raft data, certificates, audit logs...).
    pub fn with_config(config: &str) -> CofferServer {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::with_config_in(dir, config)
    }

    /// [`with_config`](Self::with_config) in a directory prepared by the caller
    /// (e.g. with certificates already written by [`write_self_signed`]).
    pub fn with_config_in(dir: tempfile::TempDir, config: &str) -> CofferServer {
        let mut last = None;
        let mut dir = Some(dir);
        for _ in 0..3 {
            let d = dir.take().expect("tempdir");
            let text = config
                .replace("{{ADDR}}", &free_addr())
                .replace("{{DIR}}", &d.path().display().to_string());
            let path = d.path().join("config.hcl");
            std::fs::write(&path, text).expect("write config");
            let args = vec!["server".to_string(), format!("-config={}", path.display())];
            match Self::start(&args) {
                Ok(mut s) => {
                    s.dir = Some(d);
                    s.config_path = Some(path);
                    return s;
                }
                Err(e) => {
                    last = Some(e);
                    dir = Some(d);
                }
            }
        }
        panic!(
            "server did not start: {}",
            last.map(|e| e.to_string()).unwrap_or_default()
        );
    }

    /// A single raft node, not initialised: storage in the temporary
    /// directory, one plain-HTTP listener.
    pub fn raft() -> CofferServer {
        Self::with_config(&raft_config(""))
    }

    /// A raft node with extra listener settings (e.g. `max_request_size = 1024`).
    pub fn raft_with_listener_settings(extra: &str) -> CofferServer {
        Self::with_config(&raft_config(extra))
    }

    /// Starts `coffer` with `args` and waits for the ready line.
    pub fn start(args: &[String]) -> Result<CofferServer, StartFailure> {
        let mut child = Command::new(BIN)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| StartFailure {
                status: None,
                stdout: String::new(),
                stderr: String::new(),
                reason: format!("spawn {BIN}: {e}"),
            })?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            pump(out, stdout.clone(), Some(tx));
        }
        if let Some(err) = child.stderr.take() {
            pump(err, stderr.clone(), None);
        }
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(url) => {
                    let addr: SocketAddr = url
                        .split("://")
                        .nth(1)
                        .and_then(|a| a.parse().ok())
                        .expect("address in the ready line");
                    return Ok(CofferServer {
                        child: Some(child),
                        url,
                        addr,
                        root_token: None,
                        unseal_key: None,
                        stdout,
                        stderr,
                        dir: None,
                        config_path: None,
                        args: args.to_vec(),
                    });
                }
                Err(mpsc::RecvTimeoutError::Timeout)
                | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let exited = child.try_wait().ok().flatten();
                    if exited.is_some() || Instant::now() > deadline {
                        if exited.is_none() {
                            let _ = child.kill();
                        }
                        let status = child.wait().ok();
                        std::thread::sleep(Duration::from_millis(100));
                        return Err(StartFailure {
                            status,
                            stdout: join(&stdout),
                            stderr: join(&stderr),
                            reason: if exited.is_some() {
                                "exited before it was ready".into()
                            } else {
                                "not ready in time".into()
                            },
                        });
                    }
                }
            }
        }
    }

    /// `URL/v1/<path>`.
    pub fn api(&self, path: &str) -> String {
        format!("{}/v1/{}", self.url, path.trim_start_matches('/'))
    }

    /// Everything the server printed on stdout so far.
    pub fn stdout_text(&self) -> String {
        join(&self.stdout)
    }

    /// Everything the server logged on stderr so far.
    pub fn stderr_text(&self) -> String {
        join(&self.stderr)
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends SIGTERM and waits (up to `timeout`) for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server gracefully (SIGTERM, asserting a clean exit) and
    /// starts it again with the same arguments, directory and address.
    pub fn restart(&mut self) -> Result<(), StartFailure> {
        let status = self.terminate(Duration::from_secs(30));
        assert!(
            status.is_some_and(|s| s.success()),
            "server did not exit cleanly: {status:?}"
        );
        let mut fresh = Self::start(&self.args)?;
        self.child = fresh.child.take();
        self.url = fresh.url.clone();
        self.addr = fresh.addr;
        self.stdout = fresh.stdout.clone();
        self.stderr = fresh.stderr.clone();
        Ok(())
    }
}

impl Drop for CofferServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn join(lines: &Arc<Mutex<Vec<String>>>) -> String {
    lines.lock().map(|v| v.join("\n")).unwrap_or_default()
}

/// A raft configuration with one plain listener at `{{ADDR}}`.
pub fn raft_config(listener_extra: &str) -> String {
    format!(
        r#"
storage "raft" {{
  path    = "{{{{DIR}}}}/raft"
  node_id = "node1"
}}
listener "tcp" {{
  address     = "{{{{ADDR}}}}"
  tls_disable = true
  {listener_extra}
}}
api_addr     = "http://{{{{ADDR}}}}"
cluster_addr = "https://127.0.0.1:8201"
"#
    )
}

/// A response read whole: status, headers and body text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// The keys of the body's top-level object, in order.
    pub fn keys(&self) -> Vec<String> {
        self.json()
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// Sends a request and reads the whole answer. `method` may be any token
/// (`LIST`, `FOO`); `body` is sent as is (JSON text, form text, ...).
pub async fn call(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Reply {
    call_with(client, method, url, token, body, &[]).await
}

/// [`call`] with extra headers.
pub async fn call_with(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = client.request(m, url);
    if let Some(t) = token {
        rb = rb.header("X-Vault-Token", t);
    }
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    if let Some(b) = body {
        rb = rb.body(b.to_string());
    }
    let resp = rb
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}

/// Sends raw bytes over a new TCP connection and returns everything the
/// server answered (for status lines and exact headers).
pub fn raw_http(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s.write_all(request).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The status line of a raw `GET <path>` (with `Connection: close`).
pub fn status_line(addr: SocketAddr, method: &str, path_and_query: &str) -> String {
    let req =
        format!("{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    raw_http(addr, req.as_bytes())
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The unseal keys and root token from `sys/init`.
#[derive(Debug, Clone)]
pub struct InitKeys {
    pub keys: Vec<String>,
    pub keys_base64: Vec<String>,
    pub root_token: String,
}

/// `PUT sys/init` with `shares`/`threshold`; records the root token on the server.
pub async fn init(server: &mut CofferServer, shares: u32, threshold: u32) -> InitKeys {
    let body = format!(r#"{{"secret_shares":{shares},"secret_threshold":{threshold}}}"#);
    let r = call(&client(), "PUT", &server.api("sys/init"), None, Some(&body)).await;
    assert_eq!(r.status, 200, "init: {}", r.body);
    let v = r.json();
    let strings = |k: &str| -> Vec<String> {
        v[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let keys = InitKeys {
        keys: strings("keys"),
        keys_base64: strings("keys_base64"),
        root_token: v["root_token"].as_str().unwrap_or_default().to_string(),
    };
    server.root_token = Some(keys.root_token.clone());
    keys
}

/// Sends unseal keys until the server reports `sealed: false`.
pub async fn unseal_all(server: &CofferServer, keys: &InitKeys) {
    let c = client();
    for k in &keys.keys {
        let r = call(
            &c,
            "PUT",
            &server.api("sys/unseal"),
            None,
            Some(&format!(r#"{{"key":"{k}"}}"#)),
        )
        .await;
        assert_eq!(r.status, 200, "unseal: {}", r.body);
        if r.json()["sealed"] == Value::Bool(false) {
            return;
        }
    }
    panic!("still sealed after every key");
}
