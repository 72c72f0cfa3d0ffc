//! The warp filter: every request goes through [`dispatch`], which answers the
//! lifecycle endpoints itself (by calling the [`Core`]) and turns everything
//! else under `/v1/` into a logical [`Request`] for [`Core::handle_request`].

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use coffer_core::core::InitRequest;
use coffer_core::logical::{Data, Operation, Request};
use coffer_core::{Core, CoreError};
use futures::{Stream, StreamExt};
use http::{HeaderMap, Method};
use warp::Filter;
use zeroize::Zeroizing;

use crate::gojson::GoType;
use crate::health::HealthQuery;
use crate::parse::{self, ParseError};
use crate::render::{self, DenialForm, HttpResponse};

/// The default `max_request_size` of a listener: 32 MiB.
pub const DEFAULT_MAX_REQUEST_SIZE: u64 = 32 * 1024 * 1024;

/// The peer address of a connection, put into each request's extensions by
/// the listener (see [`crate::server`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// What the HTTP layer of one listener needs.
pub struct HttpState {
    pub core: Arc<Core>,
    /// Largest accepted request body in bytes (413 above).
    pub max_request_size: u64,
}

impl HttpState {
    /// The state for a listener with the given body limit.
    pub fn new(core: Arc<Core>, max_request_size: u64) -> Arc<HttpState> {
        Arc::new(HttpState {
            core,
            max_request_size,
        })
    }
}

/// The parts of a request the dispatcher looks at.
pub struct Incoming {
    pub method: Method,
    /// The raw (still percent-encoded) path.
    pub path: String,
    /// The raw query string (without `?`).
    pub query: String,
    pub headers: HeaderMap,
    pub remote: Option<SocketAddr>,
}

/// The whole API as a warp filter; it never rejects.
pub fn filter(
    state: Arc<HttpState>,
) -> impl Filter<Extract = (HttpResponse,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<RemoteAddr>())
        .and(warp::body::stream())
        .then(
            move |method: Method,
                  path: warp::path::FullPath,
                  query: String,
                  headers: HeaderMap,
                  remote: Option<RemoteAddr>,
                  body| {
                let state = state.clone();
                async move {
                    let req = Incoming {
                        method,
                        path: path.as_str().to_string(),
                        query,
                        headers,
                        remote: remote.map(|r| r.0),
                    };
                    dispatch(&state, req, body).await
                }
            },
        )
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    TooLarge,
    Read(String),
}

/// Reads a body stream, refusing more than `limit` bytes. The buffer is
/// zeroed when dropped: bodies carry secrets.
pub async fn read_body<S, B, E>(
    stream: S,
    limit: u64,
    size_hint: Option<u64>,
) -> Result<Zeroizing<Vec<u8>>, BodyError>
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: std::fmt::Display,
{
    let mut stream = std::pin::pin!(stream);
    let reserve = size_hint.unwrap_or(0).min(limit).min(1 << 20);
    let mut out = Zeroizing::new(Vec::with_capacity(reserve as usize));
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        if (out.len() as u64).saturating_add(chunk.remaining() as u64) > limit {
            return Err(BodyError::TooLarge);
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let n = part.len();
            if out.len() + n > out.capacity() {
                // Grow by hand so that the old buffer is wiped, not just freed.
                let mut bigger =
                    Zeroizing::new(Vec::with_capacity((out.capacity() * 2).max(out.len() + n)));
                bigger.extend_from_slice(&out);
                out = bigger;
            }
            out.extend_from_slice(part);
            chunk.advance(n);
        }
    }
    Ok(out)
}

