//! Response wrapping (OpenBao's `wrapInCubbyhole` and `sys/wrapping/*`).
//!
//! A request with `X-Vault-Wrap-TTL` ([`Request::wrap_ttl`]) gets its whole
//! answer (data, auth, lease, warnings) stored in the cubbyhole of a new
//! single-use token: policy `response-wrapping`, `num_uses` 1, TTL and
//! explicit max TTL the wrap TTL, an orphan whose path is the creation path.
//! The client only sees `wrap_info` (token, accessor, ttl, creation time and
//! path, and `wrapped_accessor` for a wrapped token). The stored answer is the
//! JSON text of the HTTP response OpenBao stores (`cubbyhole/response`), next to
//! the wrapping facts (`cubbyhole/wrapinfo`); `sys/wrapping/unwrap` returns that
//! text as the body, once. The wrapping token expires with its TTL, and its
//! cubbyhole goes with it.

use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::core::Active;
use crate::error::CoreError;
use crate::logical::{
    Auth, Data, LeaseInfo, Operation, RawResponse, Request, Response, StorageView,
};
use crate::token::fields::go_time;
use crate::token::{NewToken, TokenEntry};

/// The policy of every wrapping token.
pub const RESPONSE_WRAPPING_POLICY: &str = "response-wrapping";

/// The built-in `response-wrapping` policy, as OpenBao 2.7.2 stores it.
pub const RESPONSE_WRAPPING_POLICY_TEXT: &str = r#"
path "cubbyhole/response" {
    capabilities = ["create", "read"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

path "auth/token/revoke-self" {
    capabilities = ["update"]
}
"#;

/// OpenBao's `consts.ErrInvalidWrappingToken`.
pub const INVALID_WRAPPING_TOKEN: &str = "wrapping token is not valid or does not exist";

/// The keys OpenBao uses for a response that is not an envelope.
const HTTP_STATUS_CODE: &str = "http_status_code";
const HTTP_RAW_BODY: &str = "http_raw_body";
const HTTP_CONTENT_TYPE: &str = "http_content_type";

/// Paths whose wrapping token is checked before the request's own token.
const VALIDATED_PATHS: &[&str] = &[
    "sys/wrapping/lookup",
    "sys/wrapping/unwrap",
    "sys/wrapping/rewrap",
];

/// Whether `t` is a wrapping token (its only policy is `response-wrapping`).
pub fn is_wrapping_token(t: &TokenEntry) -> bool {
    t.policies.len() == 1 && t.policies[0] == RESPONSE_WRAPPING_POLICY
}

/// The token a wrapping request names: the body's `token` (a third party
/// unwrapping) or the request's own token. Errors as OpenBao's
/// `validateWrappingToken` words them.
fn named_token(req: &Request) -> Result<(Zeroizing<String>, bool), String> {
    match req.data.get("token") {
        Some(Value::Null) | None => {}
        Some(Value::String(s)) if s.is_empty() => {
            return Err("empty token in request body".into());
        }
        Some(Value::String(s)) => return Ok((Zeroizing::new(s.clone()), true)),
        Some(_) => return Err("could not decode token in request body".into()),
    }
    match &req.client_token {
        Some(t) if !t.is_empty() => Ok((t.clone(), false)),
        _ => Err("token is empty".into()),
    }
}

/// Checks the wrapping token of `sys/wrapping/{lookup,unwrap,rewrap}` before
/// the request is authorised, as OpenBao does: 403 when it cannot be read,
/// 400 when it is not a live wrapping token. Other paths pass.
pub async fn validate(active: &Active, req: &Request) -> Result<(), CoreError> {
    if !VALIDATED_PATHS.contains(&req.path.as_str()) {
        return Ok(());
    }
    let (token, _) = named_token(req)
        .map_err(|e| CoreError::Forbidden(format!("error validating wrapping token: {e}")))?;
    match active.tokens.lookup(&token).await? {
        Some(t) if is_wrapping_token(&t) => Ok(()),
        _ => Err(CoreError::invalid(INVALID_WRAPPING_TOKEN)),
    }
}

// ----------------------------------------------------------- stored shapes

/// OpenBao's `logical.HTTPAuth`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HttpAuth {
    client_token: String,
    accessor: String,
    policies: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    token_policies: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    identity_policies: Vec<String>,
    metadata: Option<std::collections::BTreeMap<String, String>>,
    lease_duration: u64,
    renewable: bool,
    entity_id: String,
    token_type: String,
    orphan: bool,
    mfa_requirement: Option<Value>,
    num_uses: i64,
}

impl HttpAuth {
    fn from_auth(a: &Auth) -> Self {
        HttpAuth {
            client_token: a.client_token.clone(),
            accessor: a.accessor.clone(),
            policies: Some(a.policies.clone()),
            token_policies: a.token_policies.clone(),
            identity_policies: a.identity_policies.clone(),
            metadata: a.metadata.clone(),
            lease_duration: a.lease_duration,
            renewable: a.renewable,
            entity_id: a.entity_id.clone(),
            token_type: a.token_type.clone(),
            orphan: a.orphan,
            mfa_requirement: a.mfa_requirement.clone(),
            num_uses: a.num_uses,
        }
    }

    fn to_auth(&self) -> Auth {
        Auth {
            client_token: self.client_token.clone(),
            accessor: self.accessor.clone(),
            policies: self.policies.clone().unwrap_or_default(),
            token_policies: self.token_policies.clone(),
            identity_policies: self.identity_policies.clone(),
            metadata: self.metadata.clone(),
            lease_duration: self.lease_duration,
            renewable: self.renewable,
            entity_id: self.entity_id.clone(),
            token_type: self.token_type.clone(),
            orphan: self.orphan,
            mfa_requirement: self.mfa_requirement.clone(),
            num_uses: self.num_uses,
        }
    }
}

/// OpenBao's `logical.HTTPResponse`: what a wrapping token's cubbyhole holds
/// (as JSON text) and what unwrapping returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HttpResponse {
    request_id: String,
    lease_id: String,
    renewable: bool,
    lease_duration: u64,
    data: Option<Data>,
    wrap_info: Option<Value>,
    warnings: Option<Vec<String>>,
    auth: Option<HttpAuth>,
}

