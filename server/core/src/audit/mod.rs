//! Audit devices: one JSON line for each request and each response, with every
//! string in auth, request data and response data replaced by
//! `hmac-sha256:<hex>` under a per-device salt kept behind the barrier.
//! Devices come from the config file (not removable through the API) or from
//! `PUT sys/audit/NAME` (kept in `core/audit`). With at least one device
//! enabled, a request that no device can record is refused (fail closed).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use parking_lot::{Mutex, RwLock};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::barrier::Barrier;
use crate::error::CoreError;
use crate::logical::{barrier_err, Request, Response};

/// Barrier path of the API-enabled device table.
const AUDIT_TABLE_PATH: &str = "core/audit";

/// A device definition (from config or API).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditDeviceConfig {
    /// The device path without slash (`file`).
    pub name: String,
    /// `file`.
    pub device_type: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub local: bool,
    /// Declared in the config file (cannot be disabled through the API).
    #[serde(default)]
    pub from_config: bool,
}

/// Errors from audit devices.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    Invalid(String),
    #[error("writing audit log: {0}")]
    Io(String),
}

struct FileDevice {
    config: AuditDeviceConfig,
    salt: Zeroizing<Vec<u8>>,
    sink: Mutex<Sink>,
}

enum Sink {
    File(std::fs::File),
    Stdout,
    Discard,
}

