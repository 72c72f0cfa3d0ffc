//! approle tests through the core pipeline. Expected texts, shapes and
//! codes come from OpenBao 2.7.2 (see the `approle-*` captures and the
//! differential test in the coffer integration crate).

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{json, Value};

use super::{parse_metadata, SECRET_ID_LOCAL_PREFIX};
use crate::error::CoreError;
use crate::logical::{Operation, Request, Response};
use crate::sys::tests::{data, invalid, TestCore};

const MOUNT: &str = "auth/approle/";

async fn setup() -> TestCore {
    let t = TestCore::new().await;
    t.ok(
        Operation::Update,
        "sys/auth/approle",
        json!({"type": "approle"}),
    )
    .await;
    t
}

fn p(rest: &str) -> String {
    format!("{MOUNT}{rest}")
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().expect("ip"))
}

/// A request with an optional token and caller address.
async fn call(
    t: &TestCore,
    token: Option<&str>,
    remote: Option<IpAddr>,
    op: Operation,
    path: &str,
    body: Value,
) -> Result<Response, CoreError> {
    let mut req = Request::new(op, path).with_data(body);
    if let Some(tok) = token {
        req = req.with_token(tok);
    }
    req.remote_addr = remote;
    t.core.handle_request(req).await
}

async fn login(
    t: &TestCore,
    remote: Option<IpAddr>,
    role_id: &str,
    secret_id: &str,
) -> Result<Response, CoreError> {
    call(
        t,
        None,
        remote,
        Operation::Update,
        &p("login"),
        json!({"role_id": role_id, "secret_id": secret_id}),
    )
    .await
}

fn obj(r: &Response) -> Value {
    Value::Object(data(r).clone())
}

fn s(v: &Value) -> String {
    v.as_str().expect("string").to_string()
}

fn internal(e: &CoreError) -> &str {
    match e {
        CoreError::Internal(m) => m,
        other => panic!("expected Internal, got {other:?}"),
    }
}

/// A role with a fixed role id; returns nothing.
async fn role(t: &TestCore, name: &str, body: Value) {
    t.ok(Operation::Update, &p(&format!("role/{name}")), body)
        .await;
    t.ok(
        Operation::Update,
        &p(&format!("role/{name}/role-id")),
        json!({"role_id": format!("{name}-rid")}),
    )
    .await;
}

/// A new secret ID for `name`: (secret_id, accessor).
async fn secret(t: &TestCore, name: &str, body: Value) -> (String, String) {
    let r = t
        .ok(
            Operation::Update,
            &p(&format!("role/{name}/secret-id")),
            body,
        )
        .await;
    let d = obj(&r);
    (s(&d["secret_id"]), s(&d["secret_id_accessor"]))
}

async fn lookup(t: &TestCore, name: &str, secret_id: &str) -> Response {
    t.ok(
        Operation::Update,
        &p(&format!("role/{name}/secret-id/lookup")),
        json!({"secret_id": secret_id}),
    )
    .await
}

/// Every key and decrypted value of the mount's storage.
async fn mount_storage(t: &TestCore) -> Vec<(String, String)> {
    let active = t.active();
    let (route, _) = active.route(MOUNT).expect("mounted");
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(prefix) = stack.pop() {
        for child in route.storage.list(&prefix).await.expect("list") {
            let full = format!("{prefix}{child}");
            if child.ends_with('/') {
                stack.push(full);
            } else {
                let v = route.storage.get(&full).await.expect("get").expect("value");
                out.push((full, String::from_utf8_lossy(&v).into_owned()));
            }
        }
    }
    out.sort();
    out
}

fn is_uuid(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| uuid::Uuid::parse_str(s).is_ok() && s.len() == 36)
}

// ---------------------------------------------------------------- roles

#[tokio::test]
async fn role_crud_matches_the_capture() {
    let t = setup().await;
    let r = t
        .ok(
            Operation::Update,
            &p("role/app1"),
            json!({"token_policies": ["app"], "token_ttl": "1h", "token_max_ttl": "4h",
                   "secret_id_ttl": "10m", "secret_id_num_uses": 5, "bind_secret_id": true}),
        )
        .await;
    assert!(r.is_empty());
    let r = t.ok(Operation::Read, &p("role/app1"), json!({})).await;
    assert_eq!(
        obj(&r),
        json!({
            "bind_secret_id": true,
            "local_secret_ids": false,
            "secret_id_bound_cidrs": null,
            "secret_id_num_uses": 5,
            "secret_id_ttl": 600,
            "token_bound_cidrs": [],
            "token_explicit_max_ttl": 0,
            "token_max_ttl": 14400,
            "token_no_default_policy": false,
            "token_num_uses": 0,
            "token_period": 0,
            "token_policies": ["app"],
            "token_strictly_bind_ip": false,
            "token_ttl": 3600,
            "token_type": "default"
        })
    );
    let keys: Vec<&String> = data(&r).keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "keys in Go's map order");
    assert!(r.warnings.is_empty());

    // Names are lower-cased; the list is sorted.
    t.ok(Operation::Update, &p("role/Zeta"), json!({})).await;
    t.ok(Operation::Read, &p("role/ZETA"), json!({})).await;
    let r = t.ok(Operation::List, &p("role"), json!({})).await;
    assert_eq!(data(&r)["keys"], json!(["app1", "zeta"]));
    let r = t.ok(Operation::List, &p("role/"), json!({})).await;
    assert_eq!(data(&r)["keys"], json!(["app1", "zeta"]));
    let r = t
        .ok(
            Operation::List,
            &p("role"),
            json!({"after": "app1", "limit": 1}),
        )
        .await;
    assert_eq!(data(&r)["keys"], json!(["zeta"]));

    let e = t.err(Operation::Read, &p("role"), json!({})).await;
    assert!(matches!(e, CoreError::UnsupportedOperation), "{e:?}");
    let e = t
        .err(Operation::Update, &p("role/bad name"), json!({}))
        .await;
    assert!(matches!(e, CoreError::UnsupportedPath), "{e:?}");
    let e = t.err(Operation::Read, &p("role/app1/"), json!({})).await;
    assert!(matches!(e, CoreError::UnsupportedPath), "{e:?}");

    // An update keeps what it does not name.
    t.ok(
        Operation::Update,
        &p("role/app1"),
        json!({"secret_id_num_uses": 2}),
    )
    .await;
    let r = t.ok(Operation::Read, &p("role/app1"), json!({})).await;
    assert_eq!(data(&r)["secret_id_num_uses"], 2);
    assert_eq!(data(&r)["token_ttl"], 3600);

    for name in ["app1", "zeta", "nope"] {
        assert!(t
            .ok(Operation::Delete, &p(&format!("role/{name}")), json!({}))
            .await
            .is_empty());
    }
    let e = t.err(Operation::Read, &p("role/app1"), json!({})).await;
    assert!(matches!(e, CoreError::NotFound), "{e:?}");
    let e = t.err(Operation::List, &p("role"), json!({})).await;
    assert!(matches!(e, CoreError::NotFound), "{e:?}");
    // Nothing of the roles is left in storage (the salt stays).
    let keys: Vec<String> = mount_storage(&t)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["salt"]);
}

