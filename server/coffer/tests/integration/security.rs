//! Security properties of a real Coffer process:
//! (a) a raft node restarted keeps every secret and token and comes back
//!     sealed; (b) no secret, token or unseal key is stored or audited in
//!     plaintext (nor hex/base64 of it), and the audit log HMACs agree with
//!     `sys/audit-hash`; (c) bad input gets the Vault-style error OpenBao
//!     gives, stores nothing and never takes the server down.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::harness::{self, call, call_with, CofferServer, InitKeys, Reply};
use crate::openbao::{wait_health, Mismatches, OpenBao};

const SEALED_BODY: &str = "{\"errors\":[\"Vault is sealed\"]}\n";

/// A unique, recognisable secret value.
fn secret_value(tag: &str) -> String {
    format!("{tag}-{}", uuid::Uuid::new_v4().simple())
}

/// Whether the process is running (not exited, not a zombie).
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

async fn root_call(server: &CofferServer, method: &str, path: &str, body: Option<&str>) -> Reply {
    call(
        &harness::client(),
        method,
        &server.api(path),
        server.root_token.as_deref(),
        body,
    )
    .await
}

async fn must(
    server: &CofferServer,
    method: &str,
    path: &str,
    body: Option<&str>,
    status: u16,
) -> Reply {
    let r = root_call(server, method, path, body).await;
    assert_eq!(r.status, status, "{method} {path}: {}", r.body);
    r
}

