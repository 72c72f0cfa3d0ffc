//! Token roles (`auth/token/roles/NAME`), stored under `sys/token/roles/`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::CoreError;
use crate::logical::{Data, StorageView};

use super::fields::{
    go_quote, normalize_cidr, remove_duplicates, sanitize_policies, to_duration_second, Fields,
    TtlLimits,
};

/// A stored token role.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoleEntry {
    pub name: String,
    #[serde(default)]
    pub allowed_policies: Vec<String>,
    #[serde(default)]
    pub disallowed_policies: Vec<String>,
    #[serde(default)]
    pub allowed_policies_glob: Vec<String>,
    #[serde(default)]
    pub disallowed_policies_glob: Vec<String>,
    #[serde(default)]
    pub orphan: bool,
    /// Deprecated `period` (seconds), kept to read back what was written.
    #[serde(default)]
    pub period: u64,
    #[serde(default)]
    pub path_suffix: String,
    #[serde(default)]
    pub renewable: bool,
    /// Deprecated `explicit_max_ttl` (seconds).
    #[serde(default)]
    pub explicit_max_ttl: u64,
    /// Deprecated `bound_cidrs`.
    #[serde(default)]
    pub bound_cidrs: Vec<String>,
    #[serde(default)]
    pub allowed_entity_aliases: Option<Vec<String>>,
    #[serde(default)]
    pub token_bound_cidrs: Vec<String>,
    #[serde(default)]
    pub token_explicit_max_ttl: u64,
    #[serde(default)]
    pub token_no_default_policy: bool,
    #[serde(default)]
    pub token_num_uses: i64,
    #[serde(default)]
    pub token_period: u64,
    /// `service`, `batch`, `default-service` or `default-batch`.
    #[serde(default)]
    pub token_type: String,
}

impl RoleEntry {
    /// The effective values after the upgrade Vault applies on read (the
    /// deprecated fields fill the `token_` ones when those are unset).
    fn upgraded(mut self) -> Self {
        if self.token_type.is_empty() || self.token_type == "default" {
            self.token_type = "default-service".into();
        }
        if self.period > 0 && self.token_period == 0 {
            self.token_period = self.period;
        }
        if self.explicit_max_ttl > 0 && self.token_explicit_max_ttl == 0 {
            self.token_explicit_max_ttl = self.explicit_max_ttl;
        }
        if !self.bound_cidrs.is_empty() && self.token_bound_cidrs.is_empty() {
            self.token_bound_cidrs = self.bound_cidrs.clone();
        }
        self
    }

    /// The `data` of a role read, keys in Vault's (sorted) order.
    pub fn to_data(&self) -> Data {
        let mut m = serde_json::Map::new();
        m.insert(
            "allowed_entity_aliases".into(),
            json!(self.allowed_entity_aliases),
        );
        m.insert("allowed_policies".into(), json!(self.allowed_policies));
        m.insert(
            "allowed_policies_glob".into(),
            json!(self.allowed_policies_glob),
        );
        if !self.bound_cidrs.is_empty() {
            m.insert("bound_cidrs".into(), json!(self.bound_cidrs));
        }
        m.insert(
            "disallowed_policies".into(),
            json!(self.disallowed_policies),
        );
        m.insert(
            "disallowed_policies_glob".into(),
            json!(self.disallowed_policies_glob),
        );
        m.insert("explicit_max_ttl".into(), json!(self.explicit_max_ttl));
        m.insert("name".into(), json!(self.name));
        m.insert("orphan".into(), json!(self.orphan));
        m.insert("path_suffix".into(), json!(self.path_suffix));
        m.insert("period".into(), json!(self.period));
        m.insert("renewable".into(), json!(self.renewable));
        if !self.token_bound_cidrs.is_empty() {
            m.insert("token_bound_cidrs".into(), json!(self.token_bound_cidrs));
        }
        m.insert(
            "token_explicit_max_ttl".into(),
            json!(self.token_explicit_max_ttl),
        );
        m.insert(
            "token_no_default_policy".into(),
            json!(self.token_no_default_policy),
        );
        if self.token_num_uses > 0 {
            m.insert("token_num_uses".into(), json!(self.token_num_uses));
        }
        m.insert("token_period".into(), json!(self.token_period));
        m.insert("token_type".into(), json!(self.token_type));
        m
    }
}

/// `\w(([\w-.]+)?\w)?`: Vault's generic name pattern for role names.
pub fn valid_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let chars: Vec<char> = name.chars().collect();
    match chars.as_slice() {
        [] => false,
        [c] => word(*c),
        [first, middle @ .., last] => {
            word(*first) && word(*last) && middle.iter().all(|c| word(*c) || *c == '-' || *c == '.')
        }
    }
}

