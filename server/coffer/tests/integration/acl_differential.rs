//! A live differential test of the ACL: the same policies, tokens and real
//! requests against an OpenBao dev server and a Coffer dev server; every
//! (token, request) pair must be allowed or denied (403) alike, and
//! `sys/capabilities-self` must report the same capabilities for every path.
//!
//! The table is the cross product of token profiles (sets of policies) and
//! operations; each operation first puts its target into a known state
//! (secret present, absent, soft-deleted, mount absent...) with the root
//! token, so that create and update are told apart as Vault does.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::harness::{self, call_with, CofferServer};
use crate::openbao::OpenBao;

const POLICIES: &[(&str, &str)] = &[
    (
        "p-exact",
        r#"
path "secret/data/exact" { capabilities = ["read"] }
path "secret/metadata/exact" { capabilities = ["read"] }
"#,
    ),
    (
        "p-glob",
        r#"
path "secret/data/team/*" { capabilities = ["create", "read", "update", "patch", "delete"] }
path "secret/metadata/team/*" { capabilities = ["list", "read"] }
"#,
    ),
    (
        "p-deny",
        r#"
path "secret/data/team/private" { capabilities = ["deny"] }
path "secret/data/team/secret*" { capabilities = ["deny"] }
path "secret/metadata/team/private" { capabilities = ["deny"] }
"#,
    ),
    (
        "p-plus",
        r#"
path "secret/data/+/config" { capabilities = ["read", "update"] }
path "secret/metadata/+/config" { capabilities = ["read"] }
"#,
    ),
    (
        "p-prio",
        r#"
path "secret/data/app/*" { capabilities = ["read"] }
path "secret/data/x/+" { capabilities = ["read"] }
path "secret/data/x/*" { capabilities = ["create", "update"] }
path "secret/data/a*" { capabilities = ["read"] }
path "secret/data/ab*" { capabilities = ["create"] }
path "secret/data/+/+/config" { capabilities = ["delete"] }
path "secret/data/a/+/config" { capabilities = ["read"] }
"#,
    ),
    (
        "p-create-only",
        r#"
path "secret/data/co/*" { capabilities = ["create"] }
path "sys/policies/acl/*" { capabilities = ["create"] }
path "sys/mounts/*" { capabilities = ["create"] }
"#,
    ),
    (
        "p-update-only",
        r#"
path "secret/data/co/*" { capabilities = ["update"] }
path "sys/policies/acl/*" { capabilities = ["update"] }
path "sys/mounts/*" { capabilities = ["update"] }
"#,
    ),
    (
        "p-list",
        r#"
path "secret/metadata/team" { capabilities = ["list"] }
path "secret/metadata/app/" { capabilities = ["list"] }
path "secret/metadata/" { capabilities = ["list"] }
path "secret/data/team/" { capabilities = ["list"] }
"#,
    ),
    (
        "p-sys-nosudo",
        r#"
path "sys/audit" { capabilities = ["read", "list"] }
path "sys/audit/*" { capabilities = ["create", "update", "delete"] }
path "sys/auth" { capabilities = ["read"] }
path "sys/auth/*" { capabilities = ["create", "update", "delete"] }
path "sys/mounts" { capabilities = ["read"] }
path "sys/mounts/*" { capabilities = ["create", "update", "delete"] }
"#,
    ),
    (
        "p-sys-sudo",
        r#"
path "sys/audit" { capabilities = ["read", "sudo"] }
path "sys/audit/*" { capabilities = ["create", "update", "delete", "sudo"] }
path "sys/auth/*" { capabilities = ["create", "update", "delete", "sudo"] }
path "sys/policies/acl" { capabilities = ["list"] }
path "sys/policies/acl/*" { capabilities = ["create", "update", "read", "delete"] }
path "auth/token/create" { capabilities = ["update"] }
path "sys/mounts/*" { capabilities = ["sudo"] }
"#,
    ),
    (
        "p-shared-a",
        r#"
path "secret/data/shared" { capabilities = ["read"] }
path "secret/data/team/*" { capabilities = ["deny"] }
"#,
    ),
    (
        "p-shared-b",
        r#"
path "secret/data/shared" { capabilities = ["update", "create"] }
"#,
    ),
    (
        "p-wide-deny",
        r#"
path "secret/data/*" { capabilities = ["deny"] }
path "secret/data/exact" { capabilities = ["read", "update"] }
path "secret/metadata/*" { capabilities = ["list", "read"] }
"#,
    ),
];

