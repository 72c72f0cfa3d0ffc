//! Unit tests of the transit engine through `Core::handle_request` on
//! in-memory storage. Expected messages and shapes are OpenBao 2.7.2's, as
//! observed on a live server; `testdata/openbao_fixture.json` holds OpenBao
//! output (backups, ciphertexts, signatures, HMACs, exports) that Coffer must
//! read and reproduce.

use serde_json::{json, Value};

use crate::engines::test_util::{data, setup, TestEnv};
use crate::error::{multierror, CoreError};
use crate::logical::Operation::{self, *};
use crate::logical::Response;
use crate::mounts::{MountEntry, TableKind};

use super::keytype::KeyType;
use super::policy::Policy;

/// A test core with transit mounted at `transit/`.
async fn env() -> TestEnv {
    let env = setup().await;
    env.active()
        .mount(MountEntry::new(
            TableKind::Secrets,
            "transit",
            "transit",
            "",
        ))
        .await
        .expect("mount transit");
    env
}

/// What the HTTP layer would answer: (status, body as JSON), where the body
/// of an enveloped response is its `data` (with `warnings` alongside).
fn outcome(r: Result<Response, CoreError>) -> (u16, Value) {
    match r {
        Ok(resp) => {
            if let Some(raw) = &resp.raw {
                let body = serde_json::from_slice(&raw.body).unwrap_or(Value::Null);
                return (raw.status, body);
            }
            if resp.is_empty() {
                return (204, Value::Null);
            }
            (resp.status.unwrap_or(200), data(&resp))
        }
        Err(e) => match e {
            CoreError::InvalidRequest(m) => (400, json!({"errors": [m]})),
            CoreError::NotFound => (404, json!({"errors": []})),
            CoreError::UnsupportedPath => {
                (404, json!({"errors": [multierror(&["unsupported path"])]}))
            }
            CoreError::UnsupportedOperation => (
                405,
                json!({"errors": [multierror(&["unsupported operation"])]}),
            ),
            CoreError::PermissionDenied => (403, json!({"errors": ["permission denied"]})),
            other => (500, json!({"errors": [other.to_string()]})),
        },
    }
}

async fn call(env: &TestEnv, op: Operation, path: &str, body: Value) -> (u16, Value) {
    outcome(env.req(op, &format!("transit/{path}"), body).await)
}

/// A successful call's data.
async fn ok(env: &TestEnv, op: Operation, path: &str, body: Value) -> Value {
    let (status, v) = call(env, op, path, body.clone()).await;
    assert!(
        status == 200 || status == 204,
        "{op:?} {path} {body}: {status} {v}"
    );
    v
}

/// A failed call's status and first error message.
async fn fail(env: &TestEnv, op: Operation, path: &str, body: Value) -> (u16, String) {
    let (status, v) = call(env, op, path, body.clone()).await;
    assert!(
        status >= 400,
        "{op:?} {path} {body}: expected an error, got {status} {v}"
    );
    let msg = v["errors"]
        .get(0)
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_string();
    (status, msg)
}

/// The message of a 400.
async fn err400(env: &TestEnv, op: Operation, path: &str, body: Value) -> String {
    let (status, m) = fail(env, op, path, body.clone()).await;
    assert_eq!(status, 400, "{path} {body}: {m}");
    m
}

/// The inner message of a 500 in Go's multi-error form.
async fn err500(env: &TestEnv, op: Operation, path: &str, body: Value) -> String {
    let (status, m) = fail(env, op, path, body.clone()).await;
    assert_eq!(status, 500, "{path} {body}: {m}");
    m.strip_prefix("1 error occurred:\n\t* ")
        .and_then(|m| m.strip_suffix("\n\n"))
        .unwrap_or(&m)
        .to_string()
}

const PT: &str = "aGVsbG8gd29ybGQ=";

async fn create(env: &TestEnv, name: &str, body: Value) -> Value {
    ok(env, Update, &format!("keys/{name}"), body).await
}

async fn encrypt(env: &TestEnv, name: &str, body: Value) -> String {
    let v = ok(env, Update, &format!("encrypt/{name}"), body).await;
    v["ciphertext"].as_str().unwrap_or_default().to_string()
}