/// Go's `htmlEscape` for redirect bodies.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn too_large() -> HttpResponse {
    let mut r = render::errors(413, &["http: request body too large".to_string()]);
    r.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    r
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Handles one request; HEAD answers lose their body.
pub async fn dispatch<S, B, E>(state: &HttpState, req: Incoming, body: S) -> HttpResponse
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: std::fmt::Display,
{
    let head = req.method == Method::HEAD;
    let method = req.method.clone();
    let resp = route(state, req, body).await;
    tracing::debug!(method = %method, status = resp.status().as_u16(), "request");
    let mut resp = render::finish(resp);
    if head {
        *resp.body_mut() = Bytes::new();
    }
    resp
}

async fn route<S, B, E>(state: &HttpState, req: Incoming, body: S) -> HttpResponse
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: std::fmt::Display,
{
    // The body is always read (within the limit), even where it is ignored:
    // an unread body would cost the client its keep-alive connection.
    let size_hint = content_length(&req.headers);
    if size_hint.is_some_and(|n| n > state.max_request_size) {
        return too_large();
    }
    let body = match read_body(body, state.max_request_size, size_hint).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return too_large(),
        Err(BodyError::Read(e)) => {
            tracing::debug!(error = %e, "reading a request body failed");
            return render::errors(400, &["error reading data".to_string()]);
        }
    };

    let Some(path) = parse::percent_decode_path(&req.path) else {
        return render::errors(400, &["invalid path".to_string()]);
    };
    if let Some(clean) = parse::clean_path(&path) {
        // Go's ServeMux redirects unclean paths (307, with a small HTML body
        // for GET and HEAD).
        let mut location = parse::escape_path(&clean);
        if !req.query.is_empty() {
            location = format!("{location}?{}", req.query);
        }
        let mut r = if matches!(req.method, Method::GET | Method::HEAD) {
            let body = format!(
                "<a href=\"{}\">Temporary Redirect</a>.\n\n",
                html_escape(&location)
            );
            render::with_body(307, "text/html; charset=utf-8", body.into_bytes())
        } else {
            render::empty(307)
        };
        if let Ok(v) = http::HeaderValue::from_str(&location) {
            r.headers_mut().insert(http::header::LOCATION, v);
        }
        return r;
    }
    let Some(rel) = path.strip_prefix("/v1/") else {
        return render::errors(404, &[]);
    };
    let rel = rel.to_string();

    match rel.as_str() {
        "sys/init" => match req.method {
            Method::GET => init_status(state).await,
            Method::PUT | Method::POST => init(state, &body).await,
            _ => render::errors(405, &[]),
        },
        "sys/seal-status" => match req.method {
            Method::GET => seal_status(state).await,
            _ => render::errors(405, &[]),
        },
        "sys/unseal" => match req.method {
            Method::PUT | Method::POST => unseal(state, &body).await,
            _ => render::errors(405, &[]),
        },
        "sys/health" => match req.method {
            Method::GET | Method::HEAD => health(state, &req.query).await,
            _ => render::errors(405, &[]),
        },
        "sys/leader" => match req.method {
            Method::GET => match state.core.leader().await {
                Ok(v) => render::json(200, &v),
                Err(e) => render::core_error(&e, DenialForm::Plain),
            },
            _ => render::errors(405, &[]),
        },
        _ => logical(state, &req, rel, &body).await,
    }
}

async fn init_status(state: &HttpState) -> HttpResponse {
    #[derive(serde::Serialize)]
    struct InitStatus {
        initialized: bool,
    }
    match state.core.initialized().await {
        Ok(initialized) => render::json(200, &InitStatus { initialized }),
        Err(e) => render::core_error(&e, DenialForm::Plain),
    }
}

/// The fields of OpenBao's `http.InitRequest`; the ones Coffer has no use
/// for (`stored_shares`, `recovery_*`) are type-checked and ignored.
const INIT_FIELDS: &[(&str, GoType)] = &[
    ("secret_shares", GoType::Int),
    ("secret_threshold", GoType::Int),
    ("stored_shares", GoType::Int),
    ("pgp_keys", GoType::StringSlice),
    ("recovery_shares", GoType::Int),
    ("recovery_threshold", GoType::Int),
    ("recovery_pgp_keys", GoType::StringSlice),
    ("root_token_pgp_key", GoType::String),
];

