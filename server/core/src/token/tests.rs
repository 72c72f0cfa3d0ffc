//! `auth/token/` tests through `Core::handle_request` on in-memory storage.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::core::{Core, CoreConfig, InitRequest};
use crate::error::CoreError;
use crate::logical::{Operation, Request, Response};
use crate::physical::{InmemBackend, Physical};

/// An initialised, unsealed core with its root token and raw storage.
pub(crate) struct TestCore {
    pub core: Arc<Core>,
    pub root: String,
    pub physical: Arc<InmemBackend>,
}

/// Builds a core over in-memory storage, initialises it with one key share,
/// unseals it and returns it with the root token.
pub(crate) async fn test_core() -> TestCore {
    let physical = Arc::new(InmemBackend::new());
    let core = Core::new(physical.clone(), CoreConfig::default());
    let init = core
        .init(InitRequest {
            secret_shares: 1,
            secret_threshold: 1,
        })
        .await
        .expect("init");
    let key = init.keys[0].clone();
    let root = init.root_token.clone();
    drop(init);
    core.unseal(&key).await.expect("unseal");
    assert!(!core.is_sealed());
    TestCore {
        core,
        root,
        physical,
    }
}

impl TestCore {
    async fn call(
        &self,
        op: Operation,
        path: &str,
        token: &str,
        data: Value,
    ) -> Result<Response, CoreError> {
        let mut req = Request::new(op, path).with_data(data);
        if !token.is_empty() {
            req = req.with_token(token);
        }
        self.core.handle_request(req).await
    }

    async fn write(&self, path: &str, token: &str, data: Value) -> Result<Response, CoreError> {
        self.call(Operation::Update, path, token, data).await
    }

    async fn read(&self, path: &str, token: &str) -> Result<Response, CoreError> {
        self.call(Operation::Read, path, token, json!({})).await
    }

    async fn list(&self, path: &str, token: &str) -> Result<Response, CoreError> {
        self.call(Operation::List, path, token, json!({})).await
    }

    /// Creates a token as root (or `parent`) and returns its id and accessor.
    async fn token(&self, parent: &str, data: Value) -> (String, String) {
        let r = self
            .write("auth/token/create", parent, data)
            .await
            .expect("create");
        let a = r.auth.expect("auth");
        (a.client_token, a.accessor)
    }

    async fn policy(&self, name: &str, hcl: &str) {
        let active = self.core.active().expect("active");
        active.policies.set(name, hcl).await.expect("policy");
    }

    async fn lookup(&self, token: &str) -> Result<serde_json::Map<String, Value>, CoreError> {
        let r = self
            .write("auth/token/lookup", &self.root, json!({ "token": token }))
            .await?;
        Ok(r.data.expect("data"))
    }

    /// Every key and value in physical storage, and every value as the
    /// barrier decrypts it.
    async fn dump_storage(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![String::new()];
        let barrier = self.core.active().expect("active").barrier.clone();
        while let Some(prefix) = stack.pop() {
            for child in self.physical.list(&prefix).await.expect("list") {
                let key = format!("{prefix}{child}");
                if child.ends_with('/') {
                    stack.push(key);
                    continue;
                }
                let raw = self
                    .physical
                    .get(&key)
                    .await
                    .expect("get")
                    .unwrap_or_default();
                out.push((key.clone(), raw));
                if let Ok(Some(plain)) = barrier.get(&key).await {
                    out.push((format!("{key} (decrypted)"), plain.to_vec()));
                }
            }
        }
        out
    }
}

fn auth(r: &Response) -> &crate::logical::Auth {
    r.auth.as_ref().expect("auth")
}

fn data(r: &Response) -> &serde_json::Map<String, Value> {
    r.data.as_ref().expect("data")
}