/// Sorts object keys at every level, as Go encodes its maps.
fn sorted(mut v: Value) -> Value {
    crate::engines::kvutil::sort_keys(&mut v);
    v
}

/// The response as OpenBao's `LogicalResponseToHTTPResponse` has it.
fn http_response(request_id: &str, resp: &Response) -> HttpResponse {
    let (lease_id, renewable, lease_duration) = match &resp.lease {
        Some(l) => (l.lease_id.clone(), l.renewable, l.lease_duration),
        None => (String::new(), false, 0),
    };
    HttpResponse {
        request_id: request_id.to_string(),
        lease_id,
        renewable,
        lease_duration,
        data: resp
            .data
            .clone()
            .and_then(|d| match sorted(Value::Object(d)) {
                Value::Object(m) => Some(m),
                _ => None,
            }),
        wrap_info: None,
        warnings: if resp.warnings.is_empty() {
            None
        } else {
            Some(resp.warnings.clone())
        },
        auth: resp.auth.as_ref().map(HttpAuth::from_auth),
    }
}

/// The JSON text stored for `resp`. Answers that are not a plain envelope
/// (a raw body, or an envelope with its own status code) are stored as
/// OpenBao's `RespondWithStatusCode` shapes them.
fn stored_text(request_id: &str, resp: &Response) -> Result<String, CoreError> {
    let enc = |v: &HttpResponse| {
        serde_json::to_string(v).map_err(|e| CoreError::Internal(format!("encoding: {e}")))
    };
    if let Some(raw) = &resp.raw {
        let mut data = Data::new();
        data.insert(HTTP_CONTENT_TYPE.into(), json!(raw.content_type));
        data.insert(
            HTTP_RAW_BODY.into(),
            json!(base64::engine::general_purpose::STANDARD.encode(&raw.body)),
        );
        data.insert(HTTP_STATUS_CODE.into(), json!(raw.status));
        return enc(&http_response(request_id, &Response::with_data(data)));
    }
    match resp.status {
        Some(code) if code != 200 => {
            let mut inner = resp.clone();
            inner.status = None;
            let body = enc(&http_response(request_id, &inner))?;
            let mut data = Data::new();
            data.insert(HTTP_CONTENT_TYPE.into(), json!("application/json"));
            data.insert(HTTP_RAW_BODY.into(), json!(body));
            data.insert(HTTP_STATUS_CODE.into(), json!(code));
            enc(&http_response(request_id, &Response::with_data(data)))
        }
        _ => enc(&http_response(request_id, resp)),
    }
}

