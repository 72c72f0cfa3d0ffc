//! Test support: a fake Kubernetes API server behind kube's `tower-test` mock service, fixtures,
//! and helpers that run `kubernetes-validate` and compare snapshots.
//!
//! The fake keeps objects by URL path and answers the calls the operator makes (server-side
//! apply, JSON patch of finalizers, status apply, GET, DELETE, event POST/PATCH, Lease
//! create/replace with resourceVersion checks). Every call is logged, so a scenario asserts on
//! exactly which requests were made and how often. Failures are injected per (method, path).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use coffer_operator::crd::VaultCluster;
use http::{Request, Response};
use http_body_util::BodyExt;
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};

/// One request the operator made.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: Value,
}

impl Call {
    pub fn is_apply(&self) -> bool {
        self.method == "PATCH" && self.content_type.starts_with("application/apply-patch")
    }
    pub fn is_write(&self) -> bool {
        self.method != "GET"
    }
    pub fn is_event(&self) -> bool {
        self.path.contains("/events")
    }
}

struct Failure {
    method: String,
    path_suffix: String,
    code: u16,
    remaining: usize,
}

#[derive(Default)]
struct State {
    log: Vec<Call>,
    objects: HashMap<String, Value>,
    failures: Vec<Failure>,
    ready_replicas: i64,
    resource_version: u64,
}

/// The fake API server.
#[derive(Clone)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code
    })
}

fn reason_for(code: u16) -> &'static str {
    match code {
        404 => "NotFound",
        409 => "Conflict",
        422 => "Invalid",
        500 => "InternalError",
        _ => "Unknown",
    }
}

fn respond(code: u16, body: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() =
        http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Merges `patch` into `target` the way an apply of a full object does for these tests: maps
/// merge recursively, everything else is replaced.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p.clone(),
    }
}

