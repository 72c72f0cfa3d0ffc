//! A live differential test of response wrapping and the lease endpoints:
//! the same requests against an OpenBao dev server and a Coffer dev server,
//! comparing status codes, normalised bodies and whether the body ends with a
//! newline (an unwrapped response is the stored JSON text as it is). It
//! covers `X-Vault-Wrap-TTL` on a KV read, a list, a write and a token create,
//! `sys/wrapping/{wrap,lookup,unwrap,rewrap}` (once only, third party,
//! expiry, refusals), the wrapping token's own facts, and the shapes and
//! refusals of `sys/leases/*` that need no dynamic-secret engine.
//!
//! Values that differ between servers (wrapping tokens, accessors) are saved
//! per server and substituted into later requests as `{name}`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{self, CofferServer};
use crate::openbao::{json_diff, normalize_json, Mismatches, OpenBao};

/// One request of the sequence.
struct Step {
    label: &'static str,
    method: &'static str,
    /// Path under `/v1/`, with `{var}` placeholders.
    path: &'static str,
    /// `None`: no token; `Some("root")` or `Some("{var}")`.
    token: Option<&'static str>,
    body: Option<&'static str>,
    /// `X-Vault-Wrap-TTL`.
    wrap: Option<&'static str>,
    /// Values to remember: (var, JSON pointer into the answer).
    save: &'static [(&'static str, &'static str)],
    /// Seconds to wait before the request.
    wait: u64,
}

const fn step(
    label: &'static str,
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
) -> Step {
    Step {
        label,
        method,
        path,
        token: Some("root"),
        body,
        wrap: None,
        save: &[],
        wait: 0,
    }
}

const fn wrap(mut s: Step, ttl: &'static str) -> Step {
    s.wrap = Some(ttl);
    s
}

const fn save(mut s: Step, vars: &'static [(&'static str, &'static str)]) -> Step {
    s.save = vars;
    s
}

const fn with_token(mut s: Step, token: Option<&'static str>) -> Step {
    s.token = token;
    s
}

const fn after(mut s: Step, secs: u64) -> Step {
    s.wait = secs;
    s
}

const WRAPPED: &[(&str, &str)] = &[("w", "/wrap_info/token"), ("wa", "/wrap_info/accessor")];