/// `cubbyhole/wrapinfo` of a wrapping token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WrapInfoRecord {
    creation_path: String,
    creation_time: String,
    /// Nanoseconds (a Go `time.Duration`).
    creation_ttl: u64,
}

/// `cubbyhole/response` of a wrapping token.
#[derive(Serialize, Deserialize)]
struct ResponseRecord {
    response: String,
}

fn cubbyhole(active: &Active, hid: &str) -> StorageView {
    StorageView::new(active.barrier.clone(), format!("cubbyhole/{hid}/"))
}

// ---------------------------------------------------------------- wrapping

/// Whether a response has nothing to wrap (it would be a 204).
pub fn nothing_to_wrap(resp: &Response) -> bool {
    resp.raw.is_none() && (resp.is_empty() || resp.status == Some(204))
}

/// The path a wrapped response records: list requests end with `/`, as
/// OpenBao's HTTP layer adds it.
fn creation_path(req: &Request) -> String {
    let path = req.path.trim_start_matches('/');
    if req.operation == Operation::List && !path.ends_with('/') {
        format!("{path}/")
    } else {
        path.to_string()
    }
}

/// Creates a wrapping token holding `text` and returns the `wrap_info`.
async fn wrap_text(
    active: &Active,
    display_name: String,
    token_path: String,
    creation_path: String,
    ttl: Duration,
    text: String,
    wrapped_accessor: Option<String>,
) -> Result<Value, CoreError> {
    let secs = ttl.as_secs().max(1);
    let created = chrono::Utc::now();
    let (token, entry) = active
        .tokens
        .mint(NewToken {
            policies: vec![RESPONSE_WRAPPING_POLICY.to_string()],
            display_name,
            num_uses: 1,
            ttl: secs,
            explicit_max_ttl: secs,
            renewable: false,
            parent: None,
            path: token_path,
            ..Default::default()
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "failed to create wrapping token");
            CoreError::Internal("failed to create wrapping token".into())
        })?;
    let created_text = go_time(created);
    let view = cubbyhole(active, &entry.hid);
    let stored = async {
        view.put_json("response", &ResponseRecord { response: text })
            .await?;
        view.put_json(
            "wrapinfo",
            &WrapInfoRecord {
                creation_path: creation_path.clone(),
                creation_time: created_text.clone(),
                creation_ttl: secs.saturating_mul(1_000_000_000),
            },
        )
        .await
    };
    if let Err(e) = stored.await {
        tracing::error!(error = %e, "failed to store wrapped response information");
        if let Err(e) = active.tokens.revoke_tree(&entry.hid).await {
            tracing::warn!(error = %e, "revoking a half-made wrapping token failed");
        }
        return Err(CoreError::Internal(
            "failed to store wrapped response information".into(),
        ));
    }
    let mut info = json!({
        "token": token.as_str(),
        "accessor": entry.accessor,
        "ttl": secs,
        "creation_time": created_text,
        "creation_path": creation_path,
    });
    if let (Some(acc), Value::Object(m)) = (wrapped_accessor.filter(|a| !a.is_empty()), &mut info) {
        m.insert("wrapped_accessor".into(), json!(acc));
    }
    Ok(info)
}

