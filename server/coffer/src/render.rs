//! Rendering of answers: the response envelope, error bodies and their status
//! codes, and the headers every response carries. Bodies are compact JSON with
//! a trailing newline, as Go's `json.Encoder` writes them.

use bytes::Bytes;
use coffer_core::error::multierror;
use coffer_core::logical::Response;
use coffer_core::CoreError;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

/// What the HTTP layer sends back.
pub type HttpResponse = http::Response<Bytes>;

/// The JSON media type of every Vault answer.
pub const APPLICATION_JSON: &str = "application/json";

/// The status code and reason phrase for a numeric code. Go writes
/// `status code N` for codes it has no text for, and a few texts differ from
/// hyper's; the reason phrase is set through hyper's extension.
pub fn status(code: u16) -> (StatusCode, Option<hyper::ext::ReasonPhrase>) {
    let sc = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let go_text: Option<String> = match sc.as_u16() {
        413 => Some("Request Entity Too Large".into()),
        416 => Some("Requested Range Not Satisfiable".into()),
        n if sc.canonical_reason().is_none() => Some(format!("status code {n}")),
        _ => None,
    };
    let reason = go_text.and_then(|t| hyper::ext::ReasonPhrase::try_from(t).ok());
    (sc, reason)
}

/// A response with `body` (no headers yet but the status line).
pub fn with_body(code: u16, content_type: &str, body: Vec<u8>) -> HttpResponse {
    let (sc, reason) = status(code);
    let mut resp = http::Response::new(Bytes::from(body));
    *resp.status_mut() = sc;
    if let Some(r) = reason {
        resp.extensions_mut().insert(r);
    }
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(CONTENT_TYPE, v);
    }
    resp
}

/// A JSON response; the body ends with a newline.
pub fn json<T: Serialize + ?Sized>(code: u16, body: &T) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            with_body(code, APPLICATION_JSON, bytes)
        }
        Err(e) => {
            tracing::error!(error = %e, "failed to encode a response");
            errors(500, &["internal error".to_string()])
        }
    }
}

/// `{"errors":[...]}` with `code`.
pub fn errors(code: u16, messages: &[String]) -> HttpResponse {
    #[derive(Serialize)]
    struct Errors<'a> {
        errors: &'a [String],
    }
    json(code, &Errors { errors: messages })
}

/// A response without a body (204 and friends).
pub fn empty(code: u16) -> HttpResponse {
    with_body(code, APPLICATION_JSON, Vec::new())
}

/// How a permission denial is worded: Vault answers a missing or invalid token
/// with plain `permission denied`, and an ACL denial of a valid token with
/// the multi-error form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialForm {
    Plain,
    Multi,
}

/// The status code and `errors` of a core error.
pub fn error_parts(e: &CoreError, denial: DenialForm) -> (u16, Vec<String>) {
    match e {
        CoreError::Sealed => (503, vec!["Vault is sealed".into()]),
        CoreError::NotInitialized => (400, vec!["Vault is not initialized".into()]),
        CoreError::AlreadyInitialized => (400, vec!["Vault is already initialized".into()]),
        CoreError::PermissionDenied => match denial {
            DenialForm::Plain => (403, vec!["permission denied".into()]),
            DenialForm::Multi => (403, vec![multierror(&["permission denied"])]),
        },
        CoreError::Forbidden(m) => (403, vec![m.clone()]),
        CoreError::NotFound => (404, vec![]),
        CoreError::NoRoute(_) => (404, vec![e.to_string()]),
        CoreError::UnsupportedPath => (404, vec![multierror(&["unsupported path"])]),
        CoreError::UnsupportedOperation => (405, vec![multierror(&["unsupported operation"])]),
        CoreError::InvalidRequest(m) => (400, vec![m.clone()]),
        CoreError::InvalidRequestMulti(m) => (400, vec![multierror(&[m.as_str()])]),
        CoreError::UnsupportedMediaType(m) => (415, vec![m.clone()]),
        CoreError::AuditFailed
        | CoreError::Physical(_)
        | CoreError::Barrier(_)
        | CoreError::Internal(_) => {
            // The details go to the server log only.
            tracing::error!(error = %e, "request failed");
            (500, vec!["internal error".into()])
        }
    }
}

/// The error response for a core error.
pub fn core_error(e: &CoreError, denial: DenialForm) -> HttpResponse {
    let (code, msgs) = error_parts(e, denial);
    errors(code, &msgs)
}

