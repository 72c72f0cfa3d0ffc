//! The `token_*` settings every auth method role or user carries (OpenBao's
//! `tokenutil.TokenParams`): parsing with tokenutil's checks and messages,
//! the read-out, the upgrade of the deprecated names, and filling a
//! [`LoginAuth`] from them (`PopulateTokenAuth`).
//!
//! Stored entries embed [`TokenFields`] with `#[serde(flatten)]`, so the
//! fields stay at the top level of the stored JSON.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::CoreError;
use crate::logical::{Data, LoginAuth};
use crate::sys::util::{
    bool_field, comma_list_field, int_field, sanitize_policies, signed_duration_field, string_field,
};

/// The token settings of a role or user. Durations are whole seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenFields {
    #[serde(default)]
    pub token_policies: Vec<String>,
    #[serde(default)]
    pub token_ttl: u64,
    #[serde(default)]
    pub token_max_ttl: u64,
    #[serde(default)]
    pub token_explicit_max_ttl: u64,
    #[serde(default)]
    pub token_period: u64,
    #[serde(default)]
    pub token_num_uses: i64,
    #[serde(default)]
    pub token_no_default_policy: bool,
    #[serde(default)]
    pub token_bound_cidrs: Vec<String>,
    /// `default`, `service` or `batch`.
    #[serde(default = "default_token_type")]
    pub token_type: String,
    #[serde(default)]
    pub token_strictly_bind_ip: bool,
}

impl Default for TokenFields {
    fn default() -> Self {
        TokenFields {
            token_policies: Vec::new(),
            token_ttl: 0,
            token_max_ttl: 0,
            token_explicit_max_ttl: 0,
            token_period: 0,
            token_num_uses: 0,
            token_no_default_policy: false,
            token_bound_cidrs: Vec::new(),
            token_type: default_token_type(),
            token_strictly_bind_ip: false,
        }
    }
}

/// The `token_type` of an entry that never set one.
pub fn default_token_type() -> String {
    "default".into()
}

/// go-sockaddr's address parsing as `parseutil.ParseAddrs` uses it: an IP
/// or a CIDR block; a single-host block is shown as the bare address.
pub fn parse_addrs(list: &[String]) -> Result<Vec<String>, String> {
    list.iter()
        .filter(|s| !s.trim().is_empty())
        .map(|raw| {
            let s = raw.trim();
            let err = || {
                format!(
                    "error parsing address {s:?}: Unable to convert {s:?} to an IPv4 or IPv6 address, or a UNIX Socket"
                )
            };
            let (ip, bits) = match s.split_once('/') {
                Some((ip, bits)) => (ip, Some(bits.parse::<u8>().map_err(|_| err())?)),
                None => (s, None),
            };
            let ip: IpAddr = ip.parse().map_err(|_| err())?;
            let full = if ip.is_ipv4() { 32 } else { 128 };
            match bits {
                Some(b) if b > full => Err(err()),
                Some(b) if b < full => Ok(format!("{ip}/{b}")),
                _ => Ok(ip.to_string()),
            }
        })
        .collect()
}

fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::InvalidRequest(msg.into())
}

fn secs(v: i64, field: &str) -> Result<u64, CoreError> {
    u64::try_from(v).map_err(|_| invalid(format!("'{field}' cannot be negative")))
}

fn has(data: &Data, key: &str) -> bool {
    data.get(key).is_some_and(|v| !v.is_null())
}

