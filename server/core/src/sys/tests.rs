//! System backend tests through [`Core::handle_request`] on in-memory
//! storage. Expected texts and shapes come from OpenBao 2.7.2 (see
//! `openbao-2.7.2-captures`).

use std::sync::Arc;

use serde_json::{json, Value};

use crate::audit::AuditDeviceConfig;
use crate::core::{Active, InitRequest};
use crate::error::CoreError;
use crate::logical::{Operation, Request, Response};
use crate::physical::InmemBackend;
use crate::token::TokenParams;
use crate::{Core, CoreConfig};

/// An initialised, unsealed core with its root token.
pub(crate) struct TestCore {
    pub core: Arc<Core>,
    pub root: String,
}

impl TestCore {
    pub async fn new() -> Self {
        Self::with_config(CoreConfig::default()).await
    }

    pub async fn with_config(config: CoreConfig) -> Self {
        let core = Core::new(Arc::new(InmemBackend::new()), config);
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
        TestCore { core, root }
    }

    pub fn active(&self) -> Arc<Active> {
        self.core.active().expect("unsealed")
    }

    /// A request with an optional token.
    pub async fn call(
        &self,
        token: Option<&str>,
        op: Operation,
        path: &str,
        data: Value,
    ) -> Result<Response, CoreError> {
        let mut req = Request::new(op, path).with_data(data);
        if let Some(t) = token {
            req = req.with_token(t);
        }
        self.core.handle_request(req).await
    }

    /// A request with the root token.
    pub async fn root(
        &self,
        op: Operation,
        path: &str,
        data: Value,
    ) -> Result<Response, CoreError> {
        let root = self.root.clone();
        self.call(Some(&root), op, path, data).await
    }

    /// A request with the root token that must succeed.
    pub async fn ok(&self, op: Operation, path: &str, data: Value) -> Response {
        self.root(op, path, data)
            .await
            .unwrap_or_else(|e| panic!("{} {path}: {e:?}", op.as_str()))
    }

    /// The error of a root request that must fail.
    pub async fn err(&self, op: Operation, path: &str, data: Value) -> CoreError {
        match self.root(op, path, data).await {
            Ok(r) => panic!("{} {path} succeeded: {:?}", op.as_str(), r.data),
            Err(e) => e,
        }
    }

    /// Writes a policy and returns a token holding it (plus `default`).
    pub async fn token_with_policy(&self, name: &str, text: &str) -> String {
        self.ok(
            Operation::Update,
            &format!("sys/policies/acl/{name}"),
            json!({"policy": text}),
        )
        .await;
        self.token(&[name]).await
    }

    /// A service token with these policies (plus `default`).
    pub async fn token(&self, policies: &[&str]) -> String {
        let (t, _) = self
            .active()
            .tokens
            .create(TokenParams {
                policies: policies.iter().map(|p| p.to_string()).collect(),
                path: "auth/token/create".into(),
                token_type: "service".into(),
                display_name: "token".into(),
                ..Default::default()
            })
            .await
            .expect("token");
        t.to_string()
    }
}

pub(crate) fn data(r: &Response) -> &serde_json::Map<String, Value> {
    r.data.as_ref().expect("response has data")
}

pub(crate) fn invalid(e: &CoreError) -> &str {
    match e {
        CoreError::InvalidRequest(m) => m,
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

const KV_SECRET: &str = "sys/mounts/secret";

async fn with_kv_v2() -> TestCore {
    let t = TestCore::new().await;
    t.ok(Operation::Update, KV_SECRET, json!({"type": "kv-v2"}))
        .await;
    t
}

// ---------------------------------------------------------------- mounts

#[tokio::test]
async fn mounts_list_has_builtin_entries() {
    let t = TestCore::new().await;
    let r = t.ok(Operation::Read, "sys/mounts", json!({})).await;
    assert!(r.top_level_data);
    let d = data(&r);
    let sys = &d["sys/"];
    assert_eq!(sys["type"], "system");
    assert_eq!(sys["seal_wrap"], true);
    assert_eq!(
        sys["config"]["passthrough_request_headers"],
        json!(["Accept"])
    );
    assert_eq!(sys["options"], Value::Null);
    assert!(sys.get("deprecation_status").is_none());
    let cubby = &d["cubbyhole/"];
    assert_eq!(cubby["local"], true);
    assert!(cubby["accessor"]
        .as_str()
        .expect("accessor")
        .starts_with("cubbyhole_"));
    for k in [
        "uuid",
        "plugin_version",
        "running_plugin_version",
        "running_sha256",
        "external_entropy_access",
    ] {
        assert!(cubby.get(k).is_some(), "missing {k}");
    }
    assert_eq!(
        cubby["config"],
        json!({"default_lease_ttl": 0, "force_no_cache": false, "max_lease_ttl": 0})
    );
}

#[tokio::test]
async fn mount_enable_read_disable() {
    let t = TestCore::new().await;
    let r = t
        .ok(
            Operation::Update,
            "sys/mounts/kvv2",
            json!({"type": "kv", "options": {"version": "2"}}),
        )
        .await;
    assert!(r.is_empty());
    let r = t.ok(Operation::Read, "sys/mounts/kvv2", json!({})).await;
    assert!(r.top_level_data);
    let d = data(&r);
    assert_eq!(d["type"], "kv");
    assert_eq!(d["options"], json!({"version": "2"}));
    assert_eq!(d["deprecation_status"], "supported");
    assert_eq!(d["description"], "");
    let acc = d["accessor"].as_str().expect("accessor");
    assert!(acc.starts_with("kv_") && acc.len() == 11, "{acc}");
    // The longest prefix is read, as OpenBao's MatchingMountEntry does.
    let r = t
        .ok(Operation::Read, "sys/mounts/kvv2/some/sub", json!({}))
        .await;
    assert_eq!(data(&r)["accessor"], acc);
    // The mount is routable and listed.
    let list = t.ok(Operation::Read, "sys/mounts", json!({})).await;
    assert!(data(&list).contains_key("kvv2/"));

    let e = t
        .err(
            Operation::Update,
            "sys/mounts/kvv2",
            json!({"type": "kv", "options": {"version": "2"}}),
        )
        .await;
    assert_eq!(invalid(&e), "path is already in use at kvv2/");
    let e = t
        .err(
            Operation::Update,
            "sys/mounts/kvv2/sub",
            json!({"type": "kv"}),
        )
        .await;
    assert_eq!(invalid(&e), "path is already in use at kvv2/");

    assert!(t
        .ok(Operation::Delete, "sys/mounts/kvv2", json!({}))
        .await
        .is_empty());
    // Deleting again, or a path that never existed, is a silent success.
    assert!(t
        .ok(Operation::Delete, "sys/mounts/kvv2", json!({}))
        .await
        .is_empty());
    assert!(t
        .ok(Operation::Delete, "sys/mounts/nonexist", json!({}))
        .await
        .is_empty());
    let e = t.err(Operation::Read, "sys/mounts/kvv2", json!({})).await;
    assert_eq!(invalid(&e), "No secret engine mount at kvv2/");
    let list = t.ok(Operation::Read, "sys/mounts", json!({})).await;
    assert!(!data(&list).contains_key("kvv2/"));
}

#[tokio::test]
async fn mount_remount_after_disable_drops_old_data() {
    let t = TestCore::new().await;
    t.ok(Operation::Update, "sys/mounts/kv", json!({"type": "kv"}))
        .await;
    let uuid1 = data(&t.ok(Operation::Read, "sys/mounts/kv", json!({})).await)["uuid"].clone();
    t.ok(Operation::Delete, "sys/mounts/kv", json!({})).await;
    t.ok(Operation::Update, "sys/mounts/kv", json!({"type": "kv"}))
        .await;
    let uuid2 = data(&t.ok(Operation::Read, "sys/mounts/kv", json!({})).await)["uuid"].clone();
    assert_ne!(uuid1, uuid2);
}

#[tokio::test]
async fn mount_kv_aliases_and_options() {
    let t = TestCore::new().await;
    t.ok(Operation::Update, "sys/mounts/a", json!({"type": "kv-v2"}))
        .await;
    t.ok(Operation::Update, "sys/mounts/b", json!({"type": "kv-v1"}))
        .await;
    t.ok(Operation::Update, "sys/mounts/c", json!({"type": "kv"}))
        .await;
    // hvac and the CLI send explicit nulls.
    t.ok(
        Operation::Update,
        "sys/mounts/d",
        json!({"type": "kv", "description": null, "config": null, "options": null, "plugin_name": null, "local": false, "seal_wrap": false}),
    )
    .await;
    t.ok(
        Operation::Update,
        "sys/mounts/e",
        json!({"type": "kv", "options": {"version": 2}}),
    )
    .await;
    let list = t.ok(Operation::Read, "sys/mounts", json!({})).await;
    let d = data(&list);
    assert_eq!(d["a/"]["type"], "kv");
    assert_eq!(d["a/"]["options"], json!({"version": "2"}));
    assert_eq!(d["b/"]["options"], json!({"version": "1"}));
    assert_eq!(d["c/"]["options"], json!({}));
    assert_eq!(d["d/"]["options"], Value::Null);
    assert_eq!(d["e/"]["options"], json!({"version": "2"}));
    let active = t.active();
    let (route, _) = active.route("a/").expect("a/ mounted");
    assert_eq!(route.entry.kv_version(), 2);
}

#[tokio::test]
async fn mount_input_errors() {
    let t = TestCore::new().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "sys/mounts/bogus",
            json!({"type": "nosuchengine"}),
            "plugin not found in the catalog: nosuchengine",
        ),
        (
            "sys/mounts/x",
            json!({}),
            "backend type must be specified as a string",
        ),
        (
            "sys/mounts/sys",
            json!({"type": "kv"}),
            "cannot mount \"sys/\"",
        ),
        (
            "sys/mounts/sys/foo",
            json!({"type": "kv"}),
            "cannot mount \"sys/foo/\"",
        ),
        (
            "sys/mounts/auth/foo",
            json!({"type": "kv"}),
            "cannot mount \"auth/foo/\"",
        ),
        (
            "sys/mounts/cubbyhole",
            json!({"type": "kv"}),
            "cannot mount \"cubbyhole/\"",
        ),
        (
            "sys/mounts/identity",
            json!({"type": "kv"}),
            "cannot mount \"identity/\"",
        ),
        (
            "sys/mounts/audit",
            json!({"type": "kv"}),
            "cannot mount \"audit/\"",
        ),
        (
            "sys/mounts/sys",
            json!({"type": "nosuch"}),
            "cannot mount \"sys/\"",
        ),
        (
            "sys/mounts/x",
            json!({"type": "cubbyhole"}),
            "mount type of \"cubbyhole\" is not mountable",
        ),
        (
            "sys/mounts/x",
            json!({"type": "system"}),
            "mount type of \"system\" is not mountable",
        ),
        (
            "sys/mounts/x",
            json!({"type": "transit", "options": {"version": "2"}}),
            "secrets engine \"transit\" does not allow setting a version",
        ),
        (
            "sys/mounts/x",
            json!({"type": "kv", "config": {"default_lease_ttl": "bogus"}}),
            "unable to parse default TTL of bogus: time: invalid duration \"bogus\"",
        ),
        (
            "sys/mounts/x",
            json!({"type": "kv", "config": {"max_lease_ttl": "1x"}}),
            "unable to parse max TTL of 1x: time: unknown unit \"x\" in duration \"1x\"",
        ),
        (
            "sys/mounts/x",
            json!({"type": "kv", "config": {"default_lease_ttl": "2h", "max_lease_ttl": "1h"}}),
            "given default lease TTL greater than given max lease TTL",
        ),
        (
            "sys/mounts/x",
            json!({"type": "kv", "config": {"default_lease_ttl": "2000h"}}),
            "given default lease TTL greater than system max lease TTL of 2764800",
        ),
        (
            "sys/mounts/x",
            json!({"type": "kv", "config": {"listing_visibility": "bad"}}),
            "invalid listing_visibility bad",
        ),
        (
            "sys/mounts/x",
            json!({"type": "kv", "config": "nope"}),
            "unable to convert given mount config information",
        ),
        (
            "sys/mounts/x",
            json!({"type": "plugin"}),
            "plugin_name must be provided for plugin backend",
        ),
    ];
    for (path, body, msg) in cases {
        let e = t.err(Operation::Update, path, body.clone()).await;
        assert_eq!(invalid(&e), msg, "{path} {body}");
    }
    // Nothing was mounted along the way.
    let list = t.ok(Operation::Read, "sys/mounts", json!({})).await;
    assert_eq!(
        data(&list).len(),
        2,
        "{:?}",
        data(&list).keys().collect::<Vec<_>>()
    );
    // `plugin` with a plugin name uses that name as the type.
    t.ok(
        Operation::Update,
        "sys/mounts/p",
        json!({"type": "plugin", "plugin_name": "kv"}),
    )
    .await;
    assert_eq!(
        data(&t.ok(Operation::Read, "sys/mounts/p", json!({})).await)["type"],
        "kv"
    );
}