impl FileDevice {
    fn open(config: AuditDeviceConfig, salt: Zeroizing<Vec<u8>>) -> Result<Self, AuditError> {
        if config.device_type != "file" {
            return Err(AuditError::Invalid(format!(
                "unknown backend type: {:?}",
                config.device_type
            )));
        }
        let path = config
            .options
            .get("file_path")
            .or_else(|| config.options.get("path"))
            .cloned()
            .ok_or_else(|| AuditError::Invalid("file_path is required".into()))?;
        let sink =
            match path.as_str() {
                "stdout" => Sink::Stdout,
                "discard" => Sink::Discard,
                p => {
                    let mut opts = std::fs::OpenOptions::new();
                    opts.create(true).append(true);
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::OpenOptionsExt;
                        let mode = config
                            .options
                            .get("mode")
                            .and_then(|m| u32::from_str_radix(m, 8).ok())
                            .unwrap_or(0o600);
                        opts.mode(mode);
                    }
                    Sink::File(opts.open(p).map_err(|e| {
                        AuditError::Invalid(format!("opening audit file {p:?}: {e}"))
                    })?)
                }
            };
        Ok(FileDevice {
            config,
            salt,
            sink: Mutex::new(sink),
        })
    }

    fn hmac(&self, s: &str) -> String {
        hmac_with(&self.salt, s)
    }

    fn write_line(&self, v: &Value) -> Result<(), AuditError> {
        let mut line = serde_json::to_vec(v).map_err(|e| AuditError::Io(e.to_string()))?;
        line.push(b'\n');
        let mut sink = self.sink.lock();
        match &mut *sink {
            Sink::File(f) => f
                .write_all(&line)
                .and_then(|_| f.flush())
                .map_err(|e| AuditError::Io(e.to_string())),
            Sink::Stdout => std::io::stdout()
                .write_all(&line)
                .map_err(|e| AuditError::Io(e.to_string())),
            Sink::Discard => Ok(()),
        }
    }

    fn hash_value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.hmac(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.hash_value(x)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), self.hash_value(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// `hmac-sha256:<hex>` of `s` under `salt`.
pub fn hmac_with(salt: &[u8], s: &str) -> String {
    match Hmac::<Sha256>::new_from_slice(salt) {
        Ok(mut mac) => {
            mac.update(s.as_bytes());
            format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => "hmac-sha256:".into(),
    }
}

/// All enabled devices.
pub struct AuditBroker {
    barrier: Arc<Barrier>,
    devices: RwLock<Vec<Arc<FileDevice>>>,
}

impl AuditBroker {
    /// Opens the config devices and the API-enabled ones stored in `core/audit`.
    pub async fn new(
        barrier: Arc<Barrier>,
        config_devices: &[AuditDeviceConfig],
    ) -> Result<Self, CoreError> {
        let broker = AuditBroker {
            barrier,
            devices: RwLock::new(Vec::new()),
        };
        for d in config_devices {
            let mut d = d.clone();
            d.from_config = true;
            broker.open_device(d).await?;
        }
        for d in broker.read_table().await? {
            if broker
                .devices
                .read()
                .iter()
                .any(|x| x.config.name == d.name)
            {
                continue;
            }
            if let Err(e) = broker.open_device(d.clone()).await {
                tracing::error!(device = %d.name, error = %e, "audit device failed to open");
            }
        }
        Ok(broker)
    }

    async fn salt_for(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, CoreError> {
        let path = format!("sys/audit-salt/{name}");
        if let Some(s) = self.barrier.get(&path).await.map_err(barrier_err)? {
            return Ok(s);
        }
        let mut s = Zeroizing::new(vec![0u8; 32]);
        rand::thread_rng().fill(s.as_mut_slice());
        self.barrier.put(&path, &s).await.map_err(barrier_err)?;
        Ok(s)
    }

    async fn open_device(&self, cfg: AuditDeviceConfig) -> Result<(), CoreError> {
        let salt = self.salt_for(&cfg.name).await?;
        let dev = FileDevice::open(cfg, salt).map_err(|e| CoreError::invalid(e.to_string()))?;
        self.devices.write().push(Arc::new(dev));
        Ok(())
    }

    async fn read_table(&self) -> Result<Vec<AuditDeviceConfig>, CoreError> {
        match self
            .barrier
            .get(AUDIT_TABLE_PATH)
            .await
            .map_err(barrier_err)?
        {
            None => Ok(Vec::new()),
            Some(b) => serde_json::from_slice(&b).map_err(|e| CoreError::Internal(e.to_string())),
        }
    }

    async fn write_table(&self) -> Result<(), CoreError> {
        let api: Vec<AuditDeviceConfig> = self
            .devices
            .read()
            .iter()
            .filter(|d| !d.config.from_config)
            .map(|d| d.config.clone())
            .collect();
        let b = serde_json::to_vec(&api).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.barrier
            .put(AUDIT_TABLE_PATH, &b)
            .await
            .map_err(barrier_err)
    }

    /// Enables a device through the API.
    pub async fn enable(&self, mut cfg: AuditDeviceConfig) -> Result<(), CoreError> {
        cfg.from_config = false;
        if self
            .devices
            .read()
            .iter()
            .any(|d| d.config.name == cfg.name)
        {
            return Err(CoreError::invalid(format!(
                "path already in use: {}/",
                cfg.name
            )));
        }
        self.open_device(cfg).await?;
        self.write_table().await
    }

    /// Disables an API-enabled device.
    pub async fn disable(&self, name: &str) -> Result<(), CoreError> {
        let from_config = self
            .devices
            .read()
            .iter()
            .find(|d| d.config.name == name)
            .map(|d| d.config.from_config);
        match from_config {
            None => Ok(()),
            Some(true) => Err(CoreError::invalid(
                "cannot disable configuration-managed audit device",
            )),
            Some(false) => {
                self.devices.write().retain(|d| d.config.name != name);
                self.write_table().await
            }
        }
    }

    /// The enabled devices.
    pub fn list(&self) -> Vec<AuditDeviceConfig> {
        self.devices
            .read()
            .iter()
            .map(|d| d.config.clone())
            .collect()
    }

    /// `sys/audit-hash/NAME`.
    pub fn hash(&self, name: &str, input: &str) -> Result<String, CoreError> {
        let devs = self.devices.read();
        let d = devs
            .iter()
            .find(|d| d.config.name == name)
            .ok_or_else(|| CoreError::invalid(format!("unknown audit backend \"{name}/\"")))?;
        Ok(d.hmac(input))
    }

    fn now() -> String {
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    }

    fn auth_json(dev: &FileDevice, req: &Request) -> Value {
        match &req.token {
            None => json!({"token_type": "default"}),
            Some(t) => {
                let mut m = Map::new();
                if let Some(tok) = &req.client_token {
                    m.insert("client_token".into(), json!(dev.hmac(tok)));
                }
                if !t.accessor.is_empty() {
                    m.insert("accessor".into(), json!(dev.hmac(&t.accessor)));
                }
                m.insert("display_name".into(), json!(t.display_name));
                m.insert("policies".into(), json!(t.policies));
                m.insert("token_policies".into(), json!(t.policies));
                if let Some(meta) = &t.meta {
                    m.insert("metadata".into(), dev.hash_value(&json!(meta)));
                }
                if !t.entity_id.is_empty() {
                    m.insert("entity_id".into(), json!(t.entity_id));
                }
                m.insert("token_type".into(), json!(t.token_type));
                if t.creation_ttl > 0 {
                    m.insert("token_ttl".into(), json!(t.creation_ttl));
                }
                m.insert("token_issue_time".into(), json!(t.issue_time));
                Value::Object(m)
            }
        }
    }

    fn request_json(dev: &FileDevice, req: &Request) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(req.id));
        m.insert("operation".into(), json!(req.operation.as_str()));
        if !req.mount_point.is_empty() {
            m.insert("mount_point".into(), json!(req.mount_point));
        }
        if let Some(tok) = &req.client_token {
            m.insert("client_token".into(), json!(dev.hmac(tok)));
        }
        if let Some(t) = &req.token {
            if !t.accessor.is_empty() {
                m.insert("client_token_accessor".into(), json!(dev.hmac(&t.accessor)));
            }
        }
        m.insert("namespace".into(), json!({"id": "root"}));
        m.insert("path".into(), json!(req.path));
        if !req.data.is_empty() {
            m.insert(
                "data".into(),
                dev.hash_value(&Value::Object(req.data.clone())),
            );
        }
        if let Some(a) = req.remote_addr {
            m.insert("remote_address".into(), json!(a.to_string()));
        }
        if let Some(ttl) = req.wrap_ttl {
            m.insert("wrap_ttl".into(), json!(ttl.as_secs()));
        }
        Value::Object(m)
    }

    /// A response's `wrap_info` as OpenBao audits it: the token, its accessor
    /// and a wrapped accessor HMAC'd, the rest in clear.
    fn wrap_info_json(dev: &FileDevice, w: &Value) -> Value {
        let mut out = Map::new();
        if let Value::Object(m) = w {
            for (k, v) in m {
                let hashed = matches!(k.as_str(), "token" | "accessor" | "wrapped_accessor");
                match v {
                    Value::String(s) if hashed => {
                        out.insert(k.clone(), json!(dev.hmac(s)));
                    }
                    other => {
                        out.insert(k.clone(), other.clone());
                    }
                }
            }
        }
        Value::Object(out)
    }

    /// Writes `line(dev)` to every device; fails when devices exist and none wrote.
    fn emit(&self, line: impl Fn(&FileDevice) -> Value) -> Result<(), CoreError> {
        let devs = self.devices.read().clone();
        if devs.is_empty() {
            return Ok(());
        }
        let mut ok = false;
        for d in &devs {
            match d.write_line(&line(d)) {
                Ok(()) => ok = true,
                Err(e) => {
                    tracing::error!(device = %d.config.name, error = %e, "audit device failed")
                }
            }
        }
        if ok {
            Ok(())
        } else {
            Err(CoreError::AuditFailed)
        }
    }

    /// Records an incoming request; an error refuses the request.
    pub async fn log_request(&self, req: &Request) -> Result<(), CoreError> {
        self.emit(|d| {
            json!({
                "time": Self::now(),
                "type": "request",
                "auth": Self::auth_json(d, req),
                "request": Self::request_json(d, req),
            })
        })
    }

    /// Records a request the ACL denied (request and error response).
    pub async fn log_denied(&self, req: &Request) -> Result<(), CoreError> {
        self.log_request(req).await?;
        self.log_error(req, &CoreError::PermissionDenied).await
    }

    /// Records a failed request's response.
    pub async fn log_error(&self, req: &Request, err: &CoreError) -> Result<(), CoreError> {
        let msg = err.to_string();
        self.emit(|d| {
            json!({
                "time": Self::now(),
                "type": "response",
                "auth": Self::auth_json(d, req),
                "request": Self::request_json(d, req),
                "response": {},
                "error": msg,
            })
        })
    }

    /// Records a response; an error means the client must not get it.
    pub async fn log_response(&self, req: &Request, resp: &Response) -> Result<(), CoreError> {
        self.emit(|d| {
            let mut r = Map::new();
            if !req.mount_point.is_empty() {
                r.insert("mount_point".into(), json!(req.mount_point));
            }
            if let Some(data) = &resp.data {
                r.insert("data".into(), d.hash_value(&Value::Object(data.clone())));
            }
            if let Some(a) = &resp.auth {
                let mut am = Map::new();
                am.insert("client_token".into(), json!(d.hmac(&a.client_token)));
                if !a.accessor.is_empty() {
                    am.insert("accessor".into(), json!(d.hmac(&a.accessor)));
                }
                am.insert("policies".into(), json!(a.policies));
                am.insert("token_policies".into(), json!(a.token_policies));
                if let Some(meta) = &a.metadata {
                    am.insert("metadata".into(), d.hash_value(&json!(meta)));
                }
                am.insert("token_type".into(), json!(a.token_type));
                am.insert("token_ttl".into(), json!(a.lease_duration));
                r.insert("auth".into(), Value::Object(am));
            }
            if let Some(l) = resp.lease.as_ref().filter(|l| !l.lease_id.is_empty()) {
                r.insert("secret".into(), json!({"lease_id": l.lease_id}));
            }
            if let Some(w) = &resp.wrap_info {
                r.insert("wrap_info".into(), Self::wrap_info_json(d, w));
            }
            json!({
                "time": Self::now(),
                "type": "response",
                "auth": Self::auth_json(d, req),
                "request": Self::request_json(d, req),
                "response": Value::Object(r),
            })
        })
    }
}