#[tokio::test]
async fn role_write_checks() {
    let t = setup().await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"token_ttl": "abc"}),
            "error converting input for field \"token_ttl\": time: invalid duration \"abc\"",
        ),
        (
            json!({"secret_id_num_uses": "abc"}),
            "error converting input for field \"secret_id_num_uses\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
        ),
        (
            json!({"secret_id_ttl": -1}),
            "error converting input for field \"secret_id_ttl\": cannot provide negative value '-1'",
        ),
        (
            json!({"bind_secret_id": "maybe"}),
            "error converting input for field \"bind_secret_id\": '' cannot parse value as 'bool': strconv.ParseBool: invalid syntax",
        ),
        (
            json!({"token_ttl": "2h", "token_max_ttl": "1h"}),
            "'token_ttl' cannot be greater than 'token_max_ttl'",
        ),
        (json!({"token_num_uses": -1}), "'token_num_uses' cannot be negative"),
        (
            json!({"token_type": "batch", "token_period": "1h"}),
            "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens",
        ),
        (json!({"token_type": "bogus"}), "invalid 'token_type' value \"bogus\""),
        (
            json!({"token_bound_cidrs": "bogus"}),
            "error parsing address \"bogus\": Unable to convert \"bogus\" to an IPv4 or IPv6 address, or a UNIX Socket",
        ),
        (json!({"secret_id_num_uses": -1}), "secret_id_num_uses cannot be negative"),
        (json!({"role_id": ""}), "invalid role_id supplied, or failed to generate a role_id"),
        (
            json!({"period": "2000h"}),
            "period of \"2000h0m0s\" is greater than the backend's maximum lease TTL of \"768h0m0s\"",
        ),
    ];
    for (body, msg) in cases {
        let e = t.err(Operation::Update, &p("role/r"), body.clone()).await;
        assert_eq!(invalid(&e), msg, "{body}");
    }
    let e = t.err(Operation::Read, &p("role/r"), json!({})).await;
    assert!(
        matches!(e, CoreError::NotFound),
        "nothing was created: {e:?}"
    );
    // Reads validate with the framework's prefix.
    let e = t
        .err(Operation::Read, &p("role/r"), json!({"token_ttl": "abc"}))
        .await;
    assert_eq!(
        invalid(&e),
        "Field validation failed: error converting input for field \"token_ttl\": time: invalid duration \"abc\""
    );

    // 500s in OpenBao.
    for (body, msg) in [
        (
            json!({"bind_secret_id": false}),
            "at least one constraint should be enabled on the role",
        ),
        (
            json!({"secret_id_bound_cidrs": "127.0.0.1"}),
            "failed to validate CIDR blocks: invalid CIDR address: 127.0.0.1",
        ),
    ] {
        let e = t.err(Operation::Update, &p("role/r"), body).await;
        assert_eq!(internal(&e), msg);
    }

    // A constraint other than bind_secret_id is enough.
    t.ok(
        Operation::Update,
        &p("role/r"),
        json!({"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.1/32"}),
    )
    .await;
    let r = t.ok(Operation::Read, &p("role/r"), json!({})).await;
    assert_eq!(data(&r)["secret_id_bound_cidrs"], json!(["127.0.0.1/32"]));
    let e = t
        .err(
            Operation::Update,
            &p("role/r"),
            json!({"local_secret_ids": true}),
        )
        .await;
    assert_eq!(
        invalid(&e),
        "local_secret_ids can only be modified during role creation"
    );

    // Warnings (200 instead of 204).
    let r = t
        .ok(
            Operation::Update,
            &p("role/w"),
            json!({"token_type": "default-service"}),
        )
        .await;
    assert_eq!(
        r.warnings,
        ["default-service has no useful meaning; adjusting to service"]
    );
    let r = t.ok(Operation::Read, &p("role/w"), json!({})).await;
    assert_eq!(data(&r)["token_type"], "service");
    let r = t
        .ok(
            Operation::Update,
            &p("role/w"),
            json!({"token_max_ttl": "2000h"}),
        )
        .await;
    assert_eq!(
        r.warnings,
        ["token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' max TTL value will be truncated"]
    );

    // role_id uniqueness.
    t.ok(Operation::Update, &p("role/a"), json!({"role_id": "dup"}))
        .await;
    let e = t
        .err(Operation::Update, &p("role/b"), json!({"role_id": "dup"}))
        .await;
    assert_eq!(internal(&e), "role_id already in use");
    let e = t.err(Operation::Read, &p("role/b"), json!({})).await;
    assert!(matches!(e, CoreError::NotFound), "{e:?}");

    // The deprecated names: policies are sanitised and shown; period too.
    t.ok(
        Operation::Update,
        &p("role/old"),
        json!({"local_secret_ids": true, "policies": "a,B", "period": "1h"}),
    )
    .await;
    let r = t.ok(Operation::Read, &p("role/old"), json!({})).await;
    let d = data(&r);
    assert_eq!(d["policies"], json!(["a", "b"]));
    assert_eq!(d["token_policies"], json!(["a", "b"]));
    assert_eq!(d["period"], 3600);
    assert_eq!(d["token_period"], 3600);
    assert_eq!(d["local_secret_ids"], true);
    // New names alone clear the old ones; token_policies are kept as sent.
    t.ok(
        Operation::Update,
        &p("role/old"),
        json!({"token_policies": "B,a,a, ,c", "token_period": "2h"}),
    )
    .await;
    let r = t.ok(Operation::Read, &p("role/old"), json!({})).await;
    let d = data(&r);
    assert!(d.get("policies").is_none());
    assert!(d.get("period").is_none());
    assert_eq!(d["token_policies"], json!(["B", "a", "a", "", "c"]));
    assert_eq!(d["token_period"], 7200);

    // Unknown parameters are noted only on answers with content.
    let r = t
        .ok(Operation::Update, &p("role/old"), json!({"bogus": 1}))
        .await;
    assert!(r.is_empty());
    let r = t
        .ok(Operation::Read, &p("role/old"), json!({"bogus": 1}))
        .await;
    assert_eq!(
        r.warnings,
        ["Endpoint ignored these unrecognized parameters: [bogus]"]
    );
}

#[tokio::test]
async fn role_id_read_and_set() {
    let t = setup().await;
    t.ok(Operation::Update, &p("role/app"), json!({})).await;
    let r = t
        .ok(Operation::Read, &p("role/app/role-id"), json!({}))
        .await;
    let first = data(&r)["role_id"].clone();
    assert!(is_uuid(&first), "{first}");
    assert_eq!(data(&r).len(), 1);

    let r = t
        .ok(
            Operation::Update,
            &p("role/app/role-id"),
            json!({"role_id": "my-fixed-role-id"}),
        )
        .await;
    assert!(r.is_empty());
    let r = t
        .ok(Operation::Read, &p("role/app/role-id"), json!({}))
        .await;
    assert_eq!(data(&r)["role_id"], "my-fixed-role-id");
    let e = t
        .err(Operation::Update, &p("role/app/role-id"), json!({}))
        .await;
    assert_eq!(invalid(&e), "missing role_id");

    // The old role id no longer logs in, the new one does.
    let (sid, _) = secret(&t, "app", json!({})).await;
    let e = login(&t, None, &s(&first), &sid).await.expect_err("old id");
    assert_eq!(invalid(&e), "invalid role or secret ID");
    login(&t, None, "my-fixed-role-id", &sid)
        .await
        .expect("new id");

    t.ok(Operation::Update, &p("role/other"), json!({})).await;
    let e = t
        .err(
            Operation::Update,
            &p("role/other/role-id"),
            json!({"role_id": "my-fixed-role-id"}),
        )
        .await;
    assert_eq!(internal(&e), "role_id already in use");

    let e = t
        .err(Operation::Read, &p("role/nope/role-id"), json!({}))
        .await;
    assert!(matches!(e, CoreError::NotFound), "{e:?}");
    let e = t
        .err(
            Operation::Update,
            &p("role/nope/role-id"),
            json!({"role_id": "x"}),
        )
        .await;
    assert!(matches!(e, CoreError::UnsupportedPath), "{e:?}");
    let e = t
        .err(Operation::Delete, &p("role/app/role-id"), json!({}))
        .await;
    assert!(matches!(e, CoreError::UnsupportedOperation), "{e:?}");
}