#[tokio::test]
async fn mount_config_is_kept() {
    let t = TestCore::new().await;
    // The CLI's body for `secrets enable`.
    t.ok(
        Operation::Update,
        "sys/mounts/cli",
        json!({"type":"kv-v2","description":"","config":{"options":null,"default_lease_ttl":"0s","max_lease_ttl":"0s","force_no_cache":false},"local":false,"seal_wrap":false,"external_entropy_access":false,"options":null}),
    )
    .await;
    let d = data(&t.ok(Operation::Read, "sys/mounts/cli", json!({})).await).clone();
    assert_eq!(d["options"], json!({"version": "2"}));
    assert_eq!(d["config"]["default_lease_ttl"], 0);

    t.ok(
        Operation::Update,
        "sys/mounts/x",
        json!({
            "type": "kv",
            "description": "my kv",
            "local": true,
            "seal_wrap": true,
            "config": {
                "default_lease_ttl": 3600,
                "max_lease_ttl": "2h",
                "force_no_cache": true,
                "listing_visibility": "unauth",
                "passthrough_request_headers": "A,B",
                "audit_non_hmac_request_keys": ["k"]
            }
        }),
    )
    .await;
    let d = data(&t.ok(Operation::Read, "sys/mounts/x", json!({})).await).clone();
    assert_eq!(d["description"], "my kv");
    assert_eq!(d["local"], true);
    assert_eq!(d["seal_wrap"], true);
    assert_eq!(
        d["config"],
        json!({
            "audit_non_hmac_request_keys": ["k"],
            "default_lease_ttl": 3600,
            "force_no_cache": true,
            "listing_visibility": "unauth",
            "max_lease_ttl": 7200,
            "passthrough_request_headers": ["A", "B"]
        })
    );
}

#[tokio::test]
async fn protected_mounts_cannot_be_disabled() {
    let t = TestCore::new().await;
    let e = t.err(Operation::Delete, "sys/mounts/sys", json!({})).await;
    assert_eq!(invalid(&e), "cannot unmount \"sys/\"");
    let e = t
        .err(Operation::Delete, "sys/mounts/cubbyhole", json!({}))
        .await;
    assert_eq!(invalid(&e), "cannot unmount \"cubbyhole/\"");
    let e = t
        .err(Operation::Delete, "sys/mounts/auth/token", json!({}))
        .await;
    assert_eq!(invalid(&e), "cannot unmount \"auth/token/\"");
}