fn invalid(r: Result<Response, CoreError>) -> String {
    match r {
        Err(CoreError::InvalidRequest(m)) => m,
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

fn multi(r: Result<Response, CoreError>) -> String {
    match r {
        Err(CoreError::InvalidRequestMulti(m)) => m,
        other => panic!("expected a multi-error invalid request, got {other:?}"),
    }
}

fn denied(r: Result<Response, CoreError>) {
    match r {
        Err(CoreError::PermissionDenied) => {}
        other => panic!("expected permission denied, got {other:?}"),
    }
}

fn bad_token(r: Result<Response, CoreError>) {
    match r {
        Err(CoreError::Forbidden(m)) => assert_eq!(m, "bad token"),
        other => panic!("expected 403 bad token, got {other:?}"),
    }
}

const APP_POLICY: &str = r#"
path "auth/token/create" { capabilities = ["update"] }
path "auth/token/create/*" { capabilities = ["update"] }
path "auth/token/create-orphan" { capabilities = ["update"] }
path "auth/token/lookup" { capabilities = ["update", "read"] }
path "auth/token/revoke-orphan" { capabilities = ["update"] }
path "auth/token/accessors" { capabilities = ["list"] }
"#;

const SUDO_POLICY: &str = r#"
path "auth/token/*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }
"#;

#[tokio::test]
async fn create_matches_openbao_shape() {
    let t = test_core().await;
    let r = t
        .write(
            "auth/token/create",
            &t.root,
            json!({"policies": ["app"], "ttl": "1h", "renewable": true, "display_name": "svc1", "meta": {"team": "a"}}),
        )
        .await
        .unwrap();
    assert!(r.data.is_none());
    let a = auth(&r);
    assert!(
        a.client_token.starts_with("s.") && a.client_token.len() == 26,
        "{}",
        a.client_token
    );
    assert_eq!(a.accessor.len(), 24);
    assert_eq!(a.policies, vec!["app", "default"]);
    assert_eq!(a.token_policies, vec!["app", "default"]);
    assert_eq!(a.metadata.as_ref().unwrap().get("team").unwrap(), "a");
    assert_eq!(a.lease_duration, 3600);
    assert!(a.renewable);
    assert_eq!(a.token_type, "service");
    assert!(!a.orphan);
    assert_eq!(a.num_uses, 0);
    assert_eq!(r.warnings, vec!["Policy \"app\" does not exist"]);

    let d = t.lookup(&a.client_token).await.unwrap();
    let keys: Vec<&str> = d.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "accessor",
            "creation_time",
            "creation_ttl",
            "display_name",
            "entity_id",
            "expire_time",
            "explicit_max_ttl",
            "id",
            "issue_time",
            "meta",
            "num_uses",
            "orphan",
            "path",
            "policies",
            "renewable",
            "ttl",
            "type"
        ]
    );
    assert_eq!(d["display_name"], "token-svc1");
    assert_eq!(d["path"], "auth/token/create");
    assert_eq!(d["creation_ttl"], 3600);
    let ttl = d["ttl"].as_i64().unwrap();
    assert!((3598..=3600).contains(&ttl), "{ttl}");
    assert!(d["expire_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(d["id"], json!(a.client_token));
    assert_eq!(d["meta"], json!({"team": "a"}));
    assert_eq!(d["renewable"], true);
    assert_eq!(d["type"], "service");
}

#[tokio::test]
async fn create_defaults_and_inputs() {
    let t = test_core().await;
    // No policies: the parent's (root), and a root token without a TTL does
    // not expire; other tokens get the system default (768h).
    let r = t
        .write("auth/token/create", &t.root, json!({}))
        .await
        .unwrap();
    assert_eq!(auth(&r).policies, vec!["root"]);
    assert_eq!(auth(&r).lease_duration, 0);
    let r = t
        .write("auth/token/create", &t.root, json!({"policies": ["a"]}))
        .await
        .unwrap();
    assert_eq!(auth(&r).lease_duration, 768 * 3600);
    // Go durations and integer strings.
    for (ttl, want) in [
        (json!("30m"), 1800),
        (json!("1h0m0s"), 3600),
        (json!(90), 90),
        (json!("120"), 120),
    ] {
        let r = t
            .write(
                "auth/token/create",
                &t.root,
                json!({"policies": ["a"], "ttl": ttl}),
            )
            .await
            .unwrap();
        assert_eq!(auth(&r).lease_duration, want);
    }
    // The CLI's zero values.
    let r = t
        .write(
            "auth/token/create",
            &t.root,
            json!({"policies":["app-ro"],"ttl":"1h0m0s","explicit_max_ttl":"0s","period":"0s","display_name":"","num_uses":0,"renewable":true,"type":"service","entity_alias":""}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).lease_duration, 3600);
    // Display names are sanitised as Vault does.
    let (tok, _) = t.token(&t.root, json!({"display_name": "My App!!"})).await;
    assert_eq!(
        t.lookup(&tok).await.unwrap()["display_name"],
        "token-My-App-"
    );
    // Empty meta stays an empty map; a k=v list is accepted.
    let r = t
        .write("auth/token/create", &t.root, json!({"meta": {}}))
        .await
        .unwrap();
    assert_eq!(auth(&r).metadata.as_ref().unwrap().len(), 0);
    let r = t
        .write(
            "auth/token/create",
            &t.root,
            json!({"meta": ["a=b", "c=d"]}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).metadata.as_ref().unwrap().get("c").unwrap(), "d");
    // no_default_policy.
    let r = t
        .write(
            "auth/token/create",
            &t.root,
            json!({"policies": ["x"], "no_default_policy": true}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).policies, vec!["x"]);
    // A root child of root without TTL: not renewable, no expiry.
    let r = t
        .write(
            "auth/token/create",
            &t.root,
            json!({"policies": [" A ", "", "root"]}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).policies, vec!["root"]);
    assert_eq!(auth(&r).lease_duration, 0);
    assert!(!auth(&r).renewable);
    // Unknown parameters are reported.
    let r = t
        .write("auth/token/create", &t.root, json!({"foo": 1, "bar": 2}))
        .await
        .unwrap();
    assert_eq!(
        r.warnings,
        vec!["Endpoint ignored these unrecognized parameters: [bar foo]"]
    );
}

#[tokio::test]
async fn create_errors_match_openbao() {
    let t = test_core().await;
    let cases = [
        (json!({"type": "weird"}), "invalid 'token_type' value"),
        (json!({"num_uses": -1}), "number of uses cannot be negative"),
        (json!({"ttl": "abc"}), "time: invalid duration \"abc\""),
        (json!({"ttl": "-5s"}), "ttl must be positive"),
        (json!({"explicit_max_ttl": "abc"}), "time: invalid duration \"abc\""),
        (json!({"period": "-1"}), "period must be positive"),
        (
            json!({"entity_alias": "foo"}),
            "'entity_alias' is only allowed in combination with token role",
        ),
        (json!({"id": "s.abc"}), "custom token ID cannot have the 's.' prefix"),
        (json!({"id": "hvs.abc"}), "custom token ID cannot have the 'hvs.' prefix"),
        (json!({"id": "a.bc"}), "custom token ID cannot have a '.' in the value"),
        (
            json!({"num_uses": "abc"}),
            "Field validation failed: error converting input for field \"num_uses\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
        ),
        (
            json!({"renewable": "maybe"}),
            "Field validation failed: error converting input for field \"renewable\": '' cannot parse value as 'bool': strconv.ParseBool: invalid syntax",
        ),
        (json!({"policies": ["response-wrapping"]}), "cannot assign policy \"response-wrapping\""),
    ];
    for (body, msg) in cases {
        assert_eq!(
            invalid(t.write("auth/token/create", &t.root, body.clone()).await),
            msg,
            "{body}"
        );
    }
}

#[tokio::test]
async fn custom_ids_and_duplicates() {
    let t = test_core().await;
    let r = t
        .write("auth/token/create", &t.root, json!({"id": "mytoken"}))
        .await
        .unwrap();
    assert_eq!(auth(&r).client_token, "mytoken");
    assert_eq!(t.lookup("mytoken").await.unwrap()["id"], "mytoken");
    assert_eq!(
        invalid(
            t.write("auth/token/create", &t.root, json!({"id": "mytoken"}))
                .await
        ),
        "cannot create a token with a duplicate ID"
    );
    // Without sudo.
    t.policy("app", APP_POLICY).await;
    let (app, _) = t.token(&t.root, json!({"policies": ["app"]})).await;
    assert_eq!(
        invalid(
            t.write("auth/token/create", &app, json!({"id": "other"}))
                .await
        ),
        "root or sudo privileges required to specify token id"
    );
}

#[tokio::test]
async fn policy_subset_and_privileges() {
    let t = test_core().await;
    t.policy("app", APP_POLICY).await;
    t.policy("sudoer", SUDO_POLICY).await;
    let (app, _) = t.token(&t.root, json!({"policies": ["app"]})).await;

    // Without an ACL grant the core denies (403).
    let (plain, _) = t.token(&t.root, json!({"policies": ["other"]})).await;
    denied(
        t.write("auth/token/create", &plain, json!({"policies": ["root"]}))
            .await,
    );

    // With the grant: a subset is fine, more is 400.
    let r = t
        .write("auth/token/create", &app, json!({"policies": ["app"]}))
        .await
        .unwrap();
    assert_eq!(auth(&r).policies, vec!["app", "default"]);
    let r = t.write("auth/token/create", &app, json!({})).await.unwrap();
    assert_eq!(auth(&r).policies, vec!["app", "default"]);
    let r = t
        .write(
            "auth/token/create",
            &app,
            json!({"no_default_policy": true}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).policies, vec!["app"]);
    assert_eq!(
        invalid(
            t.write("auth/token/create", &app, json!({"policies": ["other"]}))
                .await
        ),
        "child policies must be subset of parent"
    );
    assert_eq!(
        invalid(
            t.write("auth/token/create", &app, json!({"policies": ["root"]}))
                .await
        ),
        "child policies must be subset of parent"
    );
    assert_eq!(
        invalid(
            t.write("auth/token/create", &app, json!({"no_parent": true}))
                .await
        ),
        "root or sudo privileges required to create orphan token"
    );
    assert_eq!(
        invalid(
            t.write("auth/token/create", &app, json!({"period": "1h"}))
                .await
        ),
        "root or sudo privileges required to create periodic token"
    );
    // create-orphan is ACL-controlled, not sudo.
    let r = t
        .write("auth/token/create-orphan", &app, json!({}))
        .await
        .unwrap();
    assert!(auth(&r).orphan);

    // A sudo token may exceed its policies, but never mint root.
    let (sudo, _) = t.token(&t.root, json!({"policies": ["sudoer"]})).await;
    let r = t
        .write("auth/token/create", &sudo, json!({"policies": ["zzz"]}))
        .await
        .unwrap();
    assert_eq!(auth(&r).policies, vec!["default", "zzz"]);
    let r = t
        .write("auth/token/create", &sudo, json!({"no_parent": true}))
        .await
        .unwrap();
    assert!(auth(&r).orphan);
    assert_eq!(
        invalid(
            t.write("auth/token/create", &sudo, json!({"policies": ["root"]}))
                .await
        ),
        "root tokens may not be created without parent token being root"
    );
}

#[tokio::test]
async fn lookup_variants() {
    let t = test_core().await;
    t.policy("app", APP_POLICY).await;
    let (tok, acc) = t.token(&t.root, json!({"policies": ["app"]})).await;

    // lookup-self, GET and POST.
    let r = t.read("auth/token/lookup-self", &tok).await.unwrap();
    assert_eq!(data(&r)["id"], json!(tok));
    assert_eq!(data(&r)["accessor"], json!(acc));
    // (the default policy only grants read on lookup-self)
    denied(t.write("auth/token/lookup-self", &tok, json!({})).await);
    let r = t
        .write("auth/token/lookup-self", &t.root, json!({}))
        .await
        .unwrap();
    assert_eq!(data(&r)["id"], json!(t.root));
    // lookup with a GET parameter, and without a token (self).
    let r = t
        .call(
            Operation::Read,
            "auth/token/lookup",
            &t.root,
            json!({"token": tok}),
        )
        .await
        .unwrap();
    assert_eq!(data(&r)["id"], json!(tok));
    let r = t.read("auth/token/lookup", &tok).await.unwrap();
    assert_eq!(data(&r)["id"], json!(tok));
    // Unknown tokens: 403 "bad token".
    bad_token(
        t.write(
            "auth/token/lookup",
            &t.root,
            json!({"token": "s.doesnotexist"}),
        )
        .await,
    );
    bad_token(
        t.write("auth/token/lookup", &t.root, json!({"token": "b.garbage"}))
            .await,
    );
    // lookup-accessor hides the id.
    let r = t
        .write(
            "auth/token/lookup-accessor",
            &t.root,
            json!({"accessor": acc}),
        )
        .await
        .unwrap();
    assert_eq!(data(&r)["id"], "");
    assert_eq!(data(&r)["accessor"], json!(acc));
    assert_eq!(
        multi(
            t.write("auth/token/lookup-accessor", &t.root, json!({}))
                .await
        ),
        "missing accessor"
    );
    assert_eq!(
        multi(
            t.write(
                "auth/token/lookup-accessor",
                &t.root,
                json!({"accessor": "nope"})
            )
            .await
        ),
        "invalid accessor"
    );
}

#[tokio::test]
async fn initial_root_token_has_no_lease() {
    let t = test_core().await;
    let r = t.read("auth/token/lookup-self", &t.root).await.unwrap();
    let d = data(&r);
    assert_eq!(d["display_name"], "root");
    assert_eq!(d["path"], "auth/token/root");
    assert_eq!(d["policies"], json!(["root"]));
    assert_eq!(d["expire_time"], Value::Null);
    assert_eq!(d["ttl"], 0);
    assert_eq!(d["orphan"], true);
    assert!(d.get("issue_time").is_none());
    assert!(d.get("renewable").is_none());
    assert_eq!(
        invalid(t.write("auth/token/renew-self", &t.root, json!({})).await),
        "invalid lease ID"
    );
    // A root token made by create (like the dev root token) has a lease but
    // does not expire.
    let (child, _) = t.token(&t.root, json!({"no_parent": true})).await;
    let d = t.lookup(&child).await.unwrap();
    assert_eq!(d["renewable"], false);
    assert!(d.get("issue_time").is_some());
    assert_eq!(
        invalid(
            t.write("auth/token/renew", &t.root, json!({"token": child}))
                .await
        ),
        "lease is not renewable"
    );
}

#[tokio::test]
async fn dev_root_token_with_id() {
    let t = test_core().await;
    let active = t.core.active().unwrap();
    let id = active
        .tokens
        .create_root_token_with_id(Some("root".into()))
        .await
        .unwrap();
    assert_eq!(id.as_str(), "root");
    let r = t.read("auth/token/lookup-self", "root").await.unwrap();
    assert_eq!(data(&r)["path"], "auth/token/create");
    assert_eq!(data(&r)["display_name"], "token");
    assert_eq!(data(&r)["orphan"], true);
    assert_eq!(data(&r)["renewable"], false);
}

#[tokio::test]
async fn ttl_limits_and_periods() {
    let t = test_core().await;
    // explicit_max_ttl caps the TTL with Vault's warning.
    let r = t
        .write(
            "auth/token/create",
            &t.root,
            json!({"policies": ["a"], "ttl": "2h", "explicit_max_ttl": "1h"}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).lease_duration, 3600);
    assert_eq!(
        r.warnings[0],
        "TTL of \"2h\" exceeded the effective max_ttl of \"1h\"; TTL value is capped accordingly"
    );
    // A TTL over the system max is capped too.
    let r = t
        .write(
            "auth/token/create",
            &t.root,
            json!({"policies": ["a"], "ttl": "1000h"}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).lease_duration, 768 * 3600);
    // Periodic: the TTL is the period.
    let r = t
        .write(
            "auth/token/create",
            &t.root,
            json!({"policies": ["a"], "period": "30m", "ttl": "5h"}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).lease_duration, 1800);
    let d = t.lookup(&auth(&r).client_token).await.unwrap();
    assert_eq!(d["period"], 1800);
    assert_eq!(d["creation_ttl"], 1800);
    // Period capped by explicit max.
    let r = t
        .write(
            "auth/token/create",
            &t.root,
            json!({"policies": ["a"], "period": "30m", "explicit_max_ttl": "10m"}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).lease_duration, 600);
    assert!(
        r.warnings[0].starts_with("period of \"30m\" exceeded the effective max_ttl of \"10m\"")
    );
}

#[tokio::test]
async fn renew_rules() {
    let t = test_core().await;
    t.policy("app", APP_POLICY).await;
    let (tok, acc) = t
        .token(&t.root, json!({"policies": ["app"], "ttl": "1h"}))
        .await;

    // renew-self with an increment.
    let r = t
        .write("auth/token/renew-self", &tok, json!({"increment": "30m"}))
        .await
        .unwrap();
    let a = auth(&r);
    assert_eq!(a.lease_duration, 1800);
    assert_eq!(a.client_token, tok);
    assert!(a.renewable);
    // renew without increment repeats the last TTL.
    let r = t
        .write(
            "auth/token/renew",
            &t.root,
            json!({"token": tok, "increment": 60}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).lease_duration, 60);
    let r = t
        .write("auth/token/renew", &t.root, json!({"token": tok}))
        .await
        .unwrap();
    assert_eq!(auth(&r).lease_duration, 60);
    let d = t.lookup(&tok).await.unwrap();
    assert!(d.get("last_renewal").is_some() && d.get("last_renewal_time").is_some());
    assert_eq!(d["creation_ttl"], 3600);
    assert!(d["ttl"].as_i64().unwrap() <= 60);
    // Over the system max.
    let r = t
        .write(
            "auth/token/renew",
            &t.root,
            json!({"token": tok, "increment": "1000h"}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).lease_duration, 768 * 3600);
    assert_eq!(
        r.warnings,
        vec!["TTL of \"1000h\" exceeded the effective max_ttl of \"768h\"; TTL value is capped accordingly"]
    );
    // renew-accessor hides the token.
    let r = t
        .write(
            "auth/token/renew-accessor",
            &t.root,
            json!({"accessor": acc, "increment": "2h"}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).client_token, "");
    assert_eq!(auth(&r).lease_duration, 7200);
    assert_eq!(
        multi(
            t.write("auth/token/renew-accessor", &t.root, json!({}))
                .await
        ),
        "missing accessor"
    );
    assert_eq!(
        multi(
            t.write(
                "auth/token/renew-accessor",
                &t.root,
                json!({"accessor": "nope"})
            )
            .await
        ),
        "invalid accessor"
    );

    // Explicit max TTL bounds renewals.
    let (em, _) = t
        .token(
            &t.root,
            json!({"policies": ["a"], "ttl": "1h", "explicit_max_ttl": "2h"}),
        )
        .await;
    let r = t
        .write(
            "auth/token/renew",
            &t.root,
            json!({"token": em, "increment": "10h"}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).lease_duration, 7200);
    assert_eq!(
        r.warnings,
        vec!["TTL of \"10h\" exceeded the effective max_ttl of \"2h\"; TTL value is capped accordingly"]
    );
    // Periodic tokens reset to their period.
    let (pt, _) = t
        .token(&t.root, json!({"policies": ["a"], "period": "30m"}))
        .await;
    let r = t
        .write(
            "auth/token/renew",
            &t.root,
            json!({"token": pt, "increment": "10h"}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).lease_duration, 1800);
    assert!(r.warnings.is_empty());

    // Errors.
    let (nr, _) = t
        .token(
            &t.root,
            json!({"policies": ["a"], "renewable": false, "ttl": "1h"}),
        )
        .await;
    assert_eq!(
        invalid(
            t.write("auth/token/renew", &t.root, json!({"token": nr}))
                .await
        ),
        "lease is not renewable"
    );
    assert_eq!(
        invalid(t.write("auth/token/renew", &t.root, json!({})).await),
        "missing token ID"
    );
    assert_eq!(
        invalid(
            t.write("auth/token/renew", &t.root, json!({"token": "nope"}))
                .await
        ),
        "token not found"
    );
    assert_eq!(
        invalid(t.write("auth/token/renew", &t.root, json!({"token": tok, "increment": "abc"})).await),
        "Field validation failed: error converting input for field \"increment\": time: invalid duration \"abc\""
    );
    assert_eq!(
        invalid(t.write("auth/token/renew", &t.root, json!({"token": tok, "increment": "-5"})).await),
        "Field validation failed: error converting input for field \"increment\": cannot provide negative value '-5'"
    );
}

#[tokio::test]
async fn num_uses_are_counted_and_exhausted() {
    let t = test_core().await;
    t.policy("app", APP_POLICY).await;
    let (tok, _) = t
        .token(&t.root, json!({"policies": ["app"], "num_uses": 3}))
        .await;
    let r = t.read("auth/token/lookup-self", &tok).await.unwrap();
    assert_eq!(data(&r)["num_uses"], 2);
    assert_eq!(
        invalid(
            t.write("auth/token/create", &tok, json!({"policies": ["app"]}))
                .await
        ),
        "restricted use token cannot generate child tokens"
    );
    // That was the second use; the third is the last and shows -1.
    let r = t.read("auth/token/lookup-self", &tok).await.unwrap();
    assert_eq!(data(&r)["num_uses"], -1);
    denied(t.read("auth/token/lookup-self", &tok).await);
    bad_token(
        t.write("auth/token/lookup", &t.root, json!({"token": tok}))
            .await,
    );
    // The request that used it up revoked it: its entry is gone.
    let active = t.core.active().unwrap();
    let hid = active.tokens.hash(&tok);
    assert!(active
        .barrier
        .get(&format!("sys/token/id/{hid}"))
        .await
        .unwrap()
        .is_none());

    // A single-use token cannot be a parent (it is already used up).
    let (one, _) = t
        .token(&t.root, json!({"policies": ["app"], "num_uses": 1}))
        .await;
    assert_eq!(
        invalid(
            t.write("auth/token/create", &one, json!({"policies": ["app"]}))
                .await
        ),
        "parent token lookup failed: no parent found"
    );
    denied(t.read("auth/token/lookup-self", &one).await);
    // renew-self on the last use.
    let (one, _) = t
        .token(&t.root, json!({"policies": ["app"], "num_uses": 1}))
        .await;
    assert_eq!(
        invalid(t.write("auth/token/renew-self", &one, json!({})).await),
        "token not found"
    );
}

#[tokio::test]
async fn revoke_tree_and_orphan() {
    let t = test_core().await;
    t.policy("a", APP_POLICY).await;
    let (parent, _) = t.token(&t.root, json!({"policies": ["a"]})).await;
    let (child, _) = t.token(&parent, json!({"policies": ["a"]})).await;
    let (grandchild, _) = t.token(&child, json!({"policies": ["a"]})).await;
    let batch = auth(
        &t.write("auth/token/create", &child, json!({"type": "batch"}))
            .await
            .unwrap(),
    )
    .client_token
    .clone();
    assert!(t.lookup(&batch).await.is_ok());

    let r = t
        .write("auth/token/revoke", &t.root, json!({"token": parent}))
        .await
        .unwrap();
    assert!(r.is_empty());
    for tok in [&parent, &child, &grandchild, &batch] {
        bad_token(
            t.write("auth/token/lookup", &t.root, json!({"token": tok}))
                .await,
        );
    }
    // Unknown tokens revoke quietly; a missing token is an error.
    assert!(t
        .write("auth/token/revoke", &t.root, json!({"token": "s.nope"}))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        invalid(t.write("auth/token/revoke", &t.root, json!({})).await),
        "missing token ID"
    );

    // revoke-orphan keeps the children, now orphans.
    let (parent, _) = t.token(&t.root, json!({"policies": ["a"]})).await;
    let (child, _) = t.token(&parent, json!({"policies": ["a"]})).await;
    let (grandchild, _) = t.token(&child, json!({"policies": ["a"]})).await;
    assert_eq!(t.lookup(&child).await.unwrap()["orphan"], false);
    let r = t
        .write(
            "auth/token/revoke-orphan",
            &t.root,
            json!({"token": parent}),
        )
        .await
        .unwrap();
    assert!(r.is_empty());
    bad_token(
        t.write("auth/token/lookup", &t.root, json!({"token": parent}))
            .await,
    );
    assert_eq!(t.lookup(&child).await.unwrap()["orphan"], true);
    assert_eq!(t.lookup(&grandchild).await.unwrap()["orphan"], false);
    assert_eq!(
        invalid(
            t.write(
                "auth/token/revoke-orphan",
                &t.root,
                json!({"token": "s.nope"})
            )
            .await
        ),
        "token to revoke not found"
    );
    // revoke-orphan needs sudo, checked by the handler.
    t.policy("app", APP_POLICY).await;
    let (app, _) = t.token(&t.root, json!({"policies": ["app"]})).await;
    assert_eq!(
        invalid(
            t.write("auth/token/revoke-orphan", &app, json!({"token": child}))
                .await
        ),
        "root or sudo privileges required to revoke and orphan"
    );

    // revoke-self.
    let (me, _) = t.token(&t.root, json!({"policies": ["a"]})).await;
    let (mine, _) = t.token(&me, json!({"policies": ["a"]})).await;
    assert!(t
        .write("auth/token/revoke-self", &me, json!({}))
        .await
        .unwrap()
        .is_empty());
    denied(t.read("auth/token/lookup-self", &me).await);
    bad_token(
        t.write("auth/token/lookup", &t.root, json!({"token": mine}))
            .await,
    );
}

#[tokio::test]
async fn accessor_operations() {
    let t = test_core().await;
    let (tok, acc) = t.token(&t.root, json!({"policies": ["a"]})).await;
    let r = t.list("auth/token/accessors", &t.root).await.unwrap();
    let keys = data(&r)["keys"].as_array().unwrap().clone();
    assert!(keys.contains(&json!(acc)));
    assert_eq!(keys.len(), 2, "root and the new token");

    // accessors needs sudo: list alone is denied.
    t.policy("app", APP_POLICY).await;
    let (app, _) = t.token(&t.root, json!({"policies": ["app"]})).await;
    denied(t.list("auth/token/accessors", &app).await);

    let r = t
        .write(
            "auth/token/revoke-accessor",
            &t.root,
            json!({"accessor": acc}),
        )
        .await
        .unwrap();
    assert!(r.is_empty());
    bad_token(
        t.write("auth/token/lookup", &t.root, json!({"token": tok}))
            .await,
    );
    assert_eq!(
        multi(
            t.write(
                "auth/token/lookup-accessor",
                &t.root,
                json!({"accessor": acc})
            )
            .await
        ),
        "invalid accessor"
    );
    let r = t
        .write(
            "auth/token/revoke-accessor",
            &t.root,
            json!({"accessor": acc}),
        )
        .await
        .unwrap();
    assert_eq!(r.warnings, vec!["No token found with this accessor"]);
    assert_eq!(
        multi(
            t.write("auth/token/revoke-accessor", &t.root, json!({}))
                .await
        ),
        "missing accessor"
    );
}

#[tokio::test]
async fn batch_token_semantics() {
    let t = test_core().await;
    t.policy("app", APP_POLICY).await;
    let before = t.dump_storage().await.len();
    let r = t
        .write(
            "auth/token/create",
            &t.root,
            json!({"policies": ["app"], "type": "batch", "ttl": "30m"}),
        )
        .await
        .unwrap();
    let a = auth(&r).clone();
    assert!(a.client_token.starts_with("b."));
    assert_eq!(a.accessor, "");
    assert_eq!(a.token_type, "batch");
    assert!(!a.renewable);
    assert!(!a.orphan);
    assert_eq!(a.lease_duration, 1800);
    assert_eq!(
        t.dump_storage().await.len(),
        before,
        "batch tokens are not stored"
    );

    // renewable is ignored; the default TTL applies.
    let r = t
        .write(
            "auth/token/create",
            &t.root,
            json!({"policies": ["app"], "type": "batch", "renewable": true}),
        )
        .await
        .unwrap();
    assert!(!auth(&r).renewable);
    assert_eq!(auth(&r).lease_duration, 768 * 3600);

    let b = a.client_token;
    let r = t.read("auth/token/lookup-self", &b).await.unwrap();
    let d = data(&r);
    assert_eq!(d["type"], "batch");
    assert_eq!(d["accessor"], "");
    assert_eq!(d["renewable"], false);
    assert_eq!(d["creation_ttl"], 1800);
    assert_eq!(d["id"], json!(b));
    // Whole seconds for batch tokens.
    assert!(!d["issue_time"].as_str().unwrap().contains('.'));

    assert_eq!(
        invalid(t.write("auth/token/renew-self", &b, json!({})).await),
        "batch tokens cannot be renewed"
    );
    assert_eq!(
        invalid(
            t.write("auth/token/renew", &t.root, json!({"token": b}))
                .await
        ),
        "batch tokens cannot be renewed"
    );
    assert_eq!(
        invalid(t.write("auth/token/create", &b, json!({})).await),
        "batch tokens cannot create more tokens"
    );
    assert_eq!(
        invalid(t.write("auth/token/revoke-self", &b, json!({})).await),
        "batch tokens cannot be revoked"
    );
    assert_eq!(
        invalid(
            t.write("auth/token/revoke", &t.root, json!({"token": b}))
                .await
        ),
        "batch tokens cannot be revoked"
    );
    assert_eq!(
        invalid(
            t.write("auth/token/revoke-orphan", &t.root, json!({"token": b}))
                .await
        ),
        "batch tokens cannot be revoked"
    );
    for (body, msg) in [
        (
            json!({"type": "batch", "num_uses": 3}),
            "batch tokens cannot have \"num_uses\" set",
        ),
        (
            json!({"type": "batch", "period": "1h"}),
            "batch tokens cannot have \"period\" set",
        ),
        (
            json!({"type": "batch", "explicit_max_ttl": "1h"}),
            "batch tokens cannot have \"explicit_max_ttl\" set",
        ),
        (
            json!({"type": "batch", "policies": ["root"]}),
            "batch tokens cannot be root tokens",
        ),
    ] {
        assert_eq!(
            invalid(t.write("auth/token/create", &t.root, body).await),
            msg
        );
    }

    // A batch token dies with its parent.
    let (parent, _) = t.token(&t.root, json!({"policies": ["app"]})).await;
    let r = t
        .write("auth/token/create", &parent, json!({"type": "batch"}))
        .await
        .unwrap();
    let child = auth(&r).client_token.clone();
    assert!(t.read("auth/token/lookup-self", &child).await.is_ok());
    t.write("auth/token/revoke", &t.root, json!({"token": parent}))
        .await
        .unwrap();
    denied(t.read("auth/token/lookup-self", &child).await);
    // An orphan batch token does not need a parent.
    let r = t
        .write(
            "auth/token/create-orphan",
            &t.root,
            json!({"type": "batch", "policies": ["app"]}),
        )
        .await
        .unwrap();
    assert!(auth(&r).orphan);
}

#[tokio::test]
async fn roles_crud_and_creation() {
    let t = test_core().await;
    // The capture: role web with a 24h explicit max.
    let r = t
        .write(
            "auth/token/roles/web",
            &t.root,
            json!({"allowed_policies":["app"],"orphan":false,"renewable":true,"token_period":"0","token_type":"service","token_explicit_max_ttl":"24h"}),
        )
        .await
        .unwrap();
    assert!(r.is_empty());
    let r = t.read("auth/token/roles/web", &t.root).await.unwrap();
    assert_eq!(
        Value::Object(data(&r).clone()),
        json!({
            "allowed_entity_aliases": null,
            "allowed_policies": ["app"],
            "allowed_policies_glob": [],
            "disallowed_policies": [],
            "disallowed_policies_glob": [],
            "explicit_max_ttl": 0,
            "name": "web",
            "orphan": false,
            "path_suffix": "",
            "period": 0,
            "renewable": true,
            "token_explicit_max_ttl": 86400,
            "token_no_default_policy": false,
            "token_period": 0,
            "token_type": "service"
        })
    );
    let keys: Vec<&String> = data(&r).keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let r = t.list("auth/token/roles", &t.root).await.unwrap();
    assert_eq!(data(&r)["keys"], json!(["web"]));

    let r = t
        .write(
            "auth/token/create/web",
            &t.root,
            json!({"policies": ["app"]}),
        )
        .await
        .unwrap();
    assert_eq!(
        r.warnings[0],
        "TTL of \"768h\" exceeded the effective max_ttl of \"24h\"; TTL value is capped accordingly"
    );
    let a = auth(&r);
    assert_eq!(a.lease_duration, 86400);
    assert_eq!(a.policies, vec!["app", "default"]);
    assert!(!a.orphan);
    let d = t.lookup(&a.client_token).await.unwrap();
    assert_eq!(d["role"], "web");
    assert_eq!(d["path"], "auth/token/create/web");

    // Batch roles must be orphan.
    assert_eq!(
        invalid(
            t.write(
                "auth/token/roles/batchrole",
                &t.root,
                json!({"allowed_policies":["app"],"token_type":"batch"})
            )
            .await
        ),
        "'token_type' cannot be 'batch' when role is set to generate non-orphan tokens"
    );
    assert_eq!(
        invalid(
            t.write(
                "auth/token/create/batchrole",
                &t.root,
                json!({"policies": ["app"]})
            )
            .await
        ),
        "unknown role batchrole"
    );
    assert!(t
        .call(
            Operation::Delete,
            "auth/token/roles/batchrole",
            &t.root,
            json!({})
        )
        .await
        .unwrap()
        .is_empty());
    match t.read("auth/token/roles/batchrole", &t.root).await {
        Err(CoreError::NotFound) => {}
        other => panic!("{other:?}"),
    }

    // An orphan batch role; updates keep unspecified fields.
    t.write(
        "auth/token/roles/b1",
        &t.root,
        json!({"allowed_policies": "app,other", "orphan": true, "token_type": "batch", "renewable": false}),
    )
    .await
    .unwrap();
    assert_eq!(
        invalid(t.write("auth/token/roles/b1", &t.root, json!({"token_num_uses": 3})).await),
        "error parsing role fields: 'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count"
    );
    let r = t
        .write(
            "auth/token/create/b1",
            &t.root,
            json!({"policies": ["other"]}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).token_type, "batch");
    assert!(auth(&r).orphan);
    assert_eq!(auth(&r).policies, vec!["default", "other"]);

    // Role validation messages.
    for (body, msg) in [
        (
            json!({"path_suffix": "v1"}),
            "given role path suffix contains invalid characters; must match \\w[\\w-.]+\\w",
        ),
        (
            json!({"path_suffix": "a..b"}),
            "error registering path suffix: path cannot contain parent references",
        ),
        (
            json!({"token_bound_cidrs": "foo"}),
            "error parsing role fields: error parsing address \"foo\": Unable to convert \"foo\" to an IPv4 or IPv6 address, or a UNIX Socket",
        ),
        (json!({"token_type": "foo"}), "invalid 'token_type' value \"foo\""),
        (json!({"token_type": null}), "Invalid 'token_type' value: null"),
        (
            json!({"token_period": "-1"}),
            "error converting input for field \"token_period\": cannot provide negative value '-1'",
        ),
    ] {
        assert_eq!(invalid(t.write("auth/token/roles/r3", &t.root, body.clone()).await), msg, "{body}");
    }
    // Deprecated fields and warnings.
    let r = t
        .write(
            "auth/token/roles/r3",
            &t.root,
            json!({"period": "1h", "explicit_max_ttl": "1000h", "bound_cidrs": ["127.0.0.1/32"]}),
        )
        .await
        .unwrap();
    assert_eq!(
        r.warnings,
        vec!["Given explicit max TTL of 3600000 is greater than system/mount allowed value of 2764800 seconds; until this is fixed attempting to create tokens against this role will result in an error"]
    );
    let r = t.read("auth/token/roles/r3", &t.root).await.unwrap();
    assert_eq!(data(&r)["bound_cidrs"], json!(["127.0.0.1"]));
    assert_eq!(data(&r)["token_bound_cidrs"], json!(["127.0.0.1"]));
    assert_eq!(data(&r)["period"], 3600);
    assert_eq!(data(&r)["token_period"], 3600);
    assert_eq!(data(&r)["token_type"], "default-service");
    let r = t
        .write(
            "auth/token/roles/r3",
            &t.root,
            json!({"period": "1h", "token_period": "2h"}),
        )
        .await
        .unwrap();
    assert_eq!(
        r.warnings[0],
        "Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value"
    );
    let r = t.read("auth/token/roles/r3", &t.root).await.unwrap();
    assert_eq!(data(&r)["period"], 0);
    assert_eq!(data(&r)["token_period"], 7200);
    // A role's period needs no sudo and gives periodic tokens.
    let r = t
        .write("auth/token/create/r3", &t.root, json!({}))
        .await
        .unwrap();
    assert_eq!(auth(&r).lease_duration, 7200);
    // Invalid role names are not routes.
    match t.write("auth/token/roles/a b", &t.root, json!({})).await {
        Err(CoreError::UnsupportedPath) => {}
        other => panic!("{other:?}"),
    }
    match t.read("auth/token/roles", &t.root).await {
        Err(CoreError::UnsupportedOperation) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn role_policy_rules_num_uses_and_suffix() {
    let t = test_core().await;
    t.policy("app", APP_POLICY).await;
    let (app, _) = t.token(&t.root, json!({"policies": ["app"]})).await;
    t.write(
        "auth/token/roles/r4",
        &t.root,
        json!({"allowed_policies":"app,other","disallowed_policies":"bad","path_suffix":"v1.0","token_num_uses":2,"allowed_entity_aliases":"foo*"}),
    )
    .await
    .unwrap();
    // The role's allowed set, default added, escapes the parent subset rule.
    let r = t
        .write("auth/token/create/r4", &app, json!({}))
        .await
        .unwrap();
    assert_eq!(auth(&r).policies, vec!["app", "default", "other"]);
    assert_eq!(auth(&r).num_uses, 2);
    let d = t.lookup(&auth(&r).client_token).await.unwrap();
    assert_eq!(d["path"], "auth/token/create/r4/v1.0");
    let r = t
        .write(
            "auth/token/create/r4",
            &app,
            json!({"policies": ["other"], "num_uses": 5}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).policies, vec!["default", "other"]);
    assert_eq!(auth(&r).num_uses, 2);
    let r = t
        .write(
            "auth/token/create/r4",
            &app,
            json!({"policies": ["other"], "num_uses": 1}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).num_uses, 1);
    assert_eq!(
        invalid(
            t.write("auth/token/create/r4", &app, json!({"period": "1h"}))
                .await
        ),
        "root or sudo privileges required to create periodic token"
    );
    assert_eq!(
        invalid(t.write("auth/token/create/r4", &t.root, json!({"policies": ["bad"]})).await),
        "token policies ([\"bad\" \"default\"]) must be subset of the role's allowed policies ([\"app\" \"default\" \"other\"]) or glob policies ([])"
    );
    assert_eq!(
        invalid(
            t.write(
                "auth/token/create/r4",
                &t.root,
                json!({"entity_alias": "bar"})
            )
            .await
        ),
        "invalid 'entity_alias' value"
    );
    // A role with only disallowed policies.
    t.write(
        "auth/token/roles/r5",
        &t.root,
        json!({"disallowed_policies": "default"}),
    )
    .await
    .unwrap();
    assert_eq!(
        invalid(t.write("auth/token/create/r5", &app, json!({})).await),
        "token policy \"default\" is disallowed by this role"
    );
    let r = t
        .write("auth/token/create/r5", &app, json!({"policies": ["zzz"]}))
        .await
        .unwrap();
    assert_eq!(auth(&r).policies, vec!["zzz"]);
    // A role that is not renewable makes non-renewable tokens.
    t.write("auth/token/roles/nr", &t.root, json!({"renewable": false}))
        .await
        .unwrap();
    let r = t
        .write("auth/token/create/nr", &t.root, json!({"ttl": "1h"}))
        .await
        .unwrap();
    assert!(!auth(&r).renewable);
    // body role_name is replaced by the path's.
    let r = t
        .write(
            "auth/token/create/nr",
            &t.root,
            json!({"ttl": "1h", "role_name": "x"}),
        )
        .await
        .unwrap();
    assert_eq!(
        r.warnings,
        vec!["Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [role_name]"]
    );
}

#[tokio::test]
async fn role_tokens_renew_with_the_role() {
    let t = test_core().await;
    t.write(
        "auth/token/roles/tmp",
        &t.root,
        json!({"token_explicit_max_ttl": "2h"}),
    )
    .await
    .unwrap();
    let r = t
        .write("auth/token/create/tmp", &t.root, json!({"ttl": "1h"}))
        .await
        .unwrap();
    let tok = auth(&r).client_token.clone();
    let r = t
        .write(
            "auth/token/renew",
            &t.root,
            json!({"token": tok, "increment": "5h"}),
        )
        .await
        .unwrap();
    assert_eq!(auth(&r).lease_duration, 7200);
    t.call(
        Operation::Delete,
        "auth/token/roles/tmp",
        &t.root,
        json!({}),
    )
    .await
    .unwrap();
    match t
        .write("auth/token/renew", &t.root, json!({"token": tok}))
        .await
    {
        Err(CoreError::Internal(m)) => assert_eq!(
            m,
            "failed to renew entry: original token role \"tmp\" could not be found, not renewing"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bound_cidrs_from_roles() {
    let t = test_core().await;
    t.write(
        "auth/token/roles/net",
        &t.root,
        json!({"token_bound_cidrs": "10.0.0.0/8"}),
    )
    .await
    .unwrap();
    let r = t
        .write("auth/token/create/net", &t.root, json!({"ttl": "1h"}))
        .await
        .unwrap();
    let tok = auth(&r).client_token.clone();
    let d = t.lookup(&tok).await.unwrap();
    assert_eq!(d["bound_cidrs"], json!(["10.0.0.0/8"]));
    let mut req = Request::new(Operation::Read, "auth/token/lookup-self").with_token(&tok);
    req.remote_addr = Some("10.1.2.3".parse().unwrap());
    assert!(t.core.handle_request(req).await.is_ok());
    let mut req = Request::new(Operation::Read, "auth/token/lookup-self").with_token(&tok);
    req.remote_addr = Some("192.168.1.1".parse().unwrap());
    denied(t.core.handle_request(req).await);
}

#[tokio::test]
async fn expired_tokens_are_rejected_and_cleaned() {
    let t = test_core().await;
    t.policy("a", APP_POLICY).await;
    let (short, _) = t
        .token(&t.root, json!({"policies": ["a"], "ttl": "1s"}))
        .await;
    let (swept, _) = t
        .token(&t.root, json!({"policies": ["a"], "ttl": "1s"}))
        .await;
    let (child_of_swept, _) = t.token(&swept, json!({"policies": ["a"]})).await;
    let active = t.core.active().unwrap();
    let swept_hid = active.tokens.hash(&swept);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The background sweep removes expired tokens and their children.
    let n = active.tokens.tidy_expired().await.unwrap();
    assert!(n >= 1);
    assert!(active
        .barrier
        .get(&format!("sys/token/id/{swept_hid}"))
        .await
        .unwrap()
        .is_none());
    denied(t.read("auth/token/lookup-self", &child_of_swept).await);

    let short_hid = active.tokens.hash(&short);
    denied(t.read("auth/token/lookup-self", &short).await);
    bad_token(
        t.write("auth/token/lookup", &t.root, json!({"token": short}))
            .await,
    );
    assert!(active
        .barrier
        .get(&format!("sys/token/id/{short_hid}"))
        .await
        .unwrap()
        .is_none());

    // An expired batch token is rejected too.
    let r = t
        .write(
            "auth/token/create",
            &t.root,
            json!({"type": "batch", "ttl": "1s", "policies": ["a"]}),
        )
        .await
        .unwrap();
    let b = auth(&r).client_token.clone();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    denied(t.read("auth/token/lookup-self", &b).await);
}

#[tokio::test]
async fn token_ids_never_reach_storage() {
    let t = test_core().await;
    t.policy("a", APP_POLICY).await;
    let mut secrets = vec![t.root.clone()];
    secrets.push(t.token(&t.root, json!({"policies": ["a"]})).await.0);
    secrets.push(
        t.token(
            &t.root,
            json!({"policies": ["a"], "id": "customtokenvalue"}),
        )
        .await
        .0,
    );
    let parent = secrets[1].clone();
    secrets.push(
        t.token(&parent, json!({"policies": ["a"], "num_uses": 5}))
            .await
            .0,
    );
    let r = t
        .write(
            "auth/token/create",
            &t.root,
            json!({"type": "batch", "policies": ["a"]}),
        )
        .await
        .unwrap();
    secrets.push(auth(&r).client_token.clone());
    t.write("auth/token/roles/web", &t.root, json!({}))
        .await
        .unwrap();
    secrets.push(
        auth(
            &t.write("auth/token/create/web", &t.root, json!({}))
                .await
                .unwrap(),
        )
        .client_token
        .clone(),
    );
    // Use and renew them so updated entries are written too.
    for s in &secrets[1..] {
        let _ = t.read("auth/token/lookup-self", s).await;
        let _ = t.write("auth/token/renew-self", s, json!({})).await;
    }
    let dump = t.dump_storage().await;
    assert!(dump.iter().any(|(k, _)| k.starts_with("sys/token/id/")));
    for secret in &secrets {
        // The random part of `s.` ids, and the whole of custom ones.
        let needle = secret.trim_start_matches("s.").trim_start_matches("b.");
        let needle = &needle[..needle.len().min(40)];
        for (key, value) in &dump {
            assert!(!key.contains(needle), "token id in storage key {key}");
            let text = String::from_utf8_lossy(value);
            assert!(!text.contains(needle), "token id in the value of {key}");
        }
    }
}

#[tokio::test]
async fn tidy_endpoint() {
    let t = test_core().await;
    t.policy("a", APP_POLICY).await;
    let (parent, _) = t.token(&t.root, json!({"policies": ["a"]})).await;
    let (child, _) = t.token(&parent, json!({"policies": ["a"]})).await;
    let active = t.core.active().unwrap();
    // Simulate a lost parent entry: the child must become an orphan.
    let parent_hid = active.tokens.hash(&parent);
    active
        .barrier
        .delete(&format!("sys/token/id/{parent_hid}"))
        .await
        .unwrap();
    active.tokens.clear_cache();

    let r = t
        .write("auth/token/tidy", &t.root, json!({}))
        .await
        .unwrap();
    assert_eq!(r.status, Some(202));
    assert_eq!(
        r.warnings,
        vec!["Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs."]
    );
    for _ in 0..200 {
        if !active.tokens.tidy_in_progress() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(t.lookup(&child).await.unwrap()["orphan"], true);
    assert!(active
        .barrier
        .list(&format!("sys/token/parent/{parent_hid}/"))
        .await
        .unwrap()
        .is_empty());
    // The parent's dangling accessor index entry is gone: only root and child remain.
    let r = t.list("auth/token/accessors", &t.root).await.unwrap();
    assert_eq!(data(&r)["keys"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn unknown_paths_and_operations() {
    let t = test_core().await;
    match t.write("auth/token/nope", &t.root, json!({})).await {
        Err(CoreError::UnsupportedPath) => {}
        other => panic!("{other:?}"),
    }
    match t.read("auth/token/create", &t.root).await {
        Err(CoreError::UnsupportedOperation) => {}
        other => panic!("{other:?}"),
    }
    match t
        .call(Operation::Delete, "auth/token/lookup", &t.root, json!({}))
        .await
    {
        Err(CoreError::UnsupportedOperation) => {}
        other => panic!("{other:?}"),
    }
    denied(t.read("auth/token/lookup-self", "").await);
    denied(t.read("auth/token/lookup-self", "s.bogus").await);
}

#[tokio::test]
async fn login_tokens_renew_through_their_auth_method() {
    let t = test_core().await;
    t.write("sys/auth/userpass", &t.root, json!({"type": "userpass"}))
        .await
        .unwrap();
    t.write(
        "auth/userpass/users/alice",
        &t.root,
        json!({"password": "pw", "token_ttl": "1h", "token_max_ttl": "2h"}),
    )
    .await
    .unwrap();
    let r = t
        .write("auth/userpass/login/alice", "", json!({"password": "pw"}))
        .await
        .unwrap();
    let tok = auth(&r).client_token.clone();
    assert_eq!(auth(&r).lease_duration, 3600);
    let d = t.lookup(&tok).await.unwrap();
    assert_eq!(d["path"], "auth/userpass/login/alice");
    assert_eq!(d["display_name"], "userpass-alice");
    // The login's max TTL bounds renewals.
    let r = t
        .write("auth/token/renew-self", &tok, json!({"increment": "5h"}))
        .await
        .unwrap();
    assert_eq!(auth(&r).lease_duration, 7200);
    assert_eq!(auth(&r).client_token, tok);
    // Once the user is gone a renewal does nothing (204), as in OpenBao.
    t.call(
        Operation::Delete,
        "auth/userpass/users/alice",
        &t.root,
        json!({}),
    )
    .await
    .unwrap();
    let r = t
        .write("auth/token/renew", &t.root, json!({"token": tok}))
        .await
        .unwrap();
    assert!(r.is_empty());
}