#[tokio::test]
async fn field_paths() {
    let t = setup().await;
    t.ok(Operation::Update, &p("role/sub"), json!({})).await;
    let read = |f: &'static str| {
        let t = &t;
        async move {
            obj(&t
                .ok(Operation::Read, &p(&format!("role/sub/{f}")), json!({}))
                .await)
        }
    };
    let update = |f: &'static str, body: Value| {
        let t = &t;
        async move {
            t.root(Operation::Update, &p(&format!("role/sub/{f}")), body)
                .await
        }
    };
    let delete = |f: &'static str| {
        let t = &t;
        async move {
            assert!(t
                .ok(Operation::Delete, &p(&format!("role/sub/{f}")), json!({}))
                .await
                .is_empty());
        }
    };
    let bad = |r: Result<Response, CoreError>| match r {
        Ok(r) => panic!("succeeded: {:?}", r.data),
        Err(e) => invalid(&e).to_string(),
    };

    // policies
    assert_eq!(
        bad(update("policies", json!({})).await),
        "missing token_policies"
    );
    update("policies", json!({"policies": "A, b"}))
        .await
        .expect("policies");
    assert_eq!(
        read("policies").await,
        json!({"policies": ["a", "b"], "token_policies": ["a", "b"]})
    );
    update("policies", json!({"token_policies": "B,a,a, ,c"}))
        .await
        .expect("token_policies");
    assert_eq!(
        read("policies").await,
        json!({"token_policies": ["a", "b", "c"]})
    );
    delete("policies").await;
    assert_eq!(read("policies").await, json!({"token_policies": []}));

    // secret-id-num-uses
    assert_eq!(
        bad(update("secret-id-num-uses", json!({})).await),
        "missing secret_id_num_uses"
    );
    assert_eq!(
        bad(update("secret-id-num-uses", json!({"secret_id_num_uses": -2})).await),
        "secret_id_num_uses cannot be negative"
    );
    update("secret-id-num-uses", json!({"secret_id_num_uses": 4}))
        .await
        .expect("num uses");
    assert_eq!(
        read("secret-id-num-uses").await,
        json!({"secret_id_num_uses": 4})
    );
    delete("secret-id-num-uses").await;
    assert_eq!(
        read("secret-id-num-uses").await,
        json!({"secret_id_num_uses": 0})
    );

    // secret-id-ttl
    assert_eq!(
        bad(update("secret-id-ttl", json!({})).await),
        "missing secret_id_ttl"
    );
    assert_eq!(
        bad(update("secret-id-ttl", json!({"secret_id_ttl": -5})).await),
        "Field validation failed: error converting input for field \"secret_id_ttl\": cannot provide negative value '-5'"
    );
    update("secret-id-ttl", json!({"secret_id_ttl": "1h"}))
        .await
        .expect("ttl");
    assert_eq!(read("secret-id-ttl").await, json!({"secret_id_ttl": 3600}));
    delete("secret-id-ttl").await;
    assert_eq!(read("secret-id-ttl").await, json!({"secret_id_ttl": 0}));

    // token-ttl / token-max-ttl
    update("token-max-ttl", json!({"token_max_ttl": "1h"}))
        .await
        .expect("max");
    assert_eq!(
        bad(update("token-ttl", json!({"token_ttl": "2h"})).await),
        "token_ttl should not be greater than token_max_ttl"
    );
    assert_eq!(
        bad(update("token-ttl", json!({})).await),
        "missing token_ttl"
    );
    update("token-ttl", json!({"token_ttl": "30m"}))
        .await
        .expect("ttl");
    assert_eq!(
        bad(update("token-max-ttl", json!({"token_max_ttl": "10m"})).await),
        "token_max_ttl should be greater than or equal to token_ttl"
    );
    assert_eq!(
        bad(update("token-max-ttl", json!({})).await),
        "missing token_max_ttl"
    );
    assert_eq!(read("token-ttl").await, json!({"token_ttl": 1800}));
    assert_eq!(read("token-max-ttl").await, json!({"token_max_ttl": 3600}));
    delete("token-max-ttl").await;
    delete("token-ttl").await;
    assert_eq!(read("token-ttl").await, json!({"token_ttl": 0}));

    // token-num-uses (no sign check in OpenBao)
    assert_eq!(
        bad(update("token-num-uses", json!({})).await),
        "missing token_num_uses"
    );
    update("token-num-uses", json!({"token_num_uses": 3}))
        .await
        .expect("uses");
    assert_eq!(read("token-num-uses").await, json!({"token_num_uses": 3}));
    delete("token-num-uses").await;
    assert_eq!(read("token-num-uses").await, json!({"token_num_uses": 0}));

    // period
    assert_eq!(bad(update("period", json!({})).await), "missing period");
    update("period", json!({"period": "1h"}))
        .await
        .expect("period");
    assert_eq!(
        read("period").await,
        json!({"period": 3600, "token_period": 3600})
    );
    update("period", json!({"token_period": "2h"}))
        .await
        .expect("token_period");
    assert_eq!(read("period").await, json!({"token_period": 7200}));
    assert_eq!(
        bad(update("period", json!({"token_period": "2000h"})).await),
        "period of \"0s\" is greater than the backend's maximum lease TTL of \"768h0m0s\""
    );
    delete("period").await;
    assert_eq!(read("period").await, json!({"token_period": 0}));

    // secret-id-bound-cidrs / bound-cidr-list / token-bound-cidrs
    assert_eq!(
        read("secret-id-bound-cidrs").await,
        json!({"secret_id_bound_cidrs": null})
    );
    update("secret-id-bound-cidrs", json!({}))
        .await
        .expect("no change");
    assert_eq!(
        bad(update(
            "secret-id-bound-cidrs",
            json!({"secret_id_bound_cidrs": ""})
        )
        .await),
        "missing bound_cidr_list"
    );
    assert_eq!(
        bad(update(
            "secret-id-bound-cidrs",
            json!({"secret_id_bound_cidrs": "bogus"})
        )
        .await),
        "failed to validate CIDR blocks: invalid CIDR address: bogus"
    );
    update(
        "secret-id-bound-cidrs",
        json!({"secret_id_bound_cidrs": "127.0.0.1/32, 10.0.0.0/8"}),
    )
    .await
    .expect("cidrs");
    assert_eq!(
        read("secret-id-bound-cidrs").await,
        json!({"secret_id_bound_cidrs": ["127.0.0.1/32", "10.0.0.0/8"]})
    );
    let r = t
        .ok(Operation::Read, &p("role/sub/bound-cidr-list"), json!({}))
        .await;
    assert_eq!(obj(&r), json!({"bound_cidr_list": null}));
    assert_eq!(
        r.warnings,
        ["The \"bound_cidr_list\" field is deprecated and will be removed. Please use \"secret_id_bound_cidrs\" instead."]
    );
    assert_eq!(
        read("token-bound-cidrs").await,
        json!({"token_bound_cidrs": null})
    );
    assert_eq!(
        bad(update("token-bound-cidrs", json!({"token_bound_cidrs": "bogus"})).await),
        "failed to parse token_bound_cidrs: error parsing address \"bogus\": Unable to convert \"bogus\" to an IPv4 or IPv6 address, or a UNIX Socket"
    );
    update(
        "token-bound-cidrs",
        json!({"token_bound_cidrs": "127.0.0.1,10.0.0.0/8"}),
    )
    .await
    .expect("token cidrs");
    assert_eq!(
        read("token-bound-cidrs").await,
        json!({"token_bound_cidrs": ["127.0.0.1", "10.0.0.0/8"]})
    );
    delete("secret-id-bound-cidrs").await;
    delete("token-bound-cidrs").await;
    assert_eq!(
        read("secret-id-bound-cidrs").await,
        json!({"secret_id_bound_cidrs": null})
    );
    assert_eq!(
        read("token-bound-cidrs").await,
        json!({"token_bound_cidrs": null})
    );
    assert_eq!(
        read("local-secret-ids").await,
        json!({"local_secret_ids": false})
    );

    // OpenBao 2.7.2 does not route bind-secret-id.
    for op in [Operation::Read, Operation::Update, Operation::Delete] {
        let e = t
            .err(
                op,
                &p("role/sub/bind-secret-id"),
                json!({"bind_secret_id": true}),
            )
            .await;
        assert!(matches!(e, CoreError::UnsupportedPath), "{e:?}");
    }
    // Operations a field path does not have.
    let e = t
        .err(
            Operation::Update,
            &p("role/sub/local-secret-ids"),
            json!({}),
        )
        .await;
    assert!(matches!(e, CoreError::UnsupportedOperation), "{e:?}");

    // A missing role: updates are unsupported paths, reads 404, deletes no-ops.
    for f in [
        "policies",
        "secret-id-num-uses",
        "token-ttl",
        "period",
        "secret-id-bound-cidrs",
    ] {
        let path = p(&format!("role/nope/{f}"));
        let e = t.err(Operation::Update, &path, json!({"x": 1})).await;
        assert!(matches!(e, CoreError::UnsupportedPath), "{f}: {e:?}");
        let e = t.err(Operation::Read, &path, json!({})).await;
        assert!(matches!(e, CoreError::NotFound), "{f}: {e:?}");
        assert!(t.ok(Operation::Delete, &path, json!({})).await.is_empty());
    }

    // Removing the last constraint is refused.
    t.ok(
        Operation::Update,
        &p("role/cidr-only"),
        json!({"bind_secret_id": false, "secret_id_bound_cidrs": "10.0.0.0/8"}),
    )
    .await;
    let e = t
        .err(
            Operation::Delete,
            &p("role/cidr-only/secret-id-bound-cidrs"),
            json!({}),
        )
        .await;
    assert_eq!(
        internal(&e),
        "at least one constraint should be enabled on the role"
    );
}

