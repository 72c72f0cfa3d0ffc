//! Policy text to [`Policy`]: OpenBao's `ParseACLPolicy` and `parsePaths`,
//! including the Go HCL decoder's type rules for each field.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::goparse::{self, GoAny};
use crate::hcl1::{self, Item, Lit, Node};
use crate::{Capability, PolicyError};

/// Allowed or denied values per (lower-cased) parameter name. An empty list
/// means "any value".
pub type ParameterValues = BTreeMap<String, Vec<Value>>;

/// A parsed ACL policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    /// The text the policy was parsed from.
    pub raw: String,
    /// One entry per (unexpired) `path` block, in text order.
    pub rules: Vec<PathRule>,
}

/// One `path "..." { ... }` block.
#[derive(Debug, Clone, PartialEq)]
pub struct PathRule {
    /// The pattern with any leading `/` removed, as written otherwise
    /// (a trailing `*` is kept).
    pub path: String,
    /// Granted capabilities after mapping the `policy = "..."` shorthand, in
    /// text order; exactly `[Deny]` when `deny` is present.
    pub capabilities: Vec<Capability>,
    /// `allowed_parameters`, keys lower-cased; `None` when absent.
    pub allowed_parameters: Option<ParameterValues>,
    /// `denied_parameters`, keys lower-cased; `None` when absent.
    pub denied_parameters: Option<ParameterValues>,
    /// `required_parameters`.
    pub required_parameters: Vec<String>,
    /// `min_wrapping_ttl` (`None` when absent or not positive).
    pub min_wrapping_ttl: Option<Duration>,
    /// `max_wrapping_ttl` (`None` when absent or not positive).
    pub max_wrapping_ttl: Option<Duration>,
    /// `mfa_methods`.
    pub mfa_methods: Vec<String>,
    /// `pagination_limit` (OpenBao); 0 when absent.
    pub pagination_limit: i64,
    /// `list_scan_response_keys_filter_path` (OpenBao), kept verbatim.
    pub list_scan_response_keys_filter_path: Option<String>,
    /// `expiration` as Unix seconds; the rule is ignored from then on.
    pub expiration: Option<i64>,
    /// `control_group`, parsed but not enforced.
    pub control_group: Option<ControlGroup>,
    pub(crate) bits: u16,
    pub(crate) min_wrap_ns: i64,
    pub(crate) max_wrap_ns: i64,
}

/// A parsed `control_group` stanza (not enforced by Coffer).
#[derive(Debug, Clone, PartialEq)]
pub struct ControlGroup {
    pub ttl: Duration,
    pub self_auth_allowed: bool,
    pub factors: Vec<ControlGroupFactor>,
}

/// One `factor "name" { ... }` of a control group.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlGroupFactor {
    pub name: String,
    pub controlled_capabilities: Vec<String>,
    pub group_names: Vec<String>,
    pub approvals: i64,
}

impl PathRule {
    /// Whether the pattern ends in `*` and has no `+` segment (a plain
    /// prefix match).
    pub fn is_prefix(&self) -> bool {
        !self.has_segment_wildcards() && self.path.ends_with('*')
    }

    /// Whether the pattern has a `+` segment (Vault's test: the pattern is
    /// `+`, starts with `+/` or contains `/+`).
    pub fn has_segment_wildcards(&self) -> bool {
        has_segment_wildcards(&self.path)
    }

    pub(crate) fn is_expired_at(&self, now: i64) -> bool {
        self.expiration.is_some_and(|e| now > e)
    }
}

pub(crate) fn has_segment_wildcards(path: &str) -> bool {
    path == "+" || path.contains("/+") || path.starts_with("+/")
}

pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Vault's `logical.Operation` names, valid in `controlled_capabilities`.
const OPERATION_NAMES: &[&str] = &[
    "create",
    "read",
    "update",
    "patch",
    "delete",
    "list",
    "scan",
    "help",
    "alias-lookahead",
    "resolve-role",
    "header",
    "revoke",
    "renew",
    "rollback",
];

/// Keys allowed inside a `path` block.
const PATH_KEYS: &[&str] = &[
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "pagination_limit",
    "expiration",
    "list_scan_response_keys_filter_path",
    "control_group",
];