fn keys_of(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The storage view of the transit mount.
fn storage(env: &TestEnv) -> crate::logical::StorageView {
    env.active()
        .route("transit/keys")
        .map(|(r, _)| r.storage)
        .expect("transit route")
}

// ---------------------------------------------------------------------------
// Compatibility with OpenBao output
// ---------------------------------------------------------------------------

#[tokio::test]
async fn openbao_fixture_restores_decrypts_verifies_and_matches() {
    let env = env().await;
    let fixture: Value =
        serde_json::from_str(include_str!("testdata/openbao_fixture.json")).expect("fixture");
    let keys = fixture["keys"].as_object().expect("keys");
    for (name, blob) in keys {
        let (status, v) = call(
            &env,
            Update,
            &format!("restore/{name}"),
            json!({"backup": blob}),
        )
        .await;
        assert_eq!(status, 204, "restore {name}: {v}");
    }
    let mut counted = std::collections::BTreeMap::<String, usize>::new();
    for check in fixture["checks"].as_array().expect("checks") {
        let kind = check["kind"].as_str().unwrap_or_default();
        *counted.entry(kind.to_string()).or_default() += 1;
        match kind {
            "decrypt" => {
                let key = check["key"].as_str().unwrap_or_default();
                let v = ok(
                    &env,
                    Update,
                    &format!("decrypt/{key}"),
                    check["body"].clone(),
                )
                .await;
                assert_eq!(v["plaintext"], check["plaintext"], "{check}");
            }
            "same" => {
                let path = check["path"].as_str().unwrap_or_default();
                let v = ok(&env, Update, path, check["body"].clone()).await;
                assert_eq!(v, check["data"], "{check}");
            }
            "verify" => {
                let key = check["key"].as_str().unwrap_or_default();
                let v = ok(
                    &env,
                    Update,
                    &format!("verify/{key}"),
                    check["body"].clone(),
                )
                .await;
                assert_eq!(v["valid"], json!(true), "{check}");
                // A tampered input does not verify.
                let mut body = check["body"].clone();
                body["input"] = json!("dGFtcGVyZWQ=");
                let v = ok(&env, Update, &format!("verify/{key}"), body).await;
                assert_eq!(v["valid"], json!(false), "{check}");
            }
            "read" => {
                let path = check["path"].as_str().unwrap_or_default();
                let mut v = ok(&env, Read, path, check["query"].clone()).await;
                let obj = v.as_object_mut().expect("object");
                assert!(obj.remove("restore_info").is_some(), "restore recorded");
                obj.remove("backup_info");
                assert_eq!(v, check["data"], "{check}");
            }
            "export" => {
                let path = check["path"].as_str().unwrap_or_default();
                let (status, v) = call(&env, Read, path, check["query"].clone()).await;
                assert_eq!(
                    status,
                    check["status"].as_u64().unwrap_or_default() as u16,
                    "{check} {v}"
                );
                assert_eq!(v, check["response"], "{check}");
            }
            other => panic!("unknown check kind {other}"),
        }
    }
    assert!(
        counted["export"] >= 200 && counted["verify"] >= 60,
        "{counted:?}"
    );
}

#[tokio::test]
async fn coffer_backups_restore_into_coffer_with_the_same_keys() {
    let env = env().await;
    for (name, ty) in [
        ("a", "aes256-gcm96"),
        ("e", "ed25519"),
        ("p", "ecdsa-p384"),
        ("h", "hmac"),
    ] {
        let mut body = json!({"type": ty, "exportable": true, "allow_plaintext_backup": true});
        if ty == "hmac" {
            body["key_size"] = json!(32);
        }
        create(&env, name, body).await;
        ok(&env, Update, &format!("keys/{name}/rotate"), json!({})).await;
        let backup = ok(&env, Read, &format!("backup/{name}"), json!({})).await;
        let blob = backup["backup"].as_str().expect("blob").to_string();
        ok(
            &env,
            Update,
            &format!("restore/{name}-copy"),
            json!({"backup": blob}),
        )
        .await;
        let kind = match ty {
            "aes256-gcm96" => "encryption-key",
            "hmac" => "hmac-key",
            _ => "signing-key",
        };
        let a = ok(&env, Read, &format!("export/{kind}/{name}"), json!({})).await;
        let b = ok(&env, Read, &format!("export/{kind}/{name}-copy"), json!({})).await;
        assert_eq!(a["keys"], b["keys"], "{ty}");
        let r = ok(&env, Read, &format!("keys/{name}-copy"), json!({})).await;
        assert_eq!(r["backup_info"]["version"], json!(2));
        assert_eq!(r["restore_info"]["version"], json!(2));
        assert_eq!(r["latest_version"], json!(2));
    }
    let ct = encrypt(&env, "a", json!({"plaintext": PT})).await;
    let v = ok(&env, Update, "decrypt/a-copy", json!({"ciphertext": ct})).await;
    assert_eq!(v["plaintext"], json!(PT));
}

#[tokio::test]
async fn backup_and_restore_errors() {
    let env = env().await;
    assert_eq!(
        err500(&env, Read, "backup/none", json!({})).await,
        "key \"none\" not found"
    );
    create(&env, "k", json!({})).await;
    assert_eq!(
        err500(&env, Read, "backup/k", json!({})).await,
        "exporting is disallowed on the policy"
    );
    ok(&env, Update, "keys/k/config", json!({"exportable": true})).await;
    assert_eq!(
        err500(&env, Read, "backup/k", json!({})).await,
        "plaintext backup is disallowed on the policy"
    );
    ok(
        &env,
        Update,
        "keys/k/config",
        json!({"allow_plaintext_backup": true}),
    )
    .await;
    let blob = ok(&env, Read, "backup/k", json!({})).await["backup"].clone();
    assert_eq!(
        err400(&env, Update, "restore", json!({})).await,
        "'backup' must be supplied"
    );
    assert_eq!(
        err500(&env, Update, "restore", json!({"backup": blob})).await,
        "key \"k\" already exists"
    );
    assert_eq!(
        err500(&env, Update, "restore/a/b", json!({"backup": blob})).await,
        "key names cannot be paths"
    );
    assert_eq!(
        err500(&env, Update, "restore", json!({"backup": "!!"})).await,
        "illegal base64 data at input byte 0"
    );
    // The name in the body is replaced by the (empty) URL capture.
    assert_eq!(
        err500(
            &env,
            Update,
            "restore",
            json!({"backup": blob, "name": "zz"})
        )
        .await,
        "key \"k\" already exists"
    );
    let (status, _) = call(
        &env,
        Update,
        "restore",
        json!({"backup": blob, "force": true}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(&env, Update, "restore/k2", json!({"backup": blob})).await;
    assert_eq!(status, 204);
    assert_eq!(
        err500(&env, Update, "restore/x", json!({"backup": "e30="})).await,
        "backup does not contain a key policy"
    );
}

// ---------------------------------------------------------------------------
// keys/
// ---------------------------------------------------------------------------

#[tokio::test]
async fn key_create_read_list_delete() {
    let env = env().await;
    let v = create(&env, "k1", json!({})).await;
    assert_eq!(
        keys_of(&v),
        [
            "allow_plaintext_backup",
            "auto_rotate_period",
            "deletion_allowed",
            "derived",
            "exportable",
            "imported_key",
            "keys",
            "latest_version",
            "min_available_version",
            "min_decryption_version",
            "min_encryption_version",
            "name",
            "soft_deleted",
            "supports_decryption",
            "supports_derivation",
            "supports_encryption",
            "supports_signing",
            "type"
        ]
    );
    assert_eq!(v["type"], json!("aes256-gcm96"));
    assert_eq!(v["latest_version"], json!(1));
    assert_eq!(v["min_decryption_version"], json!(1));
    assert!(v["keys"]["1"].is_i64());
    // Writing an existing key returns it unchanged, without a warning.
    let again = env
        .req(Update, "transit/keys/k1", json!({"type": "ed25519"}))
        .await
        .expect("write");
    assert!(again.warnings.is_empty());
    assert_eq!(data(&again)["type"], json!("aes256-gcm96"));
    assert_eq!(data(&again)["keys"], v["keys"]);

    create(&env, "k2", json!({"type": "ed25519"})).await;
    create(&env, "a0", json!({"type": "hmac", "key_size": 32})).await;
    assert_eq!(
        ok(&env, List, "keys", json!({})).await,
        json!({"keys": ["a0", "k1", "k2"]})
    );
    assert_eq!(
        ok(&env, List, "keys/", json!({"limit": 2})).await,
        json!({"keys": ["a0", "k1"]})
    );
    assert_eq!(
        ok(&env, List, "keys", json!({"after": "a0"})).await,
        json!({"keys": ["k1", "k2"]})
    );
    assert_eq!(
        call(&env, List, "keys", json!({"after": "zz"})).await.0,
        404
    );
    assert_eq!(call(&env, Read, "keys", json!({})).await.0, 405);

    assert_eq!(
        call(&env, Read, "keys/nonexist", json!({})).await,
        (404, json!({"errors": []}))
    );
    assert_eq!(
        err400(&env, Delete, "keys/nonexist", json!({})).await,
        "error deleting policy nonexist: could not delete key; not found"
    );
    assert_eq!(
        err400(&env, Delete, "keys/k1", json!({})).await,
        "error deleting policy k1: deletion is not allowed for this key"
    );
    let v = ok(
        &env,
        Update,
        "keys/k1/config",
        json!({"deletion_allowed": true}),
    )
    .await;
    assert_eq!(v["deletion_allowed"], json!(true));
    assert_eq!(call(&env, Delete, "keys/k1", json!({})).await.0, 204);
    assert_eq!(call(&env, Read, "keys/k1", json!({})).await.0, 404);
    assert_eq!(call(&env, Update, "keys/-bad", json!({})).await.0, 404);
    assert_eq!(call(&env, Read, "keys/k2/rotate", json!({})).await.0, 405);
    assert_eq!(call(&env, Read, "nothing/here", json!({})).await.0, 404);
}

#[tokio::test]
async fn key_creation_errors_match_openbao() {
    let env = env().await;
    assert_eq!(
        err400(&env, Update, "keys/x", json!({"type": "foo"})).await,
        "unknown key type foo"
    );
    assert_eq!(
        err500(&env, Update, "keys/x", json!({"type": "hmac"})).await,
        "invalid key size for HMAC key, must be between 32 and 512 bytes"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "keys/x",
            json!({"type": "hmac", "key_size": 16})
        )
        .await,
        "invalid key_size 16"
    );
    assert_eq!(
        err400(&env, Update, "keys/x", json!({"key_size": 32})).await,
        "key_size is not valid for algorithm aes256-gcm96"
    );
    assert_eq!(
        err400(&env, Update, "keys/x", json!({"auto_rotate_period": "10m"})).await,
        "auto rotate period must be 0 to disable or at least an hour"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "keys/x",
            json!({"convergent_encryption": true})
        )
        .await,
        "convergent encryption requires derivation to be enabled"
    );
    for ty in ["ecdsa-p256", "rsa-2048", "hmac"] {
        assert_eq!(
            err500(
                &env,
                Update,
                "keys/x",
                json!({"type": ty, "derived": true, "key_size": if ty == "hmac" { 32 } else { 0 }})
            )
            .await,
            format!("key derivation and convergent encryption not supported for keys of type {ty}")
        );
    }
    assert_eq!(
        err500(
            &env,
            Update,
            "keys/x",
            json!({"type": "ed25519", "derived": true, "convergent_encryption": true})
        )
        .await,
        "convergent encryption not supported for keys of type ed25519"
    );
    assert_eq!(
        err400(&env, Update, "keys/x", json!({"derived": "maybe"})).await,
        "Field validation failed: error converting input for field \"derived\": '' cannot parse value as 'bool': strconv.ParseBool: invalid syntax"
    );
    assert_eq!(
        err400(&env, Update, "keys/x", json!({"external_key_ref": "a:b"})).await,
        "must provide type=external-key to use external_key_ref"
    );
    assert_eq!(
        err400(&env, Update, "keys/x", json!({"type": "external-key"})).await,
        "must provide external_key_ref to create policy of type external-key"
    );
    assert_eq!(
        call(&env, Read, "keys/x", json!({})).await.0,
        404,
        "nothing was created"
    );
}

#[tokio::test]
async fn every_key_type_reads_like_openbao() {
    let env = env().await;
    for kt in KeyType::ALL {
        let name = format!("k-{}", kt.as_str());
        let mut body = json!({"type": kt.as_str()});
        if kt == KeyType::Hmac {
            body["key_size"] = json!(48);
        }
        let v = create(&env, &name, body).await;
        assert_eq!(v["type"], json!(kt.as_str()));
        assert_eq!(
            v["supports_encryption"],
            json!(kt.encryption_supported()),
            "{kt}"
        );
        assert_eq!(v["supports_signing"], json!(kt.signing_supported()), "{kt}");
        assert_eq!(
            v["supports_derivation"],
            json!(kt.derivation_supported()),
            "{kt}"
        );
        if kt == KeyType::Hmac {
            assert!(v.get("keys").is_none());
            assert_eq!(v["key_size"], json!(48));
        } else if kt.is_symmetric() {
            assert!(v["keys"]["1"].is_i64());
        } else {
            let k = &v["keys"]["1"];
            assert_eq!(
                keys_of(k),
                ["certificate_chain", "creation_time", "name", "public_key"]
            );
            let expected_name = match kt {
                KeyType::EcdsaP256 => "P-256",
                KeyType::EcdsaP384 => "P-384",
                KeyType::EcdsaP521 => "P-521",
                other => other.as_str(),
            };
            assert_eq!(k["name"], json!(expected_name));
            let pk = k["public_key"].as_str().unwrap_or_default();
            if kt == KeyType::Ed25519 {
                assert_eq!(pk.len(), 44);
            } else {
                assert!(
                    pk.starts_with("-----BEGIN PUBLIC KEY-----\n")
                        && pk.ends_with("-----END PUBLIC KEY-----\n"),
                    "{kt}"
                );
            }
        }
        let read = ok(&env, Read, &format!("keys/{name}"), json!({})).await;
        assert_eq!(read, v);
    }
    let v = create(&env, "d", json!({"derived": true})).await;
    assert_eq!(v["kdf"], json!("hkdf_sha256"));
    assert_eq!(v["convergent_encryption"], json!(false));
    assert!(v.get("convergent_encryption_version").is_none());
    let v = create(
        &env,
        "c",
        json!({"derived": true, "convergent_encryption": true, "exportable": true, "allow_plaintext_backup": true, "auto_rotate_period": "2h"}),
    )
    .await;
    assert_eq!(v["convergent_encryption_version"], json!(-1));
    assert_eq!(v["auto_rotate_period"], json!(7200));
    assert_eq!(
        (v["exportable"].clone(), v["allow_plaintext_backup"].clone()),
        (json!(true), json!(true))
    );
    let v = create(&env, "ed", json!({"type": "ed25519", "derived": true})).await;
    assert_eq!(v["keys"]["1"]["public_key"], json!(""));
    let with_ctx = ok(&env, Read, "keys/ed", json!({"context": "YWJj"})).await;
    assert_eq!(
        with_ctx["keys"]["1"]["public_key"].as_str().map(str::len),
        Some(44)
    );
    assert_eq!(
        err400(&env, Read, "keys/ed", json!({"context": "!!"})).await,
        "failed to base64-decode context"
    );
}

#[tokio::test]
async fn key_material_never_reaches_storage_in_plaintext() {
    let env = env().await;
    create(&env, "k", json!({"exportable": true})).await;
    let exported = ok(&env, Read, "export/encryption-key/k/1", json!({})).await;
    let b64 = exported["keys"]["1"].as_str().expect("key").to_string();
    let raw = super::gocompat::b64_std(&b64).expect("b64");
    for (path, value) in env.raw_values().await {
        assert!(
            !value.windows(raw.len()).any(|w| w == raw.as_slice()),
            "{path}"
        );
        assert!(
            !value.windows(b64.len()).any(|w| w == b64.as_bytes()),
            "{path}"
        );
    }
}

// ---------------------------------------------------------------------------
// config, rotate, trim, soft delete, auto-rotation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn key_config_min_versions_and_messages() {
    let env = env().await;
    assert_eq!(
        err400(&env, Update, "keys/nokey/config", json!({})).await,
        "no existing key named nokey could be found"
    );
    create(&env, "k", json!({"exportable": true})).await;
    assert_eq!(
        err400(
            &env,
            Update,
            "keys/k/config",
            json!({"min_decryption_version": -1})
        )
        .await,
        "min decryption version cannot be negative"
    );
    let r = env
        .req(
            Update,
            "transit/keys/k/config",
            json!({"min_decryption_version": 0}),
        )
        .await
        .expect("config");
    assert_eq!(
        r.warnings,
        ["since Vault 0.3 (prior to the OpenBao fork), transit key numbering starts at 1; forcing minimum to 1"]
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "keys/k/config",
            json!({"min_decryption_version": 5})
        )
        .await,
        "cannot set min decryption version of 5, latest key version is 1"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "keys/k/config",
            json!({"min_encryption_version": -1})
        )
        .await,
        "min encryption version cannot be negative"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "keys/k/config",
            json!({"min_encryption_version": 5})
        )
        .await,
        "cannot set min encryption version of 5, latest key version is 1"
    );
    let ct1 = encrypt(&env, "k", json!({"plaintext": PT})).await;
    ok(&env, Update, "keys/k/rotate", json!({})).await;
    ok(&env, Update, "keys/k/rotate", json!({})).await;
    assert_eq!(
        err400(&env, Update, "keys/k/config", json!({"min_decryption_version": 2, "min_encryption_version": 1})).await,
        "cannot set min encryption/decryption values; min encryption version of 1 must be greater than or equal to min decryption version of 2"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "keys/k/config",
            json!({"auto_rotate_period": "30m"})
        )
        .await,
        "auto rotate period must be 0 to disable or at least an hour"
    );
    assert_eq!(
        err400(&env, Update, "keys/k/config", json!({"min_decryption_version": "abc"})).await,
        "Field validation failed: error converting input for field \"min_decryption_version\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
    );
    let v = ok(
        &env,
        Update,
        "keys/k/config",
        json!({"min_decryption_version": 2}),
    )
    .await;
    assert_eq!(
        keys_of(&v["keys"]),
        ["2", "3"],
        "versions below the minimum are hidden"
    );
    let exported = ok(&env, Read, "export/encryption-key/k", json!({})).await;
    assert_eq!(keys_of(&exported["keys"]), ["2", "3"]);
    assert_eq!(
        err400(&env, Read, "export/encryption-key/k/1", json!({})).await,
        "version for export is below minimum decryption version"
    );
    assert_eq!(
        err400(&env, Update, "decrypt/k", json!({"ciphertext": ct1})).await,
        "ciphertext or signature version is disallowed by policy (too old)"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "encrypt/k",
            json!({"plaintext": PT, "key_version": 1})
        )
        .await,
        "no such key version"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "hmac/k",
            json!({"input": PT, "key_version": 1})
        )
        .await,
        "no such key version"
    );
    ok(
        &env,
        Update,
        "keys/k/config",
        json!({"min_encryption_version": 3}),
    )
    .await;
    assert_eq!(
        err400(
            &env,
            Update,
            "encrypt/k",
            json!({"plaintext": PT, "key_version": 2})
        )
        .await,
        "requested version for encryption is less than the minimum encryption key version"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "hmac/k",
            json!({"input": PT, "key_version": 2})
        )
        .await,
        "cannot generate HMAC: version is too old (disallowed by policy)"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "datakey/plaintext/k",
            json!({"key_version": 2})
        )
        .await,
        "requested version for encryption is less than the minimum encryption key version"
    );
    // Lowering the minimum brings the old version back.
    ok(
        &env,
        Update,
        "keys/k/config",
        json!({"min_decryption_version": 1}),
    )
    .await;
    let v = ok(&env, Update, "decrypt/k", json!({"ciphertext": ct1})).await;
    assert_eq!(v["plaintext"], json!(PT));
    // Settings that only switch on.
    let v = ok(
        &env,
        Update,
        "keys/k/config",
        json!({"exportable": false, "allow_plaintext_backup": true, "auto_rotate_period": "1h"}),
    )
    .await;
    assert_eq!(
        (
            v["exportable"].clone(),
            v["allow_plaintext_backup"].clone(),
            v["auto_rotate_period"].clone()
        ),
        (json!(true), json!(true), json!(3600))
    );
    let v = ok(
        &env,
        Update,
        "keys/k/config",
        json!({"allow_plaintext_backup": false, "auto_rotate_period": 0}),
    )
    .await;
    assert_eq!(
        (
            v["allow_plaintext_backup"].clone(),
            v["auto_rotate_period"].clone()
        ),
        (json!(true), json!(0))
    );
    assert_eq!(call(&env, Read, "keys/k/config", json!({})).await.0, 405);
    let r = env
        .req(Update, "transit/keys/k/config", json!({"foo": 1}))
        .await
        .expect("config");
    assert_eq!(
        r.warnings,
        ["Endpoint ignored these unrecognized parameters: [foo]"]
    );
}