// ---------------------------------------------------------------- secret IDs

#[tokio::test]
async fn secret_id_lifecycle_matches_the_captures() {
    let t = setup().await;
    role(
        &t,
        "app1",
        json!({"token_policies": ["app"], "token_ttl": "1h", "token_max_ttl": "4h",
               "secret_id_ttl": "10m", "secret_id_num_uses": 5}),
    )
    .await;
    let r = t
        .ok(
            Operation::Update,
            &p("role/app1/secret-id"),
            json!({"metadata": "{\"env\":\"dev\"}"}),
        )
        .await;
    let d = obj(&r);
    assert_eq!(
        data(&r).keys().collect::<Vec<_>>(),
        [
            "secret_id",
            "secret_id_accessor",
            "secret_id_num_uses",
            "secret_id_ttl"
        ]
    );
    assert!(is_uuid(&d["secret_id"]) && is_uuid(&d["secret_id_accessor"]));
    assert_eq!(d["secret_id_num_uses"], 5);
    assert_eq!(d["secret_id_ttl"], 600);
    let (sid, acc) = (s(&d["secret_id"]), s(&d["secret_id_accessor"]));

    let r = t
        .ok(Operation::List, &p("role/app1/secret-id"), json!({}))
        .await;
    assert_eq!(data(&r)["keys"], json!([acc]));

    let r = lookup(&t, "app1", &sid).await;
    let d = obj(&r);
    assert_eq!(
        data(&r).keys().collect::<Vec<_>>(),
        [
            "cidr_list",
            "creation_time",
            "expiration_time",
            "last_updated_time",
            "metadata",
            "secret_id_accessor",
            "secret_id_num_uses",
            "secret_id_ttl",
            "token_bound_cidrs"
        ]
    );
    assert_eq!(d["cidr_list"], json!([]));
    assert_eq!(d["token_bound_cidrs"], json!([]));
    assert_eq!(d["metadata"], json!({"env": "dev"}));
    assert_eq!(d["secret_id_accessor"], acc.as_str());
    assert_eq!(d["secret_id_num_uses"], 5);
    assert_eq!(d["secret_id_ttl"], 600);
    let created = chrono::DateTime::parse_from_rfc3339(&s(&d["creation_time"])).expect("time");
    let expires = chrono::DateTime::parse_from_rfc3339(&s(&d["expiration_time"])).expect("time");
    assert_eq!((expires - created).num_seconds(), 600);
    assert_eq!(d["creation_time"], d["last_updated_time"]);
    assert!(s(&d["creation_time"]).ends_with('Z'));

    let r = t
        .ok(
            Operation::Update,
            &p("role/app1/secret-id-accessor/lookup"),
            json!({"secret_id_accessor": acc}),
        )
        .await;
    assert_eq!(obj(&r), d);

    // Custom secret IDs.
    let r = t
        .ok(
            Operation::Update,
            &p("role/app1/custom-secret-id"),
            json!({"secret_id": "my-custom-secret"}),
        )
        .await;
    let c = obj(&r);
    assert_eq!(c["secret_id"], "my-custom-secret");
    assert_eq!(c["secret_id_num_uses"], 5);
    assert_eq!(c["secret_id_ttl"], 600);
    let e = t
        .err(
            Operation::Update,
            &p("role/app1/custom-secret-id"),
            json!({"secret_id": "my-custom-secret"}),
        )
        .await;
    assert_eq!(
        internal(&e),
        "failed to store secret_id: SecretID is already registered"
    );
    let e = t
        .err(
            Operation::Update,
            &p("role/app1/custom-secret-id"),
            json!({}),
        )
        .await;
    assert_eq!(invalid(&e), "missing secret_id");
    let r = t
        .ok(Operation::List, &p("role/app1/secret-id"), json!({}))
        .await;
    assert_eq!(data(&r)["keys"].as_array().map(Vec::len), Some(2));

    // Destroy by secret ID, then by accessor.
    let r = t
        .ok(
            Operation::Update,
            &p("role/app1/secret-id/destroy"),
            json!({"secret_id": "my-custom-secret"}),
        )
        .await;
    assert!(r.is_empty());
    assert!(lookup(&t, "app1", "my-custom-secret").await.is_empty());
    let r = t
        .ok(
            Operation::Delete,
            &p("role/app1/secret-id-accessor/destroy"),
            json!({"secret_id_accessor": acc}),
        )
        .await;
    assert!(r.is_empty());
    assert!(lookup(&t, "app1", &sid).await.is_empty());
    let e = t
        .err(Operation::List, &p("role/app1/secret-id"), json!({}))
        .await;
    assert!(matches!(e, CoreError::NotFound), "{e:?}");

    // Unknown secret IDs and accessors.
    assert!(t
        .ok(
            Operation::Update,
            &p("role/app1/secret-id/destroy"),
            json!({"secret_id": "nope"}),
        )
        .await
        .is_empty());
    let r = t
        .ok(
            Operation::Update,
            &p("role/app1/secret-id-accessor/lookup"),
            json!({"secret_id_accessor": "nope"}),
        )
        .await;
    assert_eq!(r.status, Some(404));
    assert_eq!(
        obj(&r),
        json!({"error": "failed to find accessor entry for secret_id_accessor: \"nope\""})
    );
    let e = t
        .err(
            Operation::Update,
            &p("role/app1/secret-id-accessor/destroy"),
            json!({"secret_id_accessor": "nope"}),
        )
        .await;
    assert_eq!(
        internal(&e),
        "failed to find accessor entry for secret_id_accessor: \"nope\""
    );
    for (path, body, msg) in [
        ("secret-id/lookup", json!({}), "missing secret_id"),
        ("secret-id/destroy", json!({}), "missing secret_id"),
        (
            "secret-id-accessor/lookup",
            json!({}),
            "missing secret_id_accessor",
        ),
        (
            "secret-id-accessor/destroy",
            json!({}),
            "missing secret_id_accessor",
        ),
    ] {
        let e = t
            .err(Operation::Update, &p(&format!("role/app1/{path}")), body)
            .await;
        assert_eq!(invalid(&e), msg, "{path}");
    }

    // A missing role: 404 with the message for generation, 400 for the
    // list, 500 for the rest.
    let r = t
        .ok(Operation::Update, &p("role/nope/secret-id"), json!({}))
        .await;
    let raw = r.raw.expect("raw error");
    assert_eq!(raw.status, 404);
    assert_eq!(
        String::from_utf8_lossy(&raw.body),
        "{\"errors\":[\"role \\\"nope\\\" does not exist\"]}\n"
    );
    let e = t
        .err(Operation::List, &p("role/nope/secret-id"), json!({}))
        .await;
    assert_eq!(invalid(&e), "role \"nope\" does not exist");
    for (path, body) in [
        ("secret-id/lookup", json!({"secret_id": "x"})),
        ("secret-id/destroy", json!({"secret_id": "x"})),
        (
            "secret-id-accessor/lookup",
            json!({"secret_id_accessor": "x"}),
        ),
    ] {
        let e = t
            .err(Operation::Update, &p(&format!("role/nope/{path}")), body)
            .await;
        assert_eq!(internal(&e), "role \"nope\" does not exist", "{path}");
    }
    let e = t
        .err(Operation::Read, &p("role/app1/secret-id"), json!({}))
        .await;
    assert!(matches!(e, CoreError::UnsupportedOperation), "{e:?}");
}

