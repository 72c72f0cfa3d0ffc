//! `sys/wrapping/{wrap,lookup,unwrap,rewrap}` over [`crate::wrapping`]. The
//! wrapping token of lookup, unwrap and rewrap was already checked by the
//! pipeline ([`crate::wrapping::validate`]); `lookup` needs no token.

use crate::error::CoreError;
use crate::logical::{Ctx, Operation, Request, Response};
use crate::wrapping;

/// The declared fields of lookup, unwrap and rewrap.
const TOKEN_FIELD: &[&str] = &["token"];

fn update_only(req: &Request) -> Result<(), CoreError> {
    if matches!(req.operation, Operation::Update | Operation::Create) {
        Ok(())
    } else {
        Err(CoreError::UnsupportedOperation)
    }
}

/// Dispatches `sys/wrapping/...` (`rest` is the part after `wrapping/`).
pub async fn handle(ctx: &Ctx<'_>, req: &Request, rest: &str) -> Result<Response, CoreError> {
    let mut resp = match rest {
        "wrap" => {
            update_only(req)?;
            // Takes arbitrary input: no parameter warnings.
            return wrapping::handle_wrap(req);
        }
        "lookup" => {
            if !matches!(
                req.operation,
                Operation::Update | Operation::Create | Operation::Read
            ) {
                return Err(CoreError::UnsupportedOperation);
            }
            wrapping::handle_lookup(ctx.core, req).await?
        }
        "unwrap" => {
            update_only(req)?;
            return wrapping::handle_unwrap(ctx.core, req).await;
        }
        "rewrap" => {
            update_only(req)?;
            wrapping::handle_rewrap(ctx.core, req).await?
        }
        _ => return Err(CoreError::UnsupportedPath),
    };
    crate::engines::kvutil::add_parameter_warnings(&mut resp, req, TOKEN_FIELD);
    Ok(resp)
}
