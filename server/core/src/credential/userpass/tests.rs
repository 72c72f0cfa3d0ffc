//! userpass tests through the core pipeline (OpenBao 2.7.2 behaviour).

use serde_json::{json, Value};

use super::Userpass;
use crate::error::CoreError;
use crate::logical::{Backend, Ctx, Data, Operation};
use crate::sys::tests::{data, invalid, TestCore};

async fn setup() -> TestCore {
    let t = TestCore::new().await;
    t.ok(
        Operation::Update,
        "sys/auth/userpass",
        json!({"type": "userpass"}),
    )
    .await;
    t
}

async fn login(
    t: &TestCore,
    user: &str,
    password: &str,
) -> Result<crate::logical::Response, CoreError> {
    t.call(
        None,
        Operation::Update,
        &format!("auth/userpass/login/{user}"),
        json!({"password": password}),
    )
    .await
}

#[tokio::test]
async fn user_crud_never_shows_the_password() {
    let t = setup().await;
    let r = t
        .ok(
            Operation::Update,
            "auth/userpass/users/alice",
            json!({"password": "pw", "token_policies": ["app"], "token_ttl": "1h"}),
        )
        .await;
    assert!(r.is_empty());
    let r = t
        .ok(Operation::Read, "auth/userpass/users/alice", json!({}))
        .await;
    assert_eq!(
        Value::Object(data(&r).clone()),
        json!({
            "token_bound_cidrs": [],
            "token_explicit_max_ttl": 0,
            "token_max_ttl": 0,
            "token_no_default_policy": false,
            "token_num_uses": 0,
            "token_period": 0,
            "token_policies": ["app"],
            "token_strictly_bind_ip": false,
            "token_ttl": 3600,
            "token_type": "default"
        })
    );
    // Names are case-insensitive.
    t.ok(Operation::Read, "auth/userpass/users/ALICE", json!({}))
        .await;
    t.ok(
        Operation::Update,
        "auth/userpass/users/Bob",
        json!({"password": "x"}),
    )
    .await;
    let r = t
        .ok(Operation::List, "auth/userpass/users", json!({}))
        .await;
    assert_eq!(data(&r)["keys"], json!(["alice", "bob"]));
    let e = t
        .err(Operation::Read, "auth/userpass/users", json!({}))
        .await;
    assert!(matches!(e, CoreError::UnsupportedOperation), "{e:?}");

    // Only a bcrypt hash is stored.
    let active = t.active();
    let (route, _) = active.route("auth/userpass/").expect("mounted");
    let raw: Value = route
        .storage
        .get_json("user/alice")
        .await
        .expect("storage")
        .expect("stored");
    let hash = raw["password_hash"].as_str().expect("hash");
    assert!(hash.starts_with("$2") && hash.len() == 60, "{hash}");
    assert!(!raw.to_string().contains("\"pw\""));

    assert!(t
        .ok(Operation::Delete, "auth/userpass/users/alice", json!({}))
        .await
        .is_empty());
    assert!(t
        .ok(Operation::Delete, "auth/userpass/users/alice", json!({}))
        .await
        .is_empty());
    let e = t
        .err(Operation::Read, "auth/userpass/users/alice", json!({}))
        .await;
    assert!(matches!(e, CoreError::NotFound), "{e:?}");
    t.ok(Operation::Delete, "auth/userpass/users/bob", json!({}))
        .await;
    let e = t
        .err(Operation::List, "auth/userpass/users", json!({}))
        .await;
    assert!(matches!(e, CoreError::NotFound), "{e:?}");
}