#[tokio::test]
async fn secret_id_generation_checks() {
    let t = setup().await;
    role(
        &t,
        "app",
        json!({"secret_id_ttl": "10m", "secret_id_num_uses": 3,
               "secret_id_bound_cidrs": "127.0.0.0/8", "token_bound_cidrs": "10.0.0.0/8"}),
    )
    .await;
    let gen = |body: Value| {
        let t = &t;
        async move {
            t.root(Operation::Update, &p("role/app/secret-id"), body)
                .await
        }
    };
    for (body, msg) in [
        (json!({"num_uses": 5}), "num_uses cannot be higher than the role's secret_id_num_uses"),
        (json!({"num_uses": 0}), "num_uses cannot be higher than the role's secret_id_num_uses"),
        (json!({"num_uses": -1}), "num_uses cannot be negative"),
        (json!({"ttl": "20m"}), "ttl cannot be longer than the role's secret_id_ttl"),
        (json!({"ttl": 0}), "ttl cannot be longer than the role's secret_id_ttl"),
        (
            json!({"metadata": "notjson"}),
            "failed to parse metadata: failed to parse the input: invalid <key,value> format",
        ),
        (
            json!({"metadata": "{\"a\":1}"}),
            "failed to parse metadata: failed to parse the input: invalid <key,value> format",
        ),
        (
            json!({"ttl": "abc"}),
            "Field validation failed: error converting input for field \"ttl\": time: invalid duration \"abc\"",
        ),
        (
            json!({"num_uses": "abc"}),
            "Field validation failed: error converting input for field \"num_uses\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
        ),
    ] {
        let e = gen(body.clone()).await.expect_err("refused");
        assert_eq!(invalid(&e), msg, "{body}");
    }
    for (body, msg) in [
        (
            json!({"cidr_list": "bogus"}),
            "failed to validate CIDR blocks: invalid CIDR address: bogus",
        ),
        (
            json!({"cidr_list": "127.0.0.1"}),
            "failed to validate CIDR blocks: invalid CIDR address: 127.0.0.1",
        ),
        (
            json!({"token_bound_cidrs": "127.0.0.1"}),
            "failed to validate token CIDR blocks: invalid CIDR address: 127.0.0.1",
        ),
    ] {
        let e = gen(body.clone()).await.expect_err("refused");
        assert_eq!(internal(&e), msg, "{body}");
    }
    // CIDRs on a secret ID must lie within the role's.
    for body in [
        json!({"cidr_list": "10.0.0.0/8"}),
        json!({"cidr_list": "0.0.0.0/0"}),
        json!({"token_bound_cidrs": "192.168.0.0/16"}),
    ] {
        let e = gen(body.clone()).await.expect_err("not a subset");
        assert!(
            internal(&e).starts_with("failed to verify subset relationship"),
            "{body}: {e:?}"
        );
    }
    let r = gen(
        json!({"cidr_list": "127.0.0.1/32,127.1.0.0/16", "token_bound_cidrs": "10.1.0.0/16",
                        "num_uses": 2, "ttl": "5m", "metadata": "Env=Dev, team=X"}),
    )
    .await
    .expect("within limits");
    let d = obj(&r);
    assert_eq!(d["secret_id_num_uses"], 2);
    assert_eq!(d["secret_id_ttl"], 300);
    let l = obj(&lookup(&t, "app", &s(&d["secret_id"])).await);
    assert_eq!(l["cidr_list"], json!(["127.0.0.1/32", "127.1.0.0/16"]));
    assert_eq!(l["token_bound_cidrs"], json!(["10.1.0.0/16"]));
    assert_eq!(l["metadata"], json!({"env": "dev", "team": "x"}));
    // Unknown parameters are noted.
    let r = gen(json!({"foo": 1, "bar": 2})).await.expect("generated");
    assert_eq!(
        r.warnings,
        ["Endpoint ignored these unrecognized parameters: [bar foo]"]
    );

    // Without limits on the role any values go; the mount caps the TTL.
    role(&t, "free", json!({})).await;
    let r = t
        .ok(
            Operation::Update,
            &p("role/free/secret-id"),
            json!({"num_uses": 0, "ttl": "2000h"}),
        )
        .await;
    assert_eq!(data(&r)["secret_id_ttl"], 768 * 3600);
    assert_eq!(data(&r)["secret_id_num_uses"], 0);
    let l = obj(&lookup(&t, "free", &s(&data(&r)["secret_id"])).await);
    assert_eq!(l["secret_id_ttl"], 2000 * 3600);
    let r = t
        .ok(Operation::Update, &p("role/free/secret-id"), json!({}))
        .await;
    assert_eq!(data(&r)["secret_id_ttl"], 0);
    let l = obj(&lookup(&t, "free", &s(&data(&r)["secret_id"])).await);
    assert_eq!(l["expiration_time"], "0001-01-01T00:00:00Z");
    assert_eq!(l["metadata"], json!({}));

    // No secret IDs for a role that does not bind them.
    role(
        &t,
        "nobind",
        json!({"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.1/32"}),
    )
    .await;
    for path in ["secret-id", "custom-secret-id"] {
        let e = t
            .err(
                Operation::Update,
                &p(&format!("role/nobind/{path}")),
                json!({"secret_id": "c"}),
            )
            .await;
        assert_eq!(invalid(&e), "bind_secret_id is not set on the role");
    }
}

