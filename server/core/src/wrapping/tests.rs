//! Response wrapping through [`crate::Core::handle_request`], against the
//! shapes OpenBao 2.7.2 gives (`sys-wrapping-*.txt`, `x-vault-wrap-ttl_*.txt`).

use std::time::Duration;

use serde_json::{json, Value};

use super::INVALID_WRAPPING_TOKEN;
use crate::engines::test_util::{setup, TestEnv};
use crate::error::CoreError;
use crate::logical::{Operation, Operation::*, Request, Response};

/// A request with a wrap TTL.
async fn wrapped(
    env: &TestEnv,
    token: &str,
    op: Operation,
    path: &str,
    data: Value,
    ttl: Duration,
) -> Result<Response, CoreError> {
    let mut req = Request::new(op, path).with_token(token).with_data(data);
    req.wrap_ttl = Some(ttl);
    env.core.handle_request(req).await
}

/// The `wrap_info` of a wrapped answer, after checking the envelope is empty.
fn wrap_info(r: &Response) -> serde_json::Map<String, Value> {
    assert!(r.data.is_none() && r.auth.is_none() && r.lease.is_none());
    match r.wrap_info.clone() {
        Some(Value::Object(m)) => m,
        other => panic!("no wrap_info: {other:?}"),
    }
}

fn token_of(info: &serde_json::Map<String, Value>) -> String {
    info["token"].as_str().expect("token").to_string()
}

/// Unwraps with the wrapping token as the request token; the JSON body.
async fn unwrap_first_party(env: &TestEnv, token: &str) -> Result<(Value, String), CoreError> {
    let r = env
        .req_as(token, Update, "sys/wrapping/unwrap", json!({}))
        .await?;
    let raw = r.raw.expect("raw body");
    assert_eq!(
        (raw.status, raw.content_type.as_str()),
        (200, "application/json")
    );
    let text = String::from_utf8(raw.body).expect("utf8");
    Ok((serde_json::from_str(&text).expect("json"), text))
}

