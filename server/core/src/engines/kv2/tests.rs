use serde_json::{json, Value};

use crate::engines::test_util::{data, setup, TestEnv};
use crate::error::CoreError;
use crate::logical::Operation::{self, *};

async fn ok(env: &TestEnv, op: Operation, path: &str, body: Value) -> Value {
    let resp = env.req(op, path, body).await.expect(path);
    assert!(
        resp.status.is_none(),
        "{path}: unexpected status {:?}",
        resp.status
    );
    data(&resp)
}

async fn err(env: &TestEnv, op: Operation, path: &str, body: Value) -> CoreError {
    match env.req(op, path, body).await {
        Ok(r) => panic!("{path}: expected an error, got {:?}", r.data),
        Err(e) => e,
    }
}

fn invalid_msg(e: &CoreError) -> String {
    match e {
        CoreError::InvalidRequest(m) => m.clone(),
        other => panic!("expected a 400, got {other:?}"),
    }
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn write_and_read_shapes() {
    let env = setup().await;
    let w = ok(
        &env,
        Update,
        "secret/data/app/db",
        json!({"data": {"user": "u", "pass": "p1"}}),
    )
    .await;
    assert_eq!(
        keys(&w),
        [
            "created_time",
            "custom_metadata",
            "deletion_time",
            "destroyed",
            "version"
        ]
    );
    assert_eq!(w["version"], 1);
    assert_eq!(w["custom_metadata"], Value::Null);
    assert_eq!(w["deletion_time"], "");
    assert_eq!(w["destroyed"], false);
    let created = w["created_time"].as_str().expect("time").to_string();
    assert!(created.ends_with('Z') && created.len() >= 20, "{created}");

    let r = ok(&env, Read, "secret/data/app/db", json!({})).await;
    assert_eq!(keys(&r), ["data", "metadata"]);
    assert_eq!(r["data"], json!({"pass": "p1", "user": "u"}));
    // Keys come back sorted, as Go encodes maps.
    assert_eq!(keys(&r["data"]), ["pass", "user"]);
    assert_eq!(r["metadata"]["created_time"], created.as_str());
    assert_eq!(r["metadata"]["version"], 1);

    ok(
        &env,
        Update,
        "secret/data/app/db",
        json!({"data": {"user": "u", "pass": "p2", "n": {"b": 1, "a": [1, {"z": null}]}}}),
    )
    .await;
    let r = ok(&env, Read, "secret/data/app/db", json!({})).await;
    assert_eq!(r["metadata"]["version"], 2);
    assert_eq!(r["data"]["n"], json!({"a": [1, {"z": null}], "b": 1}));
    // Query parameters arrive as strings.
    let r1 = ok(&env, Read, "secret/data/app/db", json!({"version": "1"})).await;
    assert_eq!(r1["data"]["pass"], "p1");
    assert_eq!(r1["metadata"]["version"], 1);
    // Zero and negative versions mean the latest.
    for v in ["0", "-1", ""] {
        let r = ok(&env, Read, "secret/data/app/db", json!({"version": v})).await;
        assert_eq!(r["metadata"]["version"], 2, "version={v}");
    }
    assert!(matches!(
        err(&env, Read, "secret/data/app/db", json!({"version": "7"})).await,
        CoreError::NotFound
    ));
    assert!(matches!(
        err(&env, Read, "secret/data/app/nonexist", json!({})).await,
        CoreError::NotFound
    ));
    let e = err(&env, Read, "secret/data/app/db", json!({"version": "abc"})).await;
    assert_eq!(
        invalid_msg(&e),
        "Field validation failed: error converting input for field \"version\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
    );
    // Unknown parameters are reported, as OpenBao's framework does.
    let resp = env
        .req(Read, "secret/data/app/db", json!({"bar": "1"}))
        .await
        .expect("read");
    assert_eq!(
        resp.warnings,
        ["Endpoint ignored these unrecognized parameters: [bar]"]
    );
    let resp = env
        .req(
            Update,
            "secret/data/app/db",
            json!({"data": {"a": 1}, "foo": 1}),
        )
        .await
        .expect("write");
    assert_eq!(
        resp.warnings,
        ["Endpoint ignored these unrecognized parameters: [foo]"]
    );
}

#[tokio::test]
async fn write_input_errors() {
    let env = setup().await;
    let e = err(&env, Update, "secret/data/app/db", json!({"user": "u"})).await;
    assert_eq!(invalid_msg(&e), "no data provided");
    // Type errors surface from the existence check, without a prefix.
    let e = err(&env, Update, "secret/data/app/db", json!({"data": "str"})).await;
    assert_eq!(
        invalid_msg(&e),
        "error converting input for field \"data\": '' expected type 'map[string]interface {}', got unconvertible type 'string'"
    );
    let e = err(&env, Update, "secret/data/app/db", json!({"data": [1]})).await;
    assert_eq!(
        invalid_msg(&e),
        "error converting input for field \"data\": '[0]' expected type 'map[string]interface {}', got unconvertible type 'json.Number'"
    );
    let e = err(
        &env,
        Update,
        "secret/data/app/db",
        json!({"data": {"a": 1}, "options": 5}),
    )
    .await;
    assert_eq!(
        invalid_msg(&e),
        "error converting input for field \"options\": '' expected type 'map[string]interface {}', got unconvertible type 'json.Number'"
    );
    let e = err(&env, Update, "secret/data/app/", json!({"data": {"a": 1}})).await;
    assert_eq!(invalid_msg(&e), "cannot write to a path ending in '/'");

    // `data: null` and a list of maps are accepted as OpenBao does.
    ok(&env, Update, "secret/data/n", json!({"data": null})).await;
    let r = env
        .req(Read, "secret/data/n", json!({}))
        .await
        .expect("read");
    assert_eq!(data(&r)["data"], Value::Null);
    ok(
        &env,
        Update,
        "secret/data/l",
        json!({"data": [{"a": "1"}, {"b": 2}]}),
    )
    .await;
    assert_eq!(
        ok(&env, Read, "secret/data/l", json!({})).await["data"],
        json!({"a": "1", "b": 2})
    );
}

#[tokio::test]
async fn check_and_set() {
    let env = setup().await;
    let cas_msg = "check-and-set parameter did not match the current version";
    let e = err(
        &env,
        Update,
        "secret/data/new",
        json!({"options": {"cas": 1}, "data": {"x": "1"}}),
    )
    .await;
    assert_eq!(invalid_msg(&e), cas_msg);
    ok(
        &env,
        Update,
        "secret/data/new",
        json!({"options": {"cas": 0}, "data": {"x": "1"}}),
    )
    .await;
    let e = err(
        &env,
        Update,
        "secret/data/new",
        json!({"options": {"cas": 0}, "data": {"x": "2"}}),
    )
    .await;
    assert_eq!(invalid_msg(&e), cas_msg);
    let w = ok(
        &env,
        Update,
        "secret/data/new",
        json!({"options": {"cas": "1"}, "data": {"x": "2"}}),
    )
    .await;
    assert_eq!(w["version"], 2);
    let e = err(
        &env,
        Update,
        "secret/data/new",
        json!({"options": {"cas": "abc"}, "data": {"x": "2"}}),
    )
    .await;
    assert_eq!(invalid_msg(&e), "error parsing check-and-set parameter");
    let e = err(
        &env,
        Update,
        "secret/data/new",
        json!({"options": {"cas": 1.5}, "data": {"x": "2"}}),
    )
    .await;
    assert_eq!(invalid_msg(&e), "error parsing check-and-set parameter");
    // `options: null` or `{}` is no check.
    ok(
        &env,
        Update,
        "secret/data/new",
        json!({"options": null, "data": {"x": "3"}}),
    )
    .await;
    ok(
        &env,
        Update,
        "secret/data/new",
        json!({"options": {}, "data": {"x": "4"}}),
    )
    .await;

    // Mount-wide and per-key cas_required.
    ok(&env, Update, "secret/config", json!({"cas_required": true})).await;
    let e = err(&env, Update, "secret/data/new", json!({"data": {"x": "5"}})).await;
    assert_eq!(
        invalid_msg(&e),
        "check-and-set parameter required for this call"
    );
    let resp = env
        .req(
            Update,
            "secret/metadata/new",
            json!({"cas_required": false, "foo": "bar"}),
        )
        .await
        .expect("metadata write");
    assert!(resp.data.is_none());
    assert_eq!(
        resp.warnings,
        [
            "\"cas_required\" set to false, but is mandated by backend config. This value will be ignored.",
            "Endpoint ignored these unrecognized parameters: [foo]"
        ]
    );
    ok(
        &env,
        Update,
        "secret/config",
        json!({"cas_required": false}),
    )
    .await;
    ok(
        &env,
        Update,
        "secret/metadata/other",
        json!({"cas_required": true}),
    )
    .await;
    let e = err(
        &env,
        Update,
        "secret/data/other",
        json!({"data": {"x": "5"}}),
    )
    .await;
    assert_eq!(
        invalid_msg(&e),
        "check-and-set parameter required for this call"
    );
    ok(
        &env,
        Update,
        "secret/data/other",
        json!({"data": {"x": "5"}, "options": {"cas": 0}}),
    )
    .await;
}

#[tokio::test]
async fn patch_merges_the_latest_version() {
    let env = setup().await;
    ok(
        &env,
        Update,
        "secret/data/p",
        json!({"data": {"a": "1", "b": {"c": 1, "d": 2}}}),
    )
    .await;

    let e = env
        .patch(
            "secret/data/p",
            Some("application/json"),
            json!({"data": {"x": 1}}),
        )
        .await
        .expect_err("415");
    match e {
        CoreError::UnsupportedMediaType(m) => assert_eq!(
            m,
            "PATCH requires Content-Type of application/merge-patch+json, provided application/json"
        ),
        other => panic!("{other:?}"),
    }
    let e = env
        .patch("secret/data/p", None, json!({"data": {"x": 1}}))
        .await
        .expect_err("400");
    assert_eq!(invalid_msg(&e), "mime: no media type");

    let ct = Some("application/merge-patch+json; charset=utf-8");
    let resp = env
        .patch(
            "secret/data/p",
            ct,
            json!({"data": {"a": null, "b": {"d": 3}, "e": "new"}}),
        )
        .await
        .expect("patch");
    assert_eq!(data(&resp)["version"], 2);
    let r = ok(&env, Read, "secret/data/p", json!({})).await;
    assert_eq!(r["data"], json!({"b": {"c": 1, "d": 3}, "e": "new"}));

    let e = env
        .patch(
            "secret/data/p",
            ct,
            json!({"options": {"cas": 1}, "data": {"x": 1}}),
        )
        .await
        .expect_err("cas");
    assert_eq!(
        invalid_msg(&e),
        "check-and-set parameter did not match the current version"
    );
    let e = env
        .patch("secret/data/p", ct, json!({"options": {"cas": 2}}))
        .await
        .expect_err("no data");
    assert_eq!(invalid_msg(&e), "no data provided");
    let e = env
        .patch("secret/data/p", ct, json!({"data": "str"}))
        .await
        .expect_err("type");
    assert_eq!(
        invalid_msg(&e),
        "Field validation failed: error converting input for field \"data\": '' expected type 'map[string]interface {}', got unconvertible type 'string'"
    );

    // A missing secret: 404 with no body at all.
    let resp = env
        .patch("secret/data/none", ct, json!({"data": {"x": 1}}))
        .await
        .expect("404");
    assert_eq!(resp.status, Some(404));
    assert!(resp
        .raw
        .as_ref()
        .is_some_and(|r| r.status == 404 && r.body.is_empty()));

    // A deleted latest version: 404 with the version's metadata.
    ok(&env, Delete, "secret/data/p", json!({})).await;
    let resp = env
        .patch("secret/data/p", ct, json!({"data": {"x": 1}}))
        .await
        .expect("404 envelope");
    assert_eq!(resp.status, Some(404));
    assert_eq!(data(&resp)["version"], 2);
    assert_ne!(data(&resp)["deletion_time"], "");

    // PATCH on a v1 mount is unsupported (after the content-type check).
    let e = env
        .patch("kv/x", ct, json!({"a": 1}))
        .await
        .expect_err("405");
    assert!(matches!(e, CoreError::UnsupportedOperation));
    let e = env
        .patch("kv/x", Some("text/plain"), json!({"a": 1}))
        .await
        .expect_err("415");
    assert!(matches!(e, CoreError::UnsupportedMediaType(_)));
}

#[tokio::test]
async fn delete_undelete_destroy() {
    let env = setup().await;
    for p in ["p1", "p2", "p3"] {
        ok(
            &env,
            Update,
            "secret/data/app/db",
            json!({"data": {"user": "u", "pass": p}}),
        )
        .await;
    }
    ok(
        &env,
        Update,
        "secret/metadata/app/db",
        json!({"custom_metadata": {"owner": "team-a"}}),
    )
    .await;

    // DELETE soft-deletes the latest version: 404 with the full envelope.
    assert!(env
        .req(Delete, "secret/data/app/db", json!({}))
        .await
        .expect("delete")
        .is_empty());
    let resp = env
        .req(Read, "secret/data/app/db", json!({}))
        .await
        .expect("read");
    assert_eq!(resp.status, Some(404));
    let d = data(&resp);
    assert_eq!(keys(&d), ["data", "metadata"]);
    assert_eq!(d["data"], Value::Null);
    assert_eq!(d["metadata"]["version"], 3);
    assert_eq!(d["metadata"]["custom_metadata"], json!({"owner": "team-a"}));
    assert_ne!(d["metadata"]["deletion_time"], "");
    assert_eq!(d["metadata"]["destroyed"], false);
    // Deleting again changes nothing.
    let before = ok(&env, Read, "secret/metadata/app/db", json!({})).await;
    ok(&env, Delete, "secret/data/app/db", json!({})).await;
    assert_eq!(
        ok(&env, Read, "secret/metadata/app/db", json!({})).await,
        before
    );

    // Older versions stay readable; delete/ marks chosen versions.
    assert_eq!(
        ok(&env, Read, "secret/data/app/db", json!({"version": "2"})).await["data"]["pass"],
        "p2"
    );
    ok(
        &env,
        Update,
        "secret/delete/app/db",
        json!({"versions": [1, 2]}),
    )
    .await;
    let resp = env
        .req(Read, "secret/data/app/db", json!({"version": "2"}))
        .await
        .expect("read");
    assert_eq!(resp.status, Some(404));

    ok(
        &env,
        Update,
        "secret/undelete/app/db",
        json!({"versions": "1,2,3"}),
    )
    .await;
    let r = ok(&env, Read, "secret/data/app/db", json!({})).await;
    assert_eq!(r["data"]["pass"], "p3");
    assert_eq!(r["metadata"]["deletion_time"], "");

    // destroy/ removes the data for good.
    ok(
        &env,
        Update,
        "secret/destroy/app/db",
        json!({"versions": [1]}),
    )
    .await;
    let resp = env
        .req(Read, "secret/data/app/db", json!({"version": "1"}))
        .await
        .expect("read");
    assert_eq!(resp.status, Some(404));
    let d = data(&resp);
    assert_eq!(d["data"], Value::Null);
    assert_eq!(d["metadata"]["destroyed"], true);
    assert_eq!(d["metadata"]["deletion_time"], "");
    // A destroyed version cannot be undeleted.
    ok(
        &env,
        Update,
        "secret/undelete/app/db",
        json!({"versions": [1]}),
    )
    .await;
    let resp = env
        .req(Read, "secret/data/app/db", json!({"version": "1"}))
        .await
        .expect("read");
    assert_eq!(resp.status, Some(404));
    let m = ok(&env, Read, "secret/metadata/app/db", json!({})).await;
    assert_eq!(m["versions"]["1"]["destroyed"], true);
    assert_eq!(m["versions"]["2"]["destroyed"], false);

    // Input errors.
    for (path, msg) in [
        ("secret/delete/app/db", "No version number provided"),
        ("secret/undelete/app/db", "No version number provided"),
        ("secret/destroy/app/db", "no version number provided"),
    ] {
        assert_eq!(invalid_msg(&err(&env, Update, path, json!({})).await), msg);
        assert_eq!(
            invalid_msg(&err(&env, Update, path, json!({"versions": []})).await),
            msg
        );
    }
    let e = err(
        &env,
        Update,
        "secret/delete/app/db",
        json!({"versions": "x"}),
    )
    .await;
    assert_eq!(
        invalid_msg(&e),
        "Field validation failed: error converting input for field \"versions\": decoding failed due to the following error(s):\n\n'[0]' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
    );
    // Unknown keys and versions are no-ops.
    ok(&env, Update, "secret/delete/none", json!({"versions": [1]})).await;
    ok(
        &env,
        Update,
        "secret/destroy/app/db",
        json!({"versions": [99]}),
    )
    .await;
    // Only writes exist on these paths.
    assert!(matches!(
        err(&env, Read, "secret/delete/app/db", json!({})).await,
        CoreError::UnsupportedOperation
    ));
    assert!(matches!(
        err(&env, List, "secret/destroy/app", json!({})).await,
        CoreError::UnsupportedOperation
    ));
}

#[tokio::test]
async fn metadata_read_write_delete() {
    let env = setup().await;
    for p in ["p1", "p2", "p3"] {
        ok(
            &env,
            Update,
            "secret/data/app/db",
            json!({"data": {"pass": p}}),
        )
        .await;
    }
    let m = ok(&env, Read, "secret/metadata/app/db", json!({})).await;
    assert_eq!(
        keys(&m),
        [
            "cas_required",
            "created_time",
            "current_metadata_version",
            "current_version",
            "custom_metadata",
            "delete_version_after",
            "max_versions",
            "metadata_cas_required",
            "oldest_version",
            "updated_time",
            "versions"
        ]
    );
    assert_eq!(m["current_version"], 3);
    assert_eq!(m["current_metadata_version"], 0);
    assert_eq!(m["oldest_version"], 0);
    assert_eq!(m["max_versions"], 0);
    assert_eq!(m["delete_version_after"], "0s");
    assert_eq!(m["custom_metadata"], Value::Null);
    assert_eq!(keys(&m["versions"]), ["1", "2", "3"]);
    assert_eq!(
        keys(&m["versions"]["1"]),
        ["created_time", "deletion_time", "destroyed"]
    );
    assert_eq!(m["created_time"], m["versions"]["1"]["created_time"]);
    assert_eq!(m["updated_time"], m["versions"]["3"]["created_time"]);

    ok(&env, Update, "secret/metadata/app/db", json!({"max_versions": 3, "cas_required": false, "custom_metadata": {"owner": "team-a", "n": 1, "b": true}, "delete_version_after": "1h30m"})).await;
    let m2 = ok(&env, Read, "secret/metadata/app/db", json!({})).await;
    assert_eq!(m2["max_versions"], 3);
    assert_eq!(m2["current_metadata_version"], 1);
    assert_eq!(
        m2["custom_metadata"],
        json!({"b": "1", "n": "1", "owner": "team-a"})
    );
    assert_eq!(m2["delete_version_after"], "1h30m0s");
    assert_ne!(m2["updated_time"], m["updated_time"]);
    // The data read carries the custom metadata.
    assert_eq!(
        ok(&env, Read, "secret/data/app/db", json!({})).await["metadata"]["custom_metadata"],
        json!({"b": "1", "n": "1", "owner": "team-a"})
    );

    // Validation.
    let e = err(
        &env,
        Update,
        "secret/metadata/app/db",
        json!({"custom_metadata": {"a": 1, "c": null}}),
    )
    .await;
    assert_eq!(
        invalid_msg(&e),
        "1 error occurred:\n\t* custom_metadata validation failed: length of value for key \"c\" is 0 but must be 0 < len(value) <= 512\n\n"
    );
    let e = err(
        &env,
        Update,
        "secret/metadata/app/db",
        json!({"custom_metadata": {"": "x", "k": ""}}),
    )
    .await;
    assert_eq!(
        invalid_msg(&e),
        "2 errors occurred:\n\t* custom_metadata validation failed: length of key \"\" is 0 but must be 0 < len(key) <= 128\n\t* custom_metadata validation failed: length of value for key \"k\" is 0 but must be 0 < len(value) <= 512\n\n"
    );
    let e = err(
        &env,
        Update,
        "secret/metadata/app/db",
        json!({"custom_metadata": {"a": {"x": 1}}}),
    )
    .await;
    assert_eq!(
        invalid_msg(&e),
        "custom_metadata validation failed: '' expected type 'string', got unconvertible type 'map[string]interface {}'"
    );
    let e = err(
        &env,
        Update,
        "secret/metadata/app/db",
        json!({"delete_version_after": "-5s"}),
    )
    .await;
    assert_eq!(
        invalid_msg(&e),
        "error converting input for field \"delete_version_after\": cannot provide negative value '-5'"
    );
    let e = err(
        &env,
        Update,
        "secret/metadata/app/db",
        json!({"max_versions": "x"}),
    )
    .await;
    assert_eq!(
        invalid_msg(&e),
        "error converting input for field \"max_versions\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
    );
    let e = err(
        &env,
        Update,
        "secret/metadata/app/db",
        json!({"cas_required": "maybe"}),
    )
    .await;
    assert_eq!(
        invalid_msg(&e),
        "error converting input for field \"cas_required\": '' cannot parse value as 'bool': strconv.ParseBool: invalid syntax"
    );

    // A write with nothing to set stores nothing.
    assert!(env
        .req(Update, "secret/metadata/empty", json!({}))
        .await
        .expect("write")
        .is_empty());
    assert!(matches!(
        err(&env, Read, "secret/metadata/empty", json!({})).await,
        CoreError::NotFound
    ));
    // Metadata alone creates a key with no versions.
    ok(
        &env,
        Update,
        "secret/metadata/only",
        json!({"max_versions": 2}),
    )
    .await;
    let m = ok(&env, Read, "secret/metadata/only", json!({})).await;
    assert_eq!(m["versions"], json!({}));
    assert_eq!(m["current_version"], 0);
    assert_eq!(m["current_metadata_version"], 1);
    assert!(matches!(
        err(&env, Read, "secret/data/only", json!({})).await,
        CoreError::NotFound
    ));

    // Deleting metadata removes every version.
    assert!(env
        .req(Delete, "secret/metadata/app/db", json!({}))
        .await
        .expect("delete")
        .is_empty());
    assert!(matches!(
        err(&env, Read, "secret/metadata/app/db", json!({})).await,
        CoreError::NotFound
    ));
    assert!(matches!(
        err(&env, Read, "secret/data/app/db", json!({"version": "3"})).await,
        CoreError::NotFound
    ));
    let left = env
        .raw_values()
        .await
        .into_iter()
        .filter(|(k, _)| k.contains("/versions/"))
        .count();
    assert_eq!(left, 0, "version data left after metadata delete");
    // Deleting a missing key is fine.
    ok(&env, Delete, "secret/metadata/app/nonexist", json!({})).await;
}

#[tokio::test]
async fn metadata_check_and_set() {
    let env = setup().await;
    ok(
        &env,
        Update,
        "secret/config",
        json!({"metadata_cas_required": true}),
    )
    .await;
    let e = err(
        &env,
        Update,
        "secret/metadata/x",
        json!({"max_versions": 3}),
    )
    .await;
    assert_eq!(
        invalid_msg(&e),
        "metadata check-and-set parameter required for this call"
    );
    let e = err(
        &env,
        Update,
        "secret/metadata/x",
        json!({"max_versions": 3, "metadata_cas": 1}),
    )
    .await;
    assert_eq!(
        invalid_msg(&e),
        "metadata_cas must be 0 when creating new metadata"
    );
    ok(
        &env,
        Update,
        "secret/metadata/x",
        json!({"max_versions": 3, "metadata_cas": 0}),
    )
    .await;
    let e = err(
        &env,
        Update,
        "secret/metadata/x",
        json!({"max_versions": 4, "metadata_cas": 0}),
    )
    .await;
    assert_eq!(
        invalid_msg(&e),
        "metadata check-and-set parameter does not match the current version"
    );
    ok(
        &env,
        Update,
        "secret/metadata/x",
        json!({"max_versions": 4, "metadata_cas": 1}),
    )
    .await;
    let m = ok(&env, Read, "secret/metadata/x", json!({})).await;
    assert_eq!(
        (
            m["max_versions"].clone(),
            m["current_metadata_version"].clone()
        ),
        (json!(4), json!(2))
    );
    let c = ok(&env, Read, "secret/config", json!({})).await;
    assert_eq!(c["metadata_cas_required"], true);
}

#[tokio::test]
async fn metadata_patch() {
    let env = setup().await;
    let ct = Some("application/merge-patch+json");
    ok(&env, Update, "secret/data/m", json!({"data": {"a": "b"}})).await;
    ok(
        &env,
        Update,
        "secret/metadata/m",
        json!({"custom_metadata": {"keep": "1", "drop": "2"}}),
    )
    .await;
    let resp = env
        .patch(
            "secret/metadata/m",
            ct,
            json!({"max_versions": 4, "custom_metadata": {"drop": null, "new": "3"}}),
        )
        .await
        .expect("patch");
    assert!(resp.is_empty());
    let m = ok(&env, Read, "secret/metadata/m", json!({})).await;
    assert_eq!(m["max_versions"], 4);
    assert_eq!(m["custom_metadata"], json!({"keep": "1", "new": "3"}));
    assert_eq!(m["current_metadata_version"], 2);
    // Nothing patchable: nothing happens.
    assert!(env
        .patch("secret/metadata/m", ct, json!({"foo": 1}))
        .await
        .expect("noop")
        .is_empty());
    // A missing key: 404 without a body.
    let resp = env
        .patch("secret/metadata/none", ct, json!({"max_versions": 1}))
        .await
        .expect("404");
    assert_eq!(resp.status, Some(404));
    assert!(resp.raw.is_some());
}

#[tokio::test]
async fn max_versions_prunes_old_data() {
    let env = setup().await;
    ok(&env, Update, "secret/config", json!({"max_versions": 5})).await;
    ok(
        &env,
        Update,
        "secret/metadata/x",
        json!({"max_versions": 2}),
    )
    .await;
    for i in 1..=7 {
        ok(&env, Update, "secret/data/x", json!({"data": {"i": i}})).await;
    }
    // OpenBao keeps the larger of the key's and the mount's limits.
    let m = ok(&env, Read, "secret/metadata/x", json!({})).await;
    assert_eq!(m["current_version"], 7);
    assert_eq!(m["oldest_version"], 3);
    assert_eq!(keys(&m["versions"]), ["3", "4", "5", "6", "7"]);
    assert!(matches!(
        err(&env, Read, "secret/data/x", json!({"version": "2"})).await,
        CoreError::NotFound
    ));
    assert_eq!(
        ok(&env, Read, "secret/data/x", json!({"version": "3"})).await["data"]["i"],
        3
    );
    let stored = env
        .raw_values()
        .await
        .into_iter()
        .filter(|(k, _)| k.contains("/versions/"))
        .count();
    assert_eq!(stored, 5, "pruned version data must be deleted");

    // The default limit is 10 versions.
    ok(&env, Update, "secret/config", json!({"max_versions": 0})).await;
    for i in 1..=13 {
        ok(&env, Update, "secret/data/y", json!({"data": {"i": i}})).await;
    }
    let m = ok(&env, Read, "secret/metadata/y", json!({})).await;
    assert_eq!(m["oldest_version"], 4);
    assert_eq!(m["versions"].as_object().map(|v| v.len()), Some(10));
}

#[tokio::test]
async fn config_endpoint() {
    let env = setup().await;
    let c = ok(&env, Read, "secret/config", json!({})).await;
    assert_eq!(
        c,
        json!({"cas_required": false, "delete_version_after": "0s", "max_versions": 0, "metadata_cas_required": false})
    );
    assert_eq!(
        keys(&c),
        [
            "cas_required",
            "delete_version_after",
            "max_versions",
            "metadata_cas_required"
        ]
    );
    assert!(env
        .req(
            Update,
            "secret/config",
            json!({"max_versions": 5, "cas_required": false, "delete_version_after": "0s"})
        )
        .await
        .expect("write")
        .is_empty());
    assert_eq!(
        ok(&env, Read, "secret/config", json!({})).await["max_versions"],
        5
    );
    ok(
        &env,
        Update,
        "secret/config",
        json!({"delete_version_after": "-5s"}),
    )
    .await;
    assert_eq!(
        ok(&env, Read, "secret/config", json!({})).await["delete_version_after"],
        "-1s"
    );
    ok(
        &env,
        Update,
        "secret/config",
        json!({"delete_version_after": "2h"}),
    )
    .await;
    assert_eq!(
        ok(&env, Read, "secret/config", json!({})).await["delete_version_after"],
        "2h0m0s"
    );
    ok(
        &env,
        Update,
        "secret/config",
        json!({"delete_version_after": 0}),
    )
    .await;
    assert_eq!(
        ok(&env, Read, "secret/config", json!({})).await["delete_version_after"],
        "0s"
    );
    let e = err(&env, Update, "secret/config", json!({"max_versions": "x"})).await;
    assert_eq!(
        invalid_msg(&e),
        "Field validation failed: error converting input for field \"max_versions\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
    );
    let e = err(
        &env,
        Update,
        "secret/config",
        json!({"delete_version_after": "bogus"}),
    )
    .await;
    assert_eq!(
        invalid_msg(&e),
        "Field validation failed: error converting input for field \"delete_version_after\": time: invalid duration \"bogus\""
    );
    assert!(matches!(
        err(&env, Delete, "secret/config", json!({})).await,
        CoreError::UnsupportedOperation
    ));
}

#[tokio::test]
async fn delete_version_after_expires_versions() {
    let env = setup().await;
    ok(
        &env,
        Update,
        "secret/metadata/t",
        json!({"delete_version_after": "1s"}),
    )
    .await;
    let w = ok(&env, Update, "secret/data/t", json!({"data": {"a": "b"}})).await;
    assert_ne!(w["deletion_time"], "");
    // Still readable until the deletion time, with the time shown.
    let r = ok(&env, Read, "secret/data/t", json!({})).await;
    assert_eq!(r["metadata"]["deletion_time"], w["deletion_time"]);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let resp = env
        .req(Read, "secret/data/t", json!({}))
        .await
        .expect("read");
    assert_eq!(resp.status, Some(404));
    assert_eq!(data(&resp)["data"], Value::Null);
    // Undelete gives it a new deletion time.
    ok(&env, Update, "secret/undelete/t", json!({"versions": [1]})).await;
    let r = ok(&env, Read, "secret/data/t", json!({})).await;
    assert_eq!(r["data"], json!({"a": "b"}));
    assert_ne!(r["metadata"]["deletion_time"], "");
    // A disabled mount setting overrides the key's.
    ok(
        &env,
        Update,
        "secret/config",
        json!({"delete_version_after": -1}),
    )
    .await;
    let w = ok(&env, Update, "secret/data/t", json!({"data": {"a": "c"}})).await;
    assert_eq!(w["deletion_time"], "");
}

#[tokio::test]
async fn subkeys_shapes() {
    let env = setup().await;
    ok(
        &env,
        Update,
        "secret/data/sk",
        json!({"data": {"a": 1, "b": {"c": {"d": 1}, "e": {}}, "f": [1, {"g": 2}]}}),
    )
    .await;
    let r = ok(&env, Read, "secret/subkeys/sk", json!({})).await;
    assert_eq!(keys(&r), ["metadata", "subkeys"]);
    assert_eq!(
        r["subkeys"],
        json!({"a": null, "b": {"c": {"d": null}, "e": null}, "f": null})
    );
    assert_eq!(
        ok(&env, Read, "secret/subkeys/sk", json!({"depth": "1"})).await["subkeys"],
        json!({"a": null, "b": null, "f": null})
    );
    assert_eq!(
        ok(&env, Read, "secret/subkeys/sk", json!({"depth": "2"})).await["subkeys"],
        json!({"a": null, "b": {"c": null, "e": null}, "f": null})
    );
    let e = err(&env, Read, "secret/subkeys/sk", json!({"depth": "x"})).await;
    assert_eq!(
        invalid_msg(&e),
        "Field validation failed: error converting input for field \"depth\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
    );
    assert!(matches!(
        err(&env, Read, "secret/subkeys/sk", json!({"version": "5"})).await,
        CoreError::NotFound
    ));
    ok(&env, Delete, "secret/data/sk", json!({})).await;
    let resp = env
        .req(Read, "secret/subkeys/sk", json!({}))
        .await
        .expect("read");
    assert_eq!(resp.status, Some(404));
    assert_eq!(data(&resp)["subkeys"], Value::Null);
    assert_eq!(data(&resp)["metadata"]["version"], 1);
}

#[tokio::test]
async fn listing() {
    let env = setup().await;
    for p in ["app/db", "app/api", "app/sub/x", "top"] {
        ok(
            &env,
            Update,
            &format!("secret/data/{p}"),
            json!({"data": {"k": "v"}}),
        )
        .await;
    }
    ok(
        &env,
        Update,
        "secret/metadata/app/meta-only",
        json!({"max_versions": 1}),
    )
    .await;
    let l = ok(&env, List, "secret/metadata/app", json!({})).await;
    assert_eq!(l, json!({"keys": ["api", "db", "meta-only", "sub/"]}));
    assert_eq!(ok(&env, List, "secret/metadata/app/", json!({})).await, l);
    assert_eq!(
        ok(&env, List, "secret/metadata", json!({})).await,
        json!({"keys": ["app/", "top"]})
    );
    assert_eq!(
        ok(&env, List, "secret/metadata/", json!({"list": "true"})).await,
        json!({"keys": ["app/", "top"]})
    );
    let paged = ok(
        &env,
        List,
        "secret/metadata/app",
        json!({"after": "api", "limit": "2"}),
    )
    .await;
    assert_eq!(paged, json!({"keys": ["db", "meta-only"]}));
    assert!(matches!(
        err(&env, List, "secret/metadata/none", json!({})).await,
        CoreError::NotFound
    ));
    // Listing data/ is not supported.
    assert!(matches!(
        err(&env, List, "secret/data/app", json!({})).await,
        CoreError::UnsupportedOperation
    ));

    let d = ok(&env, List, "secret/detailed-metadata/app", json!({})).await;
    assert_eq!(d["keys"], json!(["api", "db", "meta-only", "sub/"]));
    assert_eq!(d["key_info"]["sub/"], json!({}));
    assert_eq!(d["key_info"]["db"]["current_version"], 1);
    assert_eq!(d["key_info"]["meta-only"]["max_versions"], 1);
    assert!(matches!(
        err(&env, Read, "secret/detailed-metadata/app", json!({})).await,
        CoreError::UnsupportedOperation
    ));
}

#[tokio::test]
async fn invalid_paths_warn() {
    let env = setup().await;
    let warn = |sub: &str| {
        format!("Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the OpenBao CLI, use 'bao kv {sub}' for this operation.")
    };
    for (op, path, sub) in [
        (Read, "secret/app/db", "get"),
        (Update, "secret/app/db", "put"),
        (Delete, "secret/app/db", "delete"),
        (List, "secret/app", "list"),
        (List, "secret/config", "list"),
        (Read, "secret/config/", "get"),
        (Read, "secret/subkeys", "get"),
        (Read, "secret", "get"),
    ] {
        let resp = env
            .req(op, path, json!({"data": {"a": 1}}))
            .await
            .expect(path);
        assert_eq!(resp.status, Some(404), "{path}");
        assert!(resp.data.is_none(), "{path}");
        assert_eq!(resp.warnings, [warn(sub)], "{path}");
    }
    let root = "Non-listing operations on the root of a K/V v2 mount are not supported.";
    for (op, path) in [
        (Read, "secret/data"),
        (Update, "secret/data"),
        (Read, "secret/metadata"),
        (Delete, "secret/data"),
        (Update, "secret/delete"),
    ] {
        let resp = env
            .req(op, path, json!({"versions": [1]}))
            .await
            .expect(path);
        assert_eq!(resp.status, Some(404), "{path}");
        assert_eq!(resp.warnings, [root], "{path}");
    }
    // data/ with an empty key is a plain 404.
    assert!(matches!(
        err(&env, Read, "secret/data/", json!({})).await,
        CoreError::NotFound
    ));
    let e = err(&env, Update, "secret/metadata/", json!({"max_versions": 1})).await;
    assert_eq!(invalid_msg(&e), "cannot write to a path ending in '/'");
}

#[tokio::test]
async fn policies_see_create_and_update_apart() {
    let env = setup().await;
    env.policy(
        "create-only",
        r#"path "secret/data/c/*" { capabilities = ["create", "read"] }
path "secret/metadata/c/*" { capabilities = ["create"] }"#,
    )
    .await;
    env.policy(
        "update-only",
        r#"path "secret/data/u/*" { capabilities = ["update", "read"] }"#,
    )
    .await;
    let creator = env.token(&["create-only"], false).await;
    let updater = env.token(&["update-only"], false).await;

    env.req_as(
        &creator,
        Update,
        "secret/data/c/x",
        json!({"data": {"a": "1"}}),
    )
    .await
    .expect("first write is a create");
    let e = env
        .req_as(
            &creator,
            Update,
            "secret/data/c/x",
            json!({"data": {"a": "2"}}),
        )
        .await
        .expect_err("second write is an update");
    assert!(matches!(e, CoreError::PermissionDenied));
    env.req_as(
        &creator,
        Update,
        "secret/metadata/c/y",
        json!({"max_versions": 2}),
    )
    .await
    .expect("metadata create");
    let e = env
        .req_as(
            &creator,
            Update,
            "secret/metadata/c/y",
            json!({"max_versions": 3}),
        )
        .await
        .expect_err("metadata update");
    assert!(matches!(e, CoreError::PermissionDenied));

    let e = env
        .req_as(
            &updater,
            Update,
            "secret/data/u/x",
            json!({"data": {"a": "1"}}),
        )
        .await
        .expect_err("a new secret needs create");
    assert!(matches!(e, CoreError::PermissionDenied));
    ok(&env, Update, "secret/data/u/x", json!({"data": {"a": "1"}})).await;
    env.req_as(
        &updater,
        Update,
        "secret/data/u/x",
        json!({"data": {"a": "2"}}),
    )
    .await
    .expect("update of an existing secret");
    let r = env
        .req_as(&updater, Read, "secret/data/u/x", json!({}))
        .await
        .expect("read");
    assert_eq!(data(&r)["data"], json!({"a": "2"}));
}

#[tokio::test]
async fn secrets_are_encrypted_at_rest() {
    let env = setup().await;
    let secrets = [
        "kv2-secret-value-7f3a9c",
        "kv2-patched-value-1b2c3d",
        "kv1-secret-value-4e5f6a",
        "cubby-secret-value-9d8c7b",
        "custom-meta-value-0a1b2c",
    ];
    ok(
        &env,
        Update,
        "secret/data/leak/a",
        json!({"data": {"password": secrets[0]}}),
    )
    .await;
    env.patch(
        "secret/data/leak/a",
        Some("application/merge-patch+json"),
        json!({"data": {"other": secrets[1]}}),
    )
    .await
    .expect("patch");
    ok(
        &env,
        Update,
        "secret/metadata/leak/a",
        json!({"custom_metadata": {"note": secrets[4]}}),
    )
    .await;
    ok(&env, Update, "kv/leak/b", json!({"password": secrets[2]})).await;
    ok(
        &env,
        Update,
        "cubbyhole/leak/c",
        json!({"password": secrets[3]}),
    )
    .await;
    // Sanity: they read back.
    assert_eq!(
        ok(&env, Read, "secret/data/leak/a", json!({})).await["data"]["other"],
        secrets[1]
    );
    let raw = env.raw_values().await;
    assert!(!raw.is_empty());
    for (key, value) in &raw {
        for s in secrets {
            assert!(
                !value.windows(s.len()).any(|w| w == s.as_bytes()),
                "{s} found in plaintext under {key}"
            );
            assert!(!key.contains(s), "{s} found in a storage key {key}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_get_distinct_versions() {
    let env = setup().await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let core = env.core.clone();
        let root = env.root.clone();
        tasks.push(tokio::spawn(async move {
            let req = crate::logical::Request::new(Update, "secret/data/race")
                .with_token(&root)
                .with_data(json!({"data": {"i": i}}));
            core.handle_request(req)
                .await
                .map(|r| data(&r)["version"].clone())
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.expect("join").expect("write"));
    }
    let mut nums: Vec<u64> = versions.iter().filter_map(|v| v.as_u64()).collect();
    nums.sort_unstable();
    assert_eq!(nums, (1..=24).collect::<Vec<u64>>());
    let m = ok(&env, Read, "secret/metadata/race", json!({})).await;
    assert_eq!(m["current_version"], 24);
    assert_eq!(m["versions"].as_object().map(|v| v.len()), Some(10));
    let stored = env
        .raw_values()
        .await
        .into_iter()
        .filter(|(k, _)| k.contains("/versions/"))
        .count();
    assert_eq!(stored, 10);
}