#[test]
fn metadata_formats() {
    let m = |s: &str| parse_metadata(s).map(|m| json!(m));
    assert_eq!(m(""), Ok(json!({})));
    assert_eq!(m("{\"Env\":\"Dev\"}"), Ok(json!({"Env": "Dev"})));
    // Valid base64 is decoded first, as in Go: "null" is not JSON null here.
    assert!(m("null").is_err());
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode("{\"a\":\"b\"}");
    assert_eq!(m(&b64), Ok(json!({"a": "b"})));
    let b64 = base64::engine::general_purpose::STANDARD.encode("k=V");
    assert_eq!(m(&b64), Ok(json!({"k": "v"})));
    assert_eq!(m("a=1, B=2,,a=1"), Ok(json!({"a": "1", "b": "2"})));
    assert_eq!(
        m("a=b=c"),
        Err("failed to parse the input: invalid <key,value> format".into())
    );
    assert_eq!(
        m("a="),
        Err("failed to parse the input: invalid <key,value> pair: key: \"a\" value: \"\"".into())
    );
    assert_eq!(m("{\"a\":\"\"}"), Err("invalid value for key \"a\"".into()));
}

#[tokio::test]
async fn secret_ids_are_stored_only_as_hmacs() {
    let t = setup().await;
    role(&t, "app", json!({})).await;
    let (sid, acc) = secret(&t, "app", json!({"metadata": "k=v"})).await;
    t.ok(
        Operation::Update,
        &p("role/app/custom-secret-id"),
        json!({"secret_id": "custom-secret-value"}),
    )
    .await;
    let stored = mount_storage(&t).await;
    for (k, v) in &stored {
        for secret in [sid.as_str(), "custom-secret-value"] {
            assert!(!k.contains(secret), "{k} holds {secret}");
            assert!(!v.contains(secret), "{k} = {v} holds {secret}");
        }
        // Role ids and accessors are indexed by salted hashes only.
        for id in [acc.as_str(), "app-rid"] {
            assert!(!k.contains(id), "{k} names {id}");
        }
    }
    let prefixes: Vec<&str> = stored
        .iter()
        .map(|(k, _)| k.split('/').next().unwrap_or_default())
        .collect();
    assert_eq!(
        prefixes,
        [
            "accessor",
            "accessor",
            "role",
            "role_id",
            "salt",
            "secret_id",
            "secret_id"
        ]
    );
    // Local secret IDs live apart.
    role(&t, "local", json!({"local_secret_ids": true})).await;
    secret(&t, "local", json!({})).await;
    let stored = mount_storage(&t).await;
    assert!(stored
        .iter()
        .any(|(k, _)| k.starts_with(SECRET_ID_LOCAL_PREFIX)));
    assert!(stored.iter().any(|(k, _)| k.starts_with("accessor_local/")));
    let r = t
        .ok(
            Operation::Read,
            &p("role/local/local-secret-ids"),
            json!({}),
        )
        .await;
    assert_eq!(obj(&r), json!({"local_secret_ids": true}));
}

// ---------------------------------------------------------------- login

#[tokio::test]
async fn login_mints_a_token() {
    let t = setup().await;
    role(
        &t,
        "app1",
        json!({"token_policies": ["app"], "token_ttl": "1h", "token_max_ttl": "4h",
               "secret_id_ttl": "10m", "secret_id_num_uses": 5, "token_num_uses": 7}),
    )
    .await;
    let (sid, _) = secret(&t, "app1", json!({"metadata": "{\"env\":\"dev\"}"})).await;
    let r = login(&t, None, "app1-rid", &sid).await.expect("login");
    assert!(r.data.is_none() && r.warnings.is_empty());
    let auth = r.auth.expect("auth");
    assert!(auth.client_token.starts_with("s."), "{}", auth.client_token);
    assert_eq!(auth.policies, ["app", "default"]);
    assert_eq!(auth.token_policies, auth.policies);
    assert_eq!(
        auth.metadata,
        Some(
            [
                ("env".to_string(), "dev".to_string()),
                ("role_name".to_string(), "app1".to_string())
            ]
            .into()
        )
    );
    assert_eq!(auth.lease_duration, 3600);
    assert!(auth.renewable);
    assert_eq!(auth.token_type, "service");
    assert!(auth.orphan);
    assert_eq!(auth.num_uses, 7);
    let entry = t
        .active()
        .tokens
        .lookup(&auth.client_token)
        .await
        .expect("lookup")
        .expect("live token");
    assert_eq!(entry.display_name, "approle");
    assert_eq!(entry.path, "auth/approle/login");
    assert_eq!(entry.internal.get("role_name"), Some(&json!("app1")));

    // Unknown parameters are noted next to the token.
    let r = call(
        &t,
        None,
        None,
        Operation::Update,
        &p("login"),
        json!({"role_id": "app1-rid", "secret_id": sid, "zzz": 1}),
    )
    .await
    .expect("login");
    assert_eq!(
        r.warnings,
        ["Endpoint ignored these unrecognized parameters: [zzz]"]
    );

    // Refusals.
    for (body, msg) in [
        (
            json!({"role_id": "app1-rid", "secret_id": "wrong"}),
            "invalid role or secret ID",
        ),
        (
            json!({"role_id": "nope", "secret_id": "wrong"}),
            "invalid role or secret ID",
        ),
        (json!({"role_id": "app1-rid"}), "missing secret_id"),
        (
            json!({"role_id": "app1-rid", "secret_id": "  "}),
            "missing secret_id",
        ),
    ] {
        let e = call(&t, None, None, Operation::Update, &p("login"), body.clone())
            .await
            .expect_err("refused");
        assert_eq!(invalid(&e), msg, "{body}");
    }
    for body in [json!({}), json!({"role_id": " "})] {
        let e = call(&t, None, None, Operation::Update, &p("login"), body)
            .await
            .expect_err("refused");
        assert_eq!(internal(&e), "missing role_id");
    }
    let e = call(
        &t,
        None,
        None,
        Operation::Update,
        &p("login"),
        json!({"role_id": "x", "secret_id": {}}),
    )
    .await
    .expect_err("bad type");
    assert!(internal(&e)
        .starts_with("Field validation failed: error converting input for field \"secret_id\""));
    // Other operations: the role id is checked first (a 500 without one),
    // then a plain 405; a list names `login/`, which needs a token.
    for op in [Operation::Read, Operation::Delete] {
        let e = call(&t, None, None, op, &p("login"), json!({}))
            .await
            .expect_err("no role id");
        assert_eq!(internal(&e), "missing role_id");
        let r = call(&t, None, None, op, &p("login"), json!({"role_id": "nope"}))
            .await
            .expect("raw 405");
        let raw = r.raw.expect("raw");
        assert_eq!(raw.status, 405);
        assert_eq!(
            String::from_utf8_lossy(&raw.body),
            "{\"errors\":[\"unsupported operation\"]}\n"
        );
    }
    let e = call(&t, None, None, Operation::List, &p("login"), json!({}))
        .await
        .expect_err("list");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
    let e = call(&t, None, None, Operation::Update, &p("login/"), json!({}))
        .await
        .expect_err("login/");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
    // The rest of the mount needs a token, and the token's policies.
    let e = call(&t, None, None, Operation::Read, &p("role/app1"), json!({}))
        .await
        .expect_err("no token");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
    let e = call(
        &t,
        Some(&auth.client_token),
        None,
        Operation::Read,
        &p("role/app1"),
        json!({}),
    )
    .await
    .expect_err("no policy");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
}

