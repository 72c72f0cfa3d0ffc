//! The HTTP surface of a real `coffer` process against the shapes OpenBao
//! 2.7.2 answers with (see the captures in shared/reference).

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{self, call, call_with, status_line, CofferServer};

const HEALTH_KEYS: &[&str] = &[
    "initialized",
    "sealed",
    "standby",
    "performance_standby",
    "replication_performance_mode",
    "replication_dr_mode",
    "server_time_utc",
    "version",
    "cluster_name",
    "cluster_id",
];

const SEAL_STATUS_KEYS: &[&str] = &[
    "type",
    "initialized",
    "sealed",
    "t",
    "n",
    "progress",
    "nonce",
    "recovery_seal",
    "version",
    "commit_date",
    "migration",
    "cluster_name",
    "cluster_id",
    "storage_type",
];

const ENVELOPE_KEYS: &[&str] = &[
    "request_id",
    "lease_id",
    "renewable",
    "lease_duration",
    "data",
    "wrap_info",
    "warnings",
    "auth",
];

const NO_ERRORS: &str = "{\"errors\":[]}\n";
const DENIED_PLAIN: &str = "{\"errors\":[\"permission denied\"]}\n";
const DENIED_MULTI: &str = "{\"errors\":[\"1 error occurred:\\n\\t* permission denied\\n\\n\"]}\n";
const SEALED: &str = "{\"errors\":[\"Vault is sealed\"]}\n";

fn without(keys: &[&str], drop: &[&str]) -> Vec<String> {
    keys.iter()
        .filter(|k| !drop.contains(k))
        .map(|k| k.to_string())
        .collect()
}

fn all(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

fn assert_common_headers(r: &harness::Reply) {
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("no-store"),
        "{r:?}"
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json"),
        "{r:?}"
    );
}

