//! PLACEHOLDER: being written.
use async_trait::async_trait;
use crate::error::CoreError;
use crate::logical::{Backend, Ctx, Request, Response};

/// Placeholder backend.
pub struct KvV2;

#[async_trait]
impl Backend for KvV2 {
    async fn handle(&self, _ctx: &Ctx<'_>, _req: &Request) -> Result<Response, CoreError> {
        Err(CoreError::UnsupportedPath)
    }
}