#[tokio::test]
async fn mount_tune_read_and_write() {
    let t = with_kv_v2().await;
    let r = t
        .ok(Operation::Read, "sys/mounts/secret/tune", json!({}))
        .await;
    assert!(r.top_level_data);
    assert_eq!(
        data(&r).clone(),
        json!({"description": "", "default_lease_ttl": 2764800, "max_lease_ttl": 2764800, "force_no_cache": false, "options": {"version": "2"}})
            .as_object()
            .expect("object")
            .clone()
    );
    let r = t
        .ok(
            Operation::Update,
            "sys/mounts/secret/tune",
            json!({"default_lease_ttl": "1h", "max_lease_ttl": "24h", "description": "tuned"}),
        )
        .await;
    assert!(r.is_empty());
    let d = data(
        &t.ok(Operation::Read, "sys/mounts/secret/tune", json!({}))
            .await,
    )
    .clone();
    assert_eq!(d["description"], "tuned");
    assert_eq!(d["default_lease_ttl"], 3600);
    assert_eq!(d["max_lease_ttl"], 86400);
    let d = data(&t.ok(Operation::Read, "sys/mounts/secret", json!({})).await).clone();
    assert_eq!(d["config"]["default_lease_ttl"], 3600);
    assert_eq!(d["description"], "tuned");

    let e = t
        .err(
            Operation::Update,
            "sys/mounts/secret/tune",
            json!({"default_lease_ttl": "48h"}),
        )
        .await;
    assert_eq!(
        invalid(&e),
        "backend max lease TTL of 86400 would be less than backend default lease TTL of 172800"
    );
    let e = t
        .err(
            Operation::Update,
            "sys/mounts/secret/tune",
            json!({"default_lease_ttl": "bad"}),
        )
        .await;
    assert_eq!(
        invalid(&e),
        "strconv.ParseInt: parsing \"ba\": invalid syntax"
    );
    let e = t
        .err(
            Operation::Update,
            "sys/mounts/secret/tune",
            json!({"listing_visibility": "bad"}),
        )
        .await;
    assert_eq!(invalid(&e), "invalid listing_visibility bad");
    let e = t
        .err(
            Operation::Update,
            "sys/mounts/secret/tune",
            json!({"token_type": "batch"}),
        )
        .await;
    assert_eq!(
        invalid(&e),
        "'token_type' can only be modified on auth mounts"
    );

    // Headers and HMAC key lists; `system` resets the TTLs.
    t.ok(
        Operation::Update,
        "sys/mounts/secret/tune",
        json!({
            "default_lease_ttl": "system", "max_lease_ttl": "system",
            "listing_visibility": "hidden",
            "passthrough_request_headers": ["X-A"],
            "allowed_response_headers": "Y",
            "audit_non_hmac_request_keys": "a,b",
            "audit_non_hmac_response_keys": ["c"]
        }),
    )
    .await;
    let d = data(
        &t.ok(Operation::Read, "sys/mounts/secret/tune", json!({}))
            .await,
    )
    .clone();
    assert_eq!(d["default_lease_ttl"], 2764800);
    assert_eq!(d["listing_visibility"], "hidden");
    assert_eq!(d["passthrough_request_headers"], json!(["X-A"]));
    assert_eq!(d["allowed_response_headers"], json!(["Y"]));
    assert_eq!(d["audit_non_hmac_request_keys"], json!(["a", "b"]));
    assert_eq!(d["audit_non_hmac_response_keys"], json!(["c"]));
    t.ok(
        Operation::Update,
        "sys/mounts/secret/tune",
        json!({"listing_visibility": ""}),
    )
    .await;
    let d = data(
        &t.ok(Operation::Read, "sys/mounts/secret/tune", json!({}))
            .await,
    )
    .clone();
    assert!(d.get("listing_visibility").is_none());

    let e = t
        .err(
            Operation::Update,
            "sys/mounts/nonexist/tune",
            json!({"description": "d"}),
        )
        .await;
    assert_eq!(
        invalid(&e),
        "tune of path \"nonexist/\" failed: no mount entry found"
    );
    let e = t
        .err(Operation::Read, "sys/mounts/nonexist/tune", json!({}))
        .await;
    assert_eq!(invalid(&e), "cannot fetch sysview for path \"nonexist/\"");
    let e = t
        .err(
            Operation::Update,
            "sys/mounts/sys/tune",
            json!({"description": "d"}),
        )
        .await;
    assert_eq!(invalid(&e), "cannot tune parameter description of sys/");
    let e = t
        .err(
            Operation::Update,
            "sys/mounts/cubbyhole/tune",
            json!({"default_lease_ttl": "1h"}),
        )
        .await;
    assert_eq!(
        invalid(&e),
        "cannot tune parameter default_lease_ttl of cubbyhole/"
    );
    // The HMAC key lists may be tuned on the fixed mounts.
    t.ok(
        Operation::Update,
        "sys/mounts/cubbyhole/tune",
        json!({"audit_non_hmac_request_keys": ["x"], "unknown_field": 1}),
    )
    .await;
    let d = data(
        &t.ok(Operation::Read, "sys/mounts/sys/tune", json!({}))
            .await,
    )
    .clone();
    assert_eq!(d["passthrough_request_headers"], json!(["Accept"]));
}

#[tokio::test]
async fn tune_upgrades_kv_version_but_never_downgrades() {
    let t = TestCore::new().await;
    t.ok(
        Operation::Update,
        "sys/mounts/kv",
        json!({"type": "kv", "options": {"version": "1"}}),
    )
    .await;
    let r = t
        .ok(
            Operation::Update,
            "sys/mounts/kv/tune",
            json!({"options": {"version": "2"}}),
        )
        .await;
    assert!(r.data.is_none());
    assert_eq!(
        r.warnings,
        vec![
            "Upgrading mount from version 1 to version 0. This mount will be unavailable for a brief period and will resume service shortly."
                .to_string()
        ]
    );
    let (route, _) = t.active().route("kv/").expect("kv/");
    assert_eq!(route.entry.kv_version(), 2);
    let e = t
        .err(
            Operation::Update,
            "sys/mounts/kv/tune",
            json!({"options": {"version": "1"}}),
        )
        .await;
    assert_eq!(invalid(&e), "cannot downgrade mount from version 2");
    let e = t
        .err(
            Operation::Update,
            "sys/mounts/kv/tune",
            json!({"options": {"version": "3"}}),
        )
        .await;
    assert_eq!(invalid(&e), "invalid version provided: 3");
    // Same version, other options: merged, empty values removed.
    let r = t
        .ok(
            Operation::Update,
            "sys/mounts/kv/tune",
            json!({"options": {"version": "2", "foo": "bar"}}),
        )
        .await;
    assert!(r.is_empty());
    t.ok(
        Operation::Update,
        "sys/mounts/kv/tune",
        json!({"options": {"foo": ""}}),
    )
    .await;
    let d = data(&t.ok(Operation::Read, "sys/mounts/kv/tune", json!({})).await).clone();
    assert_eq!(d["options"], json!({"version": "2"}));
}

// ---------------------------------------------------------------- auth

#[tokio::test]
async fn auth_enable_list_read_tune_disable() {
    let t = TestCore::new().await;
    let r = t.ok(Operation::Read, "sys/auth", json!({})).await;
    assert!(r.top_level_data);
    let tok = &data(&r)["token/"];
    assert_eq!(tok["type"], "token");
    assert_eq!(tok["config"]["token_type"], "default-service");
    assert!(tok.get("deprecation_status").is_none());
    assert!(tok["accessor"]
        .as_str()
        .expect("accessor")
        .starts_with("auth_token_"));

    t.ok(
        Operation::Update,
        "sys/auth/userpass",
        json!({"type": "userpass"}),
    )
    .await;
    t.ok(
        Operation::Update,
        "sys/auth/up2",
        json!({"type": "userpass", "description": "second"}),
    )
    .await;
    let r = t.ok(Operation::Read, "sys/auth", json!({})).await;
    let up = &data(&r)["userpass/"];
    let acc = up["accessor"].as_str().expect("accessor");
    assert!(
        acc.starts_with("auth_userpass_") && acc.len() == "auth_userpass_".len() + 8,
        "{acc}"
    );
    assert_eq!(up["config"]["token_type"], "default-service");
    assert_eq!(up["deprecation_status"], "supported");
    assert_eq!(up["options"], json!({}));
    assert_eq!(data(&r)["up2/"]["description"], "second");

    let r = t.ok(Operation::Read, "sys/auth/userpass", json!({})).await;
    assert!(r.top_level_data);
    assert_eq!(data(&r)["type"], "userpass");
    let e = t.err(Operation::Read, "sys/auth/nonexist", json!({})).await;
    assert_eq!(invalid(&e), "No auth engine at nonexist/");

    let d = data(
        &t.ok(Operation::Read, "sys/auth/userpass/tune", json!({}))
            .await,
    )
    .clone();
    assert_eq!(
        serde_json::Value::Object(d),
        json!({"default_lease_ttl": 2764800, "description": "", "force_no_cache": false, "max_lease_ttl": 2764800, "token_type": "default-service"})
    );
    t.ok(
        Operation::Update,
        "sys/auth/userpass/tune",
        json!({"token_type": "default-batch", "description": "x", "default_lease_ttl": "1h"}),
    )
    .await;
    let d = data(
        &t.ok(Operation::Read, "sys/auth/userpass/tune", json!({}))
            .await,
    )
    .clone();
    assert_eq!(d["token_type"], "default-batch");
    assert_eq!(d["description"], "x");
    assert_eq!(d["default_lease_ttl"], 3600);
    // Also reachable as sys/mounts/auth/PATH/tune.
    let d = data(
        &t.ok(Operation::Read, "sys/mounts/auth/userpass/tune", json!({}))
            .await,
    )
    .clone();
    assert_eq!(d["token_type"], "default-batch");
    let e = t
        .err(
            Operation::Update,
            "sys/auth/userpass/tune",
            json!({"token_type": "nope"}),
        )
        .await;
    assert_eq!(invalid(&e), "invalid value for 'token_type'");
    let e = t
        .err(
            Operation::Update,
            "sys/auth/token/tune",
            json!({"token_type": "batch"}),
        )
        .await;
    assert_eq!(
        invalid(&e),
        "'token_type' cannot be set for 'token' or 'ns_token' auth mounts"
    );
    t.ok(
        Operation::Update,
        "sys/auth/token/tune",
        json!({"description": "tokens"}),
    )
    .await;

    let e = t
        .err(
            Operation::Update,
            "sys/auth/userpass",
            json!({"type": "userpass"}),
        )
        .await;
    assert_eq!(invalid(&e), "path is already in use at userpass/");
    let e = t
        .err(
            Operation::Update,
            "sys/auth/userpass/sub",
            json!({"type": "userpass"}),
        )
        .await;
    assert_eq!(invalid(&e), "path is already in use at userpass/");

    assert!(t
        .ok(Operation::Delete, "sys/auth/up2", json!({}))
        .await
        .is_empty());
    assert!(t
        .ok(Operation::Delete, "sys/auth/up2", json!({}))
        .await
        .is_empty());
    let r = t.ok(Operation::Read, "sys/auth", json!({})).await;
    assert!(!data(&r).contains_key("up2/"));
    let e = t.err(Operation::Delete, "sys/auth/token", json!({})).await;
    assert_eq!(invalid(&e), "token credential backend cannot be disabled");
}