fn invalid(r: Result<impl std::fmt::Debug, CoreError>) -> String {
    match r {
        Err(CoreError::InvalidRequest(m)) => m,
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

fn forbidden(r: Result<impl std::fmt::Debug, CoreError>) -> String {
    match r {
        Err(CoreError::Forbidden(m)) => m,
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn wrapping_a_kv_read_and_unwrapping_it_once() {
    let env = setup().await;
    env.req(
        Update,
        "secret/data/wrapme",
        json!({"data": {"k": "v", "a": {"z": 1, "b": 2}}}),
    )
    .await
    .expect("write");
    let root = env.root.clone();
    let r = wrapped(
        &env,
        &root,
        Read,
        "secret/data/wrapme",
        json!({}),
        Duration::from_secs(300),
    )
    .await
    .expect("wrapped read");
    let info = wrap_info(&r);
    assert_eq!(
        info.keys().map(String::as_str).collect::<Vec<_>>(),
        ["token", "accessor", "ttl", "creation_time", "creation_path"]
    );
    assert_eq!(info["ttl"], 300);
    assert_eq!(info["creation_path"], "secret/data/wrapme");
    let token = token_of(&info);
    assert!(token.starts_with("s.") && token.len() == 26, "{token}");
    assert!(info["creation_time"].as_str().expect("time").ends_with('Z'));

    // The wrapping token: single use, response-wrapping, orphan, path.
    let t = env
        .req(
            Update,
            "auth/token/lookup-accessor",
            json!({"accessor": info["accessor"]}),
        )
        .await
        .expect("lookup accessor")
        .data
        .expect("data");
    assert_eq!(t["policies"], json!(["response-wrapping"]));
    assert_eq!(t["num_uses"], 1);
    assert_eq!(t["orphan"], true);
    assert_eq!(t["renewable"], false);
    assert_eq!(t["path"], "secret/data/wrapme");
    assert_eq!(t["creation_ttl"], 300);
    assert_eq!(t["explicit_max_ttl"], 300);
    assert_eq!(t["display_name"], "root");

    // The wrapping token can do nothing else.
    assert!(matches!(
        env.req_as(&token, Read, "secret/data/wrapme", json!({}))
            .await,
        Err(CoreError::PermissionDenied)
    ));

    let (body, text) = unwrap_first_party(&env, &token).await.expect("unwrap");
    assert!(!text.ends_with('\n'), "the stored text as is");
    assert!(text.starts_with("{\"request_id\":\""));
    let keys: Vec<&str> = body
        .as_object()
        .expect("obj")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "request_id",
            "lease_id",
            "renewable",
            "lease_duration",
            "data",
            "wrap_info",
            "warnings",
            "auth"
        ]
    );
    assert_eq!(
        body["data"]["data"],
        json!({"a": {"b": 2, "z": 1}, "k": "v"})
    );
    assert!(text.contains(
        "{\"data\":{\"a\":{\"b\":2,\"z\":1},\"k\":\"v\"},\"metadata\":{\"created_time\""
    ));
    assert_eq!(body["data"]["metadata"]["version"], 1);
    assert_eq!(body["wrap_info"], Value::Null);
    assert_eq!(body["auth"], Value::Null);

    // Once only: the token is gone, whoever asks.
    assert_eq!(
        invalid(unwrap_first_party(&env, &token).await),
        INVALID_WRAPPING_TOKEN
    );
    assert_eq!(
        invalid(
            env.req(Update, "sys/wrapping/unwrap", json!({"token": token}))
                .await
        ),
        INVALID_WRAPPING_TOKEN
    );
    // Its cubbyhole went with it.
    let leftovers = env
        .raw_values()
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with("cubbyhole/"))
        .count();
    assert_eq!(leftovers, 0);
}

#[tokio::test]
async fn third_party_unwrap_uses_up_the_token() {
    let env = setup().await;
    let root = env.root.clone();
    let r = wrapped(
        &env,
        &root,
        Update,
        "sys/wrapping/wrap",
        json!({"foo": "bar", "n": 1}),
        Duration::from_secs(300),
    )
    .await
    .expect("wrap");
    let token = token_of(&wrap_info(&r));
    // Any token allowed on sys/wrapping/unwrap may unwrap with `token`.
    let other = env.token(&["default"], false).await;
    let u = env
        .req_as(
            &other,
            Update,
            "sys/wrapping/unwrap",
            json!({"token": token}),
        )
        .await
        .expect("unwrap");
    let body: Value = serde_json::from_slice(&u.raw.expect("raw").body).expect("json");
    assert_eq!(body["data"], json!({"foo": "bar", "n": 1}));
    // The audit view of the answer has the data too.
    assert_eq!(u.data.expect("data")["foo"], "bar");
    assert_eq!(
        invalid(
            env.req_as(
                &other,
                Update,
                "sys/wrapping/unwrap",
                json!({"token": token})
            )
            .await
        ),
        INVALID_WRAPPING_TOKEN
    );
    assert_eq!(
        invalid(unwrap_first_party(&env, &token).await),
        INVALID_WRAPPING_TOKEN
    );
}

#[tokio::test]
async fn wrapping_a_token_create() {
    let env = setup().await;
    let root = env.root.clone();
    let r = wrapped(
        &env,
        &root,
        Update,
        "auth/token/create",
        json!({"policies": ["app"]}),
        Duration::from_secs(60),
    )
    .await
    .expect("wrapped create");
    let info = wrap_info(&r);
    assert_eq!(
        info.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "token",
            "accessor",
            "ttl",
            "creation_time",
            "creation_path",
            "wrapped_accessor"
        ]
    );
    assert_eq!(info["ttl"], 60);
    assert_eq!(info["creation_path"], "auth/token/create");
    let (body, _) = unwrap_first_party(&env, &token_of(&info))
        .await
        .expect("unwrap");
    let auth = &body["auth"];
    assert_eq!(auth["accessor"], info["wrapped_accessor"]);
    assert_eq!(auth["policies"], json!(["app", "default"]));
    assert_eq!(auth["token_policies"], json!(["app", "default"]));
    assert_eq!(
        auth.as_object()
            .expect("auth")
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        [
            "client_token",
            "accessor",
            "policies",
            "token_policies",
            "metadata",
            "lease_duration",
            "renewable",
            "entity_id",
            "token_type",
            "orphan",
            "mfa_requirement",
            "num_uses"
        ]
    );
    assert_eq!(body["data"], Value::Null);
    // The wrapped token works.
    let client = auth["client_token"].as_str().expect("token");
    let me = env
        .req_as(client, Read, "auth/token/lookup-self", json!({}))
        .await
        .expect("lookup-self");
    assert_eq!(
        me.data.expect("data")["policies"],
        json!(["app", "default"])
    );
}