#[tokio::test]
async fn rotate_and_trim() {
    let env = env().await;
    assert_eq!(
        err400(&env, Update, "keys/nokey/rotate", json!({})).await,
        "key not found"
    );
    assert_eq!(
        err400(&env, Update, "keys/nokey/trim", json!({})).await,
        "invalid key name"
    );
    create(&env, "k", json!({})).await;
    let v = ok(&env, Update, "keys/k/rotate", json!({})).await;
    assert_eq!(v["latest_version"], json!(2));
    assert_eq!(keys_of(&v["keys"]), ["1", "2"]);
    assert_eq!(
        err400(
            &env,
            Update,
            "keys/k/rotate",
            json!({"external_key_ref": "x"})
        )
        .await,
        "cannot use external_key_ref on key of type aes256-gcm96"
    );
    let ct1 = encrypt(&env, "k", json!({"plaintext": PT, "key_version": 1})).await;
    assert!(ct1.starts_with("vault:v1:"));
    let ct2 = encrypt(&env, "k", json!({"plaintext": PT})).await;
    assert!(ct2.starts_with("vault:v2:"));

    assert_eq!(
        err400(&env, Update, "keys/k/trim", json!({})).await,
        "missing min_available_version"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "keys/k/trim",
            json!({"min_available_version": 1})
        )
        .await,
        "minimum available version cannot be set when minimum encryption version is not set"
    );
    ok(
        &env,
        Update,
        "keys/k/config",
        json!({"min_encryption_version": 2, "min_decryption_version": 2}),
    )
    .await;
    assert_eq!(
        err400(
            &env,
            Update,
            "keys/k/trim",
            json!({"min_available_version": 3})
        )
        .await,
        "minimum available version cannot be greater than minmum encryption version"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "keys/k/trim",
            json!({"min_available_version": 0})
        )
        .await,
        "minimum available version should be positive"
    );
    let v = ok(
        &env,
        Update,
        "keys/k/trim",
        json!({"min_available_version": 2}),
    )
    .await;
    assert_eq!(v["min_available_version"], json!(2));
    assert_eq!(keys_of(&v["keys"]), ["2"]);
    assert_eq!(
        err400(
            &env,
            Update,
            "keys/k/trim",
            json!({"min_available_version": 1})
        )
        .await,
        "minimum available version cannot be decremented"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "keys/k/config",
            json!({"min_decryption_version": 1})
        )
        .await,
        "min decryption version should not be less then min available version"
    );
    // The trimmed version is gone from storage.
    let p: Policy = storage(&env)
        .get_json("policy/k")
        .await
        .expect("get")
        .expect("policy");
    assert_eq!(p.keys.keys().copied().collect::<Vec<_>>(), [2]);
    let v = ok(&env, Update, "decrypt/k", json!({"ciphertext": ct2})).await;
    assert_eq!(v["plaintext"], json!(PT));
    let v = ok(&env, Update, "keys/k/rotate", json!({})).await;
    assert_eq!(keys_of(&v["keys"]), ["2", "3"]);
}

#[tokio::test]
async fn soft_delete_blocks_use_until_restored() {
    let env = env().await;
    create(
        &env,
        "k",
        json!({"exportable": true, "allow_plaintext_backup": true}),
    )
    .await;
    let ct = encrypt(&env, "k", json!({"plaintext": PT})).await;
    let v = ok(&env, Delete, "keys/k/soft-delete", json!({})).await;
    assert_eq!(v["soft_deleted"], json!(true));
    let r = env
        .req(Delete, "transit/keys/k/soft-delete", json!({}))
        .await
        .expect("again");
    assert_eq!(r.warnings, ["key was already marked as soft deleted"]);
    assert_eq!(
        err400(&env, Update, "encrypt/k", json!({"plaintext": PT})).await,
        "refusing to use soft-deleted key"
    );
    assert_eq!(
        err400(&env, Update, "decrypt/k", json!({"ciphertext": ct})).await,
        "refusing to use soft-deleted key"
    );
    assert_eq!(
        err400(&env, Update, "hmac/k", json!({"input": PT})).await,
        "refusing to use soft-deleted key"
    );
    assert_eq!(
        err500(&env, Read, "export/encryption-key/k", json!({})).await,
        "refusing to use soft-deleted key"
    );
    assert_eq!(
        err500(&env, Read, "backup/k", json!({})).await,
        "refusing to use soft-deleted key"
    );
    assert_eq!(
        err500(&env, Update, "keys/k/rotate", json!({})).await,
        "refusing to use soft-deleted key"
    );
    ok(
        &env,
        Update,
        "keys/k/config",
        json!({"deletion_allowed": true}),
    )
    .await;
    let v = ok(&env, Update, "keys/k/soft-delete-restore", json!({})).await;
    assert_eq!(v["soft_deleted"], json!(false));
    let r = env
        .req(Update, "transit/keys/k/soft-delete-restore", json!({}))
        .await
        .expect("again");
    assert_eq!(r.warnings, ["key was already restored"]);
    let v = ok(&env, Update, "decrypt/k", json!({"ciphertext": ct})).await;
    assert_eq!(v["plaintext"], json!(PT));
    assert_eq!(
        call(&env, Delete, "keys/none/soft-delete", json!({}))
            .await
            .0,
        204
    );
    assert_eq!(
        call(&env, Update, "keys/none/soft-delete-restore", json!({}))
            .await
            .0,
        204
    );
}

#[tokio::test]
async fn keys_rotate_automatically_when_due() {
    let env = env().await;
    create(&env, "k", json!({"auto_rotate_period": "1h"})).await;
    assert_eq!(
        ok(&env, Read, "keys/k", json!({})).await["latest_version"],
        json!(1)
    );
    let st = storage(&env);
    let mut p: Policy = st.get_json("policy/k").await.expect("get").expect("policy");
    if let Some(e) = p.keys.get_mut(&1) {
        e.time -= chrono::Duration::hours(2);
    }
    st.put_json("policy/k", &p).await.expect("put");
    let ct = encrypt(&env, "k", json!({"plaintext": PT})).await;
    assert!(ct.starts_with("vault:v2:"), "{ct}");
    assert_eq!(
        ok(&env, Read, "keys/k", json!({})).await["latest_version"],
        json!(2)
    );
}

// ---------------------------------------------------------------------------
// encrypt, decrypt, rewrap, datakey
// ---------------------------------------------------------------------------