#[tokio::test]
async fn dev_lifecycle_endpoints() {
    let server = CofferServer::dev();
    let c = harness::client();
    assert!(server.stdout_text().contains("Root Token: root"));
    assert!(server.unseal_key.as_deref().is_some_and(|k| !k.is_empty()));

    let r = call(&c, "GET", &server.api("sys/health"), None, None).await;
    assert_eq!(r.status, 200);
    assert_common_headers(&r);
    assert_eq!(r.keys(), all(HEALTH_KEYS));
    let h = r.json();
    assert_eq!(h["initialized"], true);
    assert_eq!(h["sealed"], false);
    assert_eq!(h["standby"], false);
    assert_eq!(h["performance_standby"], false);
    assert!(r.body.ends_with("}\n"));

    let r = call(&c, "HEAD", &server.api("sys/health"), None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "");
    assert_common_headers(&r);

    // Custom codes, with Go's status line for codes without a reason phrase.
    assert_eq!(
        status_line(server.addr, "GET", "/v1/sys/health?activecode=299"),
        "HTTP/1.1 299 status code 299"
    );
    assert_eq!(
        status_line(server.addr, "HEAD", "/v1/sys/health?activecode=299"),
        "HTTP/1.1 299 status code 299"
    );
    let r = call(
        &c,
        "GET",
        &server.api("sys/health?activecode=204"),
        None,
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    let r = call(
        &c,
        "GET",
        &server.api("sys/health?standbyok=true&perfstandbyok=true"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(
        &c,
        "GET",
        &server.api("sys/health?standbycode=299&sealedcode=298&uninitcode=297"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    for bad in [
        "activecode=abc",
        "activecode=",
        "standbyok=abc",
        "uninitcode=1.5",
        "sealedcode=+200",
        "activecode=1000",
    ] {
        let r = call(
            &c,
            "GET",
            &server.api(&format!("sys/health?{bad}")),
            None,
            None,
        )
        .await;
        assert_eq!((r.status, r.body.as_str()), (400, NO_ERRORS), "{bad}");
    }

    let r = call(&c, "GET", &server.api("sys/seal-status"), None, None).await;
    assert_eq!(r.status, 200);
    assert_common_headers(&r);
    assert_eq!(r.keys(), all(SEAL_STATUS_KEYS));
    let s = r.json();
    assert_eq!(s["type"], "shamir");
    assert_eq!(
        (s["t"].clone(), s["n"].clone(), s["progress"].clone()),
        (json!(1), json!(1), json!(0))
    );
    assert_eq!(s["storage_type"], "inmem");
    assert_eq!(s["cluster_name"], h["cluster_name"]);

    let r = call(&c, "GET", &server.api("sys/leader"), None, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "{\"ha_enabled\":false}\n")
    );

    let r = call(&c, "GET", &server.api("sys/init"), None, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "{\"initialized\":true}\n")
    );
    for method in ["PUT", "POST"] {
        let r = call(
            &c,
            method,
            &server.api("sys/init"),
            None,
            Some(r#"{"secret_shares":1,"secret_threshold":1}"#),
        )
        .await;
        assert_eq!(r.status, 400, "{method}");
        assert_eq!(
            r.json(),
            json!({"errors": ["Vault is already initialized"]})
        );
    }

    // Unsealing an unsealed server just reports the status.
    let key = server.unseal_key.clone().unwrap_or_default();
    let r = call(
        &c,
        "PUT",
        &server.api("sys/unseal"),
        None,
        Some(&format!(r#"{{"key":"{key}"}}"#)),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["sealed"], false);
}

#[tokio::test]
async fn dev_error_forms() {
    let server = CofferServer::dev();
    let c = harness::client();
    let root = Some("root");

    // Wrong methods on the lifecycle endpoints: 405 with an empty list.
    for (method, path) in [
        ("DELETE", "sys/seal-status"),
        ("POST", "sys/seal-status"),
        ("POST", "sys/health"),
        ("PUT", "sys/health"),
        ("GET", "sys/unseal"),
        ("PUT", "sys/leader"),
        ("DELETE", "sys/init"),
        ("LIST", "sys/init"),
    ] {
        let r = call(&c, method, &server.api(path), None, None).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (405, NO_ERRORS),
            "{method} {path}"
        );
        assert_common_headers(&r);
    }
    let r = call(&c, "HEAD", &server.api("sys/seal-status"), None, None).await;
    assert_eq!((r.status, r.body.as_str()), (405, ""));
    let r = call(&c, "FOO", &server.api("secret/data/x"), root, None).await;
    assert_eq!((r.status, r.body.as_str()), (405, NO_ERRORS));

    // 404s.
    for url in [
        format!("{}/nov1/foo", server.url),
        format!("{}/v2/sys/health", server.url),
        format!("{}/v1", server.url),
        format!("{}/", server.url),
    ] {
        let r = call(&c, "GET", &url, None, None).await;
        assert_eq!((r.status, r.body.as_str()), (404, NO_ERRORS), "{url}");
        assert_common_headers(&r);
    }
    let r = call(&c, "GET", &server.api("nosuchmount/foo"), root, None).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"errors": ["no handler for route \"nosuchmount/foo\". route entry not found."]})
    );
    let r = call(&c, "GET", &server.api("sys/nosuchendpoint"), root, None).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"errors": ["1 error occurred:\n\t* unsupported path\n\n"]})
    );
    let r = call(&c, "GET", &server.api("secret/data/missing"), root, None).await;
    assert_eq!((r.status, r.body.as_str()), (404, NO_ERRORS));

    // 403: no token and an unknown token are plain.
    for path in ["sys/mounts", "secret/data/app"] {
        let r = call(&c, "GET", &server.api(path), None, None).await;
        assert_eq!((r.status, r.body.as_str()), (403, DENIED_PLAIN), "{path}");
        let r = call(&c, "GET", &server.api(path), Some("s.notarealtoken"), None).await;
        assert_eq!((r.status, r.body.as_str()), (403, DENIED_PLAIN), "{path}");
    }
    // A HEAD on a logical path: 403 without a token, 405 with one, no body.
    let r = call(&c, "HEAD", &server.api("secret/data/app"), None, None).await;
    assert_eq!((r.status, r.body.as_str()), (403, ""));
    let r = call(&c, "HEAD", &server.api("secret/data/app"), root, None).await;
    assert_eq!((r.status, r.body.as_str()), (405, ""));

    // An ACL denial of a valid token is the multi-error form.
    let policy =
        json!({"policy": "path \"secret/data/app\" { capabilities = [\"read\"] }"}).to_string();
    let r = call(
        &c,
        "PUT",
        &server.api("sys/policies/acl/app-ro"),
        root,
        Some(&policy),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = call(
        &c,
        "POST",
        &server.api("auth/token/create"),
        root,
        Some(r#"{"policies":["app-ro"]}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["auth"]["client_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = call(
        &c,
        "PUT",
        &server.api("secret/data/app"),
        Some(&token),
        Some(r#"{"data":{"x":"1"}}"#),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (403, DENIED_MULTI));
    let r = call(&c, "GET", &server.api("sys/mounts"), Some(&token), None).await;
    assert_eq!((r.status, r.body.as_str()), (403, DENIED_MULTI));

    // Malformed bodies.
    let r = call(
        &c,
        "POST",
        &server.api("secret/data/x"),
        root,
        Some(r#"{"data":"#),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"errors": ["failed to decode JSON input: unexpected EOF"]})
    );
    let r = call_with(
        &c,
        "POST",
        &server.api("secret/data/x"),
        root,
        Some("not json"),
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"errors": ["failed to decode JSON input: invalid character 'o' in literal null (expecting 'u')"]})
    );
    let r = call(&c, "PUT", &server.api("secret/data/x"), root, Some("[1,2]")).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"errors": ["failed to decode JSON input: json: cannot unmarshal array into Go value of type map[string]interface {}"]})
    );

    let r = call(
        &c,
        "PUT",
        &server.api("secret/data/x"),
        root,
        Some(r#"{"data":{}} trailing"#),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"errors": ["failed to decode JSON input: invalid character 'a' in literal true (expecting 'u')"]})
    );
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let r = call_with(
        &c,
        "PUT",
        &server.api("secret/data/x"),
        root,
        Some("a=%zz"),
        &form,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), json!({"errors": ["error parsing form data"]}));

    // PATCH: the media type is checked first.
    let r = call_with(
        &c,
        "PATCH",
        &server.api("secret/data/x"),
        root,
        Some(r#"{"data":{}}"#),
        &form,
    )
    .await;
    assert_eq!(r.status, 415);
    assert_eq!(
        r.json(),
        json!({"errors": ["PATCH requires Content-Type of application/merge-patch+json, provided application/x-www-form-urlencoded"]})
    );
    let r = call(
        &c,
        "PATCH",
        &server.api("secret/data/x"),
        root,
        Some(r#"{"data":{}}"#),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), json!({"errors": ["mime: no media type"]}));

    // Writes to directory-like paths are refused before the token is looked at.
    for token in [None, Some("bogus"), root] {
        let r = call(&c, "PUT", &server.api("nosuchmount/x/"), token, Some("{}")).await;
        assert_eq!(r.status, 400, "{token:?}");
        assert_eq!(
            r.json(),
            json!({"errors": ["cannot write to a path ending in '/'"]})
        );
    }

    // Unclean paths are redirected as Go's ServeMux does.
    let answer = harness::raw_http(
        server.addr,
        b"GET /v1/sys//health?standbyok=true HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        answer.starts_with("HTTP/1.1 307 Temporary Redirect\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("location: /v1/sys/health?standbyok=true\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with("<a href=\"/v1/sys/health?standbyok=true\">Temporary Redirect</a>.\n\n"),
        "{answer}"
    );

    // Unknown mounts are not revealed without a valid token.
    let r = call(&c, "GET", &server.api("nosuchmount/foo"), None, None).await;
    assert_eq!((r.status, r.body.as_str()), (403, DENIED_PLAIN));
    let r = call(
        &c,
        "GET",
        &server.api("nosuchmount/foo"),
        Some("bogus"),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (403, DENIED_PLAIN));

    // A malformed X-Vault-Wrap-TTL.
    let r = call_with(
        &c,
        "GET",
        &server.api("secret/data/x"),
        root,
        None,
        &[("x-vault-wrap-ttl", "abc")],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"errors": ["error parsing X-Vault-Wrap-TTL header: time: invalid duration \"abc\""]})
    );

    // A bad ?list= value.
    let r = call(
        &c,
        "GET",
        &server.api("secret/metadata?list=abc"),
        root,
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (400, NO_ERRORS));
}

#[tokio::test]
async fn dev_envelopes_and_bodies() {
    let server = CofferServer::dev();
    let c = harness::client();
    let root = Some("root");

    // KV v2 write and read: the envelope in Vault's order.
    let r = call(
        &c,
        "PUT",
        &server.api("secret/data/app"),
        root,
        Some(r#"{"data":{"user":"alice"},"options":{}}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_common_headers(&r);
    assert_eq!(r.keys(), all(ENVELOPE_KEYS));
    let v = r.json();
    assert_eq!(v["lease_id"], "");
    assert_eq!(v["renewable"], false);
    assert_eq!(v["lease_duration"], 0);
    assert_eq!(v["wrap_info"], Value::Null);
    assert_eq!(v["warnings"], Value::Null);
    assert_eq!(v["auth"], Value::Null);
    assert_eq!(v["data"]["version"], 1);
    let rid = v["request_id"].as_str().unwrap_or_default();
    assert_eq!(rid.len(), 36, "{rid}");
    assert_eq!(rid.matches('-').count(), 4, "{rid}");

    let r = call(&c, "GET", &server.api("secret/data/app"), root, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.keys(), all(ENVELOPE_KEYS));
    assert_eq!(r.json()["data"]["data"], json!({"user": "alice"}));

    // Bearer instead of X-Vault-Token; sys/mounts repeats data at the top level.
    let r = call_with(
        &c,
        "GET",
        &server.api("sys/mounts"),
        None,
        None,
        &[("authorization", "Bearer root")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let keys = r.keys();
    let rid_pos = keys
        .iter()
        .position(|k| k == "request_id")
        .unwrap_or(usize::MAX);
    assert!(rid_pos > 0 && rid_pos < keys.len(), "{keys:?}");
    assert!(keys[..rid_pos].iter().all(|k| k.ends_with('/')), "{keys:?}");
    assert_eq!(keys[rid_pos..].to_vec(), all(ENVELOPE_KEYS));
    assert!(keys.contains(&"secret/".to_string()));
    assert_eq!(r.json()["secret/"]["options"], json!({"version": "2"}));
    // X-Vault-Token wins over Authorization.
    let r = call_with(
        &c,
        "GET",
        &server.api("sys/mounts"),
        Some("bogus"),
        None,
        &[("authorization", "Bearer root")],
    )
    .await;
    assert_eq!(r.status, 403);

    // A write that returns nothing: 204 without a body, headers still there.
    let r = call(
        &c,
        "POST",
        &server.api("sys/mounts/kv1"),
        root,
        Some(r#"{"type":"kv"}"#),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    assert_common_headers(&r);
    assert!(r.header("content-length").is_none_or(|l| l == "0"));

    // Form-encoded bodies: repeated keys joined with commas.
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let r = call_with(
        &c,
        "PUT",
        &server.api("kv1/f"),
        root,
        Some("a=1&b=x+y&a=3&c"),
        &form,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = call(&c, "GET", &server.api("kv1/f"), root, None).await;
    assert_eq!(r.json()["data"], json!({"a": "1,3", "b": "x y", "c": ""}));
    // A form content type with a JSON body is JSON.
    let r = call_with(
        &c,
        "PUT",
        &server.api("kv1/g"),
        root,
        Some(r#"{"k":"v"}"#),
        &form,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = call(&c, "GET", &server.api("kv1/g"), root, None).await;
    assert_eq!(r.json()["data"], json!({"k": "v"}));
    // An empty body is empty data.
    let r = call(&c, "PUT", &server.api("kv1/h"), root, Some("")).await;
    assert!(
        r.status == 204 || r.status == 400,
        "{} {}",
        r.status,
        r.body
    );

    // LIST verb and ?list=true.
    let r = call(&c, "LIST", &server.api("kv1"), root, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.keys(), all(ENVELOPE_KEYS));
    let keys = r.json()["data"]["keys"].clone();
    assert!(
        keys.as_array()
            .is_some_and(|k| k.contains(&json!("f")) && k.contains(&json!("g"))),
        "{keys}"
    );
    let r = call(&c, "GET", &server.api("kv1?list=true"), root, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["keys"], keys);
    let r = call(
        &c,
        "GET",
        &server.api("secret/metadata?list=true"),
        root,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["data"]["keys"], json!(["app"]));

    // DELETE: 204.
    let r = call(&c, "DELETE", &server.api("kv1/f"), root, None).await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    let r = call(&c, "GET", &server.api("kv1/f"), root, None).await;
    assert_eq!((r.status, r.body.as_str()), (404, NO_ERRORS));
}

#[tokio::test]
async fn raft_lifecycle_and_restart() {
    let mut server = CofferServer::raft();
    let c = harness::client();

    // Not initialised.
    let r = call(&c, "GET", &server.api("sys/health"), None, None).await;
    assert_eq!(r.status, 501, "{}", r.body);
    assert_eq!(
        r.keys(),
        without(HEALTH_KEYS, &["cluster_name", "cluster_id"])
    );
    let h = r.json();
    assert_eq!(
        (
            h["initialized"].clone(),
            h["sealed"].clone(),
            h["standby"].clone()
        ),
        (json!(false), json!(true), json!(true))
    );
    let r = call(&c, "HEAD", &server.api("sys/health"), None, None).await;
    assert_eq!((r.status, r.body.as_str()), (501, ""));
    let r = call(
        &c,
        "GET",
        &server.api("sys/health?uninitcode=200"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(
        &c,
        "GET",
        &server.api("sys/health?uninitcode=299&sealedcode=298"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 299);
    let r = call(
        &c,
        "GET",
        &server.api("sys/health?sealedcode=298"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 501);
    let r = call(
        &c,
        "GET",
        &server.api("sys/health?uninitcode=abc"),
        None,
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (400, NO_ERRORS));

    let r = call(&c, "GET", &server.api("sys/seal-status"), None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.keys(),
        without(SEAL_STATUS_KEYS, &["cluster_name", "cluster_id"])
    );
    let s = r.json();
    assert_eq!(s["initialized"], false);
    assert_eq!(s["sealed"], true);
    assert_eq!((s["t"].clone(), s["n"].clone()), (json!(0), json!(0)));
    assert_eq!(s["storage_type"], "raft");

    let r = call(&c, "GET", &server.api("sys/leader"), None, None).await;
    assert_eq!((r.status, r.body.as_str()), (503, SEALED));
    let r = call(&c, "GET", &server.api("sys/init"), None, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "{\"initialized\":false}\n")
    );
    let r = call(&c, "GET", &server.api("sys/mounts"), Some("root"), None).await;
    assert_eq!((r.status, r.body.as_str()), (503, SEALED));
    let r = call(
        &c,
        "PUT",
        &server.api("sys/unseal"),
        None,
        Some(r#"{"key":"abc"}"#),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"errors": ["'key' must be a valid hex or base64 string"]})
    );

    // Init bodies are decoded as Go decodes them.
    for (body, msg) in [
        (
            r#"{"secret_shares":"x","secret_threshold":1}"#,
            "failed to decode JSON input: json: cannot unmarshal string into Go struct field InitRequest.secret_shares of type int",
        ),
        (
            r#"{"secret_shares":1.5,"secret_threshold":1}"#,
            "failed to decode JSON input: json: cannot unmarshal number 1.5 into Go struct field InitRequest.secret_shares of type int",
        ),
        (
            "[]",
            "failed to decode JSON input: json: cannot unmarshal array into Go value of type http.InitRequest",
        ),
        ("{", "failed to decode JSON input: unexpected EOF"),
    ] {
        let r = call(&c, "PUT", &server.api("sys/init"), None, Some(body)).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json(), json!({ "errors": [msg] }), "{body}");
    }

    // Init with the fields the bao CLI sends.
    let body = r#"{"secret_shares":3,"secret_threshold":2,"pgp_keys":null,"recovery_shares":0,"recovery_threshold":0,"recovery_pgp_keys":null,"root_token_pgp_key":""}"#;
    let r = call(&c, "PUT", &server.api("sys/init"), None, Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_common_headers(&r);
    assert_eq!(r.keys(), vec!["keys", "keys_base64", "root_token"]);
    let v = r.json();
    let keys: Vec<String> = v["keys"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let keys_b64: Vec<String> = v["keys_base64"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!((keys.len(), keys_b64.len()), (3, 3));
    let root = v["root_token"].as_str().unwrap_or_default().to_string();
    assert!(!root.is_empty());
    let r = call(
        &c,
        "POST",
        &server.api("sys/init"),
        None,
        Some(r#"{"secret_shares":1,"secret_threshold":1}"#),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"errors": ["Vault is already initialized"]})
    );

    // Sealed.
    let r = call(&c, "GET", &server.api("sys/health"), None, None).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["initialized"], true);
    let r = call(
        &c,
        "GET",
        &server.api("sys/health?sealedcode=200"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(
        &c,
        "GET",
        &server.api("sys/health?standbyok=true"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 503);
    let r = call(&c, "GET", &server.api("sys/leader"), None, None).await;
    assert_eq!((r.status, r.body.as_str()), (503, SEALED));
    let r = call(
        &c,
        "GET",
        &server.api("auth/token/lookup-self"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (503, SEALED));
    let s = call(&c, "GET", &server.api("sys/seal-status"), None, None)
        .await
        .json();
    assert_eq!(
        (
            s["t"].clone(),
            s["n"].clone(),
            s["progress"].clone(),
            s["nonce"].clone()
        ),
        (json!(2), json!(3), json!(0), json!(""))
    );

    // Unseal progress, the same key twice, reset, malformed input.
    let unseal = |body: String| {
        let c = c.clone();
        let url = server.api("sys/unseal");
        async move { call(&c, "PUT", &url, None, Some(&body)).await }
    };
    let r = unseal(format!(r#"{{"key":"{}"}}"#, keys[0])).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.keys(),
        without(SEAL_STATUS_KEYS, &["cluster_name", "cluster_id"])
    );
    let s1 = r.json();
    assert_eq!(
        (s1["sealed"].clone(), s1["progress"].clone()),
        (json!(true), json!(1))
    );
    let nonce = s1["nonce"].as_str().unwrap_or_default().to_string();
    assert!(!nonce.is_empty());
    let s2 = unseal(format!(r#"{{"key":"{}"}}"#, keys[0])).await.json();
    assert_eq!(
        (s2["progress"].clone(), s2["nonce"].clone()),
        (json!(1), json!(nonce))
    );
    let r = call(
        &c,
        "POST",
        &server.api("sys/unseal"),
        None,
        Some(r#"{"reset":true}"#),
    )
    .await;
    assert_eq!(r.status, 200);
    let s3 = r.json();
    assert_eq!(
        (
            s3["progress"].clone(),
            s3["nonce"].clone(),
            s3["sealed"].clone()
        ),
        (json!(0), json!(""), json!(true))
    );
    let r = unseal(r#"{"key":"not-a-key!"}"#.to_string()).await;
    assert_eq!(r.status, 400);
    let r = unseal("{}".to_string()).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"errors": ["'key' must be specified in request body as JSON, or 'reset' set to true"]})
    );
    let r = unseal(r#"{"key":5}"#.to_string()).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["errors"][0]
        .as_str()
        .is_some_and(|m| m.starts_with("failed to decode JSON input: ")));
    let s4 = unseal(format!(
        r#"{{"key":"{}","reset":false,"migrate":false}}"#,
        keys[0]
    ))
    .await
    .json();
    assert_eq!(s4["progress"], 1);
    assert_ne!(s4["nonce"], json!(nonce));
    // The second share in base64 completes it.
    let r = unseal(format!(r#"{{"key":"{}"}}"#, keys_b64[1])).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.keys(), all(SEAL_STATUS_KEYS));
    let s5 = r.json();
    assert_eq!(
        (
            s5["sealed"].clone(),
            s5["progress"].clone(),
            s5["nonce"].clone()
        ),
        (json!(false), json!(0), json!(""))
    );

    // Active.
    let r = call(&c, "GET", &server.api("sys/health"), None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.keys(), all(HEALTH_KEYS));
    assert_eq!(r.json()["cluster_name"], s5["cluster_name"]);
    let r = call(&c, "GET", &server.api("sys/leader"), None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let l = r.json();
    assert_eq!(
        (l["ha_enabled"].clone(), l["is_self"].clone()),
        (json!(true), json!(true))
    );
    let r = call(
        &c,
        "GET",
        &server.api("auth/token/lookup-self"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let policy = json!({"policy": "path \"kv/*\" { capabilities = [\"read\"] }"}).to_string();
    let r = call(
        &c,
        "PUT",
        &server.api("sys/policies/acl/persisted"),
        Some(&root),
        Some(&policy),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);

    // A graceful stop and a restart keep the data; the node comes back sealed.
    server.restart().unwrap_or_else(|e| panic!("restart: {e}"));
    // A new client: the old one's pooled connections died with the old process.
    let c = harness::client();
    let s = call(&c, "GET", &server.api("sys/seal-status"), None, None)
        .await
        .json();
    assert_eq!(
        (
            s["initialized"].clone(),
            s["sealed"].clone(),
            s["progress"].clone()
        ),
        (json!(true), json!(true), json!(0))
    );
    for k in &keys[1..] {
        let r = call(
            &c,
            "PUT",
            &server.api("sys/unseal"),
            None,
            Some(&format!(r#"{{"key":"{k}"}}"#)),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = call(&c, "GET", &server.api("sys/health"), None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &c,
        "GET",
        &server.api("sys/policies/acl/persisted"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let status = server.terminate(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        server.stderr_text()
    );
}

#[tokio::test]
async fn request_size_limit() {
    let mut server = CofferServer::raft_with_listener_settings("max_request_size = 1024");
    let c = harness::client();
    let keys = harness::init(&mut server, 1, 1).await;
    harness::unseal_all(&server, &keys).await;
    let root = keys.root_token.clone();
    let too_large = "{\"errors\":[\"http: request body too large\"]}\n";

    let big = format!(r#"{{"policy":"{}"}}"#, "a".repeat(2000));
    let r = call(
        &c,
        "PUT",
        &server.api("sys/policies/acl/big"),
        Some(&root),
        Some(&big),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (413, too_large));
    assert_common_headers(&r);
    let r = call(&c, "PUT", &server.api("sys/unseal"), None, Some(&big)).await;
    assert_eq!((r.status, r.body.as_str()), (413, too_large));
    assert_eq!(
        status_line(server.addr, "GET", "/v1/sys/health"),
        "HTTP/1.1 200 OK",
        "the server still answers"
    );

    // Without a Content-Length (chunked), the limit holds while reading.
    let chunk = "a".repeat(800);
    let raw = format!(
        "PUT /v1/sys/policies/acl/big HTTP/1.1\r\nHost: {addr}\r\nX-Vault-Token: {root}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
        addr = server.addr,
        len = chunk.len(),
    );
    let answer = harness::raw_http(server.addr, raw.as_bytes());
    assert!(
        answer.starts_with("HTTP/1.1 413 Request Entity Too Large\r\n"),
        "{answer}"
    );
    assert!(answer.ends_with(too_large), "{answer}");

    // Below the limit all is well.
    let small = json!({"policy": "path \"kv/*\" { capabilities = [\"read\"] }"}).to_string();
    let r = call(
        &c,
        "PUT",
        &server.api("sys/policies/acl/small"),
        Some(&root),
        Some(&small),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
}

#[tokio::test]
async fn tls_listener() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_cert, _key, ca) = harness::write_self_signed(dir.path());
    let config = r#"
storage "inmem" {}
listener "tcp" {
  address         = "{{ADDR}}"
  tls_cert_file   = "{{DIR}}/cert.pem"
  tls_key_file    = "{{DIR}}/key.pem"
  tls_min_version = "tls13"
}
"#;
    let server = CofferServer::with_config_in(dir, config);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );

    let c = harness::tls_client(&ca);
    let r = call(&c, "GET", &server.api("sys/health"), None, None).await;
    assert_eq!(r.status, 501, "{}", r.body);
    assert_common_headers(&r);
    let r = call(&c, "GET", &server.api("sys/seal-status"), None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["storage_type"], "inmem");

    // TLS 1.2 only: refused by a tls13 listener.
    let old = harness::tls_client_builder(&ca)
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .expect("client");
    assert!(old.get(server.api("sys/health")).send().await.is_err());
    // A client that does not trust the CA: refused.
    let other = harness::write_self_signed(tempfile::tempdir().expect("tempdir").path()).2;
    let untrusting = harness::tls_client(&other);
    assert!(untrusting
        .get(server.api("sys/health"))
        .send()
        .await
        .is_err());
    // Plain HTTP to a TLS listener gets no HTTP answer.
    let plain = harness::client();
    let url = server.api("sys/health").replace("https://", "http://");
    let r = plain.get(url).send().await;
    assert!(r.is_err() || r.is_ok_and(|r| r.status() != 200));
}

#[tokio::test]
async fn tls12_listener_accepts_tls12() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_cert, _key, ca) = harness::write_self_signed(dir.path());
    let config = r#"
storage "inmem" {}
listener "tcp" {
  address       = "{{ADDR}}"
  tls_cert_file = "{{DIR}}/cert.pem"
  tls_key_file  = "{{DIR}}/key.pem"
}
"#;
    let server = CofferServer::with_config_in(dir, config);
    let c = harness::tls_client_builder(&ca)
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .expect("client");
    let r = c
        .get(server.api("sys/health"))
        .send()
        .await
        .expect("TLS 1.2 request");
    assert_eq!(r.status().as_u16(), 501);
}

#[test]
fn command_line() {
    let out = std::process::Command::new(harness::BIN)
        .arg("version")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("Coffer v{}", env!("CARGO_PKG_VERSION"))
    );

    let out = std::process::Command::new(harness::BIN)
        .arg("server")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no configuration"));

    let out = std::process::Command::new(harness::BIN)
        .args(["server", "-bogus"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("flag provided but not defined: -bogus"));

    // Configuration errors name file and line, and the exit code is non-zero.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.hcl");
    std::fs::write(&path, "listener \"tcp\" {\n  adress = \"127.0.0.1:1\"\n}\n").expect("write");
    let out = std::process::Command::new(harness::BIN)
        .args(["server", "--config", &path.display().to_string()])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.hcl:2:") && err.contains("adress"),
        "{err}"
    );

    // A missing TLS certificate is reported before anything starts.
    let path = dir.path().join("tls.hcl");
    std::fs::write(
        &path,
        format!(
            "storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  address = \"{}\"\n  tls_cert_file = \"/nonexistent/c.pem\"\n  tls_key_file = \"/nonexistent/k.pem\"\n}}\n",
            harness::free_addr()
        ),
    )
    .expect("write");
    let out = std::process::Command::new(harness::BIN)
        .arg("server")
        .arg(format!("-config={}", path.display()))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/c.pem"));

    // A taken address.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let out = std::process::Command::new(harness::BIN)
        .args(["server", "-dev", &format!("-dev-listen-address={addr}")])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&addr.to_string()));
}

#[test]
fn dev_server_stops_on_sigterm() {
    let mut server = CofferServer::dev();
    let status = server.terminate(Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}