#[tokio::test]
async fn lookup_shows_creation_facts_without_using_the_token() {
    let env = setup().await;
    let root = env.root.clone();
    let r = wrapped(
        &env,
        &root,
        Update,
        "sys/wrapping/wrap",
        json!({"a": 1}),
        Duration::from_secs(300),
    )
    .await
    .expect("wrap");
    let info = wrap_info(&r);
    let token = token_of(&info);
    // No token needed.
    let mut req = Request::new(Update, "sys/wrapping/lookup").with_data(json!({"token": token}));
    req.client_token = None;
    let d = env
        .core
        .handle_request(req)
        .await
        .expect("lookup")
        .data
        .expect("data");
    assert_eq!(
        d.keys().map(String::as_str).collect::<Vec<_>>(),
        ["creation_path", "creation_time", "creation_ttl"]
    );
    assert_eq!(d["creation_path"], "sys/wrapping/wrap");
    assert_eq!(d["creation_ttl"], 300);
    assert_eq!(d["creation_time"], info["creation_time"]);
    // The wrapping token itself as the request token, and a read.
    for op in [Update, Read] {
        let d = env
            .req_as(&token, op, "sys/wrapping/lookup", json!({}))
            .await
            .expect("self lookup")
            .data
            .expect("data");
        assert_eq!(d["creation_ttl"], 300);
    }
    // Still unwrappable.
    let (body, _) = unwrap_first_party(&env, &token).await.expect("unwrap");
    assert_eq!(body["data"], json!({"a": 1}));

    // Refusals, in OpenBao's words.
    assert_eq!(
        invalid(
            env.req(
                Update,
                "sys/wrapping/lookup",
                json!({"token": "s.nonexistent"})
            )
            .await
        ),
        INVALID_WRAPPING_TOKEN
    );
    assert_eq!(
        invalid(env.req(Update, "sys/wrapping/lookup", json!({})).await),
        INVALID_WRAPPING_TOKEN,
        "the root token is not a wrapping token"
    );
    assert_eq!(
        forbidden(
            env.req(Update, "sys/wrapping/unwrap", json!({"token": ""}))
                .await
        ),
        "error validating wrapping token: empty token in request body"
    );
    assert_eq!(
        forbidden(
            env.req(Update, "sys/wrapping/unwrap", json!({"token": 5}))
                .await
        ),
        "error validating wrapping token: could not decode token in request body"
    );
    let req = Request::new(Update, "sys/wrapping/lookup");
    assert_eq!(
        forbidden(env.core.handle_request(req).await),
        "error validating wrapping token: token is empty"
    );
    assert_eq!(
        invalid(env.req(Update, "sys/wrapping/rewrap", json!({})).await),
        INVALID_WRAPPING_TOKEN
    );
}

#[tokio::test]
async fn rewrap_moves_the_response_to_a_new_token() {
    let env = setup().await;
    env.req(Update, "kv/x", json!({"v": "1"}))
        .await
        .expect("write");
    let root = env.root.clone();
    let r = wrapped(
        &env,
        &root,
        Read,
        "kv/x",
        json!({}),
        Duration::from_secs(120),
    )
    .await
    .expect("wrap");
    let old = token_of(&wrap_info(&r));
    let r = env
        .req(Update, "sys/wrapping/rewrap", json!({"token": old}))
        .await
        .expect("rewrap");
    let info = wrap_info(&r);
    assert_eq!(info["ttl"], 120);
    assert_eq!(info["creation_path"], "kv/x");
    let new = token_of(&info);
    assert_ne!(new, old);
    assert_eq!(
        invalid(unwrap_first_party(&env, &old).await),
        INVALID_WRAPPING_TOKEN
    );
    let d = env
        .req(Update, "sys/wrapping/lookup", json!({"token": new}))
        .await
        .expect("lookup")
        .data
        .expect("data");
    assert_eq!(d["creation_path"], "kv/x");
    let (body, _) = unwrap_first_party(&env, &new).await.expect("unwrap");
    assert_eq!(body["data"], json!({"v": "1"}));
    assert_eq!(body["lease_duration"], 2_764_800);
}