#[tokio::test]
async fn encrypt_decrypt_every_encryption_type() {
    let env = env().await;
    for ty in [
        "aes128-gcm96",
        "aes256-gcm96",
        "chacha20-poly1305",
        "xchacha20-poly1305",
        "rsa-2048",
    ] {
        create(&env, ty, json!({"type": ty})).await;
        let ct = encrypt(&env, ty, json!({"plaintext": PT})).await;
        assert!(ct.starts_with("vault:v1:"));
        let raw = super::gocompat::b64_std(&ct["vault:v1:".len()..]).expect("b64");
        let expected = match ty {
            "rsa-2048" => 256,
            "xchacha20-poly1305" => 24 + 11 + 16,
            _ => 12 + 11 + 16,
        };
        assert_eq!(raw.len(), expected, "{ty}");
        let v = ok(
            &env,
            Update,
            &format!("decrypt/{ty}"),
            json!({"ciphertext": ct}),
        )
        .await;
        assert_eq!(v, json!({"plaintext": PT}));
        if ty != "rsa-2048" {
            let ct = encrypt(
                &env,
                ty,
                json!({"plaintext": PT, "associated_data": "YWQ="}),
            )
            .await;
            let v = ok(
                &env,
                Update,
                &format!("decrypt/{ty}"),
                json!({"ciphertext": ct, "associated_data": "YWQ="}),
            )
            .await;
            assert_eq!(v["plaintext"], json!(PT));
            let (status, m) = fail(
                &env,
                Update,
                &format!("decrypt/{ty}"),
                json!({"ciphertext": ct}),
            )
            .await;
            assert_eq!(status, 400);
            assert!(m.ends_with("message authentication failed"), "{m}");
        }
    }
    // Empty plaintext is allowed.
    let ct = encrypt(&env, "aes256-gcm96", json!({"plaintext": ""})).await;
    assert_eq!(
        ok(
            &env,
            Update,
            "decrypt/aes256-gcm96",
            json!({"ciphertext": ct})
        )
        .await["plaintext"],
        json!("")
    );
}

#[tokio::test]
async fn encrypt_and_decrypt_errors_match_openbao() {
    let env = env().await;
    create(&env, "k1", json!({})).await;
    create(&env, "d", json!({"derived": true})).await;
    create(&env, "ec", json!({"type": "ecdsa-p256"})).await;
    create(&env, "h", json!({"type": "hmac", "key_size": 32})).await;
    create(&env, "ch", json!({"type": "chacha20-poly1305"})).await;
    create(&env, "r", json!({"type": "rsa-2048"})).await;
    let ctx_msg = "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key";
    for (body, msg) in [
        (json!({}), "missing plaintext to encrypt"),
        (
            json!({"plaintext": "aGk=", "key_version": 5}),
            "requested version for encryption is higher than the latest key version",
        ),
        (
            json!({"plaintext": "aGk=", "key_version": -1}),
            "requested version for encryption is negative",
        ),
        (
            json!({"plaintext": "not base64!"}),
            "illegal base64 data at input byte 3",
        ),
    ] {
        assert_eq!(err400(&env, Update, "encrypt/k1", body).await, msg);
    }
    assert_eq!(
        err400(&env, Update, "encrypt/d", json!({"plaintext": "aGk="})).await,
        ctx_msg
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "encrypt/d",
            json!({"plaintext": "aGk=", "context": "!!"})
        )
        .await,
        "illegal base64 data at input byte 0"
    );
    assert_eq!(
        err400(&env, Update, "encrypt/ec", json!({"plaintext": "aGk="})).await,
        "message encryption not supported for key type ecdsa-p256"
    );
    assert_eq!(
        err400(&env, Update, "encrypt/h", json!({"plaintext": "aGk="})).await,
        "message encryption not supported for key type hmac"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "encrypt/r",
            json!({"plaintext": "aGk=", "associated_data": "YWQ="})
        )
        .await,
        "'[0].associated_data' provided for non-AEAD cipher suite rsa-2048"
    );
    assert_eq!(
        err500(&env, Update, "encrypt/k1", json!({"plaintext": "aGk=", "associated_data": "!!"})).await,
        "unable to get associated_data/additional_data from factory[0]: illegal base64 data at input byte 0"
    );
    assert_eq!(
        err400(&env, Update, "encrypt/c", json!({"plaintext": {"a": 1}})).await,
        "error converting input for field \"plaintext\": '' expected type 'string', got unconvertible type 'map[string]interface {}'"
    );
    let decrypt_cases = [
        (json!({}), "missing ciphertext to decrypt"),
        (json!({"ciphertext": ""}), "missing ciphertext to decrypt"),
        (
            json!({"ciphertext": "foo"}),
            "invalid ciphertext: no prefix",
        ),
        (
            json!({"ciphertext": "vault:v1"}),
            "invalid ciphertext: wrong number of fields",
        ),
        (
            json!({"ciphertext": "vault:vx:AAAA"}),
            "invalid ciphertext: version number could not be decoded",
        ),
        (
            json!({"ciphertext": "vault:v9:AAAA"}),
            "invalid ciphertext: version is too new",
        ),
        (
            json!({"ciphertext": "vault:v1:!!"}),
            "invalid ciphertext: could not decode base64",
        ),
        (
            json!({"ciphertext": "vault:v1:AAAA"}),
            "invalid ciphertext length",
        ),
        (
            json!({"ciphertext": "vault:v0:AAAA"}),
            "invalid ciphertext length",
        ),
        (
            json!({"ciphertext": "vault:v-1:AAAA"}),
            "ciphertext or signature version is disallowed by policy (too old)",
        ),
        (
            json!({"ciphertext": "vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
            "cipher: message authentication failed",
        ),
    ];
    for (body, msg) in decrypt_cases {
        assert_eq!(
            err400(&env, Update, "decrypt/k1", body.clone()).await,
            msg,
            "{body}"
        );
    }
    assert_eq!(
        err400(
            &env,
            Update,
            "decrypt/ch",
            json!({"ciphertext": "vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
        )
        .await,
        "chacha20poly1305: message authentication failed"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "decrypt/nokey",
            json!({"ciphertext": "vault:v1:AAAA"})
        )
        .await,
        "encryption key not found"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "decrypt/ec",
            json!({"ciphertext": "vault:v1:AAAA"})
        )
        .await,
        "message decryption not supported for key type ecdsa-p256"
    );
    assert_eq!(
        err500(
            &env,
            Update,
            "decrypt/r",
            json!({"ciphertext": "vault:v1:AAAA"})
        )
        .await,
        "failed to RSA decrypt the ciphertext: crypto/rsa: decryption error"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "decrypt/d",
            json!({"ciphertext": "vault:v1:AAAA"})
        )
        .await,
        ctx_msg
    );
    assert_eq!(
        err500(&env, Update, "decrypt/k1", json!({"ciphertext": "vault:v1:AAAA", "associated_data": "!!"})).await,
        "unable to get associated_data/additional_data from factory[0]: illegal base64 data at input byte 0"
    );
    assert_eq!(call(&env, Read, "encrypt/k1", json!({})).await.0, 405);
}