#[tokio::test]
async fn user_write_checks() {
    let t = setup().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "must provide either password or password_hash"),
        (json!({"token_policies": "x"}), "must provide either password or password_hash"),
        (
            json!({"password": "pw", "password_hash": "x"}),
            "only one of password or password_hash may be provided",
        ),
        (
            json!({"password": "pw", "token_ttl": "2h", "token_max_ttl": "1h"}),
            "'token_ttl' cannot be greater than 'token_max_ttl'",
        ),
        (json!({"password": "pw", "token_type": "bogus"}), "invalid 'token_type' value \"bogus\""),
        (
            json!({"password": "pw", "token_type": "batch", "token_num_uses": 2}),
            "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count",
        ),
        (
            json!({"password": "pw", "token_type": "batch", "token_period": "1h"}),
            "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens",
        ),
        (json!({"password": "pw", "token_num_uses": -1}), "'token_num_uses' cannot be negative"),
        (json!({"password": "pw", "token_ttl": -5}), "'token_ttl' cannot be negative"),
        (
            json!({"password": "pw", "token_bound_cidrs": "notacidr"}),
            "error parsing address \"notacidr\": Unable to convert \"notacidr\" to an IPv4 or IPv6 address, or a UNIX Socket",
        ),
        (
            json!({"password": "pw", "token_ttl": "abc"}),
            "error converting input for field \"token_ttl\": time: invalid duration \"abc\"",
        ),
        (
            json!({"password": "pw", "token_strictly_bind_ip": true, "token_bound_cidrs": ["10.0.0.0/8"]}),
            "'token_strictly_bind_ip' conflicts with 'token_bound_cidrs'; set only one",
        ),
        (json!({"password_hash": "nothash"}), "password_hash is not a valid bcrypt hash"),
    ];
    for (body, msg) in cases {
        let e = t
            .err(Operation::Update, "auth/userpass/users/carol", body.clone())
            .await;
        assert_eq!(invalid(&e), msg, "{body}");
    }
    let long = "x".repeat(73);
    let e = t
        .err(
            Operation::Update,
            "auth/userpass/users/carol",
            json!({"password": long}),
        )
        .await;
    assert!(
        matches!(&e, CoreError::Internal(m) if m.contains("exceeds 72 bytes")),
        "{e:?}"
    );
    let e = t
        .err(Operation::List, "auth/userpass/users", json!({}))
        .await;
    assert!(
        matches!(e, CoreError::NotFound),
        "nothing was stored: {e:?}"
    );

    // Invalid names are not paths.
    let e = t
        .err(
            Operation::Update,
            "auth/userpass/users/a@b",
            json!({"password": "x"}),
        )
        .await;
    assert!(matches!(e, CoreError::UnsupportedPath), "{e:?}");
    t.ok(
        Operation::Update,
        "auth/userpass/users/a.b_c-d",
        json!({"password": "x"}),
    )
    .await;
    let e = t
        .err(Operation::Read, "auth/userpass/nothing", json!({}))
        .await;
    assert!(matches!(e, CoreError::UnsupportedPath), "{e:?}");

    // An existing user may be updated without a password.
    t.ok(
        Operation::Update,
        "auth/userpass/users/dave",
        json!({"password": "pw"}),
    )
    .await;
    t.ok(
        Operation::Update,
        "auth/userpass/users/dave",
        json!({"token_policies": "a,b"}),
    )
    .await;
    let r = t
        .ok(Operation::Read, "auth/userpass/users/dave", json!({}))
        .await;
    assert_eq!(data(&r)["token_policies"], json!(["a", "b"]));
    login(&t, "dave", "pw").await.expect("password kept");
}

#[tokio::test]
async fn all_token_fields_and_legacy_names() {
    let t = setup().await;
    t.ok(
        Operation::Update,
        "auth/userpass/users/alice",
        json!({
            "password": "pw",
            "policies": "a, B ,c",
            "token_ttl": "1h",
            "token_max_ttl": "2h",
            "token_bound_cidrs": "127.0.0.1/32,10.0.0.0/8",
            "token_num_uses": 3,
            "token_type": "service",
            "token_period": "0",
            "token_explicit_max_ttl": "3h",
            "token_no_default_policy": true
        }),
    )
    .await;
    let r = t
        .ok(Operation::Read, "auth/userpass/users/alice", json!({}))
        .await;
    assert_eq!(
        Value::Object(data(&r).clone()),
        json!({
            "policies": ["a", "b", "c"],
            "token_bound_cidrs": ["127.0.0.1", "10.0.0.0/8"],
            "token_explicit_max_ttl": 10800,
            "token_max_ttl": 7200,
            "token_no_default_policy": true,
            "token_num_uses": 3,
            "token_period": 0,
            "token_policies": ["a", "b", "c"],
            "token_strictly_bind_ip": false,
            "token_ttl": 3600,
            "token_type": "service"
        })
    );
    // A new-style field alone clears the old one.
    t.ok(
        Operation::Update,
        "auth/userpass/users/alice",
        json!({"token_policies": ["x", "Y"]}),
    )
    .await;
    let d = data(
        &t.ok(Operation::Read, "auth/userpass/users/alice", json!({}))
            .await,
    )
    .clone();
    assert!(d.get("policies").is_none());
    assert_eq!(d["token_policies"], json!(["x", "Y"]));
    // Old-style TTLs and CIDRs set both names.
    t.ok(
        Operation::Update,
        "auth/userpass/users/alice",
        json!({"ttl": "5m", "max_ttl": "10m", "bound_cidrs": ["1.2.3.4"]}),
    )
    .await;
    let d = data(
        &t.ok(Operation::Read, "auth/userpass/users/alice", json!({}))
            .await,
    )
    .clone();
    assert_eq!(d["ttl"], 300);
    assert_eq!(d["token_ttl"], 300);
    assert_eq!(d["max_ttl"], 600);
    assert_eq!(d["token_max_ttl"], 600);
    assert_eq!(d["bound_cidrs"], json!(["1.2.3.4"]));
    assert_eq!(d["token_bound_cidrs"], json!(["1.2.3.4"]));
}