#[tokio::test]
async fn auth_enable_errors() {
    let t = TestCore::new().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "sys/auth/token",
            json!({"type": "token"}),
            "token credential backend cannot be instantiated",
        ),
        (
            "sys/auth/tok2",
            json!({"type": "token"}),
            "token credential backend cannot be instantiated",
        ),
        (
            "sys/auth/x",
            json!({"type": "nosuch"}),
            "plugin not found in the catalog: nosuch",
        ),
        (
            "sys/auth/x",
            json!({}),
            "backend type must be specified as a string",
        ),
        (
            "sys/auth/x",
            json!({"type": "userpass", "options": {"version": "2"}}),
            "auth method \"userpass\" does not allow setting a version",
        ),
        (
            "sys/auth/x",
            json!({"type": "userpass", "config": {"token_type": "bogus"}}),
            "invalid value for 'token_type'",
        ),
        (
            "sys/auth/x",
            json!({"type": "userpass", "config": "x"}),
            "unable to convert given auth config information",
        ),
    ];
    for (path, body, msg) in cases {
        let e = t.err(Operation::Update, path, body.clone()).await;
        assert_eq!(invalid(&e), msg, "{path} {body}");
    }
    // The config token type is kept.
    t.ok(
        Operation::Update,
        "sys/auth/up",
        json!({"type": "userpass", "config": {"token_type": "batch", "default_lease_ttl": "1h"}}),
    )
    .await;
    let d = data(&t.ok(Operation::Read, "sys/auth/up", json!({})).await).clone();
    assert_eq!(d["config"]["token_type"], "batch");
    assert_eq!(d["config"]["default_lease_ttl"], 3600);
}

#[tokio::test]
async fn disabling_an_auth_method_revokes_its_tokens() {
    let t = TestCore::new().await;
    t.ok(
        Operation::Update,
        "sys/auth/userpass",
        json!({"type": "userpass"}),
    )
    .await;
    t.ok(
        Operation::Update,
        "auth/userpass/users/alice",
        json!({"password": "pw"}),
    )
    .await;
    let r = t
        .call(
            None,
            Operation::Update,
            "auth/userpass/login/alice",
            json!({"password": "pw"}),
        )
        .await
        .expect("login");
    let token = r.auth.expect("auth").client_token;
    let other = t.token(&[]).await;
    assert!(t
        .active()
        .tokens
        .lookup(&token)
        .await
        .expect("lookup")
        .is_some());
    t.ok(Operation::Delete, "sys/auth/userpass", json!({}))
        .await;
    assert!(t
        .active()
        .tokens
        .lookup(&token)
        .await
        .expect("lookup")
        .is_none());
    assert!(t
        .active()
        .tokens
        .lookup(&other)
        .await
        .expect("lookup")
        .is_some());
    let e = t
        .call(
            None,
            Operation::Update,
            "auth/userpass/login/alice",
            json!({"password": "pw"}),
        )
        .await
        .expect_err("no such mount");
    assert!(matches!(e, CoreError::NoRoute(_)), "{e:?}");
}

// ---------------------------------------------------------------- policies

const APP_POLICY: &str = "path \"secret/data/app/*\" { capabilities = [\"read\",\"list\"] }\npath \"secret/metadata/*\" { capabilities = [\"list\"] }\npath \"transit/encrypt/k1\" { capabilities = [\"update\"] }\n";

#[tokio::test]
async fn legacy_policy_endpoints() {
    let t = TestCore::new().await;
    let r = t.ok(Operation::Read, "sys/policy", json!({})).await;
    assert!(r.top_level_data);
    assert_eq!(data(&r)["keys"], json!(["default", "root"]));
    assert_eq!(data(&r)["policies"], json!(["default", "root"]));

    assert!(t
        .ok(
            Operation::Update,
            "sys/policy/app",
            json!({"policy": APP_POLICY})
        )
        .await
        .is_empty());
    let r = t.ok(Operation::Read, "sys/policy/app", json!({})).await;
    assert!(r.top_level_data);
    let d = data(&r);
    assert_eq!(d["name"], "app");
    assert_eq!(d["rules"], APP_POLICY);
    assert_eq!(d["version"], 1);
    assert_eq!(d["cas_required"], false);
    assert_eq!(d["allow_wildcards_in_identity_templates"], false);
    assert_eq!(d["allow_slashes_in_identity_templates"], false);
    assert!(d["modified"].as_str().expect("modified").ends_with('Z'));
    assert!(d.get("policy").is_none());

    // `rules` still works there, with a warning.
    let r = t
        .ok(
            Operation::Update,
            "sys/policy/app",
            json!({"rules": "path \"x\" { capabilities = [\"read\"] }"}),
        )
        .await;
    assert_eq!(
        r.warnings,
        vec!["'rules' is deprecated, please use 'policy' instead".to_string()]
    );
    assert_eq!(
        data(&t.ok(Operation::Read, "sys/policy/app", json!({})).await)["version"],
        2
    );

    let r = t.ok(Operation::List, "sys/policy", json!({})).await;
    assert_eq!(data(&r)["keys"], json!(["app", "default", "root"]));
    assert!(t
        .ok(Operation::Delete, "sys/policy/app", json!({}))
        .await
        .is_empty());
    let e = t.err(Operation::Read, "sys/policy/app", json!({})).await;
    assert!(matches!(e, CoreError::NotFound), "{e:?}");

    let r = t.ok(Operation::Read, "sys/policy/root", json!({})).await;
    assert_eq!(
        Value::Object(data(&r).clone()),
        json!({"allow_slashes_in_identity_templates": false, "allow_wildcards_in_identity_templates": false, "cas_required": false, "name": "root", "rules": "", "version": 0})
    );
}