/// Token profiles: a name and the policies of the token (plus `default`).
const PROFILES: &[(&str, &[&str])] = &[
    ("exact", &["p-exact"]),
    ("glob", &["p-glob"]),
    ("glob+deny", &["p-glob", "p-deny"]),
    ("plus", &["p-plus"]),
    ("plus+prio", &["p-plus", "p-prio"]),
    ("create-only", &["p-create-only"]),
    ("update-only", &["p-update-only"]),
    ("list+exact", &["p-list", "p-exact"]),
    ("sys-nosudo", &["p-sys-nosudo"]),
    ("sys-sudo", &["p-sys-sudo"]),
    ("shared+glob", &["p-shared-a", "p-shared-b", "p-glob"]),
    ("wide-deny", &["p-wide-deny"]),
    ("default-only", &[]),
];

/// KV v2 keys (under `secret/`) every profile is tried on.
const KEYS: &[&str] = &[
    "exact",
    "team/a",
    "team/private",
    "team/secretx",
    "team/sub/deep",
    "app/config",
    "other/config",
    "a/b/config",
    "x/y",
    "abc",
    "shared",
    "co/new",
];

/// What the root token does before an operation.
#[derive(Clone, Debug)]
enum Pre {
    Nothing,
    /// The KV v2 key has a live version.
    Exists(&'static str),
    /// The KV v2 key has no metadata at all.
    Absent(&'static str),
    /// The key exists but its latest version is deleted.
    SoftDeleted(&'static str),
    /// Arbitrary root requests (method, path, body).
    Root(Vec<(&'static str, String, Option<String>)>),
}

#[derive(Clone, Debug)]
struct Op {
    label: String,
    method: &'static str,
    path: String,
    body: Option<String>,
    content_type: Option<&'static str>,
    pre: Pre,
}

fn op(
    label: impl Into<String>,
    method: &'static str,
    path: impl Into<String>,
    body: Option<&str>,
    pre: Pre,
) -> Op {
    Op {
        label: label.into(),
        method,
        path: path.into(),
        body: body.map(str::to_string),
        content_type: None,
        pre,
    }
}

fn operations() -> Vec<Op> {
    let mut ops = Vec::new();
    let write = Some(r#"{"data":{"w":"1"}}"#);
    for &k in KEYS {
        ops.push(op(
            format!("read {k}"),
            "GET",
            format!("secret/data/{k}"),
            None,
            Pre::Exists(k),
        ));
        ops.push(op(
            format!("create {k}"),
            "PUT",
            format!("secret/data/{k}"),
            write,
            Pre::Absent(k),
        ));
        ops.push(op(
            format!("update {k}"),
            "PUT",
            format!("secret/data/{k}"),
            write,
            Pre::Exists(k),
        ));
        ops.push(op(
            format!("delete {k}"),
            "DELETE",
            format!("secret/data/{k}"),
            None,
            Pre::Exists(k),
        ));
        ops.push(op(
            format!("metadata {k}"),
            "GET",
            format!("secret/metadata/{k}"),
            None,
            Pre::Exists(k),
        ));
        let mut patch = op(
            format!("patch {k}"),
            "PATCH",
            format!("secret/data/{k}"),
            Some(r#"{"data":{"p":"1"}}"#),
            Pre::Exists(k),
        );
        patch.content_type = Some("application/merge-patch+json");
        ops.push(patch);
    }
    // Create or update on a soft-deleted key: metadata exists, so update.
    for k in ["co/new", "exact", "team/a"] {
        ops.push(op(
            format!("write soft-deleted {k}"),
            "PUT",
            format!("secret/data/{k}"),
            write,
            Pre::SoftDeleted(k),
        ));
    }
    // Lists, with and without the trailing slash, LIST verb and ?list=true.
    for dir in ["team", "app", "team/sub", "x", "co"] {
        ops.push(op(
            format!("LIST {dir}"),
            "LIST",
            format!("secret/metadata/{dir}"),
            None,
            Pre::Exists("team/sub/deep"),
        ));
        ops.push(op(
            format!("LIST {dir}/"),
            "LIST",
            format!("secret/metadata/{dir}/"),
            None,
            Pre::Exists("team/a"),
        ));
        ops.push(op(
            format!("GET ?list {dir}"),
            "GET",
            format!("secret/metadata/{dir}?list=true"),
            None,
            Pre::Exists("app/config"),
        ));
    }
    ops.push(op(
        "LIST root",
        "LIST",
        "secret/metadata/",
        None,
        Pre::Exists("x/y"),
    ));
    ops.push(op(
        "LIST root no slash",
        "LIST",
        "secret/metadata",
        None,
        Pre::Exists("x/y"),
    ));
    ops.push(op(
        "LIST data team",
        "LIST",
        "secret/data/team",
        None,
        Pre::Exists("team/a"),
    ));
    // KV v2 verbs on other endpoints.
    ops.push(op(
        "destroy team/a",
        "PUT",
        "secret/destroy/team/a",
        Some(r#"{"versions":[1]}"#),
        Pre::Exists("team/a"),
    ));
    ops.push(op(
        "undelete team/a",
        "PUT",
        "secret/undelete/team/a",
        Some(r#"{"versions":[1]}"#),
        Pre::Exists("team/a"),
    ));
    ops.push(op(
        "metadata delete team/a",
        "DELETE",
        "secret/metadata/team/a",
        None,
        Pre::Exists("team/a"),
    ));
    // System paths: sudo, create vs update, reads.
    ops.push(op(
        "read sys/mounts",
        "GET",
        "sys/mounts",
        None,
        Pre::Nothing,
    ));
    ops.push(op(
        "mount acl-m",
        "POST",
        "sys/mounts/acl-m",
        Some(r#"{"type":"kv"}"#),
        Pre::Root(vec![("DELETE", "sys/mounts/acl-m".into(), None)]),
    ));
    ops.push(op(
        "unmount acl-m",
        "DELETE",
        "sys/mounts/acl-m",
        None,
        Pre::Root(vec![
            ("DELETE", "sys/mounts/acl-m".into(), None),
            (
                "POST",
                "sys/mounts/acl-m".into(),
                Some(r#"{"type":"kv"}"#.into()),
            ),
        ]),
    ));
    ops.push(op("read sys/audit", "GET", "sys/audit", None, Pre::Nothing));
    ops.push(op(
        "enable audit",
        "PUT",
        "sys/audit/acl-a",
        Some(r#"{"type":"file","options":{"file_path":"/dev/null"}}"#),
        Pre::Root(vec![("DELETE", "sys/audit/acl-a".into(), None)]),
    ));
    ops.push(op("read sys/auth", "GET", "sys/auth", None, Pre::Nothing));
    ops.push(op(
        "enable auth",
        "POST",
        "sys/auth/acl-up",
        Some(r#"{"type":"userpass"}"#),
        Pre::Root(vec![("DELETE", "sys/auth/acl-up".into(), None)]),
    ));
    ops.push(op(
        "LIST policies",
        "LIST",
        "sys/policies/acl",
        None,
        Pre::Nothing,
    ));
    ops.push(op(
        "GET ?list policies",
        "GET",
        "sys/policies/acl?list=true",
        None,
        Pre::Nothing,
    ));
    let pol = r#"{"policy":"path \"z\" { capabilities = [\"read\"] }"}"#;
    ops.push(op(
        "create policy",
        "PUT",
        "sys/policies/acl/acl-p",
        Some(pol),
        Pre::Root(vec![("DELETE", "sys/policies/acl/acl-p".into(), None)]),
    ));
    ops.push(op(
        "update policy",
        "PUT",
        "sys/policies/acl/acl-p",
        Some(pol),
        Pre::Root(vec![(
            "PUT",
            "sys/policies/acl/acl-p".into(),
            Some(pol.into()),
        )]),
    ));
    ops.push(op(
        "read policy",
        "GET",
        "sys/policies/acl/acl-p",
        None,
        Pre::Root(vec![(
            "PUT",
            "sys/policies/acl/acl-p".into(),
            Some(pol.into()),
        )]),
    ));
    ops.push(op(
        "token create",
        "POST",
        "auth/token/create",
        Some(r#"{"policies":["default"],"ttl":"1h"}"#),
        Pre::Nothing,
    ));
    ops.push(op(
        "lookup-self",
        "GET",
        "auth/token/lookup-self",
        None,
        Pre::Nothing,
    ));
    ops.push(op(
        "cubbyhole write",
        "PUT",
        "cubbyhole/x",
        Some(r#"{"a":"b"}"#),
        Pre::Nothing,
    ));
    for k in ["team/a", "exact", "other/config"] {
        ops.push(op(
            format!("ui mounts {k}"),
            "GET",
            format!("sys/internal/ui/mounts/secret/{k}"),
            None,
            Pre::Nothing,
        ));
    }
    ops
}

/// Paths asked of `sys/capabilities-self` for every profile.
fn capability_paths() -> Vec<String> {
    let mut paths = Vec::new();
    for &k in KEYS {
        paths.push(format!("secret/data/{k}"));
        paths.push(format!("secret/metadata/{k}"));
    }
    for p in [
        "secret/metadata/team",
        "secret/metadata/team/",
        "secret/metadata/app",
        "secret/metadata/app/",
        "secret/metadata/",
        "secret/data/team/",
        "secret/data/a/b/c/config",
        "secret/data/ab",
        "secret/data/x/y/z",
        "sys/audit",
        "sys/audit/acl-a",
        "sys/auth/acl-up",
        "sys/mounts",
        "sys/mounts/acl-m",
        "sys/policies/acl",
        "sys/policies/acl/acl-p",
        "auth/token/create",
        "auth/token/lookup-self",
        "cubbyhole/x",
        "nomount/x",
    ] {
        paths.push(p.to_string());
    }
    paths
}

/// One server under test.
struct Target {
    url: String,
    client: reqwest::Client,
}

impl Target {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&str>,
        ct: Option<&str>,
    ) -> harness::Reply {
        let url = format!("{}/v1/{}", self.url, path);
        let headers: Vec<(&str, &str)> = ct.map(|c| vec![("Content-Type", c)]).unwrap_or_default();
        call_with(&self.client, method, &url, Some(token), body, &headers).await
    }

    async fn root(&self, method: &str, path: &str, body: Option<&str>) {
        let r = self.call(method, path, "root", body, None).await;
        assert!(
            r.status < 500 && r.status != 403,
            "{} root {method} {path}: {} {}",
            self.url,
            r.status,
            r.body
        );
    }

    async fn prepare(&self, pre: &Pre) {
        match pre {
            Pre::Nothing => {}
            Pre::Exists(k) => {
                self.root(
                    "PUT",
                    &format!("secret/data/{k}"),
                    Some(r#"{"data":{"v":"1"}}"#),
                )
                .await
            }
            Pre::Absent(k) => {
                self.root("DELETE", &format!("secret/metadata/{k}"), None)
                    .await
            }
            Pre::SoftDeleted(k) => {
                self.root(
                    "PUT",
                    &format!("secret/data/{k}"),
                    Some(r#"{"data":{"v":"1"}}"#),
                )
                .await;
                self.root("DELETE", &format!("secret/data/{k}"), None).await;
            }
            Pre::Root(reqs) => {
                for (m, p, b) in reqs {
                    self.root(m, p, b.as_deref()).await;
                }
            }
        }
    }

    /// Writes the policies and creates one token per profile.
    async fn setup(&self) -> Vec<String> {
        for (name, hcl) in POLICIES {
            let body = json!({ "policy": hcl }).to_string();
            let r = self
                .call(
                    "PUT",
                    &format!("sys/policies/acl/{name}"),
                    "root",
                    Some(&body),
                    None,
                )
                .await;
            assert_eq!(r.status, 204, "{} policy {name}: {}", self.url, r.body);
        }
        let mut tokens = Vec::new();
        for (name, policies) in PROFILES {
            let mut p: Vec<&str> = policies.to_vec();
            p.push("default");
            let body = json!({ "policies": p, "display_name": name, "ttl": "1h" }).to_string();
            let r = self
                .call("POST", "auth/token/create", "root", Some(&body), None)
                .await;
            assert_eq!(r.status, 200, "{} token {name}: {}", self.url, r.body);
            tokens.push(
                r.json()["auth"]["client_token"]
                    .as_str()
                    .expect("client_token")
                    .to_string(),
            );
        }
        tokens
    }

    /// Runs every (profile, operation) pair; returns the status codes.
    async fn run(&self, tokens: &[String], ops: &[Op]) -> Vec<Vec<(u16, String)>> {
        let mut all = Vec::new();
        for token in tokens {
            let mut row = Vec::new();
            for o in ops {
                self.prepare(&o.pre).await;
                let r = self
                    .call(o.method, &o.path, token, o.body.as_deref(), o.content_type)
                    .await;
                row.push((r.status, r.body));
            }
            all.push(row);
        }
        all
    }

    /// `sys/capabilities-self` for every profile: path -> sorted capabilities.
    async fn capabilities(
        &self,
        tokens: &[String],
        paths: &[String],
    ) -> Vec<BTreeMap<String, Vec<String>>> {
        let mut out = Vec::new();
        let body = json!({ "paths": paths }).to_string();
        for token in tokens {
            let r = self
                .call("POST", "sys/capabilities-self", token, Some(&body), None)
                .await;
            assert_eq!(r.status, 200, "{} capabilities-self: {}", self.url, r.body);
            let data = r.json()["data"].clone();
            let mut m = BTreeMap::new();
            for p in paths {
                let mut caps: Vec<String> = data[p.as_str()]
                    .as_array()
                    .unwrap_or_else(|| panic!("{}: no capabilities for {p}: {data}", self.url))
                    .iter()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect();
                caps.sort();
                m.insert(p.clone(), caps);
            }
            out.push(m);
        }
        out
    }
}

fn first_error(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v["errors"]
                .get(0)
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn acl_decisions_match_openbao() {
    let coffer_server = CofferServer::dev();
    let bao = OpenBao::dev();
    let coffer = Target {
        url: coffer_server.url.clone(),
        client: harness::client(),
    };
    let openbao = Target {
        url: bao.url.clone(),
        client: harness::client(),
    };
    let ops = operations();
    let paths = capability_paths();
    assert!(ops.len() * PROFILES.len() >= 60);

    let (ct, ot) = tokio::join!(coffer.setup(), openbao.setup());
    let (cr, or) = tokio::join!(coffer.run(&ct, &ops), openbao.run(&ot, &ops));
    let (cc, oc) = tokio::join!(
        coffer.capabilities(&ct, &paths),
        openbao.capabilities(&ot, &paths)
    );

    let mut mismatches = Vec::new();
    let mut status_notes = Vec::new();
    let (mut allowed, mut denied) = (0, 0);
    for (pi, (profile, policies)) in PROFILES.iter().enumerate() {
        for (oi, o) in ops.iter().enumerate() {
            let (cs, cb) = &cr[pi][oi];
            let (os, ob) = &or[pi][oi];
            if *os == 403 {
                denied += 1;
            } else {
                allowed += 1;
            }
            if (*cs == 403) != (*os == 403) {
                mismatches.push(format!(
                    "profile {profile} {policies:?}: {} ({} {}): coffer {cs} {:?}, openbao {os} {:?}",
                    o.label,
                    o.method,
                    o.path,
                    first_error(cb),
                    first_error(ob)
                ));
            } else if cs != os {
                status_notes.push(format!(
                    "profile {profile}: {} ({} {}): coffer {cs} {:?}, openbao {os} {:?}",
                    o.label,
                    o.method,
                    o.path,
                    first_error(cb),
                    first_error(ob)
                ));
            }
        }
        for p in &paths {
            if cc[pi][p] != oc[pi][p] {
                mismatches.push(format!(
                    "profile {profile} {policies:?}: capabilities-self {p}: coffer {:?}, openbao {:?}",
                    cc[pi][p], oc[pi][p]
                ));
            }
        }
    }
    // The table exercises both outcomes in quantity.
    eprintln!(
        "{} requests ({allowed} allowed, {denied} denied by OpenBao), {} capability checks",
        ops.len() * PROFILES.len(),
        paths.len() * PROFILES.len()
    );
    assert!(
        allowed > 100 && denied > 100,
        "allowed {allowed}, denied {denied}"
    );
    if !status_notes.is_empty() {
        eprintln!(
            "{} same-decision status differences (not ACL):\n{}",
            status_notes.len(),
            status_notes.join("\n")
        );
    }
    assert!(
        mismatches.is_empty(),
        "{} ACL mismatches out of {} requests and {} capability checks:\n{}",
        mismatches.len(),
        ops.len() * PROFILES.len(),
        paths.len() * PROFILES.len(),
        mismatches.join("\n")
    );
}