fn steps() -> Vec<Step> {
    vec![
        step(
            "kv write",
            "POST",
            "secret/data/wrapme",
            Some(r#"{"data":{"k":"v","a":{"z":1,"b":2}}}"#),
        ),
        // ---- X-Vault-Wrap-TTL on a read
        save(
            wrap(
                step("wrapped kv read", "GET", "secret/data/wrapme", None),
                "300",
            ),
            WRAPPED,
        ),
        step(
            "the wrapping token",
            "POST",
            "auth/token/lookup-accessor",
            Some(r#"{"accessor":"{wa}"}"#),
        ),
        with_token(
            step(
                "wrapping lookup, no token",
                "POST",
                "sys/wrapping/lookup",
                Some(r#"{"token":"{w}"}"#),
            ),
            None,
        ),
        with_token(
            step(
                "wrapping lookup, as the token",
                "POST",
                "sys/wrapping/lookup",
                None,
            ),
            Some("{w}"),
        ),
        with_token(
            step("wrapping lookup, GET", "GET", "sys/wrapping/lookup", None),
            Some("{w}"),
        ),
        with_token(
            step(
                "wrapping token reads the secret",
                "GET",
                "secret/data/wrapme",
                None,
            ),
            Some("{w}"),
        ),
        save(
            wrap(
                step("wrapped kv read again", "GET", "secret/data/wrapme", None),
                "5m",
            ),
            WRAPPED,
        ),
        with_token(
            step("unwrap as the token", "POST", "sys/wrapping/unwrap", None),
            Some("{w}"),
        ),
        with_token(
            step("unwrap twice", "POST", "sys/wrapping/unwrap", None),
            Some("{w}"),
        ),
        step(
            "unwrap twice, third party",
            "POST",
            "sys/wrapping/unwrap",
            Some(r#"{"token":"{w}"}"#),
        ),
        step(
            "lookup after unwrap",
            "POST",
            "sys/wrapping/lookup",
            Some(r#"{"token":"{w}"}"#),
        ),
        // ---- sys/wrapping/wrap, rewrap, third-party unwrap
        step(
            "wrap without a TTL",
            "POST",
            "sys/wrapping/wrap",
            Some(r#"{"foo":"bar"}"#),
        ),
        save(
            wrap(
                step(
                    "wrap",
                    "POST",
                    "sys/wrapping/wrap",
                    Some(r#"{"z":1,"foo":"bar","a":{"y":[3,{"d":1,"c":2}],"b":null}}"#),
                ),
                "5m",
            ),
            WRAPPED,
        ),
        step(
            "lookup the wrap",
            "POST",
            "sys/wrapping/lookup",
            Some(r#"{"token":"{w}"}"#),
        ),
        save(
            step(
                "rewrap",
                "POST",
                "sys/wrapping/rewrap",
                Some(r#"{"token":"{w}"}"#),
            ),
            &[("w2", "/wrap_info/token")],
        ),
        step(
            "unwrap the old token",
            "POST",
            "sys/wrapping/unwrap",
            Some(r#"{"token":"{w}"}"#),
        ),
        step(
            "lookup the rewrapped token",
            "POST",
            "sys/wrapping/lookup",
            Some(r#"{"token":"{w2}"}"#),
        ),
        step(
            "unwrap the new token, third party",
            "POST",
            "sys/wrapping/unwrap",
            Some(r#"{"token":"{w2}"}"#),
        ),
        step(
            "unwrap the new token again",
            "POST",
            "sys/wrapping/unwrap",
            Some(r#"{"token":"{w2}"}"#),
        ),
        // ---- a wrapped token
        save(
            wrap(
                step(
                    "wrapped token create",
                    "POST",
                    "auth/token/create",
                    Some(r#"{"policies":["app"]}"#),
                ),
                "60s",
            ),
            WRAPPED,
        ),
        with_token(
            step("unwrap the token", "POST", "sys/wrapping/unwrap", None),
            Some("{w}"),
        ),
        // ---- what is not wrapped
        wrap(
            step(
                "wrapped write",
                "POST",
                "secret/data/other",
                Some(r#"{"data":{"x":"y"}}"#),
            ),
            "60",
        ),
        wrap(
            step("wrapped missing secret", "GET", "secret/data/nothing", None),
            "60",
        ),
        save(
            wrap(step("wrapped list", "LIST", "secret/metadata", None), "60"),
            WRAPPED,
        ),
        with_token(
            step("unwrap the list", "POST", "sys/wrapping/unwrap", None),
            Some("{w}"),
        ),
        wrap(
            step("bad wrap TTL", "GET", "secret/data/wrapme", None),
            "bogus",
        ),
        // ---- expiry
        save(
            wrap(step("short wrap", "GET", "secret/data/wrapme", None), "1s"),
            WRAPPED,
        ),
        after(
            step(
                "unwrap after expiry",
                "POST",
                "sys/wrapping/unwrap",
                Some(r#"{"token":"{w}"}"#),
            ),
            2,
        ),
        // ---- refusals of the wrapping token check
        step(
            "unwrap, empty body token",
            "POST",
            "sys/wrapping/unwrap",
            Some(r#"{"token":""}"#),
        ),
        step(
            "unwrap, number token",
            "POST",
            "sys/wrapping/unwrap",
            Some(r#"{"token":5}"#),
        ),
        step("unwrap, root token", "POST", "sys/wrapping/unwrap", None),
        with_token(
            step(
                "lookup, no token at all",
                "POST",
                "sys/wrapping/lookup",
                None,
            ),
            None,
        ),
        step(
            "lookup, unknown token",
            "POST",
            "sys/wrapping/lookup",
            Some(r#"{"token":"s.nonexistent"}"#),
        ),
        step("rewrap, root token", "POST", "sys/wrapping/rewrap", None),
        step("unwrap, GET", "GET", "sys/wrapping/unwrap", None),
        step(
            "the response-wrapping policy",
            "GET",
            "sys/policies/acl/response-wrapping",
            None,
        ),
        step(
            "it cannot be deleted",
            "DELETE",
            "sys/policies/acl/response-wrapping",
            None,
        ),
        step("policies list", "LIST", "sys/policies/acl", None),
        // ---- sys/leases without a dynamic-secret engine
        step(
            "lease lookup, no id",
            "PUT",
            "sys/leases/lookup",
            Some("{}"),
        ),
        step(
            "lease lookup, unknown",
            "PUT",
            "sys/leases/lookup",
            Some(r#"{"lease_id":"secret/nope/x"}"#),
        ),
        step("lease renew, no id", "PUT", "sys/leases/renew", Some("{}")),
        step(
            "lease renew, unknown",
            "PUT",
            "sys/leases/renew",
            Some(r#"{"lease_id":"secret/nope/x"}"#),
        ),
        step(
            "lease revoke, unknown",
            "PUT",
            "sys/leases/revoke",
            Some(r#"{"lease_id":"secret/nope/x"}"#),
        ),
        step(
            "lease revoke, no id",
            "PUT",
            "sys/leases/revoke",
            Some("{}"),
        ),
        step(
            "lease revoke by URL",
            "PUT",
            "sys/leases/revoke/secret/nope/x",
            None,
        ),
        step(
            "lease revoke, not sync",
            "PUT",
            "sys/leases/revoke",
            Some(r#"{"lease_id":"secret/nope/x","sync":false}"#),
        ),
        step(
            "revoke-prefix, nothing",
            "PUT",
            "sys/leases/revoke-prefix/nothing",
            None,
        ),
        step(
            "revoke-prefix, not sync",
            "PUT",
            "sys/leases/revoke-prefix/nothing",
            Some(r#"{"sync":false}"#),
        ),
        step(
            "revoke-force, nothing",
            "PUT",
            "sys/leases/revoke-force/nothing",
            None,
        ),
        step(
            "revoke-prefix, no prefix",
            "PUT",
            "sys/leases/revoke-prefix",
            None,
        ),
        step(
            "list leases, nothing",
            "LIST",
            "sys/leases/lookup/nothing",
            None,
        ),
        step("list leases, GET", "GET", "sys/leases/lookup/nothing", None),
        step("list token leases", "LIST", "sys/leases/lookup/auth/", None),
        step(
            "list token leases deeper",
            "LIST",
            "sys/leases/lookup/auth/token/",
            None,
        ),
        step("tidy", "PUT", "sys/leases/tidy", None),
        step(
            "legacy renew",
            "PUT",
            "sys/renew",
            Some(r#"{"lease_id":"secret/nope/x"}"#),
        ),
        step(
            "legacy revoke",
            "PUT",
            "sys/revoke",
            Some(r#"{"lease_id":"secret/nope/x"}"#),
        ),
        step(
            "legacy revoke-prefix",
            "PUT",
            "sys/revoke-prefix/secret",
            None,
        ),
        save(
            step(
                "a token with a TTL",
                "POST",
                "auth/token/create",
                Some(r#"{"policies":["default"],"ttl":"1h"}"#),
            ),
            &[("t", "/auth/client_token")],
        ),
        step(
            "renew a token lease",
            "PUT",
            "sys/leases/renew",
            Some(r#"{"lease_id":"auth/token/create/{tl}"}"#),
        ),
        step(
            "look up a token lease",
            "PUT",
            "sys/leases/lookup",
            Some(r#"{"lease_id":"auth/token/create/{tl}"}"#),
        ),
        step(
            "revoke the token by prefix",
            "PUT",
            "sys/leases/revoke-prefix/auth/token/create/{tl}",
            None,
        ),
        with_token(
            step("the token is gone", "GET", "auth/token/lookup-self", None),
            Some("{t}"),
        ),
    ]
}

/// Differences Coffer keeps on purpose (none so far).
const KNOWN: &[(&str, &str)] = &[];

/// One server's state in the sequence.
struct Side {
    url: String,
    vars: BTreeMap<String, String>,
}

impl Side {
    fn fill(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (k, v) in &self.vars {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }

    async fn run(&mut self, c: &reqwest::Client, s: &Step) -> harness::Reply {
        let url = format!("{}/v1/{}", self.url, self.fill(s.path));
        let token = s.token.map(|t| self.fill(t));
        let body = s.body.map(|b| self.fill(b));
        let headers: Vec<(&str, &str)> = s
            .wrap
            .map(|w| ("X-Vault-Wrap-TTL", w))
            .into_iter()
            .collect();
        let r = harness::call_with(
            c,
            s.method,
            &url,
            token.as_deref(),
            body.as_deref(),
            &headers,
        )
        .await;
        for (var, pointer) in s.save {
            let v = serde_json::from_str::<Value>(&r.body)
                .ok()
                .and_then(|j| {
                    j.pointer(pointer)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_else(|| {
                    panic!("[{}] {} {pointer} missing: {}", s.label, self.url, r.body)
                });
            self.vars.insert(var.to_string(), v);
        }
        r
    }
}

fn normalized(r: &harness::Reply, addr: &str) -> Value {
    if r.body.trim().is_empty() {
        return Value::Null;
    }
    match serde_json::from_str::<Value>(&r.body) {
        Ok(v) => normalize_json(&v, addr),
        Err(_) => Value::String(r.body.clone()),
    }
}

/// The lease suffix of the token created with a one-hour TTL (the other
/// `auth/token/create` tokens live 768 hours or have no TTL).
async fn token_lease(c: &reqwest::Client, side: &Side) -> String {
    let r = harness::call(
        c,
        "LIST",
        &format!("{}/v1/sys/leases/lookup/auth/token/create/", side.url),
        Some("root"),
        None,
    )
    .await;
    let keys: Vec<String> = serde_json::from_value(r.json()["data"]["keys"].clone()).expect("keys");
    for k in keys {
        let r = harness::call(
            c,
            "PUT",
            &format!("{}/v1/sys/leases/lookup", side.url),
            Some("root"),
            Some(&format!(r#"{{"lease_id":"auth/token/create/{k}"}}"#)),
        )
        .await;
        let ttl = r.json()["data"]["ttl"].as_i64().unwrap_or(0);
        if ttl > 0 && ttl <= 3600 {
            return k;
        }
    }
    panic!("{}: no token lease with a one-hour TTL", side.url);
}

#[tokio::test]
async fn wrapping_matches_openbao() {
    let server = CofferServer::dev();
    let bao = OpenBao::dev();
    let c = harness::client();
    let mut coffer = Side {
        url: server.url.clone(),
        vars: BTreeMap::new(),
    };
    let mut openbao = Side {
        url: bao.url.clone(),
        vars: BTreeMap::new(),
    };
    let mut mm = Mismatches::new("response wrapping and leases, dev servers", KNOWN);
    let steps = steps();
    for s in &steps {
        if s.wait > 0 {
            tokio::time::sleep(Duration::from_secs(s.wait)).await;
        }
        if s.label == "renew a token lease" {
            let a = token_lease(&c, &coffer).await;
            let b = token_lease(&c, &openbao).await;
            coffer.vars.insert("tl".into(), a);
            openbao.vars.insert("tl".into(), b);
        }
        let a = coffer.run(&c, s).await;
        let b = openbao.run(&c, s).await;
        let mut diffs = Vec::new();
        if a.status != b.status {
            diffs.push(format!(
                "status: coffer {} != openbao {}",
                a.status, b.status
            ));
        }
        if a.body.ends_with('\n') != b.body.ends_with('\n') {
            diffs.push(format!(
                "trailing newline: coffer {} != openbao {}",
                a.body.ends_with('\n'),
                b.body.ends_with('\n')
            ));
        }
        json_diff(
            &normalized(&a, &server.url),
            &normalized(&b, &bao.url),
            "",
            &mut diffs,
        );
        for d in diffs {
            mm.push(format!(
                "[{}] {} {}: {d}\n  coffer:  {}\n  openbao: {}",
                s.label,
                s.method,
                s.path,
                a.body.trim(),
                b.body.trim()
            ));
        }
    }
    mm.finish();
}