#[tokio::test]
async fn acl_policy_endpoints() {
    let t = TestCore::new().await;
    assert!(t
        .ok(
            Operation::Update,
            "sys/policies/acl/App2",
            json!({"policy": APP_POLICY})
        )
        .await
        .is_empty());
    let r = t
        .ok(Operation::Read, "sys/policies/acl/app2", json!({}))
        .await;
    assert!(!r.top_level_data);
    let d = data(&r);
    assert_eq!(d["name"], "app2");
    assert_eq!(d["policy"], APP_POLICY);
    assert!(d.get("rules").is_none());
    let keys: Vec<&String> = d.keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "keys are sorted as OpenBao writes them");

    let r = t.ok(Operation::List, "sys/policies/acl", json!({})).await;
    assert!(!r.top_level_data);
    assert_eq!(
        Value::Object(data(&r).clone()),
        json!({"keys": ["app2", "default", "root"]})
    );
    let e = t.err(Operation::Read, "sys/policies/acl", json!({})).await;
    assert!(matches!(e, CoreError::UnsupportedOperation), "{e:?}");

    let e = t
        .err(Operation::Read, "sys/policies/acl/nonexist", json!({}))
        .await;
    assert!(matches!(e, CoreError::NotFound), "{e:?}");
    // `rules` is only read on the legacy path.
    let e = t
        .err(
            Operation::Update,
            "sys/policies/acl/x",
            json!({"rules": "path \"x\" {}"}),
        )
        .await;
    assert_eq!(invalid(&e), "'policy' parameter not supplied or empty");
    let e = t
        .err(
            Operation::Update,
            "sys/policies/acl/bad",
            json!({"policy": "path \"x\" { capabilities = [\"fly\"] }"}),
        )
        .await;
    assert_eq!(
        invalid(&e),
        "failed to parse policy: path \"x\": invalid capability \"fly\""
    );
    let e = t
        .err(
            Operation::Update,
            "sys/policies/acl/bad",
            json!({"policy": "not hcl {{"}),
        )
        .await;
    assert!(invalid(&e).starts_with("failed to parse policy: "), "{e:?}");
    assert!(
        !invalid(&e).starts_with("failed to parse policy: failed"),
        "{e:?}"
    );

    let e = t
        .err(Operation::Delete, "sys/policies/acl/root", json!({}))
        .await;
    assert_eq!(invalid(&e), "cannot delete \"root\" policy");
    let e = t
        .err(Operation::Delete, "sys/policies/acl/default", json!({}))
        .await;
    assert_eq!(invalid(&e), "cannot delete default policy");
    let e = t
        .err(Operation::Delete, "sys/policy/default", json!({}))
        .await;
    assert_eq!(invalid(&e), "cannot delete default policy");
    let e = t
        .err(
            Operation::Update,
            "sys/policies/acl/root",
            json!({"policy": "path \"x\" { capabilities = [\"read\"] }"}),
        )
        .await;
    assert_eq!(invalid(&e), "cannot update \"root\" policy");
    let e = t
        .err(
            Operation::Update,
            "sys/policy/response-wrapping",
            json!({"policy": "path \"x\" { capabilities = [\"read\"] }"}),
        )
        .await;
    assert_eq!(invalid(&e), "cannot update \"response-wrapping\" policy");
    // Deleting a missing policy succeeds.
    assert!(t
        .ok(Operation::Delete, "sys/policies/acl/nonexist", json!({}))
        .await
        .is_empty());

    // The default policy can be read and rewritten.
    let r = t
        .ok(Operation::Read, "sys/policies/acl/default", json!({}))
        .await;
    assert!(data(&r)["policy"]
        .as_str()
        .expect("text")
        .contains("auth/token/lookup-self"));
    assert_eq!(data(&r)["version"], 1);
}

#[tokio::test]
async fn policy_check_and_set() {
    let t = TestCore::new().await;
    let p = "path \"x\" { capabilities = [\"read\"] }";
    t.ok(
        Operation::Update,
        "sys/policies/acl/foo",
        json!({"policy": p}),
    )
    .await;
    let e = t
        .err(
            Operation::Update,
            "sys/policies/acl/foo",
            json!({"policy": p, "cas": 0}),
        )
        .await;
    assert_eq!(
        invalid(&e),
        "check-and-set parameter 0 did not match the current version 1"
    );
    t.ok(
        Operation::Update,
        "sys/policies/acl/foo",
        json!({"policy": p, "cas": 1}),
    )
    .await;
    let e = t
        .err(
            Operation::Update,
            "sys/policies/acl/foo",
            json!({"policy": p, "cas": -1}),
        )
        .await;
    assert_eq!(
        invalid(&e),
        "check-and-set parameter set to -1 on existing entry"
    );

    t.ok(
        Operation::Update,
        "sys/policies/acl/bar",
        json!({"policy": p, "cas": -1, "cas_required": true}),
    )
    .await;
    let e = t
        .err(
            Operation::Update,
            "sys/policies/acl/bar",
            json!({"policy": p}),
        )
        .await;
    assert_eq!(
        invalid(&e),
        "check-and-set parameter required for this call"
    );
    let d = data(
        &t.ok(Operation::Read, "sys/policies/acl/bar", json!({}))
            .await,
    )
    .clone();
    assert_eq!(d["cas_required"], true);
    assert_eq!(d["version"], 1);

    // Base64 policy text is decoded.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(p);
    t.ok(
        Operation::Update,
        "sys/policies/acl/b64",
        json!({"policy": b64}),
    )
    .await;
    let d = data(
        &t.ok(Operation::Read, "sys/policies/acl/b64", json!({}))
            .await,
    )
    .clone();
    assert_eq!(d["policy"], p);
}

#[tokio::test]
async fn policy_changes_apply_to_existing_tokens() {
    let t = with_kv_v2().await;
    let token = t
        .token_with_policy("p", "path \"sys/mounts\" { capabilities = [\"read\"] }")
        .await;
    t.call(Some(&token), Operation::Read, "sys/mounts", json!({}))
        .await
        .expect("allowed");
    t.ok(
        Operation::Update,
        "sys/policies/acl/p",
        json!({"policy": "path \"sys/auth\" { capabilities = [\"read\"] }"}),
    )
    .await;
    let e = t
        .call(Some(&token), Operation::Read, "sys/mounts", json!({}))
        .await
        .expect_err("denied now");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
    t.ok(Operation::Delete, "sys/policies/acl/p", json!({}))
        .await;
    let e = t
        .call(Some(&token), Operation::Read, "sys/auth", json!({}))
        .await
        .expect_err("denied");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
}

// ---------------------------------------------------------------- capabilities

#[tokio::test]
async fn capabilities_endpoints() {
    let t = with_kv_v2().await;
    let token = t.token_with_policy("app", APP_POLICY).await;
    let accessor = t
        .active()
        .tokens
        .lookup(&token)
        .await
        .expect("lookup")
        .expect("live")
        .accessor
        .clone();

    let r = t
        .call(
            Some(&token),
            Operation::Update,
            "sys/capabilities-self",
            json!({"paths": ["secret/data/app/x", "secret/metadata/foo", "sys/mounts", "transit/encrypt/k1"]}),
        )
        .await
        .expect("default policy allows capabilities-self");
    assert!(r.top_level_data);
    assert_eq!(
        Value::Object(data(&r).clone()),
        json!({
            "secret/data/app/x": ["list", "read"],
            "secret/metadata/foo": ["list"],
            "sys/mounts": ["deny"],
            "transit/encrypt/k1": ["update"]
        })
    );
    let r = t
        .call(
            Some(&token),
            Operation::Update,
            "sys/capabilities-self",
            json!({"path": "secret/data/app/x"}),
        )
        .await
        .expect("single path");
    assert_eq!(
        Value::Object(data(&r).clone()),
        json!({"secret/data/app/x": ["list", "read"], "capabilities": ["list", "read"]})
    );
    let r = t
        .call(
            Some(&token),
            Operation::Update,
            "sys/capabilities-self",
            json!({"paths": "a,b"}),
        )
        .await
        .expect("comma list");
    assert_eq!(
        Value::Object(data(&r).clone()),
        json!({"a": ["deny"], "b": ["deny"]})
    );

    let r = t
        .ok(
            Operation::Update,
            "sys/capabilities-self",
            json!({"paths": ["secret/data/app/x"]}),
        )
        .await;
    assert_eq!(data(&r)["capabilities"], json!(["root"]));

    let r = t
        .ok(
            Operation::Update,
            "sys/capabilities",
            json!({"token": token, "paths": ["secret/data/app/x"]}),
        )
        .await;
    assert_eq!(data(&r)["capabilities"], json!(["list", "read"]));
    let r = t
        .ok(
            Operation::Update,
            "sys/capabilities-accessor",
            json!({"accessor": accessor, "paths": ["secret/data/app/x"]}),
        )
        .await;
    assert!(r.top_level_data);
    assert_eq!(data(&r)["secret/data/app/x"], json!(["list", "read"]));

    let e = t
        .err(
            Operation::Update,
            "sys/capabilities",
            json!({"token": "bogus", "paths": ["x"]}),
        )
        .await;
    assert!(
        matches!(&e, CoreError::InvalidRequestMulti(m) if m == "invalid token"),
        "{e:?}"
    );
    let e = t
        .err(
            Operation::Update,
            "sys/capabilities-accessor",
            json!({"accessor": "bogus", "paths": ["x"]}),
        )
        .await;
    assert!(
        matches!(&e, CoreError::InvalidRequestMulti(m) if m == "invalid accessor"),
        "{e:?}"
    );
    let e = t
        .err(
            Operation::Update,
            "sys/capabilities-accessor",
            json!({"paths": ["x"]}),
        )
        .await;
    assert_eq!(invalid(&e), "missing accessor");
    let e = t
        .err(Operation::Update, "sys/capabilities-self", json!({}))
        .await;
    assert_eq!(invalid(&e), "paths must be supplied");
    let e = t
        .err(
            Operation::Update,
            "sys/capabilities",
            json!({"paths": ["x"]}),
        )
        .await;
    assert!(matches!(e, CoreError::Internal(_)), "{e:?}");
    let e = t
        .err(Operation::Read, "sys/capabilities-self", json!({}))
        .await;
    assert!(matches!(e, CoreError::UnsupportedOperation), "{e:?}");

    // A limited token may not ask about other tokens.
    let e = t
        .call(
            Some(&token),
            Operation::Update,
            "sys/capabilities",
            json!({"token": token, "paths": ["x"]}),
        )
        .await
        .expect_err("needs a policy");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
}