/// Whether some substring matches `\w[\w-.]+\w` (Vault checks path suffixes
/// with this unanchored pattern).
fn path_suffix_ok(s: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let allowed = |c: char| word(c) || c == '-' || c == '.';
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !allowed(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && allowed(chars[i]) {
            i += 1;
        }
        let run = &chars[start..i];
        let first = run.iter().position(|c| word(*c));
        let last = run.iter().rposition(|c| word(*c));
        if let (Some(f), Some(l)) = (first, last) {
            if l >= f + 2 {
                return true;
            }
        }
    }
    false
}

fn key(name: &str) -> String {
    format!("roles/{name}")
}

/// Reads a role (upgraded as Vault does on read).
pub async fn load(storage: &StorageView, name: &str) -> Result<Option<RoleEntry>, CoreError> {
    Ok(storage
        .get_json::<RoleEntry>(&key(name))
        .await?
        .map(RoleEntry::upgraded))
}

/// Reads a role as stored (for updates).
async fn load_raw(storage: &StorageView, name: &str) -> Result<Option<RoleEntry>, CoreError> {
    storage.get_json::<RoleEntry>(&key(name)).await
}

/// Names of all roles.
pub async fn list(storage: &StorageView) -> Result<Vec<String>, CoreError> {
    let mut names: Vec<String> = storage
        .list("roles/")
        .await?
        .into_iter()
        .filter(|k| !k.ends_with('/'))
        .collect();
    names.sort();
    Ok(names)
}

/// Deletes a role (no error when missing).
pub async fn delete(storage: &StorageView, name: &str) -> Result<(), CoreError> {
    storage.delete(&key(name)).await
}

/// Whether a role exists.
pub async fn exists(storage: &StorageView, name: &str) -> Result<bool, CoreError> {
    Ok(storage.get(&key(name)).await?.is_some())
}

fn field_dur(f: &Fields<'_>, key: &str) -> Option<u64> {
    f.data
        .get(key)
        .filter(|v| !v.is_null())
        .and_then(|v| to_duration_second(v).ok())
}

fn parse_cidrs(list: &[String]) -> Result<Vec<String>, String> {
    list.iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| normalize_cidr(s))
        .collect()
}