/// Wraps a response: stores it in a new wrapping token's cubbyhole and
/// answers with `wrap_info` only (the warnings stay in the stored response). A response with
/// nothing in it is returned as it is.
pub async fn wrap(
    active: &Active,
    req: &Request,
    resp: Response,
    ttl: Duration,
) -> Result<Response, CoreError> {
    if nothing_to_wrap(&resp) || resp.wrap_info.is_some() {
        return Ok(resp);
    }
    let text = stored_text(&req.id, &resp)?;
    let display_name = match (&req.token, &resp.auth) {
        (Some(t), _) => t.display_name.clone(),
        (None, Some(a)) => active
            .tokens
            .lookup(&a.client_token)
            .await?
            .map(|t| t.display_name.clone())
            .unwrap_or_default(),
        (None, None) => String::new(),
    };
    // The accessor of a wrapped token, or of a wrapped AppRole secret ID.
    let wrapped_accessor = match &resp.auth {
        Some(a) => Some(a.accessor.clone()),
        None => resp
            .data
            .as_ref()
            .and_then(|d| d.get("secret_id_accessor"))
            .and_then(Value::as_str)
            .filter(|_| {
                active
                    .route(&req.path)
                    .is_some_and(|(r, _)| r.entry.mount_type == "approle")
            })
            .map(str::to_string),
    };
    let path = creation_path(req);
    let info = wrap_text(
        active,
        display_name,
        path.clone(),
        path,
        ttl,
        text,
        wrapped_accessor,
    )
    .await?;
    // The client sees `wrap_info` only: OpenBao's HTTP layer drops the
    // warnings of a wrapped response too.
    Ok(Response {
        wrap_info: Some(info),
        ..Default::default()
    })
}

// ------------------------------------------------------------- sys/wrapping

/// The live (or last-use) wrapping token a `sys/wrapping` request names.
async fn named_entry(
    active: &Active,
    req: &Request,
) -> Result<(Zeroizing<String>, std::sync::Arc<TokenEntry>, bool), CoreError> {
    let (token, third_party) = named_token(req)
        .map_err(|e| CoreError::Forbidden(format!("error validating wrapping token: {e}")))?;
    match active.tokens.lookup_tainted(&token).await? {
        Some(t) if is_wrapping_token(&t) => Ok((token, t, third_party)),
        Some(_) => Err(CoreError::Internal(
            "token is not a valid unwrap token".into(),
        )),
        None => Err(CoreError::invalid(INVALID_WRAPPING_TOKEN)),
    }
}

/// Uses up a wrapping token named in the body (a third party unwrapping);
/// a token the request itself used is revoked by the pipeline.
async fn use_third_party(
    active: &Active,
    token: &str,
    entry: &TokenEntry,
) -> Result<(), CoreError> {
    active
        .tokens
        .use_token(token, entry)
        .await
        .map_err(|_| CoreError::invalid(INVALID_WRAPPING_TOKEN))
}

async fn read_wrapinfo(active: &Active, hid: &str) -> Result<WrapInfoRecord, CoreError> {
    cubbyhole(active, hid)
        .get_json::<WrapInfoRecord>("wrapinfo")
        .await?
        .ok_or_else(|| {
            CoreError::invalid(
                "no information found; wrapping token may be from a previous OpenBao version",
            )
        })
}

async fn read_response(active: &Active, hid: &str) -> Result<String, CoreError> {
    cubbyhole(active, hid)
        .get_json::<ResponseRecord>("response")
        .await?
        .map(|r| r.response)
        .ok_or_else(|| CoreError::Internal("no response found inside the cubbyhole".into()))
}

/// `sys/wrapping/wrap`: wraps the request body (the pipeline does the
/// wrapping); without a wrap TTL there is nothing to do.
pub fn handle_wrap(req: &Request) -> Result<Response, CoreError> {
    if req.wrap_ttl.is_none() {
        return Err(CoreError::invalid(
            "endpoint requires response wrapping to be used",
        ));
    }
    Ok(Response::with_data(req.data.clone()))
}

/// `sys/wrapping/lookup`: the creation path, time and TTL of a wrapping
/// token (named in the body or used as the request token), without using it.
pub async fn handle_lookup(active: &Active, req: &Request) -> Result<Response, CoreError> {
    let (_, entry, _) = named_entry(active, req).await?;
    let info = read_wrapinfo(active, &entry.hid).await?;
    let ttl_secs = info.creation_ttl as f64 / 1e9;
    let ttl = if ttl_secs.fract() == 0.0 {
        json!(info.creation_ttl / 1_000_000_000)
    } else {
        json!(ttl_secs)
    };
    let mut d = Data::new();
    d.insert("creation_path".into(), json!(info.creation_path));
    d.insert("creation_time".into(), json!(info.creation_time));
    d.insert("creation_ttl".into(), ttl);
    Ok(Response::with_data(d))
}