// ---------------------------------------------------------------- ACL and sudo

#[tokio::test]
async fn sys_endpoints_follow_the_acl() {
    let t = with_kv_v2().await;
    let plain = t.token(&[]).await;
    for (op, path) in [
        (Operation::Read, "sys/mounts"),
        (Operation::Read, "sys/auth"),
        (Operation::Read, "sys/policy"),
        (Operation::Update, "sys/policies/acl/x"),
        (Operation::Update, "sys/mounts/x"),
        (Operation::Read, "sys/key-status"),
    ] {
        let e = t
            .call(
                Some(&plain),
                op,
                path,
                json!({"type": "kv", "policy": "path \"x\" {}"}),
            )
            .await
            .expect_err(path);
        assert!(matches!(e, CoreError::PermissionDenied), "{path}: {e:?}");
    }
    // No token at all.
    let e = t
        .call(None, Operation::Read, "sys/mounts", json!({}))
        .await
        .expect_err("no token");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
    let e = t
        .call(Some("s.bogus"), Operation::Read, "sys/mounts", json!({}))
        .await
        .expect_err("bad token");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");

    // A policy without sudo can manage mounts but not auth methods or audit devices.
    let admin = t
        .token_with_policy(
            "admin",
            "path \"sys/mounts*\" { capabilities = [\"create\",\"read\",\"update\",\"delete\",\"list\"] }\n\
             path \"sys/auth*\" { capabilities = [\"create\",\"read\",\"update\",\"delete\",\"list\"] }\n\
             path \"sys/audit*\" { capabilities = [\"create\",\"read\",\"update\",\"delete\",\"list\"] }\n\
             path \"sys/rotate\" { capabilities = [\"update\"] }\n\
             path \"sys/seal\" { capabilities = [\"update\"] }",
        )
        .await;
    t.call(
        Some(&admin),
        Operation::Update,
        "sys/mounts/kv",
        json!({"type": "kv"}),
    )
    .await
    .expect("mounts need no sudo");
    t.call(Some(&admin), Operation::Read, "sys/auth", json!({}))
        .await
        .expect("listing auth needs no sudo");
    for (op, path) in [
        (Operation::Update, "sys/auth/userpass"),
        (Operation::Read, "sys/audit"),
        (Operation::Update, "sys/rotate"),
        (Operation::Update, "sys/seal"),
    ] {
        let e = t
            .call(Some(&admin), op, path, json!({"type": "userpass"}))
            .await
            .expect_err(path);
        assert!(matches!(e, CoreError::PermissionDenied), "{path}: {e:?}");
    }
    let sudo = t
        .token_with_policy(
            "sudo",
            "path \"sys/auth/*\" { capabilities = [\"create\",\"update\",\"sudo\"] }\n\
             path \"sys/audit\" { capabilities = [\"read\",\"sudo\"] }",
        )
        .await;
    t.call(
        Some(&sudo),
        Operation::Update,
        "sys/auth/userpass",
        json!({"type": "userpass"}),
    )
    .await
    .expect("sudo allows enabling auth");
    t.call(Some(&sudo), Operation::Read, "sys/audit", json!({}))
        .await
        .expect("sudo allows listing audit devices");
    assert!(!t.core.is_sealed());
}

// ---------------------------------------------------------------- sys/internal/ui/mounts

#[tokio::test]
async fn ui_mount_preflight_follows_policies() {
    let t = with_kv_v2().await;
    t.ok(Operation::Update, "sys/mounts/kv1", json!({"type": "kv"}))
        .await;
    let token = t
        .token_with_policy(
            "app-ro",
            "path \"secret/data/app\" { capabilities = [\"read\"] }\npath \"kv1/foo\" { capabilities = [\"deny\"] }",
        )
        .await;

    let r = t
        .call(
            Some(&token),
            Operation::Read,
            "sys/internal/ui/mounts/secret/app",
            json!({}),
        )
        .await
        .expect("access under secret/");
    assert!(!r.top_level_data);
    let d = data(&r);
    assert_eq!(d["path"], "secret/");
    assert_eq!(d["type"], "kv");
    assert_eq!(d["options"], json!({"version": "2"}));
    assert_eq!(d["deprecation_status"], "supported");
    // Any path on the mount works, the CLI sends what the user typed.
    t.call(
        Some(&token),
        Operation::Read,
        "sys/internal/ui/mounts/secret/nonexist",
        json!({}),
    )
    .await
    .expect("same mount");
    t.call(
        Some(&token),
        Operation::Read,
        "sys/internal/ui/mounts/secret",
        json!({}),
    )
    .await
    .expect("bare mount");
    // The default policy reaches cubbyhole/ and auth/token/.
    let r = t
        .call(
            Some(&token),
            Operation::Read,
            "sys/internal/ui/mounts/cubbyhole/x",
            json!({}),
        )
        .await
        .expect("cubbyhole");
    assert_eq!(data(&r)["path"], "cubbyhole/");
    let r = t
        .call(
            Some(&token),
            Operation::Read,
            "sys/internal/ui/mounts/auth/token/x",
            json!({}),
        )
        .await
        .expect("token auth");
    assert_eq!(data(&r)["path"], "token/");
    assert_eq!(data(&r)["config"]["token_type"], "default-service");

    for (path, shown) in [
        ("kv1/app", "kv1/app/"),
        ("kv1/foo", "kv1/foo/"),
        ("nonexist/app", "nonexist/app/"),
    ] {
        let e = t
            .call(
                Some(&token),
                Operation::Read,
                &format!("sys/internal/ui/mounts/{path}"),
                json!({}),
            )
            .await
            .expect_err(path);
        match e {
            CoreError::Forbidden(m) => assert_eq!(
                m,
                format!("preflight capability check returned 403, please ensure client's policies grant access to path \"{shown}\"")
            ),
            other => panic!("{path}: {other:?}"),
        }
    }
    let e = t
        .call(
            None,
            Operation::Read,
            "sys/internal/ui/mounts/secret/app",
            json!({}),
        )
        .await
        .expect_err("no token");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
    let e = t
        .call(
            Some("s.notarealtoken"),
            Operation::Read,
            "sys/internal/ui/mounts/secret/app",
            json!({}),
        )
        .await
        .expect_err("bad token");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
    let e = t
        .call(
            Some(&token),
            Operation::Read,
            "sys/internal/ui/mounts/",
            json!({}),
        )
        .await
        .expect_err("empty path");
    assert!(matches!(e, CoreError::UnsupportedPath), "{e:?}");

    // Root sees everything.
    let r = t
        .ok(Operation::Read, "sys/internal/ui/mounts/kv1/app", json!({}))
        .await;
    assert_eq!(data(&r)["path"], "kv1/");
    assert_eq!(data(&r)["options"], json!({}));
}

