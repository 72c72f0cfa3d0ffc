//! Seal and keyring operations: `sys/seal`, `sys/step-down`,
//! `sys/key-status`, `sys/rotate` and `sys/rotate/config`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::util::{bool_field, duration_field, format_go_duration, int_field};
use crate::error::CoreError;
use crate::logical::{barrier_err, Ctx, Operation, Request, Response};

/// Where the rotation settings live in the system backend's storage.
const ROTATE_CONFIG_KEY: &str = "rotate-config";
/// OpenBao's bounds on automatic rotation.
const MAX_OPERATIONS_MAX: i64 = 3_865_470_566;
const MAX_OPERATIONS_MIN: i64 = 1_000_000;
const MIN_ROTATION_INTERVAL_SECS: u64 = 24 * 3600;

fn update_only(req: &Request) -> Result<(), CoreError> {
    if matches!(req.operation, Operation::Update | Operation::Create) {
        Ok(())
    } else {
        Err(CoreError::UnsupportedOperation)
    }
}

/// `PUT sys/seal` (sudo): seals the server.
pub async fn handle_seal(ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
    update_only(req)?;
    let core = ctx
        .core
        .core()
        .ok_or_else(|| CoreError::Internal("the core is shutting down".into()))?;
    core.seal().await?;
    Ok(Response::empty())
}

/// `PUT sys/step-down` (sudo): a single active node has nobody to hand over to.
pub async fn handle_step_down(req: &Request) -> Result<Response, CoreError> {
    update_only(req)?;
    Ok(Response::empty())
}

/// `GET sys/key-status`: the active keyring term.
pub async fn handle_key_status(ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
    if req.operation != Operation::Read {
        return Err(CoreError::UnsupportedOperation);
    }
    let status = ctx.core.barrier.key_status().map_err(barrier_err)?;
    // OpenBao writes RFC 3339 with nanoseconds in UTC (`...Z`).
    let install_time = chrono::DateTime::parse_from_rfc3339(&status.install_time)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        })
        .unwrap_or(status.install_time);
    Ok(Response::json(json!({
        // Coffer does not count encryptions per term.
        "encryptions": 0,
        "install_time": install_time,
        "term": status.term,
    })))
}

/// `PUT sys/rotate` (sudo): adds a keyring term for new writes.
pub async fn handle_rotate(ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
    update_only(req)?;
    match ctx.core.core() {
        Some(core) => core.rotate().await?,
        None => ctx.core.barrier.rotate().await.map_err(barrier_err)?,
    };
    Ok(Response::empty())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RotateConfig {
    max_operations: i64,
    /// Seconds; 0 is no time-based rotation.
    interval: u64,
    enabled: bool,
}

impl Default for RotateConfig {
    fn default() -> Self {
        RotateConfig {
            max_operations: MAX_OPERATIONS_MAX,
            interval: 0,
            enabled: true,
        }
    }
}

/// `sys/rotate/config`: automatic rotation settings (kept, not acted on).
pub async fn handle_rotate_config(ctx: &Ctx<'_>, req: &Request) -> Result<Response, CoreError> {
    let mut cfg = ctx
        .storage
        .get_json::<RotateConfig>(ROTATE_CONFIG_KEY)
        .await?
        .unwrap_or_default();
    match req.operation {
        Operation::Read => Ok(Response::json(json!({
            "enabled": cfg.enabled,
            "interval": if cfg.interval > 0 { json!(format_go_duration(cfg.interval)) } else { json!(0) },
            "max_operations": cfg.max_operations,
        }))),
        Operation::Update | Operation::Create => {
            let field_err = |e: String| CoreError::invalid(format!("Field validation failed: {e}"));
            if let Some(v) = int_field(&req.data, "max_operations").map_err(field_err)? {
                cfg.max_operations = v;
            }
            if let Some(v) = duration_field(&req.data, "interval").map_err(field_err)? {
                cfg.interval = v;
            }
            if let Some(v) = bool_field(&req.data, "enabled").map_err(field_err)? {
                cfg.enabled = v;
            }
            if cfg.interval != 0 && cfg.interval < MIN_ROTATION_INTERVAL_SECS {
                return Err(CoreError::invalid(format!(
                    "interval must be greater or equal to {}",
                    format_go_duration(MIN_ROTATION_INTERVAL_SECS)
                )));
            }
            if !(MAX_OPERATIONS_MIN..=MAX_OPERATIONS_MAX).contains(&cfg.max_operations) {
                return Err(CoreError::invalid(format!(
                    "max_operations must be in the range [{MAX_OPERATIONS_MIN},{MAX_OPERATIONS_MAX}]"
                )));
            }
            ctx.storage.put_json(ROTATE_CONFIG_KEY, &cfg).await?;
            Ok(Response::empty())
        }
        _ => Err(CoreError::UnsupportedOperation),
    }
}