#[tokio::test]
async fn login_uses_up_a_limited_secret_id() {
    let t = setup().await;
    role(&t, "app", json!({"secret_id_num_uses": 3})).await;
    let (sid, acc) = secret(&t, "app", json!({})).await;
    let uses = |r: Response| obj(&r)["secret_id_num_uses"].clone();
    let before = obj(&lookup(&t, "app", &sid).await);
    login(&t, None, "app-rid", &sid).await.expect("first");
    let after = obj(&lookup(&t, "app", &sid).await);
    assert_eq!(after["secret_id_num_uses"], 2);
    assert_eq!(after["creation_time"], before["creation_time"]);
    assert_ne!(after["last_updated_time"], before["last_updated_time"]);
    login(&t, None, "app-rid", &sid).await.expect("second");
    assert_eq!(uses(lookup(&t, "app", &sid).await), 1);
    login(&t, None, "app-rid", &sid).await.expect("last");
    // Gone with its last use: the secret ID, its accessor, the listing.
    assert!(lookup(&t, "app", &sid).await.is_empty());
    let r = t
        .ok(
            Operation::Update,
            &p("role/app/secret-id-accessor/lookup"),
            json!({"secret_id_accessor": acc}),
        )
        .await;
    assert_eq!(r.status, Some(404));
    let e = t
        .err(Operation::List, &p("role/app/secret-id"), json!({}))
        .await;
    assert!(matches!(e, CoreError::NotFound), "{e:?}");
    let e = login(&t, None, "app-rid", &sid).await.expect_err("used up");
    assert_eq!(invalid(&e), "invalid role or secret ID");
    let keys: Vec<String> = mount_storage(&t)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(
        !keys
            .iter()
            .any(|k| k.starts_with("secret_id/") || k.starts_with("accessor/")),
        "{keys:?}"
    );

    // Unlimited secret IDs stay.
    role(&t, "free", json!({})).await;
    let (sid, _) = secret(&t, "free", json!({})).await;
    for _ in 0..3 {
        login(&t, None, "free-rid", &sid).await.expect("login");
    }
    assert_eq!(uses(lookup(&t, "free", &sid).await), 0);

    // Concurrent logins never use a secret ID more often than allowed.
    let (sid, _) = secret(&t, "app", json!({"num_uses": 2})).await;
    let t = std::sync::Arc::new(t);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (t, sid) = (t.clone(), sid.clone());
        tasks.push(tokio::spawn(async move {
            login(&t, None, "app-rid", &sid).await.is_ok()
        }));
    }
    let mut ok = 0;
    for task in tasks {
        if task.await.expect("task") {
            ok += 1;
        }
    }
    assert_eq!(ok, 2);
}

#[tokio::test]
async fn login_checks_cidrs() {
    let t = setup().await;
    let local = ip("127.0.0.1");
    let outside = ip("192.168.1.1");

    // On the role.
    role(
        &t,
        "c1",
        json!({"secret_id_bound_cidrs": "127.0.0.1/32", "token_policies": "p"}),
    )
    .await;
    let (sid, _) = secret(&t, "c1", json!({})).await;
    login(&t, local, "c1-rid", &sid).await.expect("inside");
    let e = login(&t, outside, "c1-rid", &sid)
        .await
        .expect_err("outside");
    assert_eq!(
        invalid(&e),
        "source address \"192.168.1.1\" unauthorized by CIDR restrictions on the role: %!w(<nil>)"
    );
    let e = login(&t, None, "c1-rid", &sid)
        .await
        .expect_err("no address");
    assert_eq!(internal(&e), "failed to get connection information");
    t.ok(
        Operation::Update,
        &p("role/c1/secret-id-bound-cidrs"),
        json!({"secret_id_bound_cidrs": "10.0.0.0/8"}),
    )
    .await;
    let e = login(&t, local, "c1-rid", &sid).await.expect_err("moved");
    assert_eq!(
        invalid(&e),
        "source address \"127.0.0.1\" unauthorized by CIDR restrictions on the role: %!w(<nil>)"
    );

    // On the secret ID (unlimited, then limited: other wording).
    role(&t, "c2", json!({"token_policies": "p"})).await;
    let (sid, _) = secret(&t, "c2", json!({"cidr_list": "10.0.0.0/8"})).await;
    let e = login(&t, local, "c2-rid", &sid).await.expect_err("outside");
    assert_eq!(
        invalid(&e),
        "source address \"127.0.0.1\" unauthorized through CIDR restrictions on the secret ID"
    );
    login(&t, ip("10.1.2.3"), "c2-rid", &sid)
        .await
        .expect("inside");
    let (sid, _) = secret(&t, "c2", json!({"cidr_list": "10.0.0.0/8", "num_uses": 2})).await;
    let e = login(&t, local, "c2-rid", &sid).await.expect_err("outside");
    assert_eq!(
        invalid(&e),
        "source address \"127.0.0.1\" unauthorized by CIDR restrictions on the secret ID: %!w(<nil>)"
    );
    // A refused login does not use the secret ID up.
    assert_eq!(obj(&lookup(&t, "c2", &sid).await)["secret_id_num_uses"], 2);

    // Token CIDRs: the secret ID's win over the role's.
    role(
        &t,
        "c3",
        json!({"token_bound_cidrs": "127.0.0.1/32", "token_policies": "p"}),
    )
    .await;
    let (sid, _) = secret(&t, "c3", json!({})).await;
    let auth = login(&t, local, "c3-rid", &sid)
        .await
        .expect("login")
        .auth
        .expect("auth");
    let entry = t
        .active()
        .tokens
        .lookup(&auth.client_token)
        .await
        .expect("lookup")
        .expect("token");
    assert_eq!(entry.bound_cidrs, ["127.0.0.1"]);
    role(&t, "c4", json!({"token_policies": "p"})).await;
    let (sid, _) = secret(
        &t,
        "c4",
        json!({"cidr_list": "127.0.0.0/8", "token_bound_cidrs": "10.0.0.0/8"}),
    )
    .await;
    let auth = login(&t, local, "c4-rid", &sid)
        .await
        .expect("login")
        .auth
        .expect("auth");
    let self_lookup = |addr: Option<IpAddr>| {
        let (t, tok) = (&t, auth.client_token.clone());
        async move {
            call(
                t,
                Some(&tok),
                addr,
                Operation::Read,
                "auth/token/lookup-self",
                json!({}),
            )
            .await
        }
    };
    let e = self_lookup(local).await.expect_err("token bound elsewhere");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
    self_lookup(ip("10.9.9.9"))
        .await
        .expect("inside the token CIDRs");

    // token_strictly_bind_ip is overridden by approle's token CIDRs.
    role(
        &t,
        "c5",
        json!({"token_strictly_bind_ip": true, "token_policies": "p"}),
    )
    .await;
    let (sid, _) = secret(&t, "c5", json!({})).await;
    let auth = login(&t, local, "c5-rid", &sid)
        .await
        .expect("login")
        .auth
        .expect("auth");
    let entry = t
        .active()
        .tokens
        .lookup(&auth.client_token)
        .await
        .expect("lookup")
        .expect("token");
    assert!(entry.bound_cidrs.is_empty(), "{:?}", entry.bound_cidrs);
}