/// Creates or updates a role from a request's data, as Vault's
/// `tokenStoreRoleCreateUpdate`. Returns the warnings.
pub async fn write(
    storage: &StorageView,
    name: &str,
    data: &Data,
    sys: TtlLimits,
) -> Result<Vec<String>, CoreError> {
    let f = Fields::new(data);
    let existing = load_raw(storage, name).await?;
    let create = existing.is_none();
    let mut entry = existing.unwrap_or_else(|| RoleEntry {
        name: name.to_string(),
        ..Default::default()
    });
    if entry.token_type.is_empty() {
        entry.token_type = "default".into();
    }

    if let Some(b) = f.bool_opt("orphan") {
        entry.orphan = b;
    } else if create {
        entry.orphan = false;
    }
    if let Some(b) = f.bool_opt("renewable") {
        entry.renewable = b;
    } else if create {
        entry.renewable = true;
    }
    if f.has("path_suffix") {
        let suffix = f.string("path_suffix");
        if !suffix.is_empty() && !path_suffix_ok(&suffix) {
            return Err(CoreError::invalid(
                "given role path suffix contains invalid characters; must match \\w[\\w-.]+\\w",
            ));
        }
        entry.path_suffix = suffix;
    } else if create {
        entry.path_suffix = String::new();
    }
    if entry.path_suffix.contains("..") {
        return Err(CoreError::invalid(
            "error registering path suffix: path cannot contain parent references",
        ));
    }

    let slice = |k: &str| f.comma_slice_opt(k);
    if let Some(v) = slice("allowed_policies") {
        entry.allowed_policies = sanitize_policies(&v, false);
    } else if create {
        entry.allowed_policies = Vec::new();
    }
    if let Some(v) = slice("disallowed_policies") {
        entry.disallowed_policies = remove_duplicates(&v, true);
    } else if create {
        entry.disallowed_policies = Vec::new();
    }
    if let Some(v) = slice("allowed_policies_glob") {
        entry.allowed_policies_glob = sanitize_policies(&v, false);
    } else if create {
        entry.allowed_policies_glob = Vec::new();
    }
    if let Some(v) = slice("disallowed_policies_glob") {
        entry.disallowed_policies_glob = remove_duplicates(&v, true);
    } else if create {
        entry.disallowed_policies_glob = Vec::new();
    }

    // `token_type` is handled after the other token fields, as in Vault.
    let old_type = entry.token_type.clone();
    let token_type_given = match data.get("token_type") {
        None => None,
        Some(Value::Null) => return Err(CoreError::invalid("Invalid 'token_type' value: null")),
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let type_during_parse = if token_type_given.is_some() {
        "default".to_string()
    } else {
        old_type.clone()
    };

    // tokenutil.ParseTokenFields (the allowed subset).
    let parse_err = |m: String| CoreError::invalid(format!("error parsing role fields: {m}"));
    if let Some(v) = slice("token_bound_cidrs") {
        entry.token_bound_cidrs = parse_cidrs(&v).map_err(parse_err)?;
    }
    if let Some(d) = field_dur(&f, "token_explicit_max_ttl") {
        entry.token_explicit_max_ttl = d;
    }
    if let Some(b) = f.bool_opt("token_no_default_policy") {
        entry.token_no_default_policy = b;
    }
    if let Some(d) = field_dur(&f, "token_period") {
        entry.token_period = d;
    }
    let mut num_uses = entry.token_num_uses;
    if let Some(n) = f.int_opt("token_num_uses") {
        num_uses = n;
    }
    if num_uses < 0 {
        return Err(parse_err("'token_num_uses' cannot be negative".into()));
    }
    if type_during_parse == "batch" || type_during_parse == "default-batch" {
        if entry.token_period != 0 {
            return Err(parse_err(
                "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens".into(),
            ));
        }
        if num_uses != 0 {
            return Err(parse_err(
                "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count"
                    .into(),
            ));
        }
    }

    entry.token_type = if old_type == "default" || old_type.is_empty() {
        "default-service".into()
    } else {
        old_type
    };
    if let Some(t) = token_type_given {
        entry.token_type = match t.as_str() {
            "service" | "batch" | "default-service" | "default-batch" => t,
            other => {
                return Err(CoreError::invalid(format!(
                    "invalid 'token_type' value {}",
                    go_quote(other)
                )))
            }
        };
    }

    let mut warnings = Vec::new();
    if f.has("token_period") {
        if f.has("period") {
            warnings.push("Both 'token_period' and deprecated 'period' value supplied, ignoring the deprecated value".into());
        }
        entry.period = 0;
    } else if let Some(d) = field_dur(&f, "period") {
        entry.period = d;
        entry.token_period = d;
    }

    if f.has("token_bound_cidrs") {
        if f.has("bound_cidrs") {
            warnings.push(
                "Both 'token_bound_cidrs' and deprecated 'bound_cidrs' value supplied, ignoring the deprecated value"
                    .into(),
            );
        }
        entry.bound_cidrs = Vec::new();
    } else if let Some(v) = slice("bound_cidrs") {
        let cidrs = parse_cidrs(&v)
            .map_err(|e| CoreError::invalid(format!("error parsing bound_cidrs: {e}")))?;
        entry.bound_cidrs = cidrs.clone();
        entry.token_bound_cidrs = cidrs;
    }

    let final_explicit;
    if f.has("token_explicit_max_ttl") {
        final_explicit = entry.token_explicit_max_ttl;
        if f.has("explicit_max_ttl") {
            warnings.push(
                "Both 'token_explicit_max_ttl' and deprecated 'explicit_max_ttl' value supplied, ignoring the deprecated value"
                    .into(),
            );
        }
        entry.explicit_max_ttl = 0;
    } else {
        if let Some(d) = field_dur(&f, "explicit_max_ttl") {
            entry.explicit_max_ttl = d;
            entry.token_explicit_max_ttl = d;
        }
        final_explicit = entry.explicit_max_ttl;
    }
    let sys_max = sys.max_ttl.as_secs();
    if final_explicit != 0 && sys_max != 0 && final_explicit > sys_max {
        warnings.push(format!(
            "Given explicit max TTL of {final_explicit} is greater than system/mount allowed value of {sys_max} seconds; until this is fixed attempting to create tokens against this role will result in an error"
        ));
    }

    entry.token_num_uses = num_uses;

    if entry.token_type == "batch" {
        if !entry.orphan {
            return Err(CoreError::invalid(
                "'token_type' cannot be 'batch' when role is set to generate non-orphan tokens",
            ));
        }
        if entry.period != 0 || entry.token_period != 0 {
            return Err(CoreError::invalid(
                "'token_type' cannot be 'batch' when role is set to generate periodic tokens",
            ));
        }
        if entry.renewable {
            return Err(CoreError::invalid(
                "'token_type' cannot be 'batch' when role is set to generate renewable tokens",
            ));
        }
        if entry.explicit_max_ttl != 0 || entry.token_explicit_max_ttl != 0 {
            return Err(CoreError::invalid(
                "'token_type' cannot be 'batch' when role is set to generate tokens with an explicit max TTL",
            ));
        }
    }

    if let Some(v) = slice("allowed_entity_aliases") {
        entry.allowed_entity_aliases = Some(remove_duplicates(&v, true));
    }

    storage.put_json(&key(name), &entry).await?;
    Ok(warnings)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("web"));
        assert!(valid_name("a"));
        assert!(valid_name("a.b-c_d"));
        assert!(!valid_name("-a"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(""));
    }

    #[test]
    fn suffixes() {
        assert!(path_suffix_ok("v1.0"));
        assert!(path_suffix_ok("abc"));
        assert!(!path_suffix_ok("v1"));
        assert!(!path_suffix_ok("!!"));
        assert!(!path_suffix_ok("a/../b"));
        assert!(path_suffix_ok("a..b"));
    }
}