impl Policy {
    /// Parses HCL1 or JSON policy text (JSON when the text starts with `{`).
    pub fn parse(name: &str, text: &str) -> Result<Policy, PolicyError> {
        if text.is_empty() {
            return Err(PolicyError::Empty);
        }
        let items = hcl1::parse(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;

        // Only `name` and `path` at the top level (case-sensitive).
        for item in &items {
            let key = item.keys.first().map_or("", |k| k.text.as_str());
            if key != "name" && key != "path" {
                return Err(PolicyError::InvalidKey {
                    key: key.to_string(),
                    line: item.line,
                });
            }
        }
        // `name` must decode as a string even though the argument wins.
        for (rest, item) in hcl1::filter(&items, "name") {
            if !rest.is_empty() {
                return Err(PolicyError::Syntax(
                    "root.name: unknown type for string *ast.ObjectList".to_string(),
                ));
            }
            decode_string("root.name", &item.val).map_err(PolicyError::Syntax)?;
        }

        let now = now_unix();
        let mut rules = Vec::new();
        for (rest, item) in hcl1::filter(&items, "path") {
            let key = rest.first().map_or("path", |k| k.text.as_str());
            if let Some(rule) = parse_path(key, &item.val, now)? {
                rules.push(rule);
            }
        }
        Ok(Policy {
            name: name.to_string(),
            raw: text.to_string(),
            rules,
        })
    }

    /// Whether any path uses identity templating (`{{...}}`).
    pub fn is_templated(&self) -> bool {
        self.rules.iter().any(|r| r.path.contains("{{"))
    }
}

/// `identitytpl.PopulateString` in validity-check mode: `{{` and `}}` must
/// pair up.
fn check_template(path: &str) -> Result<(), PolicyError> {
    let unbalanced = || PolicyError::Template("unbalanced templating characters".to_string());
    let mut pieces = path.split("{{");
    if pieces.next().is_some_and(|first| first.contains("}}")) {
        return Err(unbalanced());
    }
    for piece in pieces {
        if piece.split("}}").count() != 2 {
            return Err(unbalanced());
        }
    }
    Ok(())
}

fn path_err(path: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::InvalidPath {
        path: path.to_string(),
        message: message.into(),
    }
}

/// The items of an object value, or the error Vault's `CheckHCLKeys` gives.
fn object_items<'a>(path: &str, node: &'a Node) -> Result<&'a [Item], PolicyError> {
    match node {
        Node::Object(items) => Ok(items),
        other => Err(path_err(
            path,
            format!("cannot check HCL keys of type {}", other.type_name()),
        )),
    }
}

fn check_keys(path: &str, items: &[Item], valid: &[&str]) -> Result<(), PolicyError> {
    for item in items {
        let key = item.keys.first().map_or("", |k| k.text.as_str());
        if !valid.contains(&key) {
            return Err(path_err(
                path,
                format!("invalid key {key:?} on line {}", item.line),
            ));
        }
    }
    Ok(())
}

/// The values of every item whose first key matches `field` (Go's
/// `Filter`): items with extra keys first, then plain ones, as the Go
/// decoder visits them. Items with extra keys are returned with `true`.
fn field_values<'a>(items: &'a [Item], field: &str) -> Vec<(bool, &'a Item)> {
    let matches = hcl1::filter(items, field);
    let mut out: Vec<(bool, &Item)> = matches
        .iter()
        .filter(|(rest, _)| !rest.is_empty())
        .map(|&(_, it)| (true, it))
        .collect();
    out.extend(
        matches
            .iter()
            .filter(|(rest, _)| rest.is_empty())
            .map(|&(_, it)| (false, it)),
    );
    out
}

fn decode_string(name: &str, node: &Node) -> Result<String, String> {
    match node {
        Node::Lit(Lit::Str(s) | Lit::Number(s)) => Ok(s.clone()),
        other => Err(format!(
            "{name}: unknown type for string {}",
            other.type_name()
        )),
    }
}

fn decode_string_slice(name: &str, node: &Node, out: &mut Vec<String>) -> Result<(), String> {
    match node {
        Node::List(elems) => {
            for (i, e) in elems.iter().enumerate() {
                out.push(decode_string(&format!("{name}[{i}]"), e)?);
            }
            Ok(())
        }
        Node::Object(items) if items.is_empty() => Ok(()),
        Node::Object(_) => Err(format!(
            "{name}[0]: unknown type for string *ast.ObjectItem"
        )),
        Node::Lit(_) => Err("unknown slice type: *ast.LiteralType".to_string()),
    }
}