/// The fields of OpenBao's `http.UnsealRequest`.
const UNSEAL_FIELDS: &[(&str, GoType)] = &[
    ("key", GoType::String),
    ("reset", GoType::Bool),
    ("migrate", GoType::Bool),
];

/// A non-negative integer field (negative counts as 0, which the seal
/// configuration check refuses as OpenBao refuses a negative one).
fn count(data: &Data, key: &str) -> u64 {
    data.get(key)
        .and_then(serde_json::Value::as_i64)
        .map_or(0, |n| u64::try_from(n).unwrap_or(0))
}

fn non_empty(data: &Data, key: &str) -> bool {
    match data.get(key) {
        Some(serde_json::Value::String(s)) => !s.is_empty(),
        Some(serde_json::Value::Array(a)) => !a.is_empty(),
        _ => false,
    }
}

async fn init(state: &HttpState, body: &[u8]) -> HttpResponse {
    let req = match parse::parse_go_struct(body, "http.InitRequest", INIT_FIELDS) {
        Ok(r) => r,
        Err(e) => return render::errors(400, &[e.to_string()]),
    };
    // Handing out plain keys to a caller that asked for PGP-encrypted ones
    // would be worse than refusing.
    if non_empty(&req, "pgp_keys") || non_empty(&req, "root_token_pgp_key") {
        return render::errors(
            400,
            &["PGP-encrypted key shares are not supported".to_string()],
        );
    }
    let init = InitRequest {
        secret_shares: count(&req, "secret_shares"),
        secret_threshold: count(&req, "secret_threshold"),
    };
    match state.core.init(init).await {
        Ok(resp) => render::json(200, &resp),
        Err(e) => render::core_error(&e, DenialForm::Plain),
    }
}

async fn seal_status(state: &HttpState) -> HttpResponse {
    match state.core.seal_status().await {
        Ok(s) => render::json(200, &s),
        Err(e) => render::core_error(&e, DenialForm::Plain),
    }
}

async fn unseal(state: &HttpState, body: &[u8]) -> HttpResponse {
    let req = match parse::parse_go_struct(body, "http.UnsealRequest", UNSEAL_FIELDS) {
        Ok(r) => r,
        Err(e) => return render::errors(400, &[e.to_string()]),
    };
    if req.get("reset").and_then(serde_json::Value::as_bool) == Some(true) {
        state.core.reset_unseal().await;
        return seal_status(state).await;
    }
    let key = req
        .get("key")
        .and_then(serde_json::Value::as_str)
        .filter(|k| !k.is_empty())
        .map(|k| Zeroizing::new(k.to_string()));
    let Some(key) = key else {
        return render::errors(
            400,
            &[
                "'key' must be specified in request body as JSON, or 'reset' set to true"
                    .to_string(),
            ],
        );
    };
    match state.core.unseal(&key).await {
        Ok(s) => render::json(200, &s),
        Err(e) => render::core_error(&e, DenialForm::Plain),
    }
}

async fn health(state: &HttpState, query: &str) -> HttpResponse {
    let pairs = parse::query_pairs(query);
    let Ok(q) = HealthQuery::parse(&pairs) else {
        return render::errors(400, &[]);
    };
    match state.core.health().await {
        Ok(h) => render::json(q.code_for(&h), &h),
        Err(e) => render::core_error(&e, DenialForm::Plain),
    }
}

/// A request refused before it reaches the core: the status and `errors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub status: u16,
    pub errors: Vec<String>,
}