impl TokenFields {
    /// tokenutil's `ParseTokenFields`: applies the `token_*` fields present
    /// in `data`, with its checks and messages.
    pub fn parse(&mut self, data: &Data) -> Result<(), CoreError> {
        if let Some(list) = comma_list_field(data, "token_bound_cidrs").map_err(invalid)? {
            self.token_bound_cidrs = parse_addrs(&list).map_err(invalid)?;
        }
        if let Some(v) = signed_duration_field(data, "token_explicit_max_ttl").map_err(invalid)? {
            self.token_explicit_max_ttl = v.max(0) as u64;
        }
        if let Some(v) = signed_duration_field(data, "token_max_ttl").map_err(invalid)? {
            self.token_max_ttl = secs(v, "token_max_ttl")?;
        }
        if let Some(v) = bool_field(data, "token_no_default_policy").map_err(invalid)? {
            self.token_no_default_policy = v;
        }
        if let Some(v) = signed_duration_field(data, "token_period").map_err(invalid)? {
            self.token_period = secs(v, "token_period")?;
        }
        if let Some(v) = comma_list_field(data, "token_policies").map_err(invalid)? {
            // Kept as sent (empty entries included), as tokenutil stores them;
            // tokens get the sanitised list.
            self.token_policies = v;
        }
        if let Some(v) = string_field(data, "token_type").map_err(invalid)? {
            self.token_type = match v.as_str() {
                "" | "default" => "default".into(),
                "service" | "batch" => v,
                _ => return Err(invalid(format!("invalid 'token_type' value {v:?}"))),
            };
        }
        if let Some(v) = int_field(data, "token_num_uses").map_err(invalid)? {
            if v < 0 {
                return Err(invalid("'token_num_uses' cannot be negative"));
            }
            self.token_num_uses = v;
        }
        if self.token_type == "batch" {
            if self.token_period != 0 {
                return Err(invalid(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens",
                ));
            }
            if self.token_num_uses != 0 {
                return Err(invalid(
                    "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count",
                ));
            }
        }
        if let Some(v) = signed_duration_field(data, "token_ttl").map_err(invalid)? {
            self.token_ttl = secs(v, "token_ttl")?;
        }
        if self.token_ttl > 0 && self.token_max_ttl > 0 && self.token_ttl > self.token_max_ttl {
            return Err(invalid(
                "'token_ttl' cannot be greater than 'token_max_ttl'",
            ));
        }
        if let Some(v) = bool_field(data, "token_strictly_bind_ip").map_err(invalid)? {
            self.token_strictly_bind_ip = v;
        }
        if self.token_strictly_bind_ip && !self.token_bound_cidrs.is_empty() {
            return Err(invalid(
                "'token_strictly_bind_ip' conflicts with 'token_bound_cidrs'; set only one",
            ));
        }
        Ok(())
    }

    /// tokenutil's `PopulateTokenData`: the fields as a read shows them.
    pub fn populate(&self, data: &mut BTreeMap<&'static str, Value>) {
        data.insert("token_bound_cidrs", json!(self.token_bound_cidrs));
        data.insert("token_explicit_max_ttl", json!(self.token_explicit_max_ttl));
        data.insert("token_max_ttl", json!(self.token_max_ttl));
        data.insert(
            "token_no_default_policy",
            json!(self.token_no_default_policy),
        );
        data.insert("token_period", json!(self.token_period));
        data.insert("token_policies", json!(self.token_policies));
        data.insert("token_type", json!(self.token_type));
        data.insert("token_ttl", json!(self.token_ttl));
        data.insert("token_num_uses", json!(self.token_num_uses));
        data.insert("token_strictly_bind_ip", json!(self.token_strictly_bind_ip));
    }

    /// tokenutil's `PopulateTokenAuth`: a renewable login with these token
    /// settings; with `token_strictly_bind_ip` the token is bound to the
    /// caller's address. The caller adds metadata, display name and
    /// internal data.
    pub fn login_auth(&self, remote_addr: Option<IpAddr>) -> LoginAuth {
        let some_secs = |s: u64| (s > 0).then(|| Duration::from_secs(s));
        let bound_cidrs = if self.token_strictly_bind_ip {
            remote_addr.map(|a| vec![a.to_string()]).unwrap_or_default()
        } else {
            self.token_bound_cidrs.clone()
        };
        LoginAuth {
            policies: self.token_policies.clone(),
            ttl: some_secs(self.token_ttl),
            max_ttl: some_secs(self.token_max_ttl),
            explicit_max_ttl: some_secs(self.token_explicit_max_ttl),
            period: some_secs(self.token_period),
            num_uses: self.token_num_uses,
            renewable: true,
            token_type: match self.token_type.as_str() {
                "service" | "batch" => Some(self.token_type.clone()),
                _ => None,
            },
            no_default_policy: self.token_no_default_policy,
            bound_cidrs,
            ..Default::default()
        }
    }
}

/// tokenutil's `UpgradeValue` for a deprecated policy list (`policies`)
/// next to its new name: the new name alone clears the old value; the old
/// name alone (parsed as policies) sets both; both set the old to the new.
pub fn upgrade_policies(
    data: &Data,
    old_key: &str,
    new_key: &str,
    old: &mut Vec<String>,
    new: &mut Vec<String>,
) -> Result<(), CoreError> {
    if !has(data, new_key) {
        if let Some(v) = comma_list_field(data, old_key).map_err(invalid)? {
            *old = sanitize_policies(&v);
            *new = old.clone();
        }
    } else if has(data, old_key) {
        *old = new.clone();
    } else {
        old.clear();
    }
    Ok(())
}