#[tokio::test]
async fn login_without_a_secret_id() {
    let t = setup().await;
    role(
        &t,
        "c3",
        json!({"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.0/8",
               "token_policies": "p", "token_num_uses": 2, "token_type": "service",
               "token_period": "30m"}),
    )
    .await;
    for body in [
        json!({"role_id": "c3-rid"}),
        json!({"role_id": "c3-rid", "secret_id": "whatever"}),
    ] {
        let r = call(
            &t,
            None,
            ip("127.0.0.1"),
            Operation::Update,
            &p("login"),
            body,
        )
        .await
        .expect("login");
        let auth = r.auth.expect("auth");
        assert_eq!(auth.lease_duration, 1800);
        assert_eq!(auth.num_uses, 2);
        assert_eq!(auth.token_type, "service");
        assert_eq!(
            auth.metadata,
            Some([("role_name".to_string(), "c3".to_string())].into())
        );
    }
    let e = call(
        &t,
        None,
        ip("10.0.0.1"),
        Operation::Update,
        &p("login"),
        json!({"role_id": "c3-rid"}),
    )
    .await
    .expect_err("outside");
    assert!(invalid(&e).contains("unauthorized by CIDR restrictions on the role"));

    // Batch tokens.
    role(
        &t,
        "bt",
        json!({"token_type": "batch", "token_policies": "p"}),
    )
    .await;
    let (sid, _) = secret(&t, "bt", json!({})).await;
    let auth = login(&t, None, "bt-rid", &sid)
        .await
        .expect("login")
        .auth
        .expect("auth");
    assert_eq!(auth.token_type, "batch");
    assert!(!auth.renewable);
    assert!(auth.accessor.is_empty());
}

#[tokio::test]
async fn expired_secret_ids_are_refused_and_tidied() {
    let t = setup().await;
    role(&t, "ex", json!({"secret_id_ttl": "1s"})).await;
    let (sid, acc) = secret(&t, "ex", json!({})).await;
    let (keep, _) = secret(&t, "ex", json!({"ttl": "1s"})).await;
    t.ok(
        Operation::Update,
        &p("role/ex/secret-id-ttl"),
        json!({"secret_id_ttl": 0}),
    )
    .await;
    let (forever, forever_acc) = secret(&t, "ex", json!({})).await;
    assert_eq!(obj(&lookup(&t, "ex", &sid).await)["secret_id_ttl"], 1);
    tokio::time::sleep(Duration::from_millis(1300)).await;

    let e = login(&t, None, "ex-rid", &sid).await.expect_err("expired");
    assert_eq!(invalid(&e), "invalid role or secret ID");
    assert!(lookup(&t, "ex", &sid).await.is_empty());
    let r = t
        .ok(
            Operation::Update,
            &p("role/ex/secret-id-accessor/lookup"),
            json!({"secret_id_accessor": acc}),
        )
        .await;
    assert!(r.is_empty());
    // Still listed until tidied.
    let r = t
        .ok(Operation::List, &p("role/ex/secret-id"), json!({}))
        .await;
    assert_eq!(data(&r)["keys"].as_array().map(Vec::len), Some(3));
    login(&t, None, "ex-rid", &forever)
        .await
        .expect("no expiry");

    // An orphaned accessor index is tidied too.
    let active = t.active();
    let (route, _) = active.route(MOUNT).expect("mounted");
    route
        .storage
        .put_json("accessor/dangling", &json!({"secret_id_hmac": "gone"}))
        .await
        .expect("put");

    let r = t
        .ok(Operation::Update, &p("tidy/secret-id"), json!({}))
        .await;
    assert_eq!(r.status, Some(202));
    assert_eq!(
        r.warnings,
        ["Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs."]
    );
    let mut listed = Vec::new();
    for _ in 0..100 {
        let r = t
            .ok(Operation::List, &p("role/ex/secret-id"), json!({}))
            .await;
        listed = data(&r)["keys"].as_array().cloned().unwrap_or_default();
        if listed.len() == 1
            && route
                .storage
                .get("accessor/dangling")
                .await
                .expect("get")
                .is_none()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(listed, [json!(forever_acc)]);
    assert!(route
        .storage
        .get("accessor/dangling")
        .await
        .expect("get")
        .is_none());
    let accessors = route.storage.list("accessor/").await.expect("list");
    assert_eq!(accessors.len(), 1, "{accessors:?}");
    let e = login(&t, None, "ex-rid", &keep).await.expect_err("expired");
    assert_eq!(invalid(&e), "invalid role or secret ID");

    let e = t
        .err(Operation::Read, &p("tidy/secret-id"), json!({}))
        .await;
    assert!(matches!(e, CoreError::UnsupportedOperation), "{e:?}");
}

#[tokio::test]
async fn destroying_expired_secret_ids_still_works() {
    let t = setup().await;
    role(&t, "ex", json!({"secret_id_ttl": "1s"})).await;
    let (sid, _) = secret(&t, "ex", json!({})).await;
    let (_, acc) = secret(&t, "ex", json!({})).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    t.ok(
        Operation::Update,
        &p("role/ex/secret-id/destroy"),
        json!({"secret_id": sid}),
    )
    .await;
    t.ok(
        Operation::Update,
        &p("role/ex/secret-id-accessor/destroy"),
        json!({"secret_id_accessor": acc}),
    )
    .await;
    let e = t
        .err(Operation::List, &p("role/ex/secret-id"), json!({}))
        .await;
    assert!(matches!(e, CoreError::NotFound), "{e:?}");
}

#[tokio::test]
async fn deleting_a_role_removes_its_secret_ids() {
    let t = setup().await;
    role(&t, "app", json!({})).await;
    let (sid, _) = secret(&t, "app", json!({})).await;
    secret(&t, "app", json!({})).await;
    role(&t, "other", json!({})).await;
    let (other, _) = secret(&t, "other", json!({})).await;
    t.ok(Operation::Delete, &p("role/app"), json!({})).await;
    let keys: Vec<String> = mount_storage(&t)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys.iter()
            .filter(|k| k.starts_with("secret_id/") || k.starts_with("accessor/"))
            .count(),
        2,
        "{keys:?}"
    );
    // The same name and role id again: the old secret IDs are gone.
    role(&t, "app", json!({})).await;
    let e = login(&t, None, "app-rid", &sid).await.expect_err("gone");
    assert_eq!(invalid(&e), "invalid role or secret ID");
    login(&t, None, "other-rid", &other)
        .await
        .expect("untouched");
}

#[tokio::test]
async fn renewal_needs_the_role() {
    let t = setup().await;
    role(&t, "rn", json!({"token_ttl": "1h"})).await;
    let (sid, _) = secret(&t, "rn", json!({})).await;
    let auth = login(&t, None, "rn-rid", &sid)
        .await
        .expect("login")
        .auth
        .expect("auth");
    let renew = || {
        let (t, tok) = (&t, auth.client_token.clone());
        async move {
            call(
                t,
                Some(&tok),
                None,
                Operation::Update,
                "auth/token/renew-self",
                json!({}),
            )
            .await
        }
    };
    let r = renew().await.expect("renewed");
    assert_eq!(r.auth.expect("auth").lease_duration, 3600);
    t.ok(Operation::Delete, &p("role/rn"), json!({})).await;
    let e = renew().await.expect_err("role gone");
    assert_eq!(
        internal(&e),
        "failed to renew entry: role \"rn\" does not exist during renewal"
    );
}
