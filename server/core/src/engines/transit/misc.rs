//! `random/` and `hash/`: no key involved.

use serde_json::json;

use super::crypto::{self, HashAlg};
use super::gocompat;
use super::{bad, sorted, HResult, Input};
use crate::logical::Response;

/// The most bytes `random` hands out at once.
const API_MAX_BYTES: i64 = 128 * 1024;

/// `random.HandleRandomAPI`.
pub(crate) fn random(input: &Input) -> HResult {
    let url_source = input.str_or("source", "");
    let url_bytes = input.str_or("urlbytes", "");
    let valid_source = |s: &str| matches!(s, "" | "platform" | "seal" | "all");
    let parse = |s: &str| {
        gocompat::atoi(s).map_err(|e| bad(format!("error parsing url-set byte count: {e}")))
    };
    let (source, bytes) = if url_source.is_empty() {
        ("platform".to_string(), input.int_or("bytes", 32))
    } else if url_bytes.is_empty() && valid_source(&url_source) {
        (url_source.clone(), input.int_or("bytes", 32))
    } else if url_bytes.is_empty() {
        ("platform".to_string(), parse(&url_source)?)
    } else {
        (url_source.clone(), parse(&url_bytes)?)
    };
    let format = input.str_or("format", "base64");
    if bytes < 1 {
        return Err(bad("'bytes' cannot be less than 1"));
    }
    if bytes > API_MAX_BYTES {
        return Err(bad(format!("'bytes' should be less than {API_MAX_BYTES}")));
    }
    if format != "hex" && format != "base64" {
        return Err(bad(format!(
            "unsupported encoding format {format:?}; must be \"hex\" or \"base64\""
        )));
    }
    let mut warnings = Vec::new();
    match source.as_str() {
        "" | "platform" | "all" => {}
        "seal" => warnings
            .push("no seal/entropy augmentation available, using platform entropy source".into()),
        other => {
            return Err(bad(format!(
                "unsupported entropy source {other:?}; must be \"platform\" or \"seal\", or \"all\""
            )))
        }
    }
    let data = crypto::random_bytes(bytes as usize);
    let text = if format == "hex" {
        hex::encode(data.as_slice())
    } else {
        gocompat::b64(&data)
    };
    let mut resp = Response::with_data(sorted(vec![("random_bytes", json!(text))]));
    resp.warnings = warnings;
    Ok(resp)
}

/// `hash`.
pub(crate) fn hash(input: &Input) -> HResult {
    if !input.has("input") {
        return Err(bad("input missing"));
    }
    let raw = input.str_or("input", "");
    let format = input.str_or("format", "hex");
    let mut algorithm = input.str_or("urlalgorithm", "");
    if algorithm.is_empty() {
        algorithm = input.str_or("algorithm", "sha2-256");
    }
    let data = gocompat::b64_std(&raw)
        .map_err(|e| bad(format!("unable to decode input as base64: {e}")))?;
    if format != "hex" && format != "base64" {
        return Err(bad(format!(
            "unsupported encoding format {format}; must be \"hex\" or \"base64\""
        )));
    }
    let alg = match algorithm.as_str() {
        "sha2-224" | "sha2-256" | "sha2-384" | "sha2-512" | "sha3-224" | "sha3-256"
        | "sha3-384" | "sha3-512" => HashAlg::parse(&algorithm),
        _ => None,
    };
    let Some(sum) = alg.and_then(|a| a.digest(&data)) else {
        return Err(bad(format!("unsupported algorithm {algorithm}")));
    };
    let text = if format == "hex" {
        hex::encode(sum)
    } else {
        gocompat::b64(&sum)
    };
    Ok(Response::with_data(sorted(vec![("sum", json!(text))])))
}