#[tokio::test]
async fn login_mints_a_token() {
    let t = setup().await;
    t.ok(
        Operation::Update,
        "sys/policies/acl/app",
        json!({"policy": "path \"secret/*\" { capabilities = [\"read\"] }"}),
    )
    .await;
    t.ok(
        Operation::Update,
        "auth/userpass/users/alice",
        json!({"password": "pw", "token_policies": "app", "token_ttl": "1h", "token_num_uses": 5}),
    )
    .await;
    let r = login(&t, "alice", "pw").await.expect("login");
    assert!(r.data.is_none());
    let auth = r.auth.expect("auth");
    assert!(auth.client_token.starts_with("s."), "{}", auth.client_token);
    assert_eq!(
        auth.policies,
        vec!["app".to_string(), "default".to_string()]
    );
    assert_eq!(auth.token_policies, auth.policies);
    assert_eq!(
        auth.metadata,
        Some([("username".to_string(), "alice".to_string())].into())
    );
    assert_eq!(auth.lease_duration, 3600);
    assert!(auth.renewable);
    assert_eq!(auth.token_type, "service");
    assert!(auth.orphan);
    assert_eq!(auth.num_uses, 5);
    let entry = t
        .active()
        .tokens
        .lookup(&auth.client_token)
        .await
        .expect("lookup")
        .expect("live token");
    assert_eq!(entry.display_name, "userpass-alice");
    assert_eq!(entry.path, "auth/userpass/login/alice");
    // The token works with its policies: sys/capabilities-self via default.
    let r = t
        .call(
            Some(&auth.client_token),
            Operation::Update,
            "sys/capabilities-self",
            json!({"path": "secret/x"}),
        )
        .await
        .expect("token works");
    assert_eq!(data(&r)["capabilities"], json!(["read"]));

    // Case-insensitive user names at login too.
    login(&t, "ALICE", "pw").await.expect("upper-case login");

    for (user, pw) in [("alice", "wrong"), ("nobody", "pw")] {
        let e = login(&t, user, pw).await.expect_err("bad credentials");
        assert_eq!(invalid(&e), "invalid username or password", "{user}");
    }
    let e = t
        .call(
            None,
            Operation::Update,
            "auth/userpass/login/alice",
            json!({}),
        )
        .await
        .expect_err("missing password");
    assert!(
        matches!(&e, CoreError::Internal(m) if m == "missing password"),
        "{e:?}"
    );
    let e = t
        .call(
            None,
            Operation::Read,
            "auth/userpass/login/alice",
            json!({}),
        )
        .await
        .expect_err("read");
    assert!(matches!(e, CoreError::UnsupportedOperation), "{e:?}");
    // The rest of the mount needs a token.
    let e = t
        .call(
            None,
            Operation::Read,
            "auth/userpass/users/alice",
            json!({}),
        )
        .await
        .expect_err("no token");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
    let e = t
        .call(
            Some(&auth.client_token),
            Operation::Read,
            "auth/userpass/users/alice",
            json!({}),
        )
        .await
        .expect_err("policy does not reach users/");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
}

#[tokio::test]
async fn login_checks_bound_cidrs() {
    let t = setup().await;
    t.ok(
        Operation::Update,
        "auth/userpass/users/alice",
        json!({"password": "pw", "token_bound_cidrs": ["10.0.0.0/8"]}),
    )
    .await;
    let e = login(&t, "alice", "pw")
        .await
        .expect_err("no remote address");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
    let mut req = crate::logical::Request::new(Operation::Update, "auth/userpass/login/alice")
        .with_data(json!({"password": "pw"}));
    req.remote_addr = Some("192.168.1.1".parse().expect("ip"));
    let e = t
        .core
        .handle_request(req.clone())
        .await
        .expect_err("outside");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
    req.remote_addr = Some("10.1.2.3".parse().expect("ip"));
    let r = t.core.handle_request(req).await.expect("inside");
    let token = r.auth.expect("auth").client_token;
    let entry = t
        .active()
        .tokens
        .lookup(&token)
        .await
        .expect("lookup")
        .expect("live");
    assert_eq!(entry.bound_cidrs, vec!["10.0.0.0/8".to_string()]);
}