impl FakeApi {
    /// A client talking to a new fake server.
    pub fn start() -> (Client, FakeApi) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let fake = FakeApi {
            state: Arc::new(Mutex::new(State {
                ready_replicas: 0,
                ..State::default()
            })),
        };
        let server = fake.clone();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let response = server.handle(request).await;
                send.send_response(response);
            }
        });
        (Client::new(service, "default"), fake)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the next `times` requests of `method` to a path ending in `path_suffix` fail.
    pub fn fail(&self, method: &str, path_suffix: &str, code: u16, times: usize) {
        self.lock().failures.push(Failure {
            method: method.into(),
            path_suffix: path_suffix.into(),
            code,
            remaining: times,
        });
    }

    /// The `readyReplicas` the fake StatefulSet reports.
    pub fn set_ready_replicas(&self, n: i64) {
        self.lock().ready_replicas = n;
    }

    /// Stores a VaultCluster, as if the user had created it.
    pub fn put_cluster(&self, vc: &VaultCluster) {
        let ns = vc.metadata.namespace.clone().unwrap_or_default();
        let name = vc.metadata.name.clone().unwrap_or_default();
        let value = serde_json::to_value(vc).unwrap_or_default();
        self.lock().objects.insert(
            format!("/apis/coffer.dev/v1alpha1/namespaces/{ns}/vaultclusters/{name}"),
            value,
        );
    }

    /// Stores any object at `path`.
    pub fn put(&self, path: &str, value: Value) {
        self.lock().objects.insert(path.to_owned(), value);
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        self.lock().objects.get(path).cloned()
    }

    /// The VaultCluster as stored (with the status the operator wrote).
    pub fn cluster(&self, ns: &str, name: &str) -> Option<VaultCluster> {
        self.get(&format!(
            "/apis/coffer.dev/v1alpha1/namespaces/{ns}/vaultclusters/{name}"
        ))
        .and_then(|v| serde_json::from_value(v).ok())
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().log.clone()
    }

    pub fn clear_calls(&self) {
        self.lock().log.clear();
    }

    async fn handle(&self, request: Request<Body>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let call = Call {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or_default().to_owned(),
            content_type: parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            body,
        };
        let mut state = self.lock();
        state.log.push(call.clone());
        if let Some(f) = state.failures.iter_mut().find(|f| {
            f.remaining > 0 && f.method == call.method && call.path.ends_with(&f.path_suffix)
        }) {
            f.remaining -= 1;
            let code = f.code;
            return respond(
                code,
                &status_body(code, reason_for(code), "injected failure"),
            );
        }
        state.resource_version += 1;
        let rv = state.resource_version.to_string();
        let path = call.path.clone();
        match call.method.as_str() {
            "GET" => match state.objects.get(&path) {
                Some(v) => respond(200, v),
                None => respond(404, &status_body(404, "NotFound", "not found")),
            },
            "DELETE" => match state.objects.remove(&path) {
                Some(_) => respond(
                    200,
                    &json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}),
                ),
                None => respond(404, &status_body(404, "NotFound", "not found")),
            },
            "POST" => {
                let name = call
                    .body
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("unnamed");
                let key = format!("{path}/{name}");
                if state.objects.contains_key(&key) && !call.is_event() {
                    return respond(409, &status_body(409, "AlreadyExists", "already exists"));
                }
                let mut obj = call.body.clone();
                merge(
                    &mut obj,
                    &json!({"metadata": {"resourceVersion": rv, "uid": format!("uid-{rv}")}}),
                );
                state.objects.insert(key, obj.clone());
                respond(201, &obj)
            }
            "PUT" => {
                let Some(current) = state.objects.get(&path).cloned() else {
                    return respond(404, &status_body(404, "NotFound", "not found"));
                };
                let sent = call.body.pointer("/metadata/resourceVersion").cloned();
                if sent.is_some() && sent != current.pointer("/metadata/resourceVersion").cloned() {
                    return respond(
                        409,
                        &status_body(409, "Conflict", "the object has been modified"),
                    );
                }
                let mut obj = call.body.clone();
                merge(&mut obj, &json!({"metadata": {"resourceVersion": rv}}));
                state.objects.insert(path, obj.clone());
                respond(200, &obj)
            }
            "PATCH" if call.is_apply() => {
                let ready = state.ready_replicas;
                let (target_path, is_status) = match path.strip_suffix("/status") {
                    Some(p) => (p.to_owned(), true),
                    None => (path.clone(), false),
                };
                let mut obj = if is_status {
                    match state.objects.get(&target_path) {
                        Some(v) => v.clone(),
                        None => return respond(404, &status_body(404, "NotFound", "not found")),
                    }
                } else {
                    state.objects.get(&target_path).cloned().unwrap_or_else(|| {
                        json!({"metadata": {"uid": format!("uid-{rv}"), "creationTimestamp": "2026-01-01T00:00:00Z"}})
                    })
                };
                if is_status {
                    obj["status"] = call.body.get("status").cloned().unwrap_or(Value::Null);
                } else {
                    // An apply by the only manager replaces the managed content.
                    for key in ["spec", "data", "rules", "subjects", "roleRef"] {
                        if let Some(map) = obj.as_object_mut() {
                            map.remove(key);
                        }
                    }
                    merge(&mut obj, &call.body);
                }
                merge(&mut obj, &json!({"metadata": {"resourceVersion": rv}}));
                if path.contains("/statefulsets/") {
                    let replicas = obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1));
                    obj["status"] = json!({
                        "replicas": replicas, "readyReplicas": ready, "updatedReplicas": replicas,
                        "currentRevision": "r1", "updateRevision": "r1"
                    });
                }
                state.objects.insert(target_path, obj.clone());
                respond(200, &obj)
            }
            "PATCH" if call.content_type.starts_with("application/json-patch") => {
                let Some(mut obj) = state.objects.get(&path).cloned() else {
                    return respond(404, &status_body(404, "NotFound", "not found"));
                };
                for op in call.body.as_array().into_iter().flatten() {
                    let p = op.get("path").and_then(Value::as_str).unwrap_or_default();
                    match op.get("op").and_then(Value::as_str) {
                        Some("test") => {
                            let have = obj.pointer(p).cloned().unwrap_or(Value::Null);
                            if Some(&have) != op.get("value") {
                                return respond(422, &status_body(422, "Invalid", "test failed"));
                            }
                        }
                        Some("add") if p == "/metadata/finalizers" => {
                            obj["metadata"]["finalizers"] =
                                op.get("value").cloned().unwrap_or(Value::Null);
                        }
                        Some("add") if p == "/metadata/finalizers/-" => {
                            if let Some(list) = obj
                                .pointer_mut("/metadata/finalizers")
                                .and_then(Value::as_array_mut)
                            {
                                list.push(op.get("value").cloned().unwrap_or(Value::Null));
                            }
                        }
                        Some("remove") => {
                            let index = p.rsplit('/').next().and_then(|i| i.parse::<usize>().ok());
                            if let (Some(i), Some(list)) = (
                                index,
                                obj.pointer_mut("/metadata/finalizers")
                                    .and_then(Value::as_array_mut),
                            ) {
                                if i < list.len() {
                                    list.remove(i);
                                }
                            }
                        }
                        _ => {
                            return respond(422, &status_body(422, "Invalid", "unsupported patch"))
                        }
                    }
                }
                state.objects.insert(path, obj.clone());
                respond(200, &obj)
            }
            "PATCH" => {
                // Merge patches: event series updates.
                let mut obj = state.objects.get(&path).cloned().unwrap_or(Value::Null);
                merge(&mut obj, &call.body);
                state.objects.insert(path, obj.clone());
                respond(200, &obj)
            }
            _ => respond(405, &status_body(405, "MethodNotAllowed", "unsupported")),
        }
    }
}