#[tokio::test]
async fn batch_encrypt_and_decrypt() {
    let env = env().await;
    create(&env, "k1", json!({})).await;
    let v = ok(
        &env,
        Update,
        "encrypt/k1",
        json!({"batch_input": [{"plaintext": PT, "reference": "a"}, {"plaintext": "c2Vjb25k"}]}),
    )
    .await;
    let results = v["batch_results"].as_array().expect("results").clone();
    assert_eq!(
        keys_of(&results[0]),
        ["ciphertext", "key_version", "reference"]
    );
    assert_eq!(results[0]["reference"], json!("a"));
    assert_eq!(results[1]["reference"], json!(""));
    let cts: Vec<Value> = results
        .iter()
        .map(|r| json!({"ciphertext": r["ciphertext"]}))
        .collect();

    // A failed item makes the whole answer a 400 that still carries the results.
    let (status, body) = call(
        &env,
        Update,
        "encrypt/k1",
        json!({"batch_input": [{"plaintext": PT}, {"plaintext": "!!bad"}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        keys_of(&body),
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
    let items = body["data"]["batch_results"].as_array().expect("results");
    assert_eq!(
        items[1],
        json!({"error": "illegal base64 data at input byte 0", "reference": ""})
    );
    assert!(items[0]["ciphertext"].is_string());
    // ... or another status when asked.
    let (status, _) = call(&env, Update, "encrypt/k1", json!({"batch_input": [{"plaintext": PT}, {"plaintext": "!!"}], "partial_failure_response_code": 207})).await;
    assert_eq!(status, 207);
    let (status, body) = call(&env, Update, "encrypt/k1", json!({"batch_input": [{"plaintext": PT}, {"plaintext": "!!"}], "partial_failure_response_code": 700})).await;
    assert_eq!(status, 400);
    assert_eq!(body["warnings"], json!(["invalid HTTP response code override from partial_failure_response_code, reverting to 400"]));
    let (status, _) = call(
        &env,
        Update,
        "encrypt/k1",
        json!({"batch_input": [{"plaintext": "!!"}], "partial_failure_response_code": 207}),
    )
    .await;
    assert_eq!(status, 400, "no success: no override");

    let mut inputs = cts.clone();
    inputs.push(json!({"ciphertext": "vault:v1:AAAA", "reference": "bad"}));
    let (status, body) = call(&env, Update, "decrypt/k1", json!({"batch_input": inputs})).await;
    assert_eq!(status, 400);
    let items = body["data"]["batch_results"].as_array().expect("results");
    assert_eq!(items[0], json!({"plaintext": PT, "reference": ""}));
    assert_eq!(items[1], json!({"plaintext": "c2Vjb25k", "reference": ""}));
    assert_eq!(
        items[2],
        json!({"plaintext": "", "error": "invalid ciphertext length", "reference": "bad"})
    );
    let v = ok(&env, Update, "decrypt/k1", json!({"batch_input": cts})).await;
    assert_eq!(v["batch_results"].as_array().map(Vec::len), Some(2));

    assert_eq!(
        err400(&env, Update, "decrypt/k1", json!({"batch_input": []})).await,
        "missing batch input to process"
    );
    assert_eq!(
        err400(&env, Update, "encrypt/k1", json!({"batch_input": []})).await,
        "missing batch input to process"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "encrypt/k1",
            json!({"batch_input": [{"plaintext": PT, "context": "YQ=="}, {"plaintext": PT}]})
        )
        .await,
        "context should be set either in all the request blocks or in none"
    );
    assert_eq!(
        err500(&env, Update, "decrypt/k1", json!({"batch_input": [{"context": "YQ=="}, {}]})).await,
        "failed to parse batch input: '[0].ciphertext' missing ciphertext to decrypt\n'[1].ciphertext' missing ciphertext to decrypt"
    );
    assert_eq!(
        err500(&env, Update, "decrypt/k1", json!({"batch_input": "x"})).await,
        "failed to parse batch input: source data must be an array or slice, got string"
    );
    assert_eq!(
        err500(&env, Update, "encrypt/k1", json!({"batch_input": ["x"]})).await,
        "failed to parse batch input: [0] expected a map, got 'string'"
    );
    assert_eq!(
        err500(&env, Update, "encrypt/k1", json!({"batch_input": [{"plaintext": PT, "key_version": 1.5}]})).await,
        "failed to parse batch input: error decoding json.Number into [0].key_version: strconv.ParseInt: parsing \"1.5\": invalid syntax"
    );
    // A non-AEAD associated_data error stays in its item without failing the batch.
    create(&env, "r", json!({"type": "rsa-2048"})).await;
    let (status, body) = call(
        &env,
        Update,
        "encrypt/r",
        json!({"batch_input": [{"plaintext": PT, "associated_data": "YQ=="}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["batch_results"][0]["error"],
        json!("'[0].associated_data' provided for non-AEAD cipher suite rsa-2048")
    );
}

#[tokio::test]
async fn encrypt_creates_missing_keys_like_openbao() {
    let env = env().await;
    let ct = encrypt(&env, "new1", json!({"plaintext": PT})).await;
    assert!(ct.starts_with("vault:v1:"));
    let v = ok(&env, Read, "keys/new1", json!({})).await;
    assert_eq!(
        (v["type"].clone(), v["derived"].clone()),
        (json!("aes256-gcm96"), json!(false))
    );
    encrypt(
        &env,
        "new2",
        json!({"plaintext": PT, "context": "YWJj", "type": "chacha20-poly1305"}),
    )
    .await;
    let v = ok(&env, Read, "keys/new2", json!({})).await;
    assert_eq!(
        (v["type"].clone(), v["derived"].clone()),
        (json!("chacha20-poly1305"), json!(true))
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "encrypt/new3",
            json!({"plaintext": PT, "type": "ecdsa-p256"})
        )
        .await,
        "key type ecdsa-p256 not supported for this operation"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "encrypt/new3",
            json!({"plaintext": PT, "type": "rsa-2048"})
        )
        .await,
        "unknown key type rsa-2048"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "encrypt/new4",
            json!({"plaintext": PT, "convergent_encryption": true})
        )
        .await,
        "convergent encryption requires derivation to be enabled, so context is required"
    );
    let a = encrypt(
        &env,
        "new4",
        json!({"plaintext": PT, "convergent_encryption": true, "context": "YWJj"}),
    )
    .await;
    let b = encrypt(
        &env,
        "new4",
        json!({"plaintext": PT, "convergent_encryption": true, "context": "YWJj"}),
    )
    .await;
    assert_eq!(a, b, "convergent encryption is deterministic");
    let c = encrypt(&env, "new4", json!({"plaintext": PT, "context": "eHl6"})).await;
    assert_ne!(a, c);
    // An invalid plaintext still creates the key, as in OpenBao.
    assert_eq!(
        err400(&env, Update, "encrypt/new5", json!({"plaintext": "!!"})).await,
        "illegal base64 data at input byte 0"
    );
    assert_eq!(call(&env, Read, "keys/new5", json!({})).await.0, 200);
    // Field errors come from the existence check, without the handler prefix.
    assert_eq!(
        err400(&env, Update, "encrypt/nokey9", json!({"plaintext": PT, "key_version": "x"})).await,
        "error converting input for field \"key_version\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
    );
    // Upsert can be switched off.
    assert_eq!(
        ok(&env, Read, "config/keys", json!({})).await,
        json!({"disable_upsert": false})
    );
    assert_eq!(
        ok(&env, Update, "config/keys", json!({"disable_upsert": true})).await,
        json!({"disable_upsert": true})
    );
    assert_eq!(
        err400(&env, Update, "encrypt/nokey2", json!({"plaintext": PT})).await,
        "encryption key not found"
    );
    ok(&env, Update, "config/keys", json!({})).await;
    encrypt(&env, "nokey2", json!({"plaintext": PT})).await;
}

#[tokio::test]
async fn encrypting_a_missing_key_needs_the_create_capability() {
    let env = env().await;
    env.policy(
        "u",
        r#"path "transit/encrypt/*" { capabilities = ["update"] }"#,
    )
    .await;
    env.policy(
        "c",
        r#"path "transit/encrypt/*" { capabilities = ["create"] }"#,
    )
    .await;
    let updater = env.token(&["u"], false).await;
    let creator = env.token(&["c"], false).await;
    let r = env
        .req_as(
            &updater,
            Update,
            "transit/encrypt/fresh",
            json!({"plaintext": PT}),
        )
        .await;
    assert!(matches!(r, Err(CoreError::PermissionDenied)));
    env.req_as(
        &creator,
        Update,
        "transit/encrypt/fresh",
        json!({"plaintext": PT}),
    )
    .await
    .expect("create");
    env.req_as(
        &updater,
        Update,
        "transit/encrypt/fresh",
        json!({"plaintext": PT}),
    )
    .await
    .expect("update");
    let r = env
        .req_as(
            &creator,
            Update,
            "transit/encrypt/fresh",
            json!({"plaintext": PT}),
        )
        .await;
    assert!(matches!(r, Err(CoreError::PermissionDenied)));
}

#[tokio::test]
async fn derived_keys_need_and_use_context() {
    let env = env().await;
    for ty in [
        "aes128-gcm96",
        "aes256-gcm96",
        "chacha20-poly1305",
        "xchacha20-poly1305",
    ] {
        create(&env, ty, json!({"type": ty, "derived": true})).await;
        let a = encrypt(&env, ty, json!({"plaintext": PT, "context": "YWJj"})).await;
        let v = ok(
            &env,
            Update,
            &format!("decrypt/{ty}"),
            json!({"ciphertext": a, "context": "YWJj"}),
        )
        .await;
        assert_eq!(v["plaintext"], json!(PT));
        let (status, m) = fail(
            &env,
            Update,
            &format!("decrypt/{ty}"),
            json!({"ciphertext": a, "context": "eHl6"}),
        )
        .await;
        assert_eq!(status, 400);
        assert!(m.ends_with("message authentication failed"));
    }
}

#[tokio::test]
async fn rewrap_moves_ciphertexts_to_the_latest_version() {
    let env = env().await;
    create(&env, "k", json!({})).await;
    let ct = encrypt(&env, "k", json!({"plaintext": PT})).await;
    ok(&env, Update, "keys/k/rotate", json!({})).await;
    let v = ok(&env, Update, "rewrap/k", json!({"ciphertext": ct})).await;
    assert_eq!(keys_of(&v), ["ciphertext", "key_version"]);
    assert_eq!(v["key_version"], json!(2));
    let ct2 = v["ciphertext"].as_str().expect("ct").to_string();
    assert!(ct2.starts_with("vault:v2:"));
    assert_eq!(
        ok(&env, Update, "decrypt/k", json!({"ciphertext": ct2})).await["plaintext"],
        json!(PT)
    );
    let v = ok(
        &env,
        Update,
        "rewrap/k",
        json!({"ciphertext": ct, "key_version": 1}),
    )
    .await;
    assert_eq!(v["key_version"], json!(1));
    assert_eq!(
        err400(&env, Update, "rewrap/k", json!({})).await,
        "missing ciphertext to decrypt"
    );
    assert_eq!(
        err400(&env, Update, "rewrap/nokey", json!({"ciphertext": "x"})).await,
        "encryption key not found"
    );
    assert_eq!(
        err400(&env, Update, "rewrap/k", json!({"ciphertext": "x"})).await,
        "invalid ciphertext: no prefix"
    );
    // Batches answer 200 with per-item errors.
    let v = ok(&env, Update, "rewrap/k", json!({"batch_input": [{"ciphertext": "x", "reference": "a"}, {"ciphertext": ""}, {"ciphertext": ct}]})).await;
    let items = v["batch_results"].as_array().expect("items");
    assert_eq!(
        items[0],
        json!({"error": "invalid ciphertext: no prefix", "reference": "a"})
    );
    assert_eq!(
        items[1],
        json!({"error": "missing ciphertext to decrypt", "reference": ""})
    );
    assert_eq!(items[2]["key_version"], json!(2));
    assert_eq!(
        err400(
            &env,
            Update,
            "rewrap/k",
            json!({"batch_input": [{"ciphertext": "x"}, {"context": "YQ=="}]})
        )
        .await,
        "context should be set either in all the request blocks or in none"
    );
    let v = ok(
        &env,
        Update,
        "rewrap/k",
        json!({"batch_input": [{"ciphertext": 5}]}),
    )
    .await;
    assert_eq!(
        v["batch_results"][0]["error"],
        json!("invalid ciphertext: no prefix")
    );
    assert_eq!(
        err500(&env, Update, "rewrap/k", json!({"batch_input": "x"})).await,
        "failed to parse batch input: '' source data must be an array or slice, got string"
    );
    assert_eq!(
        err500(&env, Update, "rewrap/k", json!({"batch_input": [{"ciphertext": true}]})).await,
        "failed to parse batch input: decoding failed due to the following error(s):\n\n'[0].ciphertext' expected type 'string', got unconvertible type 'bool'"
    );
}

#[tokio::test]
async fn datakeys() {
    let env = env().await;
    create(&env, "k", json!({})).await;
    let v = ok(&env, Update, "datakey/plaintext/k", json!({})).await;
    assert_eq!(keys_of(&v), ["ciphertext", "key_version", "plaintext"]);
    let pt = v["plaintext"].as_str().expect("pt").to_string();
    assert_eq!(super::gocompat::b64_std(&pt).map(|b| b.len()), Ok(32));
    let back = ok(
        &env,
        Update,
        "decrypt/k",
        json!({"ciphertext": v["ciphertext"]}),
    )
    .await;
    assert_eq!(back["plaintext"], json!(pt));
    for (bits, len) in [(128, 16), (256, 32), (512, 64)] {
        let v = ok(&env, Update, "datakey/wrapped/k", json!({"bits": bits})).await;
        assert_eq!(keys_of(&v), ["ciphertext", "key_version"]);
        let back = ok(
            &env,
            Update,
            "decrypt/k",
            json!({"ciphertext": v["ciphertext"]}),
        )
        .await;
        assert_eq!(
            super::gocompat::b64_std(back["plaintext"].as_str().unwrap_or_default())
                .map(|b| b.len()),
            Ok(len)
        );
    }
    assert_eq!(
        err400(&env, Update, "datakey/foo/k", json!({})).await,
        "Invalid path, must be 'plaintext' or 'wrapped'"
    );
    assert_eq!(
        err400(&env, Update, "datakey/plaintext/k", json!({"bits": 100})).await,
        "invalid bit length"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "datakey/plaintext/nokey",
            json!({"bits": 100})
        )
        .await,
        "encryption key not found"
    );
    assert_eq!(
        err400(&env, Update, "datakey/wrapped/k", json!({"context": "!!"})).await,
        "failed to base64-decode context"
    );
    assert_eq!(
        err400(&env, Update, "datakey/wrapped/k", json!({"key_version": 3})).await,
        "requested version for encryption is higher than the latest key version"
    );
    create(&env, "r", json!({"type": "rsa-2048"})).await;
    assert_eq!(
        err400(
            &env,
            Update,
            "datakey/wrapped/r",
            json!({"associated_data": "YQ=="})
        )
        .await,
        "'associated_data' provided for non-AEAD cipher suite rsa-2048"
    );
    ok(&env, Update, "datakey/wrapped/r", json!({})).await;
    create(&env, "ec", json!({"type": "ecdsa-p256"})).await;
    assert_eq!(
        err400(&env, Update, "datakey/wrapped/ec", json!({})).await,
        "message encryption not supported for key type ecdsa-p256"
    );
    assert_eq!(
        call(&env, Update, "datakey/wrapped", json!({})).await.0,
        404
    );
    assert_eq!(
        call(&env, Read, "datakey/wrapped/k", json!({})).await.0,
        405
    );
    // The path segment replaces a body field of the same name.
    let r = env
        .req(
            Update,
            "transit/datakey/wrapped/k",
            json!({"plaintext": "x"}),
        )
        .await
        .expect("datakey");
    assert_eq!(
        r.warnings,
        ["Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [plaintext]"]
    );
}

// ---------------------------------------------------------------------------
// export
// ---------------------------------------------------------------------------

#[tokio::test]
async fn export_kinds_formats_and_errors() {
    let env = env().await;
    create(&env, "c", json!({"exportable": true})).await;
    create(&env, "ec", json!({"type": "ecdsa-p256"})).await;
    assert_eq!(
        err400(&env, Read, "export/foo/c", json!({})).await,
        "invalid export type: foo"
    );
    assert_eq!(
        call(&env, Read, "export/encryption-key/nokey", json!({}))
            .await
            .0,
        404
    );
    assert_eq!(
        err400(&env, Read, "export/encryption-key/ec", json!({})).await,
        "private key material is not exportable"
    );
    let v = ok(&env, Read, "export/public-key/ec", json!({})).await;
    assert_eq!(keys_of(&v), ["keys", "name", "type"]);
    let pem = v["keys"]["1"].as_str().expect("pem");
    assert!(
        pem.starts_with("-----BEGIN PUBLIC KEY-----\n")
            && pem.ends_with("-----END PUBLIC KEY-----")
    );
    let all = ok(&env, Read, "export/encryption-key/c", json!({})).await;
    for version in ["latest", "v1", "1"] {
        let one = ok(
            &env,
            Read,
            &format!("export/encryption-key/c/{version}"),
            json!({}),
        )
        .await;
        assert_eq!(one, all, "{version}");
    }
    assert_eq!(
        err400(&env, Read, "export/encryption-key/c/2", json!({})).await,
        "version does not exist or cannot be found"
    );
    assert_eq!(
        err400(&env, Read, "export/encryption-key/c/x", json!({})).await,
        "invalid key version"
    );
    assert_eq!(
        err400(&env, Read, "export/encryption-key/c/0", json!({})).await,
        "version for export is below minimum decryption version"
    );
    assert_eq!(
        err400(&env, Read, "export/signing-key/c", json!({})).await,
        "signing not supported for the key"
    );
    assert_eq!(
        err500(&env, Read, "export/public-key/c", json!({})).await,
        "unknown key type aes256-gcm96 for export type public-key"
    );
    assert_eq!(
        err400(&env, Read, "export/public-key/c", json!({"format": "x"})).await,
        "invalid format: x"
    );
    assert_eq!(
        err500(
            &env,
            Read,
            "export/encryption-key/c",
            json!({"format": "pem"})
        )
        .await,
        "unknown format for HMAC key; supported values are `` or `raw`"
    );
    let hmac = ok(&env, Read, "export/hmac-key/c", json!({})).await;
    assert_ne!(hmac["keys"]["1"], all["keys"]["1"]);
    assert_eq!(
        err400(&env, Read, "export/certificate-chain/c", json!({})).await,
        "certificate chain not supported for keys that do not support signing"
    );
    assert_eq!(
        err500(&env, Read, "export/certificate-chain/ec", json!({})).await,
        "selected key version does not have a certificate chain imported"
    );
    for ty in [
        "ecdsa-p256",
        "ecdsa-p384",
        "ecdsa-p521",
        "ed25519",
        "rsa-2048",
    ] {
        let name = format!("x-{ty}");
        create(&env, &name, json!({"type": ty, "exportable": true})).await;
        for format in ["", "der", "pem"] {
            let v = ok(
                &env,
                Read,
                &format!("export/signing-key/{name}"),
                json!({"format": format}),
            )
            .await;
            let k = v["keys"]["1"].as_str().unwrap_or_default();
            match (ty, format) {
                ("ed25519", "") => assert_eq!(super::gocompat::b64_std(k).map(|b| b.len()), Ok(64)),
                ("rsa-2048", "") => assert!(
                    k.starts_with("-----BEGIN RSA PRIVATE KEY-----") && k.ends_with("-----\n")
                ),
                (_, "") => {
                    assert!(k.starts_with("-----BEGIN EC PRIVATE KEY-----") && k.ends_with("-----"))
                }
                (_, "der") => assert!(super::gocompat::b64_std(k).is_ok()),
                _ => assert!(k.starts_with("-----BEGIN PRIVATE KEY-----")),
            }
        }
        let (status, _) = call(
            &env,
            Read,
            &format!("export/public-key/{name}"),
            json!({"format": "raw"}),
        )
        .await;
        assert_eq!(status, if ty == "ed25519" { 200 } else { 500 }, "{ty}");
    }
}

// ---------------------------------------------------------------------------
// hmac, sign, verify
// ---------------------------------------------------------------------------

#[tokio::test]
async fn hmac_and_hmac_verification() {
    let env = env().await;
    create(&env, "k1", json!({})).await;
    create(&env, "h", json!({"type": "hmac", "key_size": 64})).await;
    create(&env, "ec", json!({"type": "ecdsa-p256"})).await;
    for key in ["k1", "h", "ec"] {
        for alg in [
            "sha1", "sha2-224", "sha2-256", "sha2-384", "sha2-512", "sha3-224", "sha3-256",
            "sha3-384", "sha3-512",
        ] {
            let v = ok(
                &env,
                Update,
                &format!("hmac/{key}/{alg}"),
                json!({"input": PT}),
            )
            .await;
            let h = v["hmac"].as_str().expect("hmac").to_string();
            assert!(h.starts_with("vault:v1:"));
            let same = ok(
                &env,
                Update,
                &format!("hmac/{key}"),
                json!({"input": PT, "algorithm": alg}),
            )
            .await;
            assert_eq!(same["hmac"], json!(h));
            let v = ok(
                &env,
                Update,
                &format!("verify/{key}/{alg}"),
                json!({"input": PT, "hmac": h}),
            )
            .await;
            assert_eq!(v, json!({"valid": true}));
            let v = ok(
                &env,
                Update,
                &format!("verify/{key}"),
                json!({"input": "eA==", "hmac": h, "hash_algorithm": alg}),
            )
            .await;
            assert_eq!(v, json!({"valid": false}));
        }
    }
    for (body, msg) in [
        (json!({}), "missing input for HMAC"),
        (
            json!({"input": "!!"}),
            "unable to decode input as base64: illegal base64 data at input byte 0",
        ),
        (
            json!({"input": "aGk=", "key_version": 3}),
            "key version does not exist; latest key version is 1",
        ),
        (
            json!({"input": "aGk=", "key_version": -3}),
            "key version does not exist (cannot be negative)",
        ),
        (
            json!({"input": "aGk=", "algorithm": "md5"}),
            "unsupported algorithm '\\x00'",
        ),
        (
            json!({"input": "aGk=", "algorithm": "none"}),
            "algorithm cannot be none",
        ),
        (json!({"batch_input": []}), "missing batch input to process"),
    ] {
        assert_eq!(
            err400(&env, Update, "hmac/k1", body.clone()).await,
            msg,
            "{body}"
        );
    }
    assert_eq!(
        err400(&env, Update, "hmac/nokey", json!({})).await,
        "encryption key not found"
    );
    let v = ok(&env, Update, "hmac/k1", json!({"batch_input": [{"input": PT, "reference": "x"}, {"input": "!!"}, {}, {"input": null}]})).await;
    let items = v["batch_results"].as_array().expect("items");
    assert_eq!(keys_of(&items[0]), ["hmac", "reference"]);
    assert_eq!(items[0]["reference"], json!("x"));
    assert_eq!(
        items[1],
        json!({"error": "unable to decode input as base64: illegal base64 data at input byte 0", "reference": ""})
    );
    assert_eq!(
        items[2],
        json!({"error": "missing input for HMAC", "reference": ""})
    );
    assert!(items[3]["hmac"].is_string());
    assert_eq!(
        err500(&env, Update, "hmac/k1", json!({"batch_input": [{"input": true}]})).await,
        "failed to parse batch input: decoding failed due to the following error(s):\n\n'[0][input]' expected type 'string', got unconvertible type 'bool'"
    );
    assert_eq!(
        err500(&env, Update, "hmac/k1", json!({"batch_input": ["x"]})).await,
        "failed to parse batch input: decoding failed due to the following error(s):\n\n'[0]' expected type 'transit.batchRequestHMACItem', got unconvertible type 'string'"
    );

    let h = ok(&env, Update, "hmac/k1", json!({"input": "aGk="})).await["hmac"].clone();
    for (body, msg) in [
        (
            json!({"input": "aGk="}),
            "neither a 'signature' nor an 'hmac' were given to verify",
        ),
        (
            json!({"input": "aGk=", "hmac": "x"}),
            "invalid HMAC to verify: no prefix",
        ),
        (
            json!({"input": "aGk=", "hmac": "vault:vx"}),
            "invalid HMAC: wrong number of fields",
        ),
        (
            json!({"input": "aGk=", "hmac": "vault:vx:a"}),
            "invalid HMAC: version number could not be decoded",
        ),
        (
            json!({"input": "aGk=", "hmac": "vault:v1:!"}),
            "unable to decode verification HMAC as base64: illegal base64 data at input byte 0",
        ),
        (
            json!({"input": "aGk=", "hmac": "vault:v9:AAAA"}),
            "invalid HMAC: version is too new",
        ),
        (
            json!({"input": "aGk=", "hmac": "vault:v0:AAAA"}),
            "cannot verify HMAC: version is too old (disallowed by policy)",
        ),
        (
            json!({"input": "aGk=", "hmac": "vault:v1:AAAA", "hash_algorithm": "md5"}),
            "invalid hash algorithm \"md5\"",
        ),
        (
            json!({"input": "aGk=", "hmac": "vault:v1:AAAA", "hash_algorithm": "none"}),
            "algorithm cannot be none",
        ),
        (
            json!({"batch_input": [{"input": "aGk=", "hmac": h}, {"input": "aGk="}]}),
            "some elements of batch_input are missing 'hmac'",
        ),
        (
            json!({"batch_input": [{"input": "aGk=", "hmac": h}, {"input": "aGk=", "signature": "x"}]}),
            "elements of batch_input must all provide 'signature' or all provide 'hmac'",
        ),
        (
            json!({"batch_input": [{"input": "aGk="}]}),
            "no batch_input elements have 'signature' or 'hmac'",
        ),
    ] {
        assert_eq!(
            err400(&env, Update, "verify/k1", body.clone()).await,
            msg,
            "{body}"
        );
    }
    assert_eq!(
        err400(
            &env,
            Update,
            "verify/k1",
            json!({"input": "aGk=", "hmac": "x", "signature": "y"})
        )
        .await,
        "key type aes256-gcm96 does not support verification"
    );
    assert_eq!(
        ok(&env, Update, "verify/k1", json!({"hmac": "vault:v1:AAAA"})).await,
        json!({"valid": false})
    );
    let v = ok(&env, Update, "verify/k1", json!({"batch_input": [{"input": "aGk=", "hmac": h, "reference": "q"}, {"input": "aGk=", "hmac": "x"}, {"input": "aGk=", "hmac": "vault:v1:AAAA"}]})).await;
    assert_eq!(
        v["batch_results"],
        json!([{"valid": true, "reference": "q"}, {"error": "invalid HMAC to verify: no prefix", "reference": ""}, {"reference": ""}])
    );
}

#[tokio::test]
async fn sign_and_verify_every_signing_algorithm() {
    let env = env().await;
    let hashes = [
        "sha1", "sha2-224", "sha2-256", "sha2-384", "sha2-512", "sha3-224", "sha3-256", "sha3-384",
        "sha3-512",
    ];
    for ty in ["ecdsa-p256", "ecdsa-p384", "ecdsa-p521"] {
        create(&env, ty, json!({"type": ty})).await;
        for alg in hashes {
            for marshaling in ["asn1", "jws"] {
                let body =
                    json!({"input": PT, "hash_algorithm": alg, "marshaling_algorithm": marshaling});
                let v = ok(&env, Update, &format!("sign/{ty}"), body.clone()).await;
                assert_eq!(keys_of(&v), ["key_version", "signature"]);
                let sig = v["signature"].as_str().expect("sig").to_string();
                if marshaling == "jws" {
                    assert!(
                        !sig.contains('=') && !sig.contains('+') && !sig.contains('/'),
                        "{sig}"
                    );
                }
                let mut vb = body.clone();
                vb["signature"] = json!(sig);
                assert_eq!(
                    ok(&env, Update, &format!("verify/{ty}"), vb.clone()).await,
                    json!({"valid": true}),
                    "{ty} {alg} {marshaling}"
                );
                vb["input"] = json!("dGFtcGVyZWQ=");
                assert_eq!(
                    ok(&env, Update, &format!("verify/{ty}"), vb).await,
                    json!({"valid": false})
                );
                // The URL form of the algorithm is the same.
                let v = ok(
                    &env,
                    Update,
                    &format!("verify/{ty}/{alg}"),
                    json!({"input": PT, "signature": sig, "marshaling_algorithm": marshaling}),
                )
                .await;
                assert_eq!(v, json!({"valid": true}));
            }
        }
        // Prehashed input.
        let digest = super::gocompat::b64(
            &super::crypto::HashAlg::Sha2_256
                .digest(b"x")
                .unwrap_or_default(),
        );
        let v = ok(
            &env,
            Update,
            &format!("sign/{ty}"),
            json!({"input": digest, "prehashed": true}),
        )
        .await;
        let v = ok(
            &env,
            Update,
            &format!("verify/{ty}"),
            json!({"input": digest, "prehashed": true, "signature": v["signature"]}),
        )
        .await;
        assert_eq!(v, json!({"valid": true}));
    }
    create(&env, "ed", json!({"type": "ed25519"})).await;
    let a = ok(&env, Update, "sign/ed", json!({"input": PT})).await;
    let b = ok(&env, Update, "sign/ed/sha2-512", json!({"input": PT})).await;
    assert_eq!(a, b, "Ed25519 ignores the hash and is deterministic");
    assert_eq!(
        ok(
            &env,
            Update,
            "verify/ed",
            json!({"input": PT, "signature": a["signature"]})
        )
        .await,
        json!({"valid": true})
    );
    let jws = ok(
        &env,
        Update,
        "sign/ed",
        json!({"input": PT, "marshaling_algorithm": "jws"}),
    )
    .await;
    assert_eq!(
        ok(
            &env,
            Update,
            "verify/ed",
            json!({"input": PT, "signature": jws["signature"], "marshaling_algorithm": "jws"})
        )
        .await,
        json!({"valid": true})
    );
    create(&env, "edd", json!({"type": "ed25519", "derived": true})).await;
    let v = ok(
        &env,
        Update,
        "sign/edd",
        json!({"input": PT, "context": "YWJj"}),
    )
    .await;
    assert_eq!(keys_of(&v), ["key_version", "public_key", "signature"]);
    let read = ok(&env, Read, "keys/edd", json!({"context": "YWJj"})).await;
    assert_eq!(read["keys"]["1"]["public_key"], v["public_key"]);
    assert_eq!(
        ok(
            &env,
            Update,
            "verify/edd",
            json!({"input": PT, "context": "YWJj", "signature": v["signature"]})
        )
        .await,
        json!({"valid": true})
    );
    assert_eq!(
        ok(
            &env,
            Update,
            "verify/edd",
            json!({"input": PT, "context": "eHl6", "signature": v["signature"]})
        )
        .await,
        json!({"valid": false})
    );

    create(&env, "rsa", json!({"type": "rsa-2048"})).await;
    for alg in hashes {
        for (sig_alg, salts) in [
            ("pss", vec!["auto", "hash", "10", "0"]),
            ("pkcs1v15", vec![""]),
        ] {
            for salt in salts {
                let mut body =
                    json!({"input": PT, "hash_algorithm": alg, "signature_algorithm": sig_alg});
                if !salt.is_empty() {
                    body["salt_length"] = json!(salt);
                }
                let v = ok(&env, Update, "sign/rsa", body.clone()).await;
                let mut vb = body.clone();
                vb["signature"] = v["signature"].clone();
                assert_eq!(
                    ok(&env, Update, "verify/rsa", vb.clone()).await,
                    json!({"valid": true}),
                    "{alg} {sig_alg} {salt}"
                );
                if sig_alg == "pss" {
                    // Auto detects any salt length.
                    vb.as_object_mut().map(|m| m.remove("salt_length"));
                    assert_eq!(
                        ok(&env, Update, "verify/rsa", vb.clone()).await,
                        json!({"valid": true})
                    );
                }
                vb["input"] = json!("dGFtcGVyZWQ=");
                assert_eq!(
                    ok(&env, Update, "verify/rsa", vb).await,
                    json!({"valid": false})
                );
            }
        }
    }
    let raw = json!({"input": "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=", "prehashed": true, "hash_algorithm": "none", "signature_algorithm": "pkcs1v15"});
    let v = ok(&env, Update, "sign/rsa", raw.clone()).await;
    let again = ok(&env, Update, "sign/rsa", raw.clone()).await;
    assert_eq!(v, again, "PKCS #1 v1.5 is deterministic");
    let mut vb = raw.clone();
    vb["signature"] = v["signature"].clone();
    assert_eq!(
        ok(&env, Update, "verify/rsa", vb).await,
        json!({"valid": true})
    );
}

#[tokio::test]
async fn sign_and_verify_errors_match_openbao() {
    let env = env().await;
    create(&env, "ec", json!({"type": "ecdsa-p256"})).await;
    create(&env, "k1", json!({})).await;
    create(&env, "edd", json!({"type": "ed25519", "derived": true})).await;
    create(&env, "rsa", json!({"type": "rsa-2048"})).await;
    create(&env, "h", json!({"type": "hmac", "key_size": 32})).await;
    assert_eq!(
        err400(&env, Update, "sign/nokey", json!({})).await,
        "signing key not found"
    );
    for (body, msg) in [
        (
            json!({"input": "!!"}),
            "unable to decode input as base64: illegal base64 data at input byte 0",
        ),
        (
            json!({"input": "aGk=", "hash_algorithm": "md5"}),
            "invalid hash algorithm \"md5\"",
        ),
        (
            json!({"input": "aGk=", "marshaling_algorithm": "x"}),
            "invalid marshaling type \"x\"",
        ),
        (
            json!({"input": "aGk=", "hash_algorithm": "none"}),
            "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15",
        ),
        (
            json!({"input": "aGk=", "salt_length": "x"}),
            "salt length neither 'auto', 'hash', nor an int: x",
        ),
        (
            json!({"input": "aGk=", "salt_length": "-5"}),
            "salt length is invalid: -5",
        ),
        (json!({"batch_input": []}), "missing batch input to process"),
    ] {
        assert_eq!(
            err400(&env, Update, "sign/ec", body.clone()).await,
            msg,
            "{body}"
        );
    }
    assert_eq!(
        err400(&env, Update, "sign/ec/md5", json!({"input": "aGk="})).await,
        "invalid hash algorithm \"md5\""
    );
    assert_eq!(
        err400(&env, Update, "sign/k1", json!({"input": "aGk="})).await,
        "key type aes256-gcm96 does not support signing"
    );
    assert_eq!(
        err400(&env, Update, "sign/h", json!({"input": "aGk="})).await,
        "key type hmac does not support signing"
    );
    assert_eq!(
        err500(
            &env,
            Update,
            "sign/ec",
            json!({"input": "aGk=", "key_version": 4})
        )
        .await,
        "requested version for signing is higher than the latest key version"
    );
    assert_eq!(
        err500(
            &env,
            Update,
            "sign/ec",
            json!({"input": "aGk=", "key_version": -1})
        )
        .await,
        "requested version for signing is negative"
    );
    assert_eq!(
        err500(&env, Update, "sign/edd", json!({"input": "aGk="})).await,
        "error deriving key: missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "sign/edd",
            json!({"input": "aGk=", "context": "!!"})
        )
        .await,
        "failed to base64-decode context"
    );
    assert_eq!(
        err500(
            &env,
            Update,
            "sign/rsa",
            json!({"input": "aGk=", "signature_algorithm": "foo"})
        )
        .await,
        "unsupported rsa signature algorithm foo"
    );
    assert_eq!(
        err500(
            &env,
            Update,
            "sign/rsa",
            json!({"input": "aGk=", "salt_length": "1000"})
        )
        .await,
        "requested salt length 1000 is invalid"
    );
    let v = ok(
        &env,
        Update,
        "sign/ec",
        json!({"batch_input": [{"input": "aGk=", "reference": "a"}, {"input": "!!"}, {}]}),
    )
    .await;
    let items = v["batch_results"].as_array().expect("items");
    assert_eq!(
        keys_of(&items[0]),
        ["signature", "key_version", "reference"]
    );
    assert_eq!(
        items[1],
        json!({"key_version": 0, "error": "unable to decode input as base64: illegal base64 data at input byte 0", "reference": ""})
    );
    assert_eq!(
        items[2],
        json!({"key_version": 0, "error": "missing input", "reference": ""})
    );

    let sig = ok(&env, Update, "sign/ec", json!({"input": "aGk="})).await["signature"].clone();
    assert_eq!(
        err400(
            &env,
            Update,
            "verify/ec",
            json!({"input": "aGk=", "signature": sig, "marshaling_algorithm": "jws"})
        )
        .await,
        "invalid base64 signature value"
    );
    for (s, msg) in [
        ("x", "invalid signature: no prefix"),
        ("vault:v1", "invalid signature: wrong number of fields"),
        (
            "vault:vx:AAAA",
            "invalid signature: version number could not be decoded",
        ),
        ("vault:v5:AAAA", "invalid signature: version is too new"),
        ("vault:v1:!!", "invalid base64 signature value"),
        ("vault:v1:AAAA", "supplied signature is invalid"),
        (
            "vault:v0:AAAA",
            "ciphertext or signature version is disallowed by policy (too old)",
        ),
        ("vault:v1:MAA=", "supplied signature is invalid"),
        (
            "vault:v1:MAYCAQECAQEA",
            "supplied signature contains extra data",
        ),
    ] {
        assert_eq!(
            err400(
                &env,
                Update,
                "verify/ec",
                json!({"input": "aGk=", "signature": s})
            )
            .await,
            msg,
            "{s}"
        );
    }
    assert_eq!(
        ok(
            &env,
            Update,
            "verify/ec",
            json!({"input": "aGk=", "signature": "vault:v1:AAAA", "marshaling_algorithm": "jws"})
        )
        .await,
        json!({"valid": false})
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "verify/nokey",
            json!({"input": "aGk=", "signature": "vault:v0:AAAA"})
        )
        .await,
        "signature verification key not found"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "verify/k1",
            json!({"input": "aGk=", "signature": "vault:v0:AAAA"})
        )
        .await,
        "key type aes256-gcm96 does not support verification"
    );
    assert_eq!(
        err500(&env, Update, "verify/edd", json!({"input": "aGk=", "signature": "vault:v1:AAAA"})).await,
        "error deriving key: missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key"
    );
    assert_eq!(
        ok(
            &env,
            Update,
            "verify/rsa",
            json!({"input": "aGk=", "signature": "vault:v1:AAAA"})
        )
        .await,
        json!({"valid": false})
    );
    assert_eq!(
        err500(
            &env,
            Update,
            "verify/rsa",
            json!({"input": "aGk=", "signature": "vault:v1:AAAA", "signature_algorithm": "x"})
        )
        .await,
        "unsupported rsa signature algorithm x"
    );
    let v = ok(
        &env,
        Update,
        "verify/ec",
        json!({"batch_input": [
            {"input": "aGk=", "signature": sig, "reference": "z"},
            {"input": "aGk=", "signature": "vault:v1:AAAA"},
            {"input": "aGk=", "signature": "x"},
            {"input": "!!", "signature": "x"}
        ]}),
    )
    .await;
    assert_eq!(
        v["batch_results"],
        json!([
            {"valid": true, "reference": "z"},
            {"valid": false, "error": "supplied signature is invalid", "reference": ""},
            {"valid": false, "error": "invalid signature: no prefix", "reference": ""},
            {"valid": false, "error": "unable to decode input as base64: illegal base64 data at input byte 0", "reference": ""}
        ])
    );
    assert_eq!(
        err500(&env, Update, "verify/ec", json!({"batch_input": [{"input": "aGk=", "signature": true}]})).await,
        "failed to parse batch input: decoding failed due to the following error(s):\n\n'[0][signature]' expected type 'string', got unconvertible type 'bool'"
    );
    // Signing with an old version is refused once min_encryption_version moves.
    ok(&env, Update, "keys/ec/rotate", json!({})).await;
    ok(
        &env,
        Update,
        "keys/ec/config",
        json!({"min_encryption_version": 2}),
    )
    .await;
    assert_eq!(
        err500(
            &env,
            Update,
            "sign/ec",
            json!({"input": "aGk=", "key_version": 1})
        )
        .await,
        "requested version for signing is less than the minimum encryption key version"
    );
    assert_eq!(
        ok(
            &env,
            Update,
            "verify/ec",
            json!({"input": "aGk=", "signature": sig})
        )
        .await,
        json!({"valid": true})
    );
}