#[tokio::test]
async fn ui_mount_preflight_glob_and_segment_rules() {
    let t = with_kv_v2().await;
    t.ok(
        Operation::Update,
        "sys/mounts/team/a",
        json!({"type": "kv"}),
    )
    .await;
    let glob = t
        .token_with_policy("glob", "path \"secret/*\" { capabilities = [\"read\"] }")
        .await;
    t.call(
        Some(&glob),
        Operation::Read,
        "sys/internal/ui/mounts/secret/x",
        json!({}),
    )
    .await
    .expect("glob on the mount");
    // As in OpenBao, a `+` pattern is compared segment by segment with the
    // mount path only: `+/a/data` reaches every one-segment mount.
    t.ok(
        Operation::Update,
        "sys/mounts/foo/bar",
        json!({"type": "kv"}),
    )
    .await;
    let seg = t
        .token_with_policy("seg", "path \"+/a/data\" { capabilities = [\"read\"] }")
        .await;
    for path in ["team/a/x", "secret/x"] {
        t.call(
            Some(&seg),
            Operation::Read,
            &format!("sys/internal/ui/mounts/{path}"),
            json!({}),
        )
        .await
        .expect(path);
    }
    let seg2 = t
        .token_with_policy("seg2", "path \"foo/+/data\" { capabilities = [\"read\"] }")
        .await;
    t.call(
        Some(&seg2),
        Operation::Read,
        "sys/internal/ui/mounts/foo/bar/x",
        json!({}),
    )
    .await
    .expect("foo/+ reaches foo/bar/");
    for path in ["team/a/x", "secret/x"] {
        let e = t
            .call(
                Some(&seg2),
                Operation::Read,
                &format!("sys/internal/ui/mounts/{path}"),
                json!({}),
            )
            .await
            .expect_err(path);
        assert!(matches!(e, CoreError::Forbidden(_)), "{path}: {e:?}");
    }
    // A deny on the same pattern in another policy wins.
    let both = {
        t.ok(
            Operation::Update,
            "sys/policies/acl/deny",
            json!({"policy": "path \"secret/*\" { capabilities = [\"deny\"] }"}),
        )
        .await;
        t.token(&["glob", "deny"]).await
    };
    let e = t
        .call(
            Some(&both),
            Operation::Read,
            "sys/internal/ui/mounts/secret/x",
            json!({}),
        )
        .await
        .expect_err("denied");
    assert!(matches!(e, CoreError::Forbidden(_)), "{e:?}");
}

#[tokio::test]
async fn ui_mounts_listing() {
    let t = with_kv_v2().await;
    t.ok(Operation::Update, "sys/mounts/kv1", json!({"type": "kv"}))
        .await;
    t.ok(
        Operation::Update,
        "sys/mounts/public",
        json!({"type": "kv", "description": "open", "config": {"listing_visibility": "unauth"}}),
    )
    .await;
    t.ok(
        Operation::Update,
        "sys/auth/userpass",
        json!({"type": "userpass"}),
    )
    .await;
    let token = t
        .token_with_policy(
            "app",
            "path \"secret/data/app\" { capabilities = [\"read\"] }",
        )
        .await;
    let r = t
        .call(
            Some(&token),
            Operation::Read,
            "sys/internal/ui/mounts",
            json!({}),
        )
        .await
        .expect("listing");
    let d = data(&r);
    let secret: Vec<&String> = d["secret"].as_object().expect("secret").keys().collect();
    assert_eq!(secret, ["cubbyhole/", "public/", "secret/", "sys/"]);
    let auth: Vec<&String> = d["auth"].as_object().expect("auth").keys().collect();
    assert_eq!(auth, ["token/"]);
    assert_eq!(d["secret"]["secret/"]["options"], json!({"version": "2"}));
    assert!(d["secret"]["secret/"].get("accessor").is_some());

    let r = t
        .call(None, Operation::Read, "sys/internal/ui/mounts", json!({}))
        .await
        .expect("unauthenticated listing");
    assert_eq!(
        Value::Object(data(&r).clone()),
        json!({"auth": {}, "secret": {"public/": {"type": "kv", "description": "open", "options": {}}}})
    );
    let e = t
        .call(
            Some("s.bogus"),
            Operation::Read,
            "sys/internal/ui/mounts",
            json!({}),
        )
        .await
        .expect_err("bad token");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
    let r = t
        .ok(Operation::Read, "sys/internal/ui/mounts", json!({}))
        .await;
    assert!(data(&r)["auth"]
        .as_object()
        .expect("auth")
        .contains_key("userpass/"));
    assert!(data(&r)["secret"]
        .as_object()
        .expect("secret")
        .contains_key("kv1/"));
}

// ---------------------------------------------------------------- audit

fn read_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("audit file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[tokio::test]
async fn audit_devices_hmac_request_data() {
    let t = TestCore::new().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("audit.log");
    let r = t
        .ok(
            Operation::Update,
            "sys/audit/file",
            json!({"type": "file", "description": "file audit", "options": {"file_path": file.to_str().expect("utf8")}}),
        )
        .await;
    assert!(r.is_empty());
    let r = t.ok(Operation::Read, "sys/audit", json!({})).await;
    assert!(r.top_level_data);
    assert_eq!(
        data(&r)["file/"],
        json!({"description": "file audit", "local": false, "options": {"file_path": file.to_str().expect("utf8")}, "path": "file/", "type": "file"})
    );
    let e = t
        .err(
            Operation::Update,
            "sys/audit/file",
            json!({"type": "file", "options": {"file_path": "/dev/null"}}),
        )
        .await;
    assert_eq!(invalid(&e), "path already in use");

    let secret_text = "path \"audited\" { capabilities = [\"read\"] }";
    t.ok(
        Operation::Update,
        "sys/policies/acl/audited",
        json!({"policy": secret_text}),
    )
    .await;
    let lines = read_lines(&file);
    let req_line = lines
        .iter()
        .find(|l| l["type"] == "request" && l["request"]["path"] == "sys/policies/acl/audited")
        .expect("request line");
    let hashed = req_line["request"]["data"]["policy"]
        .as_str()
        .expect("hashed policy");
    assert!(hashed.starts_with("hmac-sha256:"), "{hashed}");
    assert!(!std::fs::read_to_string(&file)
        .expect("log")
        .contains("audited\\\" {"));
    assert!(lines
        .iter()
        .any(|l| l["type"] == "response" && l["request"]["path"] == "sys/policies/acl/audited"));

    let r = t
        .ok(
            Operation::Update,
            "sys/audit-hash/file",
            json!({"input": secret_text}),
        )
        .await;
    assert!(r.top_level_data);
    assert_eq!(data(&r)["hash"], hashed);
    let e = t
        .err(
            Operation::Update,
            "sys/audit-hash/nope",
            json!({"input": "x"}),
        )
        .await;
    assert_eq!(invalid(&e), "unknown audit backend \"nope/\"");
    let e = t
        .err(
            Operation::Update,
            "sys/audit-hash/file",
            json!({"input": ""}),
        )
        .await;
    assert_eq!(invalid(&e), "the \"input\" parameter is empty");

    // Disabled: nothing more is written.
    assert!(t
        .ok(Operation::Delete, "sys/audit/file", json!({}))
        .await
        .is_empty());
    let before = read_lines(&file).len();
    t.ok(Operation::Read, "sys/mounts", json!({})).await;
    assert_eq!(read_lines(&file).len(), before);
    let r = t.ok(Operation::Read, "sys/audit", json!({})).await;
    assert!(data(&r).is_empty());
    // Disabling a missing device succeeds.
    assert!(t
        .ok(Operation::Delete, "sys/audit/file", json!({}))
        .await
        .is_empty());
    let e = t
        .err(
            Operation::Update,
            "sys/audit/x",
            json!({"type": "socketx", "options": {}}),
        )
        .await;
    assert!(invalid(&e).contains("unknown backend type"), "{e:?}");
}

#[tokio::test]
async fn audit_fails_closed() {
    let t = TestCore::new().await;
    // Every write to /dev/full fails (ENOSPC).
    let e = t
        .root(
            Operation::Update,
            "sys/audit/full",
            json!({"type": "file", "options": {"file_path": "/dev/full"}}),
        )
        .await
        .expect_err("the response cannot be audited");
    assert!(matches!(e, CoreError::AuditFailed), "{e:?}");
    let e = t
        .root(Operation::Read, "sys/mounts", json!({}))
        .await
        .expect_err("refused");
    assert!(matches!(e, CoreError::AuditFailed), "{e:?}");
    let e = t
        .call(None, Operation::Read, "sys/internal/ui/mounts", json!({}))
        .await
        .expect_err("refused");
    assert!(matches!(e, CoreError::AuditFailed), "{e:?}");

    // With a working device as well, one success is enough.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ok.log");
    t.active()
        .audit
        .enable(AuditDeviceConfig {
            name: "ok".into(),
            device_type: "file".into(),
            description: String::new(),
            options: [(
                "file_path".to_string(),
                file.to_str().expect("utf8").to_string(),
            )]
            .into(),
            local: false,
            from_config: false,
        })
        .await
        .expect("enable");
    t.ok(Operation::Read, "sys/mounts", json!({})).await;
    // Disabling the working device: its own response can no longer be recorded.
    let e = t
        .root(Operation::Delete, "sys/audit/ok", json!({}))
        .await
        .expect_err("refused");
    assert!(matches!(e, CoreError::AuditFailed), "{e:?}");
    assert_eq!(t.active().audit.list().len(), 1);
    let e = t
        .root(Operation::Read, "sys/mounts", json!({}))
        .await
        .expect_err("refused again");
    assert!(matches!(e, CoreError::AuditFailed), "{e:?}");
}

#[tokio::test]
async fn config_audit_devices_cannot_be_disabled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cfg.log");
    let t = TestCore::with_config(CoreConfig {
        audit_devices: vec![AuditDeviceConfig {
            name: "file".into(),
            device_type: "file".into(),
            description: "file audit".into(),
            options: [(
                "file_path".to_string(),
                file.to_str().expect("utf8").to_string(),
            )]
            .into(),
            local: false,
            from_config: true,
        }],
        ..CoreConfig::default()
    })
    .await;
    let r = t.ok(Operation::Read, "sys/audit", json!({})).await;
    assert_eq!(data(&r)["file/"]["type"], "file");
    let e = t.err(Operation::Delete, "sys/audit/file", json!({})).await;
    assert_eq!(
        invalid(&e),
        "cannot disable configuration-managed audit device"
    );
    let r = t
        .ok(
            Operation::Update,
            "sys/audit-hash/file",
            json!({"input": "s3cret"}),
        )
        .await;
    let hash = data(&r)["hash"].as_str().expect("hash").to_string();
    assert!(hash.starts_with("hmac-sha256:") && hash.len() == "hmac-sha256:".len() + 64);
    // The token itself is HMAC-ed in every line.
    let log = std::fs::read_to_string(&file).expect("log");
    assert!(!log.contains(&t.root));
    assert!(log.contains(&t.active().audit.hash("file", &t.root).expect("hash")));
}