/// A string-list field (`capabilities`, `required_parameters`, ...): all
/// occurrences are concatenated, as the Go decoder appends.
fn string_list_field(items: &[Item], field: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (prefixed, item) in field_values(items, field) {
        if prefixed {
            return Err(format!(
                "root.{field}[0]: unknown type for string *ast.ObjectItem"
            ));
        }
        decode_string_slice(&format!("root.{field}"), &item.val, &mut out)?;
    }
    Ok(out)
}

/// A string field: the last occurrence wins.
fn string_field(items: &[Item], field: &str) -> Result<Option<String>, String> {
    let mut out = None;
    for (prefixed, item) in field_values(items, field) {
        if prefixed {
            return Err(format!(
                "root.{field}: unknown type for string *ast.ObjectList"
            ));
        }
        out = Some(decode_string(&format!("root.{field}"), &item.val)?);
    }
    Ok(out)
}

fn go_any(node: &Node) -> Result<GoAny, String> {
    Ok(match node {
        Node::Lit(Lit::Str(s)) => GoAny::Str(s.clone()),
        Node::Lit(Lit::Number(s)) => GoAny::Int(
            goparse::parse_int_base0(s)
                .ok_or_else(|| format!("strconv.ParseInt: parsing {s:?}: invalid syntax"))?,
        ),
        Node::Lit(Lit::Float(s)) => GoAny::Float(
            s.parse::<f64>()
                .map_err(|_| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))?,
        ),
        Node::Lit(Lit::Bool(b)) => GoAny::Bool(*b),
        Node::List(_) | Node::Object(_) => GoAny::Other,
    })
}

/// An `interface{}` field: the last occurrence wins.
fn any_field(items: &[Item], field: &str) -> Result<Option<GoAny>, String> {
    let mut out = None;
    for (prefixed, item) in field_values(items, field) {
        out = Some(if prefixed {
            GoAny::Other
        } else {
            go_any(&item.val)?
        });
    }
    Ok(out)
}

/// An `int` field (`pagination_limit`).
fn int_field(items: &[Item], field: &str) -> Result<i64, String> {
    let mut out = 0;
    for (prefixed, item) in field_values(items, field) {
        let bad = || format!("root.{field}: unknown type for int");
        if prefixed {
            return Err(bad());
        }
        out = match &item.val {
            Node::Lit(Lit::Number(s) | Lit::Str(s)) => goparse::parse_int_base0(s)
                .ok_or_else(|| format!("strconv.ParseInt: parsing {s:?}: invalid syntax"))?,
            _ => return Err(bad()),
        };
    }
    Ok(out)
}

/// An HCL value as JSON, the way Vault compares parameter values.
fn to_json(node: &Node) -> Result<Value, String> {
    Ok(match node {
        Node::Lit(Lit::Str(s)) => Value::String(s.clone()),
        Node::Lit(Lit::Bool(b)) => Value::Bool(*b),
        Node::Lit(Lit::Number(s)) => Value::from(
            goparse::parse_int_base0(s)
                .ok_or_else(|| format!("strconv.ParseInt: parsing {s:?}: invalid syntax"))?,
        ),
        Node::Lit(Lit::Float(s)) => {
            let f = s
                .parse::<f64>()
                .map_err(|_| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))?;
            serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
        Node::List(elems) => Value::Array(elems.iter().map(to_json).collect::<Result<_, _>>()?),
        Node::Object(items) => {
            let mut map = serde_json::Map::new();
            for it in items {
                let k = it.keys.first().map_or(String::new(), |k| k.text.clone());
                map.insert(k, to_json(&it.val)?);
            }
            Value::Object(map)
        }
    })
}