// ---------------------------------------------------------------------------
// random, hash, warnings
// ---------------------------------------------------------------------------

#[tokio::test]
async fn random_bytes_and_hashes() {
    let env = env().await;
    let len = |v: &Value, hex: bool| {
        let s = v["random_bytes"].as_str().unwrap_or_default();
        if hex {
            s.len() / 2
        } else {
            super::gocompat::b64_std(s).map(|b| b.len()).unwrap_or(0)
        }
    };
    assert_eq!(len(&ok(&env, Update, "random", json!({})).await, false), 32);
    assert_eq!(
        len(&ok(&env, Update, "random/8", json!({})).await, false),
        8
    );
    assert_eq!(
        len(
            &ok(&env, Update, "random/8", json!({"format": "hex"})).await,
            true
        ),
        8
    );
    assert_eq!(
        len(
            &ok(&env, Update, "random", json!({"bytes": 4, "format": "hex"})).await,
            true
        ),
        4
    );
    assert_eq!(
        len(
            &ok(&env, Update, "random/all", json!({"bytes": 4})).await,
            false
        ),
        4
    );
    let r = env
        .req(Update, "transit/random/seal/4", json!({"format": "hex"}))
        .await
        .expect("random");
    assert_eq!(
        r.warnings,
        ["no seal/entropy augmentation available, using platform entropy source"]
    );
    for (path, body, msg) in [
        ("random/foo", json!({}), "error parsing url-set byte count: strconv.Atoi: parsing \"foo\": invalid syntax"),
        ("random/foo/4", json!({}), "unsupported entropy source \"foo\"; must be \"platform\" or \"seal\", or \"all\""),
        ("random/0", json!({}), "'bytes' cannot be less than 1"),
        ("random/200000", json!({}), "'bytes' should be less than 131072"),
        ("random", json!({"format": "x"}), "unsupported encoding format \"x\"; must be \"hex\" or \"base64\""),
        ("random/platform/x", json!({}), "error parsing url-set byte count: strconv.Atoi: parsing \"x\": invalid syntax"),
        ("random", json!({"bytes": "x"}), "Field validation failed: error converting input for field \"bytes\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax"),
    ] {
        assert_eq!(err400(&env, Update, path, body).await, msg, "{path}");
    }
    assert_eq!(call(&env, Read, "random", json!({})).await.0, 405);
    let r = env
        .req(
            Update,
            "transit/random",
            json!({"source": "seal", "bytes": 3}),
        )
        .await
        .expect("random");
    assert_eq!(
        r.warnings,
        ["Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [source]"]
    );

    assert_eq!(
        err400(&env, Update, "hash", json!({})).await,
        "input missing"
    );
    assert_eq!(
        ok(&env, Update, "hash", json!({"input": "aGk="})).await,
        json!({"sum": "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"})
    );
    assert_eq!(
        ok(
            &env,
            Update,
            "hash/sha2-512",
            json!({"input": "aGk=", "format": "base64"})
        )
        .await,
        json!({"sum": "FQoU7VvqbMcxz4bEFWasQnqNtI7xuf1iZmSzv7uZBx+kySLzPd44cZuMg1Tit6udd+Dmf8EoQ5IKcS5z1Vjhlw=="})
    );
    assert_eq!(
        ok(
            &env,
            Update,
            "hash",
            json!({"input": "aGk=", "algorithm": "sha3-224"})
        )
        .await,
        json!({"sum": "4538aacc6ccae167eb462bd2d6ced3537edf6f8d88af709be7b130c0"})
    );
    assert_eq!(
        ok(&env, Update, "hash", json!({"input": ""})).await,
        json!({"sum": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "hash",
            json!({"input": "aGk=", "algorithm": "md5"})
        )
        .await,
        "unsupported algorithm md5"
    );
    assert_eq!(
        err400(&env, Update, "hash/sha1", json!({"input": "aGk="})).await,
        "unsupported algorithm sha1"
    );
    assert_eq!(
        err400(
            &env,
            Update,
            "hash",
            json!({"input": "aGk=", "format": "x"})
        )
        .await,
        "unsupported encoding format x; must be \"hex\" or \"base64\""
    );
    assert_eq!(
        err400(&env, Update, "hash", json!({"input": "!!"})).await,
        "unable to decode input as base64: illegal base64 data at input byte 0"
    );
}

#[tokio::test]
async fn unknown_and_path_parameters_are_warned_about() {
    let env = env().await;
    create(&env, "c", json!({"derived": true})).await;
    let r = env
        .req(
            Update,
            "transit/encrypt/c",
            json!({"plaintext": PT, "context": "YQ==", "name": "foo", "bar": 1}),
        )
        .await
        .expect("encrypt");
    assert_eq!(
        r.warnings,
        [
            "Endpoint ignored these unrecognized parameters: [bar]",
            "Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [name]"
        ]
    );
    let r = env
        .req(Update, "transit/keys/c", json!({"name": "foo", "bar": 1}))
        .await
        .expect("write");
    assert_eq!(r.warnings.len(), 2);
    let r = env
        .req(List, "transit/keys", json!({"list": "true"}))
        .await
        .expect("list");
    assert!(r.warnings.is_empty());
    assert_eq!(
        ok(&env, Update, "cache-config", json!({"size": 0})).await,
        json!({"size": 0})
    );
    assert_eq!(
        err400(&env, Update, "cache-config", json!({"size": 5})).await,
        "size must be 0 or a value greater or equal to 10"
    );
    ok(&env, Update, "cache-config", json!({"size": 20})).await;
    assert_eq!(
        ok(&env, Read, "cache-config", json!({})).await,
        json!({"size": 20})
    );
}