#[tokio::test]
async fn wrapping_tokens_expire_with_their_ttl() {
    let env = setup().await;
    let root = env.root.clone();
    let r = wrapped(
        &env,
        &root,
        Update,
        "sys/wrapping/wrap",
        json!({"a": 1}),
        Duration::from_secs(1),
    )
    .await
    .expect("wrap");
    let info = wrap_info(&r);
    assert_eq!(info["ttl"], 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let token = token_of(&info);
    assert_eq!(
        invalid(
            env.req(Update, "sys/wrapping/lookup", json!({"token": token}))
                .await
        ),
        INVALID_WRAPPING_TOKEN
    );
    assert_eq!(
        invalid(unwrap_first_party(&env, &token).await),
        INVALID_WRAPPING_TOKEN
    );
    // The cleanup revokes it with its cubbyhole.
    env.active().tokens.tidy_expired().await.expect("tidy");
    assert!(env
        .raw_values()
        .await
        .iter()
        .all(|(k, _)| !k.starts_with("cubbyhole/")));
}

#[tokio::test]
async fn sys_wrapping_wrap_needs_a_wrap_ttl() {
    let env = setup().await;
    assert_eq!(
        invalid(
            env.req(Update, "sys/wrapping/wrap", json!({"foo": "bar"}))
                .await
        ),
        "endpoint requires response wrapping to be used"
    );
    let root = env.root.clone();
    let r = wrapped(
        &env,
        &root,
        Update,
        "sys/wrapping/wrap",
        json!({"z": 1, "a": {"y": 2, "b": [3, {"d": 1, "c": 2}]}}),
        Duration::from_secs(300),
    )
    .await
    .expect("wrap");
    let info = wrap_info(&r);
    assert_eq!(info["creation_path"], "sys/wrapping/wrap");
    let (_, text) = unwrap_first_party(&env, &token_of(&info))
        .await
        .expect("unwrap");
    // Keys sorted at every level, as Go stores them.
    assert!(
        text.contains("\"data\":{\"a\":{\"b\":[3,{\"c\":2,\"d\":1}],\"y\":2},\"z\":1}"),
        "{text}"
    );
}

#[tokio::test]
async fn what_is_not_wrapped() {
    let env = setup().await;
    let root = env.root.clone();
    // A write with nothing to answer stays a 204.
    let r = wrapped(
        &env,
        &root,
        Update,
        "kv/w",
        json!({"a": 1}),
        Duration::from_secs(60),
    )
    .await
    .expect("write");
    assert!(r.is_empty());
    // Errors are not wrapped.
    assert!(matches!(
        wrapped(
            &env,
            &root,
            Read,
            "secret/data/nothing",
            json!({}),
            Duration::from_secs(60)
        )
        .await,
        Err(CoreError::NotFound)
    ));
    // A list records the path with its trailing slash.
    let r = wrapped(&env, &root, List, "kv", json!({}), Duration::from_secs(60))
        .await
        .expect("list");
    assert_eq!(wrap_info(&r)["creation_path"], "kv/");
}

#[tokio::test]
async fn the_response_wrapping_policy_is_built_in() {
    let env = setup().await;
    let r = env
        .req(Read, "sys/policies/acl/response-wrapping", json!({}))
        .await
        .expect("read");
    let text = r.data.expect("data")["policy"]
        .as_str()
        .expect("policy")
        .to_string();
    assert_eq!(text, super::RESPONSE_WRAPPING_POLICY_TEXT);
    let listed = env
        .req(List, "sys/policies/acl", json!({}))
        .await
        .expect("list")
        .data
        .expect("data");
    assert_eq!(listed["keys"], json!(["default", "root"]));
    assert!(matches!(
        env.req(Delete, "sys/policies/acl/response-wrapping", json!({}))
            .await,
        Err(CoreError::InvalidRequest(_))
    ));
    assert!(matches!(
        env.req(
            Update,
            "sys/policies/acl/response-wrapping",
            json!({"policy": "path \"x\" {capabilities=[\"read\"]}"})
        )
        .await,
        Err(CoreError::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn wrapped_responses_are_audited_without_the_secret() {
    let env = setup().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("audit.log");
    env.req(
        Update,
        "sys/audit/file",
        json!({"type": "file", "options": {"file_path": file.to_str().expect("utf8")}}),
    )
    .await
    .expect("enable audit");
    env.req(Update, "kv/s", json!({"password": "hunter2-secret"}))
        .await
        .expect("write");
    let root = env.root.clone();
    let r = wrapped(
        &env,
        &root,
        Read,
        "kv/s",
        json!({}),
        Duration::from_secs(300),
    )
    .await
    .expect("wrap");
    let info = wrap_info(&r);
    let log = std::fs::read_to_string(&file).expect("audit log");
    assert!(!log.contains("hunter2-secret"));
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let resp = lines
        .iter()
        .find(|l| {
            l["type"] == "response"
                && l["request"]["path"] == "kv/s"
                && l["response"].get("wrap_info").is_some()
        })
        .expect("response line");
    assert_eq!(resp["request"]["wrap_ttl"], 300);
    let w = &resp["response"]["wrap_info"];
    for k in ["token", "accessor"] {
        assert!(w[k].as_str().expect(k).starts_with("hmac-sha256:"), "{k}");
        assert_ne!(w[k], info[k]);
    }
    assert_eq!(w["creation_path"], "kv/s");
    assert_eq!(w["ttl"], 300);
    assert!(resp["response"].get("data").is_none());

    // Unwrapping is audited with the data HMAC'd.
    unwrap_first_party(&env, &token_of(&info))
        .await
        .expect("unwrap");
    let log = std::fs::read_to_string(&file).expect("audit log");
    assert!(!log.contains("hunter2-secret"));
    let unwrap = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .find(|l| l["type"] == "response" && l["request"]["path"] == "sys/wrapping/unwrap")
        .expect("unwrap line");
    assert!(unwrap["response"]["data"]["password"]
        .as_str()
        .expect("hashed")
        .starts_with("hmac-sha256:"));
}

#[tokio::test]
async fn wrapping_a_login() {
    let env = setup().await;
    env.req(Update, "sys/auth/userpass", json!({"type": "userpass"}))
        .await
        .expect("enable userpass");
    env.req(
        Update,
        "auth/userpass/users/bob",
        json!({"password": "pw", "token_policies": "default"}),
    )
    .await
    .expect("user");
    let mut req =
        Request::new(Update, "auth/userpass/login/bob").with_data(json!({"password": "pw"}));
    req.wrap_ttl = Some(Duration::from_secs(60));
    let r = env.core.handle_request(req).await.expect("wrapped login");
    let info = wrap_info(&r);
    assert_eq!(info["creation_path"], "auth/userpass/login/bob");
    let acc = info["wrapped_accessor"]
        .as_str()
        .expect("wrapped accessor")
        .to_string();
    // The wrapping token is named after the login.
    let t = env
        .req(
            Update,
            "auth/token/lookup-accessor",
            json!({"accessor": info["accessor"]}),
        )
        .await
        .expect("lookup")
        .data
        .expect("data");
    assert_eq!(t["display_name"], "userpass-bob");
    let (body, _) = unwrap_first_party(&env, &token_of(&info))
        .await
        .expect("unwrap");
    assert_eq!(body["auth"]["accessor"], acc);
    let client = body["auth"]["client_token"].as_str().expect("token");
    env.req_as(client, Read, "auth/token/lookup-self", json!({}))
        .await
        .expect("the unwrapped token works");
}