/// Decodes a `map[string][]interface{}` value into `out`, appending values
/// for repeated keys as the Go decoder does.
fn decode_param_map(
    name: &str,
    node: &Node,
    out: &mut Vec<(String, Vec<Value>)>,
) -> Result<(), String> {
    let Node::Object(items) = node else {
        return Err(format!(
            "{name}: not an object type for map ({})",
            node.type_name()
        ));
    };
    for it in items {
        let Some(key) = it.keys.first() else {
            return Err(format!("{name}: map must have string keys"));
        };
        if it.keys.len() > 1 {
            return Err(format!(
                "{name}.{}[0]: cannot decode into interface: *ast.ObjectItem",
                key.text
            ));
        }
        let values = match &it.val {
            Node::List(elems) => elems.iter().map(to_json).collect::<Result<Vec<_>, _>>()?,
            obj @ Node::Object(_) => vec![to_json(obj)?],
            Node::Lit(_) => return Err("unknown slice type: *ast.LiteralType".to_string()),
        };
        match out.iter_mut().find(|(k, _)| *k == key.text) {
            Some((_, existing)) => existing.extend(values),
            None => out.push((key.text.clone(), values)),
        }
    }
    Ok(())
}

fn param_field(items: &[Item], field: &str) -> Result<Option<ParameterValues>, String> {
    let found = field_values(items, field);
    if found.is_empty() {
        return Ok(None);
    }
    let name = format!("root.{field}");
    let mut entries: Vec<(String, Vec<Value>)> = Vec::new();
    for (prefixed, item) in found {
        if prefixed {
            // `allowed_parameters "k" { ... }`: the remaining keys name the entry.
            let rest: Vec<Item> = vec![Item {
                keys: item.keys.get(1..).unwrap_or(&[]).to_vec(),
                val: item.val.clone(),
                line: item.line,
            }];
            decode_param_map(&name, &Node::Object(rest), &mut entries)?;
        } else {
            decode_param_map(&name, &item.val, &mut entries)?;
        }
    }
    let mut map = ParameterValues::new();
    for (k, v) in entries {
        map.insert(k.to_lowercase(), v);
    }
    Ok(Some(map))
}

fn parse_control_group(path: &str, items: &[Item]) -> Result<Option<ControlGroup>, PolicyError> {
    let mut result = None;
    for (_, item) in hcl1::filter(items, "control_group") {
        let err = |m: String| path_err(path, format!("error handling control_group: {m}"));
        let cg_items = match &item.val {
            Node::Object(i) => i,
            other => {
                return Err(err(format!(
                    "cannot check HCL keys of type {}",
                    other.type_name()
                )))
            }
        };
        check_keys(path, cg_items, &["ttl", "self_auth_allowed", "factor"])?;
        let ttl_ns = match any_field(cg_items, "ttl").map_err(&err)? {
            Some(v) => goparse::parse_duration_second(&v)
                .map_err(|e| err(format!("path control_group: invalid ttl: {e}")))?,
            None => 0,
        };
        let mut self_auth_allowed = false;
        for (_, it) in field_values(cg_items, "self_auth_allowed") {
            match &it.val {
                Node::Lit(Lit::Bool(b)) => self_auth_allowed = *b,
                _ => return Err(err("self_auth_allowed: unknown type".to_string())),
            }
        }
        let mut factors = Vec::new();
        for (rest, f) in hcl1::filter(cg_items, "factor") {
            let Some(fname) = rest.first() else {
                return Err(err(
                    "path control_group factor: require name key".to_string()
                ));
            };
            let f_items = match &f.val {
                Node::Object(i) => i,
                other => {
                    return Err(err(format!(
                        "cannot check HCL keys of type {}",
                        other.type_name()
                    )))
                }
            };
            check_keys(path, f_items, &["controlled_capabilities", "identity"])?;
            let controlled = string_list_field(f_items, "controlled_capabilities").map_err(&err)?;
            if let Some(bad) = controlled
                .iter()
                .find(|c| !OPERATION_NAMES.contains(&c.as_str()))
            {
                return Err(err(format!(
                    "path control_group Operation(s) not valid: {bad}"
                )));
            }
            let mut group_names = Vec::new();
            let mut approvals = 0;
            for (_, ident) in field_values(f_items, "identity") {
                let Node::Object(id_items) = &ident.val else {
                    return Err(err("identity: not an object".to_string()));
                };
                group_names.extend(string_list_field(id_items, "group_names").map_err(&err)?);
                approvals = int_field(id_items, "approvals").map_err(&err)?;
            }
            factors.push(ControlGroupFactor {
                name: fname.text.clone(),
                controlled_capabilities: controlled,
                group_names,
                approvals,
            });
        }
        if factors.is_empty() {
            return Err(err("requires at least one factor but had none".to_string()));
        }
        for (i, f) in factors.iter().enumerate() {
            if f.controlled_capabilities.is_empty() {
                return Err(err(format!("factor {i}: missing controlled capabilities")));
            }
            if f.approvals <= 0 {
                return Err(err(format!("factor {i}: missing required approvals")));
            }
            if f.group_names.is_empty() {
                return Err(err(format!("factor {i}: missing approving groups")));
            }
        }
        result = Some(ControlGroup {
            ttl: Duration::from_nanos(u64::try_from(ttl_ns).unwrap_or(0)),
            self_auth_allowed,
            factors,
        });
    }
    Ok(result)
}