/// A VaultCluster as the API server would hand it to the operator.
pub fn cluster(name: &str, ns: &str, spec: Value) -> VaultCluster {
    let mut vc: VaultCluster = serde_json::from_value(json!({
        "apiVersion": "coffer.dev/v1alpha1",
        "kind": "VaultCluster",
        "metadata": {
            "name": name, "namespace": ns, "uid": "6f1c3a43-93c2-4d1f-8a0e-1f5a3f0d5c01",
            "generation": 1, "resourceVersion": "1", "creationTimestamp": "2026-01-01T00:00:00Z"
        },
        "spec": spec
    }))
    .expect("VaultCluster fixture");
    vc.metadata.finalizers = Some(vec![coffer_operator::reconcile::FINALIZER.to_owned()]);
    vc
}

/// The dev-like cluster: 3 members, Shamir.
pub fn dev_cluster() -> VaultCluster {
    cluster(
        "vault",
        "sec",
        json!({"unseal": {"shamir": {"shares": 5, "threshold": 3}}}),
    )
}

/// The EKS-like cluster: KMS auto-unseal, IRSA, gp3, three zones.
pub fn eks_cluster() -> VaultCluster {
    cluster(
        "coffer",
        "coffer",
        json!({
            "replicas": 3,
            "version": "0.1.0",
            "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
            "storage": {"size": "20Gi", "storageClassName": "gp3"},
            "unseal": {"awsKms": {"keyId": "alias/coffer-unseal", "region": "eu-west-1"}},
            "keys": {"kmsKeyId": "alias/coffer-keys"},
            "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/coffer-server"}},
            "topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
                 "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "coffer", "app.kubernetes.io/instance": "coffer"}}},
                {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
                 "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "coffer", "app.kubernetes.io/instance": "coffer"}}}
            ],
            "config": {"default_lease_ttl": "24h", "max_lease_ttl": "720h"}
        }),
    )
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Kubernetes versions every manifest must validate against.
pub const KUBERNETES_VERSIONS: &[&str] = &["1.33.0", "1.37.0"];

/// Runs `kubernetes-validate --strict -k VERSION` on a YAML text; panics with its output when the
/// tool is missing or any document fails.
pub fn kubernetes_validate(label: &str, yaml: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(format!("{label}.yaml"));
    std::fs::write(&file, yaml).expect("write manifest");
    for version in KUBERNETES_VERSIONS {
        let output = match Command::new("kubernetes-validate")
            .args(["--strict", "-k", version, "--no-warn"])
            .arg(&file)
            .output()
        {
            Ok(o) => o,
            Err(e) => panic!(
                "cannot run kubernetes-validate ({e}): it is required by these tests; \
                 install it with scripts/install-test-deps.sh (pip install kubernetes-validate)"
            ),
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && !stdout.contains("ERROR"),
            "kubernetes-validate --strict -k {version} failed for {label}:\n{stdout}\n{stderr}\n--- manifest ---\n{yaml}"
        );
        let passed = stdout.matches(" passed ").count();
        let docs = yaml.matches("\nkind: ").count() + usize::from(yaml.starts_with("kind: "));
        assert_eq!(
            passed, docs,
            "kubernetes-validate checked {passed} of {docs} documents of {label}:\n{stdout}"
        );
    }
}

/// Compares `actual` with the snapshot file; `UPDATE_SNAPSHOTS=1` rewrites it instead.
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        panic!(
            "snapshot {} differs from the builders' output:\n{}\nIf the change is intended, run \
             `UPDATE_SNAPSHOTS=1 cargo test -p coffer-operator --test operator` and review the diff.",
            path.display(),
            line_diff(&expected, actual)
        );
    }
}

/// A small line diff (longest common subsequence), enough to read a snapshot change.
pub fn line_diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out, mut shown) = (0, 0, String::new(), 0);
    while (i < n || j < m) && shown < 200 {
        if i < n && j < m && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+{:>5} | {}\n", j + 1, b[j]));
            j += 1;
            shown += 1;
        } else {
            out.push_str(&format!("-{:>5} | {}\n", i + 1, a[i]));
            i += 1;
            shown += 1;
        }
    }
    if expected.is_empty() {
        out = format!("(the snapshot file is missing or empty)\n{out}");
    }
    out
}