/// The envelope of a logical response, in Vault's field order:
/// (top-level copies of `data`), `request_id`, `lease_id`, `renewable`,
/// `lease_duration`, `data`, `wrap_info`, `warnings`, `auth`.
pub fn envelope(request_id: &str, resp: &Response) -> Map<String, Value> {
    let mut m = Map::new();
    if resp.top_level_data {
        if let Some(data) = &resp.data {
            for (k, v) in data {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    // A wrapped response is a new response: OpenBao leaves its request id empty.
    let rid = if resp.wrap_info.is_some() {
        ""
    } else {
        request_id
    };
    m.insert("request_id".into(), Value::String(rid.to_string()));
    let (lease_id, renewable, lease_duration) = match &resp.lease {
        Some(l) => (l.lease_id.clone(), l.renewable, l.lease_duration),
        None => (String::new(), false, 0),
    };
    m.insert("lease_id".into(), Value::String(lease_id));
    m.insert("renewable".into(), Value::Bool(renewable));
    m.insert("lease_duration".into(), Value::from(lease_duration));
    m.insert(
        "data".into(),
        resp.data.clone().map(Value::Object).unwrap_or(Value::Null),
    );
    m.insert(
        "wrap_info".into(),
        resp.wrap_info.clone().unwrap_or(Value::Null),
    );
    m.insert(
        "warnings".into(),
        if resp.warnings.is_empty() {
            Value::Null
        } else {
            Value::Array(resp.warnings.iter().cloned().map(Value::String).collect())
        },
    );
    let auth = match &resp.auth {
        Some(a) => serde_json::to_value(a).unwrap_or(Value::Null),
        None => Value::Null,
    };
    m.insert("auth".into(), auth);
    m
}

/// The HTTP answer for a successful logical response: a bare body for `raw`,
/// 204 for an empty response, the envelope otherwise (with `status` when set).
pub fn logical(request_id: &str, resp: &Response) -> HttpResponse {
    if let Some(raw) = &resp.raw {
        return with_body(raw.status, &raw.content_type, raw.body.clone());
    }
    if resp.is_empty() && resp.status.is_none() {
        return empty(204);
    }
    let code = resp.status.unwrap_or(200);
    if code == 204 {
        return empty(204);
    }
    let env = Value::Object(envelope(request_id, resp));
    if resp.status.is_some() {
        // Vault turns an envelope with its own status code into a raw body
        // (`RespondWithStatusCode`): encoded without the trailing newline.
        return match serde_json::to_vec(&env) {
            Ok(bytes) => with_body(code, APPLICATION_JSON, bytes),
            Err(e) => {
                tracing::error!(error = %e, "failed to encode a response");
                errors(500, &["internal error".to_string()])
            }
        };
    }
    json(code, &env)
}

/// Adds the headers every response carries: `Cache-Control: no-store`, a
/// Content-Type, and the HSTS header OpenBao sends by default.
pub fn finish(mut resp: HttpResponse) -> HttpResponse {
    // Cache-Control first, then Content-Type, as OpenBao orders them.
    let mut headers = http::HeaderMap::with_capacity(resp.headers().len() + 3);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let content_type = resp
        .headers_mut()
        .remove(CONTENT_TYPE)
        .unwrap_or_else(|| HeaderValue::from_static(APPLICATION_JSON));
    headers.insert(CONTENT_TYPE, content_type);
    headers.insert(
        http::header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    let mut last: Option<http::HeaderName> = None;
    for (name, value) in resp.headers_mut().drain() {
        if name.is_some() {
            last = name;
        }
        if let Some(n) = &last {
            headers.append(n.clone(), value);
        }
    }
    *resp.headers_mut() = headers;
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use coffer_core::logical::{Auth, LeaseInfo, RawResponse};
    use serde_json::json;

    fn body(r: &HttpResponse) -> String {
        String::from_utf8(r.body().to_vec()).unwrap()
    }

    fn keys(m: &Map<String, Value>) -> Vec<&str> {
        m.keys().map(|k| k.as_str()).collect()
    }

    #[test]
    fn envelope_order_and_defaults() {
        let resp = Response::json(json!({"b": 1, "a": 2}));
        let m = envelope("rid", &resp);
        assert_eq!(
            keys(&m),
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
        let r = logical("rid", &resp);
        assert_eq!(r.status(), 200);
        assert_eq!(
            body(&r),
            "{\"request_id\":\"rid\",\"lease_id\":\"\",\"renewable\":false,\"lease_duration\":0,\
             \"data\":{\"b\":1,\"a\":2},\"wrap_info\":null,\"warnings\":null,\"auth\":null}\n"
        );
    }

    #[test]
    fn envelope_top_level_data_comes_first() {
        let mut resp = Response::json(json!({"secret/": {"type": "kv"}, "sys/": {}}));
        resp.top_level_data = true;
        let m = envelope("rid", &resp);
        assert_eq!(
            keys(&m),
            [
                "secret/",
                "sys/",
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
    }

    #[test]
    fn envelope_lease_warnings_auth_wrap() {
        let mut resp = Response::json(json!({"x": 1}));
        resp.lease = Some(LeaseInfo {
            lease_id: "l/1".into(),
            lease_duration: 60,
            renewable: true,
        });
        resp.warnings = vec!["w".into()];
        resp.auth = Some(Auth {
            client_token: "t".into(),
            token_type: "service".into(),
            ..Default::default()
        });
        let m = envelope("rid", &resp);
        assert_eq!(m["lease_id"], "l/1");
        assert_eq!(m["renewable"], true);
        assert_eq!(m["lease_duration"], 60);
        assert_eq!(m["warnings"], json!(["w"]));
        assert_eq!(m["auth"]["client_token"], "t");
        assert_eq!(m["auth"]["mfa_requirement"], Value::Null);

        let wrapped = Response {
            wrap_info: Some(json!({"token": "w"})),
            ..Default::default()
        };
        let m = envelope("rid", &wrapped);
        assert_eq!(m["request_id"], "");
        assert_eq!(m["data"], Value::Null);
        assert_eq!(m["wrap_info"]["token"], "w");
    }

    #[test]
    fn empty_status_and_raw() {
        let r = logical("rid", &Response::empty());
        assert_eq!(r.status(), 204);
        assert!(r.body().is_empty());

        let mut resp = Response::json(json!({"data": null}));
        resp.status = Some(404);
        let r = logical("rid", &resp);
        assert_eq!(r.status(), 404);
        assert!(body(&r).starts_with("{\"request_id\":\"rid\""));
        assert!(body(&r).ends_with("\"auth\":null}"), "no trailing newline");

        let resp = Response {
            raw: Some(RawResponse {
                status: 200,
                content_type: "application/pkix-cert".into(),
                body: vec![1, 2, 3],
            }),
            ..Default::default()
        };
        let r = logical("rid", &resp);
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/pkix-cert");
        assert_eq!(r.body().as_ref(), &[1, 2, 3]);
    }

    #[test]
    fn error_mapping() {
        let cases: Vec<(CoreError, u16, Vec<String>)> = vec![
            (CoreError::Sealed, 503, vec!["Vault is sealed".into()]),
            (
                CoreError::PermissionDenied,
                403,
                vec!["permission denied".into()],
            ),
            (CoreError::NotFound, 404, vec![]),
            (
                CoreError::NoRoute("nosuchmount/foo".into()),
                404,
                vec!["no handler for route \"nosuchmount/foo\". route entry not found.".into()],
            ),
            (
                CoreError::UnsupportedPath,
                404,
                vec!["1 error occurred:\n\t* unsupported path\n\n".into()],
            ),
            (
                CoreError::UnsupportedOperation,
                405,
                vec!["1 error occurred:\n\t* unsupported operation\n\n".into()],
            ),
            (CoreError::invalid("bad"), 400, vec!["bad".into()]),
            (
                CoreError::bad("bad"),
                400,
                vec!["1 error occurred:\n\t* bad\n\n".into()],
            ),
            (
                CoreError::UnsupportedMediaType("m".into()),
                415,
                vec!["m".into()],
            ),
            (
                CoreError::Forbidden("nope".into()),
                403,
                vec!["nope".into()],
            ),
            (
                CoreError::AlreadyInitialized,
                400,
                vec!["Vault is already initialized".into()],
            ),
            (CoreError::AuditFailed, 500, vec!["internal error".into()]),
            (
                CoreError::Internal("secret detail".into()),
                500,
                vec!["internal error".into()],
            ),
            (
                CoreError::Barrier("x".into()),
                500,
                vec!["internal error".into()],
            ),
        ];
        for (e, code, msgs) in cases {
            assert_eq!(error_parts(&e, DenialForm::Plain), (code, msgs), "{e:?}");
        }
        assert_eq!(
            error_parts(&CoreError::PermissionDenied, DenialForm::Multi),
            (
                403,
                vec!["1 error occurred:\n\t* permission denied\n\n".to_string()]
            )
        );
        let r = core_error(&CoreError::PermissionDenied, DenialForm::Multi);
        assert_eq!(
            body(&r),
            "{\"errors\":[\"1 error occurred:\\n\\t* permission denied\\n\\n\"]}\n"
        );
        assert_eq!(body(&r).len(), 60);
        assert_eq!(body(&errors(404, &[])), "{\"errors\":[]}\n");
    }

    #[test]
    fn status_lines() {
        let (sc, reason) = status(299);
        assert_eq!(sc.as_u16(), 299);
        assert_eq!(reason.unwrap().as_bytes(), b"status code 299");
        let (_, reason) = status(413);
        assert_eq!(reason.unwrap().as_bytes(), b"Request Entity Too Large");
        let (_, reason) = status(200);
        assert!(reason.is_none());
        let (_, reason) = status(429);
        assert!(reason.is_none());
    }

    #[test]
    fn common_headers() {
        let r = finish(empty(204));
        assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        let r = finish(with_body(200, "text/plain", b"x".to_vec()));
        assert_eq!(r.headers()[CONTENT_TYPE], "text/plain");
    }
}
