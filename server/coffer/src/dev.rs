//! `coffer server -dev`: an in-memory core, initialised with one key share,
//! unsealed, with a root token of the caller's choosing and KV v2 mounted at
//! `secret/`, as `bao server -dev` sets itself up.

use std::collections::BTreeMap;
use std::sync::Arc;

use coffer_core::mounts::{MountEntry, TableKind};
use coffer_core::physical::inmem::InmemBackend;
use coffer_core::{Core, CoreConfig, CoreError};
use zeroize::Zeroizing;

/// A ready dev core and its secrets.
pub struct DevCore {
    pub core: Arc<Core>,
    /// The single unseal key, base64 (as `bao server -dev` prints it).
    pub unseal_key: Zeroizing<String>,
    pub root_token: Zeroizing<String>,
}

/// Builds a dev core: init (1 of 1), unseal, root token (with `root_token_id`
/// when given, replacing the generated one), KV v2 at `secret/`.
pub async fn dev_core(
    root_token_id: Option<&str>,
    config: CoreConfig,
) -> Result<DevCore, CoreError> {
    let core = Core::new(Arc::new(InmemBackend::new()), config);
    let init = core
        .init(coffer_core::core::InitRequest {
            secret_shares: 1,
            secret_threshold: 1,
        })
        .await?;
    let unseal_key = Zeroizing::new(init.keys_base64.first().cloned().unwrap_or_default());
    let hex_key = Zeroizing::new(init.keys.first().cloned().unwrap_or_default());
    let generated_root = Zeroizing::new(init.root_token.clone());
    drop(init);
    let status = core.unseal(&hex_key).await?;
    if status.sealed {
        return Err(CoreError::Internal("dev server did not unseal".into()));
    }
    let active = core.active()?;
    let root_token = match root_token_id.filter(|id| !id.is_empty()) {
        Some(id) => {
            let token = active
                .tokens
                .create_root_token_with_id(Some(id.to_string()))
                .await?;
            // As Vault does: the generated root token gives way to the chosen one.
            let hid = active.tokens.hash(&generated_root);
            active.tokens.revoke_tree(&hid).await?;
            token
        }
        None => generated_root,
    };
    let mut kv = MountEntry::new(
        TableKind::Secrets,
        "secret",
        "kv",
        "key/value secret storage",
    );
    kv.options = Some(BTreeMap::from([("version".to_string(), "2".to_string())]));
    active.mount(kv).await?;
    Ok(DevCore {
        core,
        unseal_key,
        root_token,
    })
}

/// The text `bao server -dev` prints once it serves (after the configuration block).
pub fn banner(api_url: &str, unseal_key: &str, root_token: &str) -> String {
    format!(
        "==> Coffer server started! Log data will stream in below:\n\
         \n\
         WARNING! dev mode is enabled! In this mode, Coffer runs entirely in-memory\n\
         and starts unsealed with a single unseal key. The root token is already\n\
         authenticated to the CLI, so you can immediately begin using Coffer.\n\
         \n\
         You may need to set the following environment variables:\n\
         \n\
         \x20   $ export VAULT_ADDR='{api_url}'\n\
         \x20   $ export BAO_ADDR='{api_url}'\n\
         \n\
         The unseal key and root token are displayed below in case you want to\n\
         seal/unseal the Vault or re-authenticate.\n\
         \n\
         Unseal Key: {unseal_key}\n\
         Root Token: {root_token}\n\
         \n\
         Development mode should NOT be used in production installations!\n"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn banner_shape() {
        let b = banner("http://127.0.0.1:8200", "KEY=", "root");
        assert!(b.contains("\n    $ export BAO_ADDR='http://127.0.0.1:8200'\n"));
        assert!(b.contains("\nUnseal Key: KEY=\n"));
        assert!(b.contains("\nRoot Token: root\n"));
        assert!(b.contains("Development mode should NOT be used in production installations!"));
    }
}