/// [`upgrade_policies`] for a deprecated duration (`ttl`, `period`, ...).
pub fn upgrade_duration(
    data: &Data,
    old_key: &str,
    new_key: &str,
    old: &mut u64,
    new: &mut u64,
) -> Result<(), CoreError> {
    if !has(data, new_key) {
        if let Some(v) = signed_duration_field(data, old_key).map_err(invalid)? {
            *old = v.max(0) as u64;
            *new = *old;
        }
    } else if has(data, old_key) {
        *old = *new;
    } else {
        *old = 0;
    }
    Ok(())
}

/// [`upgrade_policies`] for a deprecated address list (`bound_cidrs`).
pub fn upgrade_cidrs(
    data: &Data,
    old_key: &str,
    new_key: &str,
    old: &mut Vec<String>,
    new: &mut Vec<String>,
) -> Result<(), CoreError> {
    if !has(data, new_key) {
        if let Some(v) = comma_list_field(data, old_key).map_err(invalid)? {
            *old = parse_addrs(&v).map_err(invalid)?;
            *new = old.clone();
        }
    } else if has(data, old_key) {
        *old = new.clone();
    } else {
        old.clear();
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn data(v: Value) -> Data {
        match v {
            Value::Object(m) => m,
            _ => Data::new(),
        }
    }

    #[test]
    fn stored_layout_is_flat_and_defaults_apply() {
        #[derive(Serialize, Deserialize)]
        struct Entry {
            name: String,
            #[serde(flatten)]
            token: TokenFields,
        }
        let e: Entry = serde_json::from_value(json!({"name": "x", "token_ttl": 5})).unwrap();
        assert_eq!(e.token.token_ttl, 5);
        assert_eq!(e.token.token_type, "default");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["token_ttl"], 5);
        assert_eq!(v["name"], "x");
        assert!(v.get("token").is_none());
    }

    #[test]
    fn parse_checks_and_keeps_policies_as_sent() {
        let mut t = TokenFields::default();
        t.parse(&data(json!({
            "token_policies": "B,a,,c",
            "token_bound_cidrs": "127.0.0.1/32, 10.0.0.0/8",
            "token_ttl": "1h",
            "token_type": "batch"
        })))
        .unwrap();
        assert_eq!(t.token_policies, ["B", "a", "", "c"]);
        assert_eq!(t.token_bound_cidrs, ["127.0.0.1", "10.0.0.0/8"]);
        assert_eq!(t.token_ttl, 3600);
        let e = t.parse(&data(json!({"token_period": "1h"}))).unwrap_err();
        assert!(e.to_string().contains("periodic tokens"), "{e}");
        let mut t = TokenFields::default();
        let e = t
            .parse(&data(json!({"token_bound_cidrs": "bogus"})))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error parsing address \"bogus\": Unable to convert \"bogus\" to an IPv4 or IPv6 address, or a UNIX Socket"
        );
    }

    #[test]
    fn login_auth_binds_strictly_to_the_caller() {
        let t = TokenFields {
            token_strictly_bind_ip: true,
            token_ttl: 60,
            ..Default::default()
        };
        let a = t.login_auth(Some("10.1.2.3".parse().unwrap()));
        assert_eq!(a.bound_cidrs, ["10.1.2.3"]);
        assert_eq!(a.ttl, Some(Duration::from_secs(60)));
        assert!(a.max_ttl.is_none());
        assert!(a.renewable);
        assert!(a.token_type.is_none());
    }

    #[test]
    fn upgrades_follow_tokenutil() {
        let (mut old, mut new) = (Vec::new(), Vec::new());
        upgrade_policies(
            &data(json!({"policies": "B,a"})),
            "policies",
            "token_policies",
            &mut old,
            &mut new,
        )
        .unwrap();
        assert_eq!(
            (old.clone(), new.clone()),
            (vec!["a".to_string(), "b".to_string()], old.clone())
        );
        upgrade_policies(
            &data(json!({"token_policies": "x"})),
            "policies",
            "token_policies",
            &mut old,
            &mut new,
        )
        .unwrap();
        assert!(old.is_empty());
        let (mut o, mut n) = (0, 7);
        upgrade_duration(
            &data(json!({"period": "1m"})),
            "period",
            "token_period",
            &mut o,
            &mut n,
        )
        .unwrap();
        assert_eq!((o, n), (60, 60));
        upgrade_duration(
            &data(json!({"period": "1m", "token_period": 5})),
            "period",
            "token_period",
            &mut o,
            &mut n,
        )
        .unwrap();
        assert_eq!(o, n);
    }
}