fn positive_duration(ns: i64) -> Option<Duration> {
    u64::try_from(ns)
        .ok()
        .filter(|&n| n > 0)
        .map(Duration::from_nanos)
}

/// One `path` block (`parsePaths` in OpenBao). `Ok(None)` for an expired
/// block, which is dropped.
fn parse_path(key: &str, val: &Node, now: i64) -> Result<Option<PathRule>, PolicyError> {
    check_template(key)?;
    let items = object_items(key, val)?;
    check_keys(key, items, PATH_KEYS)?;
    let control_group = parse_control_group(key, items)?;

    let e = |m: String| path_err(key, m);
    let policy = string_field(items, "policy").map_err(e)?;
    let mut cap_names = string_list_field(items, "capabilities").map_err(e)?;
    let expiration_raw = string_field(items, "expiration").map_err(e)?;
    let min_ttl = any_field(items, "min_wrapping_ttl").map_err(e)?;
    let max_ttl = any_field(items, "max_wrapping_ttl").map_err(e)?;
    let allowed = param_field(items, "allowed_parameters").map_err(e)?;
    let denied = param_field(items, "denied_parameters").map_err(e)?;
    let required = string_list_field(items, "required_parameters").map_err(e)?;
    let mfa_methods = string_list_field(items, "mfa_methods").map_err(e)?;
    let pagination_limit = int_field(items, "pagination_limit").map_err(e)?;
    let filter_path = string_field(items, "list_scan_response_keys_filter_path").map_err(e)?;

    let mut expiration = None;
    if let Some(raw) = expiration_raw.filter(|r| !r.is_empty()) {
        let t = goparse::parse_absolute_time(&raw).ok_or_else(|| {
            path_err(
                key,
                "invalid expiration time: could not parse string as date and time",
            )
        })?;
        if now > t {
            return Ok(None);
        }
        expiration = Some(t);
    }

    let path = key.strip_prefix('/').unwrap_or(key).to_string();
    if path.contains("+*") {
        return Err(path_err(
            &path,
            "invalid use of wildcards ('+*' is forbidden)",
        ));
    }

    if let Some(p) = policy.filter(|p| !p.is_empty()) {
        let extra: &[&str] = match p.as_str() {
            "deny" => {
                cap_names = vec!["deny".to_string()];
                &[]
            }
            "read" => &["read", "list"],
            "write" => &["create", "read", "update", "delete", "list"],
            "sudo" => &["create", "read", "update", "delete", "list", "sudo"],
            other => return Err(path_err(key, format!("invalid policy {other:?}"))),
        };
        cap_names.extend(extra.iter().map(|s| (*s).to_string()));
    }

    let mut rule = PathRule {
        path,
        capabilities: Vec::new(),
        allowed_parameters: None,
        denied_parameters: None,
        required_parameters: Vec::new(),
        min_wrapping_ttl: None,
        max_wrapping_ttl: None,
        mfa_methods: Vec::new(),
        pagination_limit: 0,
        list_scan_response_keys_filter_path: None,
        expiration,
        control_group,
        bits: 0,
        min_wrap_ns: 0,
        max_wrap_ns: 0,
    };

    for name in &cap_names {
        let cap = name
            .parse::<Capability>()
            .map_err(|_| PolicyError::InvalidCapability {
                path: key.to_string(),
                capability: name.clone(),
            })?;
        if cap == Capability::Deny {
            // Deny replaces everything and skips the rest of the block, as
            // OpenBao's `goto PathFinished` does.
            rule.capabilities = vec![Capability::Deny];
            rule.bits = Capability::Deny.bit();
            return Ok(Some(rule));
        }
        rule.bits |= cap.bit();
        rule.capabilities.push(cap);
    }

    rule.allowed_parameters = allowed;
    rule.denied_parameters = denied;
    if let Some(v) = min_ttl {
        rule.min_wrap_ns = goparse::parse_duration_second(&v)
            .map_err(|m| path_err(key, format!("error parsing min_wrapping_ttl: {m}")))?;
    }
    if let Some(v) = max_ttl {
        rule.max_wrap_ns = goparse::parse_duration_second(&v)
            .map_err(|m| path_err(key, format!("error parsing max_wrapping_ttl: {m}")))?;
    }
    rule.min_wrapping_ttl = positive_duration(rule.min_wrap_ns);
    rule.max_wrapping_ttl = positive_duration(rule.max_wrap_ns);
    rule.mfa_methods = mfa_methods;
    if rule.min_wrap_ns != 0 && rule.max_wrap_ns != 0 && rule.max_wrap_ns < rule.min_wrap_ns {
        return Err(path_err(
            key,
            "max_wrapping_ttl cannot be less than min_wrapping_ttl",
        ));
    }
    rule.required_parameters = required;
    if let Some(fp) = filter_path.filter(|f| !f.is_empty()) {
        if rule.bits & Capability::List.bit() == 0 {
            return Err(path_err(
                key,
                "list_scan_response_keys_filter_path needs to be used on a path with the list capability",
            ));
        }
        if !fp.contains(".key") {
            return Err(path_err(
                key,
                "list_scan_response_keys_filter_path resulted in same path for two different keys",
            ));
        }
        rule.list_scan_response_keys_filter_path = Some(fp);
    }
    rule.pagination_limit = pagination_limit;
    Ok(Some(rule))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse("p", text)
    }

    fn one(text: &str) -> PathRule {
        let mut p = parse(text).expect("policy parses");
        assert_eq!(p.rules.len(), 1, "{text}");
        p.rules.remove(0)
    }

    #[test]
    fn basic_block() {
        let r = one(r#"path "secret/*" { capabilities = ["read", "list"] }"#);
        assert_eq!(r.path, "secret/*");
        assert_eq!(r.capabilities, [Capability::Read, Capability::List]);
        assert!(r.is_prefix());
        assert!(!r.has_segment_wildcards());
        assert_eq!(r.allowed_parameters, None);
    }

    #[test]
    fn leading_slash_is_stripped_and_plus_detected() {
        let r = one(r#"path "/kv/+/x*" { capabilities = ["read"] }"#);
        assert_eq!(r.path, "kv/+/x*");
        assert!(r.has_segment_wildcards());
        assert!(!r.is_prefix());
    }

    #[test]
    fn old_policy_shorthand() {
        use Capability::*;
        let caps = |p: &str| one(&format!("path \"a\" {{ policy = \"{p}\" }}")).capabilities;
        assert_eq!(caps("read"), [Read, List]);
        assert_eq!(caps("write"), [Create, Read, Update, Delete, List]);
        assert_eq!(caps("sudo"), [Create, Read, Update, Delete, List, Sudo]);
        assert_eq!(caps("deny"), [Deny]);
        // Shorthand adds to explicit capabilities.
        let r = one(r#"path "a" { capabilities = ["patch"] policy = "read" }"#);
        assert_eq!(r.capabilities, [Patch, Read, List]);
        let err = parse(r#"path "a" { policy = "bogus" }"#).expect_err("bad shorthand");
        assert_eq!(
            err.to_string(),
            r#"failed to parse policy: path "a": invalid policy "bogus""#
        );
    }

    #[test]
    fn deny_wins_inside_a_block() {
        let r = one(r#"path "a" { capabilities = ["read", "deny", "update"] }"#);
        assert_eq!(r.capabilities, [Capability::Deny]);
        // Capabilities after deny are not even validated (OpenBao stops there).
        let r = one(r#"path "a" { capabilities = ["deny", "bogus"] }"#);
        assert_eq!(r.capabilities, [Capability::Deny]);
        assert!(parse(r#"path "a" { capabilities = ["bogus", "deny"] }"#).is_err());
    }

    #[test]
    fn unknown_capability_and_keys_are_errors() {
        let err = parse(r#"path "a/*" { capabilities = ["foo"] }"#).expect_err("bad cap");
        assert_eq!(
            err.to_string(),
            r#"failed to parse policy: path "a/*": invalid capability "foo""#
        );
        assert!(err.to_string().contains(r#"invalid capability "foo""#));
        let err = parse("path \"a\" {\n  capabilities = [\"read\"]\n  bogus = 1\n}")
            .expect_err("bad key");
        assert_eq!(
            err.to_string(),
            r#"failed to parse policy: path "a": invalid key "bogus" on line 3"#
        );
        let err = parse(r#"foo "a" { capabilities = ["read"] }"#).expect_err("bad top key");
        assert_eq!(
            err.to_string(),
            r#"failed to parse policy: invalid key "foo" on line 0"#
        );
        assert!(parse(r#"path "a" { Capabilities = ["read"] }"#).is_err());
        assert!(parse(r#"path "a" { capabilities = ["READ"] }"#).is_err());
    }

    #[test]
    fn empty_and_wrong_types() {
        assert_eq!(parse(""), Err(PolicyError::Empty));
        // Whitespace or comments alone are a valid, empty policy (as in OpenBao).
        assert!(parse("  \n# nothing\n").expect("parses").rules.is_empty());
        assert!(parse(r#"path "a" { capabilities = "read" }"#).is_err());
        assert!(parse(r#"path "a" { capabilities = [true] }"#).is_err());
        assert!(parse(r#"path "a" { policy = ["read"] }"#).is_err());
        assert!(parse(r#"path = "x""#).is_err());
        assert!(parse(r#"name = ["x"]"#).is_err());
        // Numbers decode as strings (and are then unknown capabilities).
        assert!(matches!(
            parse(r#"path "a" { capabilities = [1] }"#),
            Err(PolicyError::InvalidCapability { .. })
        ));
        // An empty object decodes as an empty list.
        assert!(one(r#"path "a" { capabilities = {} }"#)
            .capabilities
            .is_empty());
        assert!(one(r#"path "a" {}"#).capabilities.is_empty());
    }

    #[test]
    fn repeated_capabilities_are_concatenated() {
        let r = one("path \"a\" {\n capabilities = [\"read\"]\n capabilities = [\"list\"]\n}");
        assert_eq!(r.capabilities, [Capability::Read, Capability::List]);
    }

    #[test]
    fn wildcard_rules() {
        assert!(parse(r#"path "a/+*" { capabilities = ["read"] }"#).is_err());
        assert!(parse(r#"path "a+*" { capabilities = ["read"] }"#).is_err());
        let r = one(r#"path "+" { capabilities = ["read"] }"#);
        assert!(r.has_segment_wildcards());
        let r = one(r#"path "a/*/b" { capabilities = ["read"] }"#);
        assert!(!r.is_prefix());
    }

    #[test]
    fn templates_are_kept_and_validated() {
        let p = parse(r#"path "secret/{{identity.entity.id}}/*" { capabilities = ["read"] }"#)
            .expect("templated policy parses");
        assert!(p.is_templated());
        assert_eq!(p.rules[0].path, "secret/{{identity.entity.id}}/*");
        assert!(matches!(
            parse(r#"path "secret/{{identity.entity.id}/*" { capabilities = ["read"] }"#),
            Err(PolicyError::Template(_))
        ));
        assert!(parse(r#"path "secret/}}" { capabilities = ["read"] }"#).is_err());
    }

    #[test]
    fn parameters() {
        let r = one(r#"path "a" {
  capabilities = ["create"]
  allowed_parameters = {
    "Foo" = ["x", "y*"]
    "*" = []
  }
  denied_parameters = {
    "bar" = [1, true, 1.5]
  }
  required_parameters = ["foo"]
}"#);
        let allowed = r.allowed_parameters.expect("allowed");
        assert_eq!(allowed["foo"], vec![json!("x"), json!("y*")]);
        assert!(allowed["*"].is_empty());
        let denied = r.denied_parameters.expect("denied");
        assert_eq!(denied["bar"], vec![json!(1), json!(true), json!(1.5)]);
        assert_eq!(r.required_parameters, ["foo"]);
        // HCL1 block form with quoted keys.
        let r = one("path \"a\" {\n allowed_parameters { \"*\" = [] }\n}");
        assert!(r.allowed_parameters.expect("allowed")["*"].is_empty());
        // Values must be lists.
        assert!(parse(r#"path "a" { allowed_parameters = { "x" = "y" } }"#).is_err());
        assert!(parse(r#"path "a" { allowed_parameters = ["x"] }"#).is_err());
        // Deny skips (and does not validate) the rest of the block.
        let r = one(r#"path "a" { capabilities = ["deny"] allowed_parameters = { "x" = ["y"] } }"#);
        assert_eq!(r.allowed_parameters, None);
    }

    #[test]
    fn wrapping_ttls() {
        let r = one(
            r#"path "a" { capabilities = ["read"] min_wrapping_ttl = "1m" max_wrapping_ttl = 3600 }"#,
        );
        assert_eq!(r.min_wrapping_ttl, Some(Duration::from_secs(60)));
        assert_eq!(r.max_wrapping_ttl, Some(Duration::from_secs(3600)));
        let r = one(r#"path "a" { capabilities = ["read"] max_wrapping_ttl = "2d" }"#);
        assert_eq!(r.max_wrapping_ttl, Some(Duration::from_secs(2 * 86_400)));
        assert!(parse(r#"path "a" { min_wrapping_ttl = "10m" max_wrapping_ttl = "5m" }"#).is_err());
        assert!(parse(r#"path "a" { min_wrapping_ttl = "soon" }"#).is_err());
        assert!(parse(r#"path "a" { min_wrapping_ttl = true }"#).is_err());
    }

    #[test]
    fn expiration() {
        let p = parse(
            r#"path "old" { capabilities = ["read"] expiration = "2001-01-01T00:00:00Z" }
path "new" { capabilities = ["read"] expiration = "2999-01-01T00:00:00Z" }"#,
        )
        .expect("parses");
        assert_eq!(p.rules.len(), 1);
        assert_eq!(p.rules[0].path, "new");
        assert!(parse(r#"path "a" { expiration = "someday" }"#).is_err());
    }

    #[test]
    fn openbao_keys() {
        let r = one(r#"path "a/*" {
  capabilities = ["list", "read"]
  pagination_limit = 50
  list_scan_response_keys_filter_path = "{{ .path }}{{ .key }}"
  mfa_methods = ["m1"]
  comment = ["anything", { goes = 1 }]
}"#);
        assert_eq!(r.pagination_limit, 50);
        assert_eq!(r.mfa_methods, ["m1"]);
        assert!(r.list_scan_response_keys_filter_path.is_some());
        assert!(parse(
            r#"path "a/*" { capabilities = ["read"] list_scan_response_keys_filter_path = "{{ .key }}" }"#
        )
        .is_err());
        assert!(parse(r#"path "a" { pagination_limit = "many" }"#).is_err());
    }

    #[test]
    fn control_groups() {
        let r = one(r#"path "a" {
  capabilities = ["read"]
  control_group = {
    ttl = "4h"
    factor "ops" {
      controlled_capabilities = ["read"]
      identity { group_names = ["ops"] approvals = 2 }
    }
  }
}"#);
        let cg = r.control_group.expect("control group");
        assert_eq!(cg.ttl, Duration::from_secs(4 * 3600));
        assert_eq!(cg.factors[0].name, "ops");
        assert_eq!(cg.factors[0].approvals, 2);
        assert!(parse(r#"path "a" { control_group = {} }"#).is_err());
        assert!(parse(r#"path "a" { control_group = { bogus = 1 } }"#).is_err());
    }

    #[test]
    fn json_policies() {
        let p = parse(r#"{"path": {"a/*": {"capabilities": ["read"]}, "b": {"policy": "write"}}}"#)
            .expect("json parses");
        assert_eq!(p.rules.len(), 2);
        assert_eq!(p.rules[0].path, "a/*");
        assert_eq!(p.rules[1].capabilities.len(), 5);
        let p = parse(r#"  {"path": [{"a": {"capabilities": ["list"]}}]}"#).expect("json list");
        assert_eq!(p.rules[0].capabilities, [Capability::List]);
        assert!(parse(r#"{"path": {"a": {"capabilities": ["nope"]}}}"#).is_err());
        assert!(parse(r#"{"path": {"a": {"capabilities": ["read"]}} "#).is_ok());
        assert!(parse(r#"{"path": {"a": {"capabilities": [null]}}}"#).is_err());
    }

    #[test]
    fn path_block_without_label_is_named_path() {
        let r = one(r#"path { capabilities = ["read"] }"#);
        assert_eq!(r.path, "path");
    }
}