impl Rejected {
    fn new(status: u16, errors: &[&str]) -> Rejected {
        Rejected {
            status,
            errors: errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    /// The `{"errors":[...]}` answer.
    pub fn response(&self) -> HttpResponse {
        render::errors(self.status, &self.errors)
    }
}

impl From<ParseError> for Rejected {
    fn from(e: ParseError) -> Rejected {
        Rejected {
            status: 400,
            errors: vec![e.to_string()],
        }
    }
}

/// Maps the method (and `?list=`) to an operation.
fn operation(method: &Method, pairs: &[(String, String)]) -> Result<Operation, Rejected> {
    match method.as_str() {
        "GET" => match parse::first(pairs, "list") {
            None | Some("") => Ok(Operation::Read),
            Some(v) => match parse::go_bool(v) {
                Some(true) => Ok(Operation::List),
                Some(false) => Ok(Operation::Read),
                None => Err(Rejected::new(400, &[])),
            },
        },
        "LIST" => Ok(Operation::List),
        "PUT" | "POST" => Ok(Operation::Update),
        "DELETE" => Ok(Operation::Delete),
        "PATCH" => Ok(Operation::Patch),
        _ => Err(Rejected::new(405, &[])),
    }
}

/// Builds the logical request from the HTTP request.
pub fn build_request(req: &Incoming, rel: String, body: &[u8]) -> Result<Request, Rejected> {
    let pairs = parse::query_pairs(&req.query);
    let op = operation(&req.method, &pairs)?;
    let content_type = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let data: Data = match req.method.as_str() {
        "GET" => parse::query_data(&pairs, &["list"]),
        "LIST" | "DELETE" => parse::query_data(&pairs, &[]),
        "PATCH" => {
            // OpenBao checks the media type before anything else.
            let media = parse::go_media_type(content_type.as_deref().unwrap_or(""))
                .map_err(|e| Rejected::new(400, &[e.as_str()]))?;
            if media != "application/merge-patch+json" {
                return Err(Rejected::new(
                    415,
                    &[&format!(
                        "PATCH requires Content-Type of application/merge-patch+json, provided {media}"
                    )],
                ));
            }
            parse::parse_json_object(body)?
        }
        _ => parse::parse_write_body(content_type.as_deref(), body)?,
    };
    let wrap_ttl = parse::wrap_ttl(&req.headers)?;
    // Vault lists directories: a list path always ends with `/`.
    let rel = if op == Operation::List && !rel.ends_with('/') {
        format!("{rel}/")
    } else {
        rel
    };
    let mut r = Request::new(op, rel);
    r.data = data;
    r.client_token = parse::request_token(&req.headers).map(Zeroizing::new);
    r.remote_addr = req.remote.map(|a| a.ip());
    r.content_type = content_type;
    r.wrap_ttl = wrap_ttl;
    Ok(r)
}

/// Namespaces are not supported: a request for any namespace but the root
/// one is refused as OpenBao refuses an unknown namespace, rather than being
/// served from the root namespace.
fn namespace_refusal(headers: &HeaderMap) -> Option<HttpResponse> {
    let ns = headers.get("x-vault-namespace")?;
    let name = ns.to_str().unwrap_or("?").trim().trim_matches('/');
    if name.is_empty() || name == "root" {
        return None;
    }
    let mut r = render::errors(404, &["namespace not found".to_string()]);
    r.headers_mut().insert("x-vault-namespace", ns.clone());
    Some(r)
}

async fn logical(state: &HttpState, req: &Incoming, rel: String, body: &[u8]) -> HttpResponse {
    if let Some(r) = namespace_refusal(&req.headers) {
        return r;
    }
    if req.method == Method::HEAD {
        // No logical operation answers HEAD: OpenBao checks the token first.
        return if parse::request_token(&req.headers).is_none() {
            render::errors(403, &["permission denied".to_string()])
        } else {
            render::core_error(&CoreError::UnsupportedOperation, DenialForm::Plain)
        };
    }
    let request = match build_request(req, rel, body) {
        Ok(r) => r,
        Err(rejected) => return rejected.response(),
    };
    // Vault refuses writes to directory-like paths before it looks at the
    // token (once unsealed).
    if request.operation == Operation::Update
        && request.path.ends_with('/')
        && !state.core.is_sealed()
    {
        return render::errors(400, &["cannot write to a path ending in '/'".to_string()]);
    }
    let request_id = request.id.clone();
    let token = request.client_token.clone();
    match state.core.handle_request(request).await {
        Ok(resp) => render::logical(&request_id, &resp),
        Err(e @ (CoreError::PermissionDenied | CoreError::NoRoute(_))) => {
            let remote = req.remote.map(|a| a.ip());
            let valid =
                token_is_valid(&state.core, token.as_deref().map(String::as_str), remote).await;
            match e {
                // Vault words a denial of a valid token (an ACL decision) as a
                // multi-error, one for a missing or unknown token plainly.
                CoreError::PermissionDenied if valid => render::core_error(&e, DenialForm::Multi),
                // Vault checks the token before routing: without a valid
                // token an unknown mount is a denial, not a 404 (which would
                // let anyone enumerate mounts).
                CoreError::NoRoute(_) if !valid => {
                    render::core_error(&CoreError::PermissionDenied, DenialForm::Plain)
                }
                _ => render::core_error(&e, DenialForm::Plain),
            }
        }
        Err(e) => render::core_error(&e, DenialForm::Plain),
    }
}

/// Whether `token` names a live token usable from `remote` (a token used
/// outside its bound CIDRs counts as invalid, as in OpenBao).
async fn token_is_valid(
    core: &Core,
    token: Option<&str>,
    remote: Option<std::net::IpAddr>,
) -> bool {
    let Some(token) = token else {
        return false;
    };
    let Ok(active) = core.active() else {
        return false;
    };
    matches!(active.tokens.lookup(token).await, Ok(Some(entry)) if entry.cidr_allows(remote))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn incoming(method: &str, query: &str, headers: &[(&str, &str)]) -> Incoming {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        Incoming {
            method: Method::from_bytes(method.as_bytes()).unwrap(),
            path: "/v1/x".into(),
            query: query.into(),
            headers: h,
            remote: Some("10.1.2.3:5555".parse().unwrap()),
        }
    }

    #[test]
    fn methods_map_to_operations() {
        let op = |m: &str, q: &str| {
            let ct = [("content-type", "application/merge-patch+json")];
            build_request(&incoming(m, q, &ct), "x".into(), b"").map(|r| r.operation)
        };
        assert_eq!(op("GET", "").ok(), Some(Operation::Read));
        assert_eq!(op("GET", "list=true").ok(), Some(Operation::List));
        assert_eq!(op("GET", "list=false").ok(), Some(Operation::Read));
        assert_eq!(op("LIST", "").ok(), Some(Operation::List));
        assert_eq!(op("PUT", "").ok(), Some(Operation::Update));
        assert_eq!(op("POST", "").ok(), Some(Operation::Update));
        assert_eq!(op("DELETE", "").ok(), Some(Operation::Delete));
        assert_eq!(op("PATCH", "").ok(), Some(Operation::Patch));
        assert_eq!(op("GET", "list=abc").err().map(|r| r.status), Some(400));
        assert_eq!(op("FOO", "").err().map(|r| r.status), Some(405));
    }

    #[test]
    fn request_fields() {
        let inc = incoming(
            "GET",
            "list=true&after=a&limit=2",
            &[("x-vault-token", "tok"), ("x-vault-wrap-ttl", "5m")],
        );
        let r = build_request(&inc, "secret/metadata".into(), b"").unwrap();
        assert_eq!(r.path, "secret/metadata/");
        assert_eq!(Value::Object(r.data), json!({"after": "a", "limit": "2"}));
        assert_eq!(r.client_token.as_deref().map(String::as_str), Some("tok"));
        assert_eq!(r.wrap_ttl, Some(std::time::Duration::from_secs(300)));
        assert_eq!(r.remote_addr, Some("10.1.2.3".parse().unwrap()));

        let inc = incoming(
            "PUT",
            "ignored=1",
            &[("content-type", "application/x-www-form-urlencoded")],
        );
        let r = build_request(&inc, "kv/x".into(), b"a=1&a=2").unwrap();
        assert_eq!(Value::Object(r.data), json!({"a": "1,2"}));

        let inc = incoming(
            "PATCH",
            "",
            &[("content-type", "application/merge-patch+json")],
        );
        let r = build_request(&inc, "kv/x".into(), br#"{"data":{"a":"b"}}"#).unwrap();
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/merge-patch+json")
        );
        assert_eq!(Value::Object(r.data), json!({"data": {"a": "b"}}));

        let inc = incoming("DELETE", "versions=1&versions=2", &[]);
        let r = build_request(&inc, "kv/x".into(), b"").unwrap();
        assert_eq!(Value::Object(r.data), json!({"versions": ["1", "2"]}));

        let inc = incoming("PUT", "", &[("x-vault-wrap-ttl", "abc")]);
        let e = build_request(&inc, "kv/x".into(), b"").unwrap_err();
        assert_eq!(e.status, 400);

        let inc = incoming("PUT", "", &[]);
        let e = build_request(&inc, "kv/x".into(), b"{")
            .unwrap_err()
            .response();
        assert_eq!(e.status(), 400);
        assert_eq!(
            String::from_utf8(e.body().to_vec()).unwrap(),
            "{\"errors\":[\"failed to decode JSON input: unexpected EOF\"]}\n"
        );
    }

    #[test]
    fn namespaces_other_than_root_are_refused() {
        let h = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-vault-namespace", http::HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(namespace_refusal(&HeaderMap::new()).is_none());
        assert!(namespace_refusal(&h("")).is_none());
        assert!(namespace_refusal(&h("root")).is_none());
        assert!(namespace_refusal(&h("root/")).is_none());
        let r = namespace_refusal(&h("team1")).unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["x-vault-namespace"], "team1");
        assert_eq!(
            r.body().as_ref(),
            b"{\"errors\":[\"namespace not found\"]}\n"
        );
    }

    #[test]
    fn patch_needs_merge_patch() {
        let patch = |ct: Option<&str>| {
            let h: Vec<(&str, &str)> = ct.map(|c| vec![("content-type", c)]).unwrap_or_default();
            build_request(&incoming("PATCH", "", &h), "kv/x".into(), b"{}").map(|r| r.operation)
        };
        assert_eq!(
            patch(Some("application/merge-patch+json; charset=utf-8")),
            Ok(Operation::Patch)
        );
        let e = patch(Some("application/json")).unwrap_err();
        assert_eq!(e.status, 415);
        assert_eq!(
            e.errors,
            ["PATCH requires Content-Type of application/merge-patch+json, provided application/json"]
        );
        let e = patch(None).unwrap_err();
        assert_eq!(
            (e.status, e.errors.as_slice()),
            (400, &["mime: no media type".to_string()][..])
        );
    }

    #[tokio::test]
    async fn body_limit() {
        let chunks = || {
            vec![
                Ok::<_, std::io::Error>(Bytes::from_static(b"hello ")),
                Ok(Bytes::from_static(b"world")),
            ]
        };
        let b = read_body(futures::stream::iter(chunks()), 11, Some(11))
            .await
            .unwrap();
        assert_eq!(b.as_slice(), b"hello world");
        let e = read_body(futures::stream::iter(chunks()), 10, None)
            .await
            .unwrap_err();
        assert!(matches!(e, BodyError::TooLarge));
        let big: Vec<Result<Bytes, std::io::Error>> =
            (0..100).map(|_| Ok(Bytes::from(vec![7u8; 1000]))).collect();
        let b = read_body(futures::stream::iter(big), 1 << 20, None)
            .await
            .unwrap();
        assert_eq!(b.len(), 100_000);
    }
}