#[tokio::test]
async fn password_and_policy_updates() {
    let t = setup().await;
    t.ok(
        Operation::Update,
        "auth/userpass/users/alice",
        json!({"password": "old"}),
    )
    .await;
    t.ok(
        Operation::Update,
        "auth/userpass/users/alice/password",
        json!({"password": "new"}),
    )
    .await;
    assert!(login(&t, "alice", "old").await.is_err());
    login(&t, "alice", "new").await.expect("new password");
    let e = t
        .err(
            Operation::Update,
            "auth/userpass/users/alice/password",
            json!({}),
        )
        .await;
    assert_eq!(invalid(&e), "must provide either password or password_hash");
    let e = t
        .err(
            Operation::Update,
            "auth/userpass/users/nonexist/password",
            json!({"password": "x"}),
        )
        .await;
    assert!(
        matches!(&e, CoreError::Internal(m) if m == "username does not exist"),
        "{e:?}"
    );

    t.ok(
        Operation::Update,
        "auth/userpass/users/alice/policies",
        json!({"token_policies": "P2,p1"}),
    )
    .await;
    let d = data(
        &t.ok(Operation::Read, "auth/userpass/users/alice", json!({}))
            .await,
    )
    .clone();
    assert_eq!(d["token_policies"], json!(["p1", "p2"]));
    assert!(d.get("policies").is_none());
    t.ok(
        Operation::Update,
        "auth/userpass/users/alice/policies",
        json!({"policies": "z"}),
    )
    .await;
    let d = data(
        &t.ok(Operation::Read, "auth/userpass/users/alice", json!({}))
            .await,
    )
    .clone();
    assert_eq!(d["policies"], json!(["z"]));
    assert_eq!(d["token_policies"], json!(["z"]));
    let e = t
        .err(
            Operation::Update,
            "auth/userpass/users/nonexist/policies",
            json!({"policies": "x"}),
        )
        .await;
    assert!(
        matches!(&e, CoreError::Internal(m) if m == "username does not exist"),
        "{e:?}"
    );
    let r = login(&t, "alice", "new").await.expect("login");
    assert_eq!(
        r.auth.expect("auth").policies,
        vec!["default".to_string(), "z".to_string()]
    );
}

#[tokio::test]
async fn pre_hashed_passwords() {
    let t = setup().await;
    let good = bcrypt::hash("pw", 5).expect("hash");
    t.ok(
        Operation::Update,
        "auth/userpass/users/hh",
        json!({"password_hash": good}),
    )
    .await;
    login(&t, "hh", "pw").await.expect("imported hash");
    let weak = bcrypt::hash("pw", 4).expect("hash");
    let e = t
        .err(
            Operation::Update,
            "auth/userpass/users/hh",
            json!({"password_hash": weak}),
        )
        .await;
    assert_eq!(
        invalid(&e),
        "bcrypt cost of 4 is too low, want 5 at minimum"
    );
    let strong = good.replacen("$05$", "$13$", 1);
    let e = t
        .err(
            Operation::Update,
            "auth/userpass/users/hh",
            json!({"password_hash": strong}),
        )
        .await;
    assert_eq!(invalid(&e), "bcrypt cost of 13 exceeds maximum cost of 12");
    // Passwords are read up to 72 bytes, as bcrypt does.
    let p72 = "y".repeat(72);
    t.ok(
        Operation::Update,
        "auth/userpass/users/long",
        json!({"password": p72}),
    )
    .await;
    login(&t, "long", &format!("{p72}zzz"))
        .await
        .expect("truncated at 72 bytes");
}

#[tokio::test]
async fn renewal_needs_the_user_and_the_same_policies() {
    let t = setup().await;
    t.ok(
        Operation::Update,
        "auth/userpass/users/alice",
        json!({"password": "pw", "token_policies": "p1"}),
    )
    .await;
    let token = login(&t, "alice", "pw")
        .await
        .expect("login")
        .auth
        .expect("auth")
        .client_token;
    let active = t.active();
    let entry = active
        .tokens
        .lookup(&token)
        .await
        .expect("lookup")
        .expect("live");
    let internal: Data = entry.internal.clone();
    assert_eq!(internal["username"], "alice");
    let (route, rest) = active.route("auth/userpass/").expect("mounted");
    let ctx = Ctx {
        path: &rest,
        storage: &route.storage,
        mount: &route.entry,
        core: &active,
    };
    assert!(Userpass.renew_login(&ctx, &internal).await.expect("renew"));
    t.ok(
        Operation::Update,
        "auth/userpass/users/alice/policies",
        json!({"token_policies": "p2"}),
    )
    .await;
    let e = Userpass
        .renew_login(&ctx, &internal)
        .await
        .expect_err("policies changed");
    assert!(
        matches!(&e, CoreError::Internal(m) if m.contains("policies have changed")),
        "{e:?}"
    );
    t.ok(
        Operation::Update,
        "auth/userpass/users/alice/policies",
        json!({"token_policies": "p1,default"}),
    )
    .await;
    assert!(Userpass
        .renew_login(&ctx, &internal)
        .await
        .expect("equivalent"));
    t.ok(Operation::Delete, "auth/userpass/users/alice", json!({}))
        .await;
    assert!(!Userpass.renew_login(&ctx, &internal).await.expect("gone"));
}