// ---------------------------------------------------------------- keys and seal

#[tokio::test]
async fn key_status_and_rotation() {
    let t = TestCore::new().await;
    let r = t.ok(Operation::Read, "sys/key-status", json!({})).await;
    assert!(r.top_level_data);
    let d = data(&r).clone();
    assert_eq!(d["term"], 1);
    let at = d["install_time"].as_str().expect("install_time");
    assert!(at.ends_with('Z') && at.contains('T'), "{at}");
    assert!(d.contains_key("encryptions"));

    assert!(t
        .ok(Operation::Update, "sys/rotate", json!({}))
        .await
        .is_empty());
    assert!(t
        .ok(Operation::Update, "sys/rotate/keyring", json!({}))
        .await
        .is_empty());
    assert_eq!(
        data(&t.ok(Operation::Read, "sys/key-status", json!({})).await)["term"],
        3
    );
    let e = t.err(Operation::Read, "sys/rotate", json!({})).await;
    assert!(matches!(e, CoreError::UnsupportedOperation), "{e:?}");
    // Data written before the rotation is still readable.
    t.ok(Operation::Read, "sys/policies/acl/default", json!({}))
        .await;
}

#[tokio::test]
async fn rotate_config_read_write() {
    let t = TestCore::new().await;
    let r = t.ok(Operation::Read, "sys/rotate/config", json!({})).await;
    assert!(!r.top_level_data);
    assert_eq!(
        Value::Object(data(&r).clone()),
        json!({"enabled": true, "interval": 0, "max_operations": 3865470566i64})
    );
    let e = t
        .err(
            Operation::Update,
            "sys/rotate/config",
            json!({"interval": "1h"}),
        )
        .await;
    assert_eq!(invalid(&e), "interval must be greater or equal to 24h0m0s");
    let e = t
        .err(
            Operation::Update,
            "sys/rotate/config",
            json!({"max_operations": 5}),
        )
        .await;
    assert_eq!(
        invalid(&e),
        "max_operations must be in the range [1000000,3865470566]"
    );
    let e = t
        .err(
            Operation::Update,
            "sys/rotate/config",
            json!({"max_operations": "abc"}),
        )
        .await;
    assert!(invalid(&e).starts_with("Field validation failed"), "{e:?}");
    t.ok(
        Operation::Update,
        "sys/rotate/config",
        json!({"interval": "48h", "max_operations": 1000000, "enabled": false}),
    )
    .await;
    let r = t
        .ok(Operation::Read, "sys/rotate/keyring/config", json!({}))
        .await;
    assert_eq!(
        Value::Object(data(&r).clone()),
        json!({"enabled": false, "interval": "48h0m0s", "max_operations": 1000000})
    );
}

#[tokio::test]
async fn seal_needs_sudo_and_seals() {
    let t = TestCore::new().await;
    let token = t
        .token_with_policy(
            "sealer",
            "path \"sys/seal\" { capabilities = [\"update\"] }",
        )
        .await;
    let e = t
        .call(Some(&token), Operation::Update, "sys/seal", json!({}))
        .await
        .expect_err("no sudo");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
    let e = t
        .call(None, Operation::Update, "sys/seal", json!({}))
        .await
        .expect_err("no token");
    assert!(matches!(e, CoreError::PermissionDenied), "{e:?}");
    let e = t.err(Operation::Read, "sys/seal", json!({})).await;
    assert!(matches!(e, CoreError::UnsupportedOperation), "{e:?}");
    assert!(t
        .ok(Operation::Update, "sys/step-down", json!({}))
        .await
        .is_empty());
    assert!(!t.core.is_sealed());

    assert!(t
        .ok(Operation::Update, "sys/seal", json!({}))
        .await
        .is_empty());
    assert!(t.core.is_sealed());
    let e = t
        .root(Operation::Read, "sys/mounts", json!({}))
        .await
        .expect_err("sealed");
    assert!(matches!(e, CoreError::Sealed), "{e:?}");
}

#[tokio::test]
async fn sudo_token_may_seal() {
    let t = TestCore::new().await;
    let token = t
        .token_with_policy(
            "sealer",
            "path \"sys/seal\" { capabilities = [\"update\", \"sudo\"] }",
        )
        .await;
    t.call(Some(&token), Operation::Update, "sys/seal", json!({}))
        .await
        .expect("sudo seals");
    assert!(t.core.is_sealed());
}

// ---------------------------------------------------------------- routing

#[tokio::test]
async fn unknown_paths_and_methods() {
    let t = TestCore::new().await;
    for path in [
        "sys/nonexistent",
        "sys/auth/",
        "sys/mounts/",
        "sys/raw/foo",
        "sys/host-info",
    ] {
        let e = t.err(Operation::Read, path, json!({})).await;
        assert!(
            matches!(e, CoreError::UnsupportedPath | CoreError::PermissionDenied),
            "{path}: {e:?}"
        );
    }
    let e = t.err(Operation::Read, "sys/nonexistent", json!({})).await;
    assert!(matches!(e, CoreError::UnsupportedPath), "{e:?}");
    for (op, path) in [
        (Operation::Update, "sys/mounts"),
        (Operation::Update, "sys/auth"),
        (Operation::Delete, "sys/policy"),
        (Operation::Read, "sys/audit-hash/file"),
        (Operation::Read, "sys/audit/file"),
        (Operation::List, "sys/mounts/x"),
    ] {
        let e = t.err(op, path, json!({})).await;
        assert!(
            matches!(e, CoreError::UnsupportedOperation),
            "{} {path}: {e:?}",
            op.as_str()
        );
    }
}