/// Initialises (3 shares, threshold 2) and unseals a raft node, mounts KV v2
/// at `secret/` and KV v1 at `kv1/`.
async fn bring_up(server: &mut CofferServer) -> InitKeys {
    let keys = harness::init(server, 3, 2).await;
    harness::unseal_all(server, &keys).await;
    must(
        server,
        "POST",
        "sys/mounts/secret",
        Some(r#"{"type":"kv-v2"}"#),
        204,
    )
    .await;
    must(
        server,
        "POST",
        "sys/mounts/kv1",
        Some(r#"{"type":"kv","options":{"version":"1"}}"#),
        204,
    )
    .await;
    keys
}

#[tokio::test]
async fn raft_restart_keeps_secrets_and_tokens_and_starts_sealed() {
    let mut server = CofferServer::raft();
    let keys = bring_up(&mut server).await;

    let versions: Vec<String> = (1..=4).map(|i| secret_value(&format!("v2-{i}"))).collect();
    for v in &versions {
        must(
            &server,
            "PUT",
            "secret/data/app",
            Some(&json!({"data": {"pw": v}}).to_string()),
            200,
        )
        .await;
    }
    // Version 2 soft-deleted, version 1 destroyed: both states must survive.
    must(
        &server,
        "POST",
        "secret/delete/app",
        Some(r#"{"versions":[2]}"#),
        204,
    )
    .await;
    must(
        &server,
        "PUT",
        "secret/destroy/app",
        Some(r#"{"versions":[1]}"#),
        204,
    )
    .await;
    must(
        &server,
        "POST",
        "secret/metadata/app",
        Some(r#"{"max_versions":9,"custom_metadata":{"o":"x"}}"#),
        204,
    )
    .await;
    let kv1_value = secret_value("kv1");
    must(
        &server,
        "PUT",
        "kv1/dir/one",
        Some(&json!({"k": kv1_value}).to_string()),
        204,
    )
    .await;
    must(
        &server,
        "PUT",
        "sys/policies/acl/reader",
        Some(r#"{"policy":"path \"secret/data/*\" { capabilities = [\"read\"] }"}"#),
        204,
    )
    .await;
    let r = must(
        &server,
        "POST",
        "auth/token/create",
        Some(r#"{"policies":["reader"],"ttl":"2h","meta":{"team":"a"}}"#),
        200,
    )
    .await;
    let child = r.json()["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    let child_accessor = r.json()["auth"]["accessor"]
        .as_str()
        .expect("accessor")
        .to_string();

    server.restart().expect("restart");
    // A fresh client: pooled connections went with the old process.
    let c = harness::client();

    // Sealed after the restart: status, and every secret path answers 503.
    let r = call(&c, "GET", &server.api("sys/seal-status"), None, None).await;
    assert_eq!(r.status, 200);
    let st = r.json();
    assert_eq!(
        (st["initialized"].clone(), st["sealed"].clone()),
        (json!(true), json!(true)),
        "{st}"
    );
    assert_eq!((st["t"].as_u64(), st["n"].as_u64()), (Some(2), Some(3)));
    for (method, path, token) in [
        ("GET", "secret/data/app", keys.root_token.as_str()),
        ("GET", "kv1/dir/one", keys.root_token.as_str()),
        ("GET", "auth/token/lookup-self", child.as_str()),
        ("PUT", "secret/data/app", keys.root_token.as_str()),
    ] {
        let r = call(
            &c,
            method,
            &server.api(path),
            Some(token),
            Some(r#"{"data":{"x":"y"}}"#),
        )
        .await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (503, SEALED_BODY),
            "{method} {path} while sealed"
        );
    }
    let r = call(&c, "GET", &server.api("sys/health"), None, None).await;
    assert_eq!(r.status, 503);

    harness::unseal_all(&server, &keys).await;

    // Every version in its state.
    let read = |v: u32| {
        let c = c.clone();
        let url = server.api(&format!("secret/data/app?version={v}"));
        let tok = keys.root_token.clone();
        async move { call(&c, "GET", &url, Some(&tok), None).await }
    };
    for (i, v) in versions.iter().enumerate().skip(2) {
        let r = read(i as u32 + 1).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["data"]["data"]["pw"], v.as_str());
    }
    let r = read(2).await;
    assert_eq!(r.status, 404);
    assert!(r.json()["data"]["metadata"]["deletion_time"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    let r = read(1).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["data"]["metadata"]["destroyed"], true);
    let r = must(&server, "GET", "secret/metadata/app", None, 200).await;
    let m = r.json();
    assert_eq!(m["data"]["current_version"], 4);
    assert_eq!(m["data"]["max_versions"], 9);
    assert_eq!(m["data"]["custom_metadata"], json!({"o": "x"}));
    let r = must(&server, "GET", "kv1/dir/one", None, 200).await;
    assert_eq!(r.json()["data"]["k"], kv1_value.as_str());
    let r = must(&server, "GET", "sys/policies/acl/reader", None, 200).await;
    assert!(r.json()["data"]["policy"]
        .as_str()
        .is_some_and(|p| p.contains("secret/data/*")));

    // The child token still works, with its policy, metadata and accessor.
    let r = call(
        &c,
        "GET",
        &server.api("auth/token/lookup-self"),
        Some(&child),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = r.json()["data"].clone();
    assert_eq!(d["policies"], json!(["default", "reader"]));
    assert_eq!(d["meta"], json!({"team": "a"}));
    assert_eq!(d["accessor"], child_accessor.as_str());
    assert!(
        d["ttl"].as_u64().is_some_and(|t| t > 7000 && t <= 7200),
        "{d}"
    );
    let r = call(
        &c,
        "GET",
        &server.api("secret/data/app"),
        Some(&child),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &c,
        "PUT",
        &server.api("secret/data/app"),
        Some(&child),
        Some(r#"{"data":{}}"#),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Writes after the restart continue the version sequence.
    let r = must(
        &server,
        "PUT",
        "secret/data/app",
        Some(r#"{"data":{"pw":"5"}}"#),
        200,
    )
    .await;
    assert_eq!(r.json()["data"]["version"], 5);
}

/// Every byte of every file under `dir`.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("read_dir {d:?}: {e}")) {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                out.push((
                    p.clone(),
                    std::fs::read(&p).unwrap_or_else(|e| panic!("read {p:?}: {e}")),
                ));
            }
        }
    }
    out
}

/// The byte strings that give `secret` away: itself, hex (both cases), and
/// the alignment-independent middle of its base64 (standard and URL-safe)
/// at each of the three byte offsets it may have inside a larger value.
fn encodings(secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        ("raw".to_string(), secret.to_vec()),
        ("hex".to_string(), hex::encode(secret).into_bytes()),
        ("HEX".to_string(), hex::encode_upper(secret).into_bytes()),
    ];
    for (name, engine) in [
        ("base64", &base64::engine::general_purpose::STANDARD_NO_PAD),
        (
            "base64url",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ),
    ] {
        for k in 0..3usize {
            let mut buf = vec![0u8; k];
            buf.extend_from_slice(secret);
            let enc = engine.encode(&buf);
            let start = (8 * k).div_ceil(6);
            let end = (8 * (k + secret.len())) / 6;
            if end > start + 12 {
                out.push((format!("{name}@{k}"), enc.as_bytes()[start..end].to_vec()));
            }
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && aho_corasick::AhoCorasick::new([needle])
            .expect("automaton")
            .is_match(hay)
}

/// Lists every (file, secret name, encoding) where a secret shows; one
/// pass over each file for all secrets and encodings.
fn leaks(files: &[(PathBuf, Vec<u8>)], secrets: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut labels = Vec::new();
    let mut needles = Vec::new();
    for (name, s) in secrets {
        for (enc, needle) in encodings(s) {
            labels.push(format!("{name} ({enc})"));
            needles.push(needle);
        }
    }
    let ac = aho_corasick::AhoCorasick::new(&needles).expect("automaton");
    let mut out = std::collections::BTreeSet::new();
    for (path, bytes) in files {
        for m in ac.find_overlapping_iter(bytes.as_slice()) {
            out.insert(format!(
                "{} in {}",
                labels[m.pattern().as_usize()],
                path.display()
            ));
        }
    }
    out.into_iter().collect()
}

fn audit_config() -> String {
    r#"
storage "raft" {
  path    = "{{DIR}}/raft"
  node_id = "node1"
}
listener "tcp" {
  address     = "{{ADDR}}"
  tls_disable = true
}
api_addr     = "http://{{ADDR}}"
cluster_addr = "https://127.0.0.1:8201"
audit "file" "a" {
  options {
    file_path = "{{DIR}}/audit.log"
  }
}
"#
    .to_string()
}

#[tokio::test]
async fn nothing_secret_in_storage_or_audit_log() {
    let mut server = CofferServer::with_config(&audit_config());
    let dir = server.dir.as_ref().expect("tempdir").path().to_path_buf();
    let keys = bring_up(&mut server).await;
    let c = harness::client();

    let mut secrets: Vec<(String, Vec<u8>)> = Vec::new();
    let v2: Vec<String> = (1..=3).map(|i| secret_value(&format!("kv2-{i}"))).collect();
    for v in &v2 {
        must(
            &server,
            "PUT",
            "secret/data/app",
            Some(&json!({"data": {"password": v}}).to_string()),
            200,
        )
        .await;
    }
    let kv1 = secret_value("kv1");
    must(
        &server,
        "PUT",
        "kv1/app",
        Some(&json!({"password": kv1}).to_string()),
        204,
    )
    .await;
    let cubby = secret_value("cubby");
    must(
        &server,
        "PUT",
        "cubbyhole/x",
        Some(&json!({"c": cubby}).to_string()),
        204,
    )
    .await;
    let meta_value = secret_value("meta");
    let r = must(
        &server,
        "POST",
        "auth/token/create",
        Some(&json!({"policies": ["default"], "meta": {"m": meta_value}}).to_string()),
        200,
    )
    .await;
    let child = r.json()["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    let child_accessor = r.json()["auth"]["accessor"]
        .as_str()
        .expect("accessor")
        .to_string();
    must(
        &server,
        "POST",
        "sys/auth/userpass",
        Some(r#"{"type":"userpass"}"#),
        204,
    )
    .await;
    let password = secret_value("pw");
    must(
        &server,
        "PUT",
        "auth/userpass/users/alice",
        Some(&json!({"password": password, "policies": "default"}).to_string()),
        204,
    )
    .await;
    let r = call(
        &c,
        "PUT",
        &server.api("auth/userpass/login/alice"),
        None,
        Some(&json!({"password": password}).to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let login = r.json()["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_string();
    // Reads (response data in the audit log), a lookup of the child token
    // (the token id in request and response data), a denied request.
    for path in ["secret/data/app", "kv1/app", "cubbyhole/x"] {
        must(&server, "GET", path, None, 200).await;
    }
    let r = must(
        &server,
        "POST",
        "auth/token/lookup",
        Some(&json!({"token": child}).to_string()),
        200,
    )
    .await;
    assert_eq!(r.json()["data"]["id"], child.as_str());
    let r = call(
        &c,
        "GET",
        &server.api("secret/data/app"),
        Some(&child),
        None,
    )
    .await;
    assert_eq!(r.status, 403);

    // sys/audit-hash/a agrees with the HMACs in the log.
    let hash_of = |input: String| {
        let c = c.clone();
        let url = server.api("sys/audit-hash/a");
        let tok = keys.root_token.clone();
        async move {
            let r = call(
                &c,
                "PUT",
                &url,
                Some(&tok),
                Some(&json!({ "input": input }).to_string()),
            )
            .await;
            assert_eq!(r.status, 200, "audit-hash: {}", r.body);
            let h = r.json()["data"]["hash"].as_str().expect("hash").to_string();
            assert!(h.starts_with("hmac-sha256:") && h.len() == 12 + 64, "{h}");
            h
        }
    };
    let h_last = hash_of(v2[2].clone()).await;
    let h_kv1 = hash_of(kv1.clone()).await;
    let h_child = hash_of(child.clone()).await;
    let h_password = hash_of(password.clone()).await;
    assert_ne!(h_last, hash_of(v2[1].clone()).await);
    // The salt is per device and secret: not a plain SHA-256 HMAC with an empty key.
    assert_ne!(h_last, hash_of(v2[2].clone() + "x").await);

    let log = std::fs::read_to_string(dir.join("audit.log")).expect("audit log");
    let lines: Vec<Value> = log
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line not JSON ({e}): {l}"))
        })
        .collect();
    assert!(lines.len() > 20, "{} audit lines", lines.len());
    let kind = |l: &Value| l["type"].as_str().unwrap_or_default().to_string();
    assert!(lines
        .iter()
        .all(|l| kind(l) == "request" || kind(l) == "response"));
    let find_line = |typ: &str, op: &str, path: &str| {
        lines
            .iter()
            .filter(|l| {
                kind(l) == typ && l["request"]["path"] == path && l["request"]["operation"] == op
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    // The KV v2 writes: request data HMACed, the last one equals audit-hash.
    let writes = find_line("request", "update", "secret/data/app");
    let creates = find_line("request", "create", "secret/data/app");
    let all_writes: Vec<&Value> = creates.iter().chain(writes.iter()).collect();
    assert_eq!(
        all_writes.len(),
        3,
        "request lines for the 3 writes: {all_writes:?}"
    );
    assert!(
        all_writes
            .iter()
            .any(|l| l["request"]["data"]["data"]["password"] == h_last.as_str()),
        "no request line with {h_last}: {all_writes:?}"
    );
    let reads = find_line("response", "read", "secret/data/app");
    assert!(
        reads
            .iter()
            .any(|l| l["response"]["data"]["data"]["password"] == h_last.as_str()),
        "no response line with {h_last}: {reads:?}"
    );
    assert!(find_line("response", "read", "kv1/app")
        .iter()
        .any(|l| l["response"]["data"]["password"] == h_kv1.as_str()));
    // The child token in the lookup request and response, HMACed.
    let lookups = find_line("response", "update", "auth/token/lookup");
    assert!(
        lookups
            .iter()
            .any(|l| l["request"]["data"]["token"] == h_child.as_str()
                && l["response"]["data"]["id"] == h_child.as_str()),
        "{lookups:?}"
    );
    // The denied request: its auth is the child token's HMAC.
    let denied: Vec<_> = lines
        .iter()
        .filter(|l| {
            l["request"]["path"] == "secret/data/app"
                && l["auth"]["client_token"] == h_child.as_str()
        })
        .collect();
    assert!(!denied.is_empty(), "no audit line for the denied request");
    // The login: password HMACed in the request, the new token in the response.
    let logins = find_line("response", "update", "auth/userpass/login/alice");
    let h_login = hash_of(login.clone()).await;
    assert!(
        logins
            .iter()
            .any(|l| l["request"]["data"]["password"] == h_password.as_str()
                && l["response"]["auth"]["client_token"] == h_login.as_str()),
        "{logins:?}"
    );
    assert!(log.contains("hmac-sha256:"));

    // Stop the server (everything flushed), then scan every byte on disk.
    let out_text = server.stdout_text() + "\n" + &server.stderr_text();
    let status = server.terminate(Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");

    for (i, v) in v2.iter().enumerate() {
        secrets.push((format!("kv2 value {}", i + 1), v.as_bytes().to_vec()));
    }
    secrets.push(("kv1 value".into(), kv1.into_bytes()));
    secrets.push(("cubbyhole value".into(), cubby.into_bytes()));
    secrets.push(("token metadata value".into(), meta_value.into_bytes()));
    secrets.push(("userpass password".into(), password.into_bytes()));
    secrets.push(("root token".into(), keys.root_token.clone().into_bytes()));
    secrets.push(("child token".into(), child.clone().into_bytes()));
    secrets.push(("child token accessor".into(), child_accessor.into_bytes()));
    secrets.push(("login token".into(), login.into_bytes()));
    for (i, k) in keys.keys.iter().enumerate() {
        secrets.push((format!("unseal key {i} (hex text)"), k.clone().into_bytes()));
        secrets.push((
            format!("unseal key {i} (bytes)"),
            hex::decode(k).expect("hex key"),
        ));
    }
    for (i, k) in keys.keys_base64.iter().enumerate() {
        secrets.push((
            format!("unseal key {i} (base64 text)"),
            k.clone().into_bytes(),
        ));
    }
    let files = files_under(&dir);
    assert!(
        files.iter().any(|(p, _)| p.starts_with(dir.join("raft"))),
        "no raft files"
    );
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    assert!(total > 1000, "only {total} bytes under {dir:?}");
    let found = leaks(&files, &secrets);
    assert!(
        found.is_empty(),
        "secrets in plaintext on disk:\n{}",
        found.join("\n")
    );
    // Nor in the server's own output (a raft server never prints tokens).
    let out_file = vec![(
        PathBuf::from("<server stdout/stderr>"),
        out_text.into_bytes(),
    )];
    let found = leaks(&out_file, &secrets);
    assert!(
        found.is_empty(),
        "secrets in the server's output:\n{}",
        found.join("\n")
    );
}

#[test]
fn leak_scanner_finds_every_encoding() {
    // The scanner itself must be able to fail.
    let s = b"token-s.abcdefghijklmnopqrstuvwx";
    for (enc, needle) in encodings(s) {
        for prefix in [&b""[..], b"x", b"xy", b"xyz"] {
            let mut doc = prefix.to_vec();
            doc.extend_from_slice(s);
            doc.extend_from_slice(b"tail");
            let hay = match enc.as_str() {
                "raw" => doc.clone(),
                "hex" => hex::encode(&doc).into_bytes(),
                "HEX" => hex::encode_upper(&doc).into_bytes(),
                e if e.starts_with("base64url") => base64::engine::general_purpose::URL_SAFE
                    .encode(&doc)
                    .into_bytes(),
                _ => base64::engine::general_purpose::STANDARD
                    .encode(&doc)
                    .into_bytes(),
            };
            let at = enc.rsplit('@').next().and_then(|k| k.parse::<usize>().ok());
            if at.is_none() || at == Some(prefix.len() % 3) {
                assert!(find(&hay, &needle), "{enc} with prefix {prefix:?}");
            }
        }
    }
    let files = vec![(PathBuf::from("f"), b"nothing here".to_vec())];
    assert!(leaks(&files, &[("s".into(), s.to_vec())]).is_empty());
}

/// One bad request: label, method, path, token, body, extra headers.
struct Bad {
    label: &'static str,
    method: &'static str,
    path: String,
    token: bool,
    body: Option<String>,
    headers: Vec<(&'static str, &'static str)>,
}

fn bad(label: &'static str, method: &'static str, path: &str, body: Option<&str>) -> Bad {
    Bad {
        label,
        method,
        path: path.to_string(),
        token: true,
        body: body.map(str::to_string),
        headers: Vec::new(),
    }
}

fn dev_bad_requests() -> Vec<Bad> {
    let mut v = vec![
        bad(
            "malformed json",
            "POST",
            "v1/secret/data/malformed",
            Some(r#"{"data":"#),
        ),
        bad(
            "not json",
            "POST",
            "v1/secret/data/malformed",
            Some("not json"),
        ),
        bad(
            "json array",
            "POST",
            "v1/secret/data/malformed",
            Some("[1,2]"),
        ),
        bad(
            "json string",
            "POST",
            "v1/secret/data/malformed",
            Some("\"s\""),
        ),
        bad(
            "data not a map",
            "POST",
            "v1/secret/data/wrongtype",
            Some(r#"{"data":"notamap"}"#),
        ),
        bad(
            "data a list",
            "POST",
            "v1/secret/data/wrongtype",
            Some(r#"{"data":[1]}"#),
        ),
        bad(
            "cas not a number",
            "POST",
            "v1/secret/data/wrongtype",
            Some(r#"{"data":{"a":1},"options":{"cas":"abc"}}"#),
        ),
        bad(
            "cas mismatch on new key",
            "POST",
            "v1/secret/data/wrongtype",
            Some(r#"{"data":{"a":1},"options":{"cas":5}}"#),
        ),
        bad(
            "no data",
            "POST",
            "v1/secret/data/wrongtype",
            Some(r#"{"options":{}}"#),
        ),
        bad("bad version", "GET", "v1/secret/data/x?version=abc", None),
        bad(
            "max_versions string",
            "POST",
            "v1/secret/metadata/wrongmeta",
            Some(r#"{"max_versions":"many"}"#),
        ),
        bad(
            "delete versions not list",
            "POST",
            "v1/secret/delete/x",
            Some(r#"{"versions":"all"}"#),
        ),
        bad(
            "policy not HCL",
            "PUT",
            "v1/sys/policies/acl/badpol",
            Some(r#"{"policy":"path \"x\" {"}"#),
        ),
        bad(
            "policy bad capability",
            "PUT",
            "v1/sys/policies/acl/badpol",
            Some(r#"{"policy":"path \"x\" { capabilities = [\"fly\"] }"}"#),
        ),
        bad(
            "policy a number",
            "PUT",
            "v1/sys/policies/acl/badpol",
            Some(r#"{"policy":5}"#),
        ),
        bad(
            "policy empty",
            "PUT",
            "v1/sys/policies/acl/badpol",
            Some(r#"{"policy":""}"#),
        ),
        bad(
            "legacy policy bad",
            "PUT",
            "v1/sys/policy/badpol",
            Some(r#"{"policy":"nonsense"}"#),
        ),
        bad(
            "policies a number",
            "POST",
            "v1/auth/token/create",
            Some(r#"{"policies":5,"ttl":"1m"}"#),
        ),
        bad(
            "ttl not a duration",
            "POST",
            "v1/auth/token/create",
            Some(r#"{"ttl":"banana"}"#),
        ),
        bad(
            "num_uses negative",
            "POST",
            "v1/auth/token/create",
            Some(r#"{"num_uses":-1}"#),
        ),
        bad(
            "renewable not bool",
            "POST",
            "v1/auth/token/create",
            Some(r#"{"renewable":"maybe"}"#),
        ),
        bad(
            "mount type number",
            "POST",
            "v1/sys/mounts/badmount",
            Some(r#"{"type":5}"#),
        ),
        bad(
            "mount type unknown",
            "POST",
            "v1/sys/mounts/badmount",
            Some(r#"{"type":"bogus"}"#),
        ),
        bad(
            "mount no type",
            "POST",
            "v1/sys/mounts/badmount",
            Some("{}"),
        ),
        bad(
            "auth type unknown",
            "POST",
            "v1/sys/auth/badauth",
            Some(r#"{"type":"bogus"}"#),
        ),
        bad("unknown mount", "GET", "v1/nosuchmount/foo", None),
        bad("unknown sys path", "GET", "v1/sys/nosuchendpoint", None),
        bad("not v1", "GET", "nov1/foo", None),
        bad("v2 prefix", "GET", "v2/sys/health", None),
        bad(
            "405 seal-status DELETE",
            "DELETE",
            "v1/sys/seal-status",
            None,
        ),
        bad("405 health POST", "POST", "v1/sys/health", None),
        bad("405 leader DELETE", "DELETE", "v1/sys/leader", None),
        bad("405 init DELETE", "DELETE", "v1/sys/init", None),
        bad("unknown method", "FROB", "v1/secret/data/x", None),
        bad(
            "PATCH without merge-patch",
            "PATCH",
            "v1/secret/data/x",
            Some(r#"{"data":{"a":"b"}}"#),
        ),
        bad(
            "lookup of a bad token",
            "POST",
            "v1/auth/token/lookup",
            Some(r#"{"token":"s.nope"}"#),
        ),
        bad(
            "lookup without token field",
            "POST",
            "v1/auth/token/lookup",
            Some("{}"),
        ),
        bad(
            "renew of a bad token",
            "POST",
            "v1/auth/token/renew",
            Some(r#"{"token":"s.nope"}"#),
        ),
        bad(
            "unwrap bad token",
            "POST",
            "v1/sys/wrapping/unwrap",
            Some(r#"{"token":"s.nope"}"#),
        ),
        bad(
            "capabilities no paths",
            "POST",
            "v1/sys/capabilities-self",
            Some("{}"),
        ),
        bad(
            "userpass login unknown mount",
            "PUT",
            "v1/auth/nouserpass/login/x",
            Some(r#"{"password":"p"}"#),
        ),
        bad("wrap ttl bad", "GET", "v1/secret/data/x", None),
        bad(
            "sys/unseal on an unsealed server",
            "PUT",
            "v1/sys/unseal",
            Some(r#"{"key":"zz"}"#),
        ),
        bad(
            "sys/init on an initialised server",
            "PUT",
            "v1/sys/init",
            Some(r#"{"secret_shares":1,"secret_threshold":1}"#),
        ),
    ];
    for b in v.iter_mut() {
        if b.label == "wrap ttl bad" {
            b.headers.push(("X-Vault-Wrap-TTL", "fortnight"));
        }
        if b.label == "PATCH without merge-patch" {
            b.headers.push(("Content-Type", "application/json"));
        }
    }
    v.push(Bad {
        token: false,
        ..bad("no token", "GET", "v1/secret/data/x", None)
    });
    v.push(Bad {
        headers: vec![("X-Vault-Token", "s.wrongwrongwrongwrongwron")],
        token: false,
        ..bad("bad token", "GET", "v1/secret/data/x", None)
    });
    // Form bodies Go's url.ParseQuery refuses.
    for (label, body) in [
        ("form body, invalid escape", "a=%zz"),
        ("form body, semicolon", "a=1;b=2"),
        ("form body, lone percent", "a=%"),
    ] {
        v.push(Bad {
            headers: vec![("Content-Type", "application/x-www-form-urlencoded")],
            ..bad(label, "PUT", "v1/cubbyhole/form", Some(body))
        });
    }
    // PATCH: the Content-Type is checked before anything else.
    for (label, path, ct, body) in [
        (
            "PATCH text/plain on sys/mounts",
            "v1/sys/mounts/x",
            "text/plain",
            "{}",
        ),
        (
            "PATCH json, bad body",
            "v1/secret/data/x",
            "application/json",
            "nope",
        ),
        ("PATCH no media type", "v1/secret/data/x", "", "{}"),
        (
            "PATCH merge-patch, bad body",
            "v1/secret/data/x",
            "application/merge-patch+json",
            "nope",
        ),
    ] {
        v.push(Bad {
            headers: vec![("Content-Type", ct)],
            ..bad(label, "PATCH", path, Some(body))
        });
    }
    // Unknown mounts without a (valid) token: the token check comes first.
    v.push(Bad {
        token: false,
        ..bad("unknown mount, no token", "GET", "v1/nosuchmount/x", None)
    });
    v.push(Bad {
        headers: vec![("X-Vault-Token", "s.wrongwrongwrongwrongwron")],
        token: false,
        ..bad("unknown mount, bad token", "GET", "v1/nosuchmount/x", None)
    });
    v.push(Bad {
        token: false,
        ..bad(
            "login on an unknown auth mount",
            "PUT",
            "v1/auth/nope/login/x",
            Some(r#"{"password":"p"}"#),
        )
    });
    v.push(Bad {
        headers: vec![("Content-Type", "application/x-www-form-urlencoded")],
        ..bad(
            "form body, bad duration",
            "POST",
            "v1/auth/token/create",
            Some("ttl=nope"),
        )
    });
    v
}

/// Known differences in error texts (reported to the lead as bugs).
const BAD_INPUT_KNOWN: &[(&str, &str)] = &[
    (
        "[policy not HCL]",
        "HCL error positions are one column short of OpenBao's (`At 1:11` vs `At 1:12`)",
    ),
    (
        "[policy bad capability]",
        "OpenBao repeats the path in the invalid-capability error: `path \"x\": path \"x\": invalid capability`",
    ),
    (
        "[legacy policy bad]",
        "HCL error for `nonsense`: OpenBao `At 1:1: illegal char`, Coffer `At 1:9: key 'nonsense' expected start of object`",
    ),
];

/// Checks that an error answer is Vault-shaped: JSON `{"errors":[strings]}`.
fn vault_error_shape(r: &Reply) -> Result<(), String> {
    if r.status < 400 {
        return Ok(());
    }
    let v: Value = serde_json::from_str(&r.body)
        .map_err(|e| format!("error body not JSON ({e}): {:?}", r.body))?;
    let ok = v.as_object().is_some_and(|m| m.len() == 1)
        && v["errors"]
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string));
    if ok {
        Ok(())
    } else {
        Err(format!("error body not {{\"errors\":[...]}}: {}", r.body))
    }
}

/// `PUT path` with a `Content-Length` of `size` bytes, written from another
/// thread while the answer is read: (status, body).
fn oversized_put(addr: std::net::SocketAddr, path: &str, size: usize) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nX-Vault-Token: root\r\nContent-Type: application/json\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).expect("write head");
    let mut w = s.try_clone().expect("clone");
    let writer = std::thread::spawn(move || {
        let mut chunk = vec![b'x'; 1 << 16];
        chunk[..10].copy_from_slice(br#"{"data":{""#);
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len());
            if w.write_all(&chunk[..n]).is_err() {
                break;
            }
            chunk[..10].fill(b'x');
            left -= n;
        }
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&out);
        if let Some((h, body)) = text.split_once("\r\n\r\n") {
            let len = h
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok());
            if len.is_some_and(|l| body.len() >= l) {
                break;
            }
        }
    }
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn send_bad(c: &reqwest::Client, base: &str, b: &Bad) -> Reply {
    let url = format!("{base}/{}", b.path);
    call_with(
        c,
        b.method,
        &url,
        b.token.then_some("root"),
        b.body.as_deref(),
        &b.headers,
    )
    .await
}

#[tokio::test]
async fn bad_input_gets_openbao_errors_and_stores_nothing() {
    let server = CofferServer::dev();
    let mut bao = OpenBao::dev();
    let c = harness::client();
    let reqs = dev_bad_requests();

    let accessors = |base: String| {
        let c = c.clone();
        async move {
            let r = call(
                &c,
                "LIST",
                &format!("{base}/v1/auth/token/accessors"),
                Some("root"),
                None,
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()["data"]["keys"]
                .as_array()
                .map(Vec::len)
                .unwrap_or_default()
        }
    };
    let (c_before, o_before) = (
        accessors(server.url.clone()).await,
        accessors(bao.url.clone()).await,
    );

    let mut mm = Mismatches::new("bad input, dev servers", BAD_INPUT_KNOWN);
    for b in &reqs {
        let cr = send_bad(&c, &server.url, b).await;
        let or = send_bad(&c, &bao.url, b).await;
        let head = format!("[{}] {} /{}", b.label, b.method, b.path);
        if cr.status != or.status {
            mm.push(format!(
                "{head}: status coffer {} {:?} / openbao {} {:?}",
                cr.status, cr.body, or.status, or.body
            ));
            continue;
        }
        if let Err(e) = vault_error_shape(&cr) {
            mm.push(format!("{head}: coffer {e}"));
        }
        if cr.status >= 400 {
            let errs = |r: &Reply| {
                serde_json::from_str::<Value>(&r.body)
                    .ok()
                    .map(|v| v["errors"].clone())
            };
            if errs(&cr) != errs(&or) {
                mm.push(format!(
                    "{head} ({}): errors coffer {} / openbao {}",
                    cr.status,
                    cr.body.trim(),
                    or.body.trim()
                ));
            }
        }
    }

    // Oversized body: 413 on both (the default limit is 32 MiB), nothing
    // stored. Raw TCP: a server may answer before the body is sent, and the
    // client must then stop writing rather than fail.
    let size = 33 * 1024 * 1024;
    let (cs, cb) = oversized_put(server.addr, "/v1/secret/data/big", size);
    let (os, _) = oversized_put(bao.addr, "/v1/secret/data/big", size);
    assert_eq!(os, 413, "openbao: oversized body");
    assert_eq!(cs, 413, "coffer: oversized body: {cb}");
    assert!(cb.contains("\"errors\":["), "413 body: {cb}");

    // Nothing stored by any failed request, on either server.
    for (name, base) in [("coffer", server.url.clone()), ("openbao", bao.url.clone())] {
        for path in [
            "secret/metadata/malformed",
            "secret/metadata/wrongtype",
            "secret/metadata/big",
            "secret/metadata/wrongmeta",
        ] {
            let r = call(&c, "GET", &format!("{base}/v1/{path}"), Some("root"), None).await;
            assert_eq!(
                r.status, 404,
                "{name}: {path} exists after failed writes: {}",
                r.body
            );
        }
        let r = call(
            &c,
            "GET",
            &format!("{base}/v1/sys/policies/acl?list=true"),
            Some("root"),
            None,
        )
        .await;
        assert!(
            !r.body.contains("badpol"),
            "{name}: a rejected policy is listed: {}",
            r.body
        );
        let r = call(
            &c,
            "GET",
            &format!("{base}/v1/sys/mounts"),
            Some("root"),
            None,
        )
        .await;
        assert!(
            !r.body.contains("badmount"),
            "{name}: a rejected mount exists: {}",
            r.body
        );
        let r = call(
            &c,
            "GET",
            &format!("{base}/v1/sys/auth"),
            Some("root"),
            None,
        )
        .await;
        assert!(
            !r.body.contains("badauth"),
            "{name}: a rejected auth mount exists"
        );
    }
    // Token creations: exactly the ones OpenBao accepted happened on Coffer too.
    let (c_after, o_after) = (
        accessors(server.url.clone()).await,
        accessors(bao.url.clone()).await,
    );
    if c_after - c_before != o_after - o_before {
        mm.push(format!(
            "tokens created by the bad requests: coffer {}, openbao {}",
            c_after - c_before,
            o_after - o_before
        ));
    }

    // Still alive and serving.
    assert!(process_alive(server.pid().expect("pid")), "coffer died");
    assert!(bao.alive(), "openbao died");
    let r = call(&c, "GET", &server.api("sys/health"), None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    mm.finish();
}

/// Raft-specific bad input against Coffer and an OpenBao raft node: wrong
/// types to sys/init, invalid/too-short/wrong-length/foreign unseal keys,
/// requests while sealed; foreign keys neither unseal nor corrupt.
#[tokio::test]
async fn raft_bad_input_and_foreign_keys_match_openbao() {
    let mut server = CofferServer::raft();
    let mut other = CofferServer::raft();
    let bao = OpenBao::raft();
    let c = harness::client();
    let mut mm = Mismatches::new("bad input, raft nodes", RAFT_BAD_KNOWN);

    let (surl, burl) = (server.url.clone(), bao.url.clone());
    let both = |method: &'static str, path: &'static str, body: String| {
        let c = c.clone();
        let (cu, ou) = (format!("{surl}/v1/{path}"), format!("{burl}/v1/{path}"));
        async move {
            let cr = call(&c, method, &cu, None, Some(&body)).await;
            let or = call(&c, method, &ou, None, Some(&body)).await;
            (cr, or)
        }
    };
    let compare = |mm: &mut Mismatches, label: &str, cr: &Reply, or: &Reply, exact: bool| {
        if cr.status != or.status {
            mm.push(format!(
                "[{label}] status coffer {} {} / openbao {} {}",
                cr.status,
                cr.body.trim(),
                or.status,
                or.body.trim()
            ));
            return;
        }
        if let Err(e) = vault_error_shape(cr) {
            mm.push(format!("[{label}] coffer {e}"));
        }
        if exact && cr.status >= 400 && cr.body != or.body {
            mm.push(format!(
                "[{label}] ({}) errors coffer {} / openbao {}",
                cr.status,
                cr.body.trim(),
                or.body.trim()
            ));
        }
    };

    // Before init.
    for (label, body) in [
        (
            "init shares a string",
            r#"{"secret_shares":"x","secret_threshold":1}"#,
        ),
        (
            "init shares zero",
            r#"{"secret_shares":0,"secret_threshold":0}"#,
        ),
        (
            "init threshold > shares",
            r#"{"secret_shares":3,"secret_threshold":5}"#,
        ),
        ("init no threshold", r#"{"secret_shares":1}"#),
        ("init malformed", "{"),
        ("init array", "[]"),
        (
            "init pgp_keys a string",
            r#"{"secret_shares":1,"secret_threshold":1,"pgp_keys":"abc"}"#,
        ),
        (
            "init too many shares",
            r#"{"secret_shares":300,"secret_threshold":2}"#,
        ),
        (
            "init negative",
            r#"{"secret_shares":-1,"secret_threshold":1}"#,
        ),
        (
            "init float",
            r#"{"secret_shares":1.5,"secret_threshold":1}"#,
        ),
    ] {
        let (cr, or) = both("PUT", "sys/init", body.to_string()).await;
        compare(&mut mm, label, &cr, &or, true);
    }
    let (cr, or) = both("PUT", "sys/unseal", r#"{"key":"abcd"}"#.into()).await;
    compare(&mut mm, "unseal before init", &cr, &or, true);
    let (cr, or) = both("GET", "sys/init", String::new()).await;
    compare(&mut mm, "init status", &cr, &or, true);
    assert_eq!(
        cr.json()["initialized"],
        false,
        "a failed init initialised the server"
    );

    // Initialise all three; OpenBao needs a moment to elect itself.
    let keys = harness::init(&mut server, 3, 2).await;
    let other_keys = harness::init(&mut other, 3, 2).await;
    let r = call(
        &c,
        "PUT",
        &bao.api("sys/init"),
        None,
        Some(r#"{"secret_shares":3,"secret_threshold":2}"#),
    )
    .await;
    assert_eq!(r.status, 200, "openbao init: {}", r.body);
    let bao_keys: Vec<String> = r.json()["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k.as_str().expect("key").to_string())
        .collect();
    let bao_root = r.json()["root_token"].as_str().expect("root").to_string();

    // Sealed: every non-lifecycle path is 503 `Vault is sealed`.
    for (method, path) in [
        ("GET", "v1/secret/data/x"),
        ("PUT", "v1/secret/data/x"),
        ("GET", "v1/auth/token/lookup-self"),
        ("GET", "v1/sys/mounts"),
        ("LIST", "v1/sys/policies/acl"),
        ("POST", "v1/auth/userpass/login/x"),
        ("GET", "v1/nosuchmount/x"),
    ] {
        let cr = call(
            &c,
            method,
            &format!("{}/{path}", server.url),
            Some(&keys.root_token),
            Some("{}"),
        )
        .await;
        let or = call(
            &c,
            method,
            &format!("{}/{path}", bao.url),
            Some(&bao_root),
            Some("{}"),
        )
        .await;
        compare(&mut mm, &format!("sealed {method} {path}"), &cr, &or, true);
        assert_eq!(
            (cr.status, cr.body.as_str()),
            (503, SEALED_BODY),
            "sealed {method} {path}"
        );
    }

    // Bad keys, one at a time, then reset.
    for (label, key) in [
        ("key too short", "zzzz".to_string()),
        ("key not hex or base64", "!!!!".to_string()),
        ("key empty", String::new()),
        ("key 16 zero bytes", "00".repeat(16)),
    ] {
        let (cr, or) = both("PUT", "sys/unseal", json!({ "key": key }).to_string()).await;
        compare(&mut mm, label, &cr, &or, true);
        let (cr, or) = both("PUT", "sys/unseal", r#"{"reset":true}"#.into()).await;
        compare(&mut mm, &format!("{label}: reset"), &cr, &or, false);
    }
    let (cr, or) = both("PUT", "sys/unseal", r#"{"key":5}"#.into()).await;
    compare(&mut mm, "key a number", &cr, &or, false);
    let (cr, or) = both("PUT", "sys/unseal", "{".into()).await;
    compare(&mut mm, "unseal malformed", &cr, &or, true);
    let (cr, or) = both("PUT", "sys/unseal", "{}".into()).await;
    compare(&mut mm, "unseal no key", &cr, &or, true);

    // Keys of the wrong length after a good one: too long is refused up
    // front (progress kept); shorter (but >= 16 bytes) fails when the shares
    // are combined (progress reset).
    let unseal = |base: String, key: String| {
        let c = c.clone();
        async move {
            let body = json!({ "key": key }).to_string();
            call(
                &c,
                "PUT",
                &format!("{base}/v1/sys/unseal"),
                None,
                Some(&body),
            )
            .await
        }
    };
    let progress = |base: String| {
        let c = c.clone();
        async move {
            let r = call(&c, "GET", &format!("{base}/v1/sys/seal-status"), None, None).await;
            r.json()["progress"].clone()
        }
    };
    let cr = unseal(surl.clone(), keys.keys[0].clone()).await;
    let or = unseal(burl.clone(), bao_keys[0].clone()).await;
    compare(&mut mm, "own first key", &cr, &or, false);
    let cr = unseal(surl.clone(), format!("{}00", keys.keys[1])).await;
    let or = unseal(burl.clone(), format!("{}00", bao_keys[1])).await;
    compare(&mut mm, "share too long", &cr, &or, true);
    let (cp, op) = (progress(surl.clone()).await, progress(burl.clone()).await);
    if cp != op {
        mm.push(format!(
            "[share too long] progress after: coffer {cp} / openbao {op}"
        ));
    }
    let cr = unseal(surl.clone(), keys.keys[1][..40].to_string()).await;
    let or = unseal(burl.clone(), bao_keys[1][..40].to_string()).await;
    compare(&mut mm, "wrong-length share", &cr, &or, true);
    let (cp, op) = (progress(surl.clone()).await, progress(burl.clone()).await);
    if cp != op {
        mm.push(format!(
            "[wrong-length share] progress after: coffer {cp} / openbao {op}"
        ));
    }
    assert_eq!(cp, json!(0), "progress after a failed combination");

    // Foreign keys on Coffer (another Coffer's, then OpenBao's): the first
    // counts as progress, the threshold fails with 400, still sealed,
    // progress back to 0.
    for (label, foreign) in [
        ("other coffer's keys", &other_keys.keys),
        ("openbao's keys", &bao_keys),
    ] {
        let r = call(
            &c,
            "PUT",
            &server.api("sys/unseal"),
            None,
            Some(&json!({ "key": foreign[0] }).to_string()),
        )
        .await;
        assert_eq!(r.status, 200, "{label}: {}", r.body);
        assert_eq!(
            (r.json()["sealed"].clone(), r.json()["progress"].clone()),
            (json!(true), json!(1)),
            "{label}"
        );
        let r = call(
            &c,
            "PUT",
            &server.api("sys/unseal"),
            None,
            Some(&json!({ "key": foreign[1] }).to_string()),
        )
        .await;
        assert_eq!(r.status, 400, "{label}: {}", r.body);
        vault_error_shape(&r).unwrap_or_else(|e| panic!("{label}: {e}"));
        let r = call(&c, "GET", &server.api("sys/seal-status"), None, None).await;
        assert_eq!(r.json()["sealed"], true, "{label} unsealed the server");
        assert_eq!(
            r.json()["progress"],
            0,
            "{label}: progress not reset after a failed combination"
        );
    }
    // The same on both: another server's keys up to the threshold.
    let cr = call(
        &c,
        "PUT",
        &server.api("sys/unseal"),
        None,
        Some(&json!({"key": other_keys.keys[0]}).to_string()),
    )
    .await;
    let or = call(
        &c,
        "PUT",
        &bao.api("sys/unseal"),
        None,
        Some(&json!({"key": keys.keys[0]}).to_string()),
    )
    .await;
    compare(&mut mm, "foreign first key", &cr, &or, false);
    let cr = call(
        &c,
        "PUT",
        &server.api("sys/unseal"),
        None,
        Some(&json!({"key": other_keys.keys[1]}).to_string()),
    )
    .await;
    let or = call(
        &c,
        "PUT",
        &bao.api("sys/unseal"),
        None,
        Some(&json!({"key": keys.keys[1]}).to_string()),
    )
    .await;
    compare(&mut mm, "foreign threshold", &cr, &or, false);

    // Not corrupted: each unseals with its own keys, and the other Coffer too.
    harness::unseal_all(&server, &keys).await;
    harness::unseal_all(&other, &other_keys).await;
    for k in &bao_keys[..2] {
        let r = call(
            &c,
            "PUT",
            &bao.api("sys/unseal"),
            None,
            Some(&json!({ "key": k }).to_string()),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    wait_health(&server.url, 200, Duration::from_secs(60)).await;
    wait_health(&bao.url, 200, Duration::from_secs(60)).await;
    let r = call(
        &c,
        "POST",
        &server.api("sys/mounts/secret"),
        Some(&keys.root_token),
        Some(r#"{"type":"kv-v2"}"#),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = call(
        &c,
        "PUT",
        &server.api("secret/data/x"),
        Some(&keys.root_token),
        Some(r#"{"data":{"a":"b"}}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Unseal while unsealed is a no-op on both.
    let (cr, or) = both(
        "PUT",
        "sys/unseal",
        json!({"key": "00".repeat(33)}).to_string(),
    )
    .await;
    compare(&mut mm, "unseal while unsealed", &cr, &or, false);
    let r = call(&c, "GET", &server.api("sys/seal-status"), None, None).await;
    assert_eq!(r.json()["sealed"], false);

    // Restarted, the node still unseals with its own keys only.
    server.restart().expect("restart");
    // A fresh client: pooled connections went with the old process.
    let c = harness::client();
    for k in &other_keys.keys[..2] {
        call(
            &c,
            "PUT",
            &server.api("sys/unseal"),
            None,
            Some(&json!({ "key": k }).to_string()),
        )
        .await;
    }
    let r = call(&c, "GET", &server.api("sys/seal-status"), None, None).await;
    assert_eq!(r.json()["sealed"], true);
    harness::unseal_all(&server, &keys).await;
    let r = call(
        &c,
        "GET",
        &server.api("secret/data/x"),
        Some(&keys.root_token),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["data"]["a"], "b");

    assert!(process_alive(server.pid().expect("pid")), "coffer died");
    assert!(
        process_alive(other.pid().expect("pid")),
        "the other coffer died"
    );
    mm.finish();
}

const RAFT_BAD_KNOWN: &[(&str, &str)] = &[
    (
        "[init shares zero]",
        "sys/init: OpenBao prefixes seal-configuration errors with `invalid seal configuration: `",
    ),
    (
        "[init threshold > shares]",
        "sys/init: OpenBao prefixes seal-configuration errors with `invalid seal configuration: `",
    ),
    (
        "[init no threshold]",
        "sys/init: OpenBao prefixes seal-configuration errors with `invalid seal configuration: `",
    ),
    (
        "[init too many shares]",
        "sys/init: OpenBao prefixes seal-configuration errors with `invalid seal configuration: `",
    ),
    (
        "[init negative]",
        "sys/init with secret_shares -1: OpenBao says `invalid seal configuration: shares must be at least one`, Coffer a decode error",
    ),
    (
        "[share too long]",
        "sys/unseal with a too-long key: OpenBao says `invalid key: key is longer than maximum 33 bytes`",
    ),
    (
        "[key too short]",
        "sys/unseal with a too-short key: OpenBao says `invalid key: key is shorter than minimum 16 bytes`",
    ),
    (
        "[wrong-length share]",
        "sys/unseal wrong-length share: OpenBao says `invalid key: failed to compute combined key: all parts must be the same length`",
    ),
];