/// `sys/wrapping/unwrap`: the wrapped response, once. The body is the stored
/// JSON text as OpenBao returns it; the parsed data, auth and lease are kept
/// next to it for the audit log.
pub async fn handle_unwrap(active: &Active, req: &Request) -> Result<Response, CoreError> {
    let (token, entry, third_party) = named_entry(active, req).await?;
    if third_party {
        use_third_party(active, &token, &entry).await?;
    }
    let read = read_response(active, &entry.hid).await;
    if third_party {
        if let Err(e) = active.tokens.revoke_tree(&entry.hid).await {
            tracing::warn!(error = %e, "revoking a used wrapping token failed");
        }
    }
    let text = read?;
    let parsed: HttpResponse = serde_json::from_str(&text)
        .map_err(|e| CoreError::Internal(format!("error decoding wrapped response: {e}")))?;
    let mut resp = Response {
        data: parsed.data.clone(),
        auth: parsed.auth.as_ref().map(HttpAuth::to_auth),
        lease: (!parsed.lease_id.is_empty()).then(|| LeaseInfo {
            lease_id: parsed.lease_id.clone(),
            lease_duration: parsed.lease_duration,
            renewable: parsed.renewable,
        }),
        warnings: parsed.warnings.clone().unwrap_or_default(),
        ..Default::default()
    };
    let data = parsed.data.unwrap_or_default();
    let special = [HTTP_STATUS_CODE, HTTP_RAW_BODY, HTTP_CONTENT_TYPE]
        .iter()
        .any(|k| data.get(*k).is_some_and(|v| !v.is_null()));
    let raw = if special {
        let status = data
            .get(HTTP_STATUS_CODE)
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(200);
        let content_type = data
            .get(HTTP_CONTENT_TYPE)
            .and_then(Value::as_str)
            .unwrap_or("application/json")
            .to_string();
        let body = match data.get(HTTP_RAW_BODY) {
            Some(Value::String(s)) => base64::engine::general_purpose::STANDARD
                .decode(s)
                .unwrap_or_else(|_| s.clone().into_bytes()),
            _ => Vec::new(),
        };
        if let Ok(inner) = serde_json::from_slice::<HttpResponse>(&body) {
            resp.data = inner.data;
            resp.auth = inner.auth.as_ref().map(HttpAuth::to_auth);
        }
        RawResponse {
            status,
            content_type,
            body,
        }
    } else {
        RawResponse {
            status: 200,
            content_type: "application/json".into(),
            body: text.into_bytes(),
        }
    };
    resp.raw = Some(raw);
    Ok(resp)
}

/// `sys/wrapping/rewrap`: moves a wrapped response into a new wrapping token
/// with the same TTL and creation path; the old token is used up.
pub async fn handle_rewrap(active: &Active, req: &Request) -> Result<Response, CoreError> {
    let (token, entry, third_party) = named_entry(active, req).await?;
    if third_party {
        use_third_party(active, &token, &entry).await?;
    }
    let read = async {
        let info = read_wrapinfo(active, &entry.hid).await?;
        let text = read_response(active, &entry.hid).await?;
        Ok::<_, CoreError>((info, text))
    }
    .await;
    if third_party {
        if let Err(e) = active.tokens.revoke_tree(&entry.hid).await {
            tracing::warn!(error = %e, "revoking a used wrapping token failed");
        }
    }
    let (info, text) = read?;
    let mut ttl = Duration::from_nanos(info.creation_ttl);
    if let Some(r) = req.wrap_ttl {
        ttl = ttl.min(r);
    }
    let display_name = req
        .token
        .as_ref()
        .map(|t| t.display_name.clone())
        .unwrap_or_default();
    let wrap_info = wrap_text(
        active,
        display_name,
        req.path.clone(),
        info.creation_path,
        ttl,
        text,
        None,
    )
    .await?;
    Ok(Response {
        wrap_info: Some(wrap_info),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests;
