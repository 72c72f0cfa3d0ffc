//! Merged ACLs and their evaluation (OpenBao's `NewACL`, `AllowOperation`,
//! `CheckAllowedFromNonExactPaths` and `Capabilities`).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::policy::{now_unix, ParameterValues, PathRule, Policy};
use crate::{Capability, Operation};

/// The merged permissions of every rule with one pattern.
#[derive(Debug, Clone, Default)]
struct Perms {
    bits: u16,
    min_wrap_ns: i64,
    max_wrap_ns: i64,
    allowed: Option<ParameterValues>,
    denied: Option<ParameterValues>,
    required: Vec<String>,
    mfa: Vec<String>,
    pagination_limit: i64,
    filter_path: Option<String>,
}

impl Perms {
    fn from_rule(r: &PathRule) -> Perms {
        Perms {
            bits: r.bits,
            min_wrap_ns: r.min_wrap_ns,
            max_wrap_ns: r.max_wrap_ns,
            allowed: r.allowed_parameters.clone(),
            denied: r.denied_parameters.clone(),
            required: r.required_parameters.clone(),
            mfa: r.mfa_methods.clone(),
            pagination_limit: r.pagination_limit,
            filter_path: r.list_scan_response_keys_filter_path.clone(),
        }
    }

    /// Merges a rule with the same pattern into these permissions.
    fn merge(&mut self, r: &PathRule) {
        let deny = Capability::Deny.bit();
        if self.bits & deny != 0 {
            return;
        }
        if r.bits & deny != 0 {
            self.bits = deny;
            self.allowed = None;
            self.denied = None;
            return;
        }
        self.bits |= r.bits;
        // Prefer the shortest lifetimes.
        if r.max_wrap_ns > 0 && (self.max_wrap_ns == 0 || r.max_wrap_ns < self.max_wrap_ns) {
            self.max_wrap_ns = r.max_wrap_ns;
        }
        if r.min_wrap_ns > 0 && (self.min_wrap_ns == 0 || r.min_wrap_ns < self.min_wrap_ns) {
            self.min_wrap_ns = r.min_wrap_ns;
        }
        merge_params(&mut self.allowed, r.allowed_parameters.as_ref());
        merge_params(&mut self.denied, r.denied_parameters.as_ref());
        for p in &r.required_parameters {
            if !self.required.contains(p) {
                self.required.push(p.clone());
            }
        }
        if !r.mfa_methods.is_empty() {
            self.mfa.extend(r.mfa_methods.iter().cloned());
            self.mfa.sort();
            self.mfa.dedup();
        }
        if r.pagination_limit > 0
            && (self.pagination_limit <= 0 || r.pagination_limit < self.pagination_limit)
        {
            self.pagination_limit = r.pagination_limit;
        }
        if self.filter_path.is_none() {
            self.filter_path = r.list_scan_response_keys_filter_path.clone();
        }
    }
}

/// Vault's parameter-map merge: an empty value list (any value) absorbs
/// everything, otherwise the lists are concatenated.
fn merge_params(existing: &mut Option<ParameterValues>, new: Option<&ParameterValues>) {
    let Some(new) = new.filter(|n| !n.is_empty()) else {
        return;
    };
    match existing {
        None => *existing = Some(new.clone()),
        Some(ex) => {
            for (k, v) in new {
                match ex.get_mut(k) {
                    Some(old) if v.is_empty() || old.is_empty() => old.clear(),
                    Some(old) => {
                        let mut merged = v.clone();
                        merged.append(old);
                        *old = merged;
                    }
                    None => {
                        ex.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    }
}

/// The ACL built from a token's policies.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    root: bool,
    exact: HashMap<String, Perms>,
    /// Prefix rules keyed by the pattern without its trailing `*`.
    prefix: HashMap<String, Perms>,
    /// `+` patterns keyed by the full pattern (a trailing `*` kept).
    segment: BTreeMap<String, Perms>,
}

/// The outcome of an ACL check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AclResult {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Whether the rule that applies grants `sudo` (always true for root).
    pub root_privs: bool,
}

/// A request with everything OpenBao's ACL looks at, for
/// [`Acl::allow_request`].
#[derive(Debug, Clone, Copy)]
pub struct AclRequest<'a> {
    pub operation: Operation,
    /// Full request path without leading slash; list/scan paths end in `/`.
    pub path: &'a str,
    /// The path is root-protected and needs `sudo`.
    pub needs_sudo: bool,
    /// The request body/query parameters, checked against
    /// `allowed_parameters`, `denied_parameters` and `required_parameters`
    /// for read, create, update and patch. `None` is the same as empty.
    pub data: Option<&'a Map<String, Value>>,
    /// The requested response-wrapping TTL, checked against
    /// `min_wrapping_ttl`/`max_wrapping_ttl`. `None` means "not wrapped".
    pub wrap_ttl: Option<Duration>,
}

/// A candidate non-exact rule, with the fields OpenBao ranks it by.
struct Candidate<'a> {
    first_wildcard: usize,
    wildcards: usize,
    is_prefix: bool,
    pattern: &'a str,
    perms: &'a Perms,
}

impl Candidate<'_> {
    /// Priority order: the higher candidate wins.
    fn priority(&self, other: &Self) -> Ordering {
        self.first_wildcard
            .cmp(&other.first_wildcard)
            .then_with(|| other.is_prefix.cmp(&self.is_prefix))
            .then_with(|| other.wildcards.cmp(&self.wildcards))
            .then_with(|| self.pattern.len().cmp(&other.pattern.len()))
            .then_with(|| self.pattern.cmp(other.pattern))
    }
}

fn strip_leading_slashes(path: &str) -> &str {
    path.trim_start_matches('/')
}

impl Acl {
    /// Merges the rules of `policies`. Any policy named `root` makes this a
    /// root ACL (OpenBao refuses `root` combined with other policies; callers
    /// only ever attach it alone). Rules whose `expiration` has passed are
    /// skipped.
    pub fn new(policies: &[&Policy]) -> Acl {
        let mut acl = Acl::default();
        let now = now_unix();
        for policy in policies {
            if policy.name == "root" {
                acl.root = true;
            }
            for rule in &policy.rules {
                if rule.is_expired_at(now) {
                    continue;
                }
                let (map, key): (&mut dyn RuleMap, String) = if rule.has_segment_wildcards() {
                    (&mut acl.segment, rule.path.clone())
                } else if let Some(stripped) = rule.path.strip_suffix('*') {
                    (&mut acl.prefix, stripped.to_string())
                } else {
                    (&mut acl.exact, rule.path.clone())
                };
                map.upsert(key, rule);
            }
        }
        acl
    }

    /// The ACL of a root token: everything is allowed.
    pub fn root() -> Acl {
        Acl {
            root: true,
            ..Acl::default()
        }
    }

    pub fn is_root(&self) -> bool {
        self.root
    }

    /// Checks an operation on a path by capabilities alone: the capability
    /// the operation needs, plus `sudo` when `needs_sudo`. Parameter
    /// constraints and wrapping TTLs are not looked at here; use
    /// [`Acl::allow_request`] for those.
    ///
    /// `path` is the full request path without leading slash, e.g.
    /// `secret/data/foo`; for list (and scan) operations the caller passes
    /// the path with a trailing `/`.
    pub fn allow(&self, op: Operation, path: &str, needs_sudo: bool) -> AclResult {
        if self.root {
            return AclResult {
                allowed: true,
                root_privs: true,
            };
        }
        let Some(perms) = self.lookup(op, path) else {
            return AclResult::default();
        };
        let root_privs = perms.bits & Capability::Sudo.bit() != 0;
        let op_allowed = perms.bits & op.required_capability().bit() != 0;
        AclResult {
            allowed: op_allowed && (!needs_sudo || root_privs),
            root_privs,
        }
    }

    /// The full OpenBao check: capabilities and sudo as [`Acl::allow`], then
    /// wrapping TTL bounds, then required/denied/allowed parameters (read,
    /// create, update, patch) or the pagination limit (list, scan).
    pub fn allow_request(&self, req: &AclRequest<'_>) -> AclResult {
        if self.root {
            return AclResult {
                allowed: true,
                root_privs: true,
            };
        }
        let Some(perms) = self.lookup(req.operation, req.path) else {
            return AclResult::default();
        };
        let root_privs = perms.bits & Capability::Sudo.bit() != 0;
        let denied = AclResult {
            allowed: false,
            root_privs,
        };
        if perms.bits & req.operation.required_capability().bit() == 0 {
            return denied;
        }
        if !wrapping_ok(perms, req.wrap_ttl) {
            return denied;
        }
        let empty = Map::new();
        let data = req.data.unwrap_or(&empty);
        let params_ok = match req.operation {
            Operation::Read | Operation::Create | Operation::Update | Operation::Patch => {
                parameters_ok(perms, data)
            }
            Operation::List | Operation::Scan => pagination_ok(perms, data),
            Operation::Delete => true,
        };
        AclResult {
            allowed: params_ok && (!req.needs_sudo || root_privs),
            root_privs,
        }
    }

    /// What `sys/capabilities` reports for `path`: `["root"]` for a root
    /// ACL, `["deny"]` when no rule applies, the rule has `deny` or grants
    /// nothing, else the granted capability names, sorted. Rule selection is
    /// the one used for list requests (so `foo/` also sees an exact `foo`).
    pub fn capabilities(&self, path: &str) -> Vec<String> {
        if self.root {
            return vec!["root".to_string()];
        }
        let bits = self.lookup(Operation::List, path).map_or(0, |p| p.bits);
        let mut names: Vec<String> = if bits & Capability::Deny.bit() != 0 {
            Vec::new()
        } else {
            Capability::ALL
                .into_iter()
                .filter(|c| *c != Capability::Deny && bits & c.bit() != 0)
                .map(|c| c.as_str().to_string())
                .collect()
        };
        if names.is_empty() {
            names.push("deny".to_string());
        }
        names.sort();
        names
    }

    /// OpenBao's `hasMountAccess`: whether the token may see the mount at
    /// `mount_path` (with its trailing `/`, e.g. `secret/`) in listings such
    /// as `sys/internal/ui/mounts`: it has some capability on the mount path
    /// itself, or a non-deny rule at or under it, or (OpenBao's bare-mount
    /// check) a glob or `+` rule that reaches into it.
    pub fn has_mount_access(&self, mount_path: &str) -> bool {
        if !self.capabilities(mount_path).iter().any(|c| c == "deny") {
            return true;
        }
        let deny = Capability::Deny.bit();
        let grants = |p: &Perms| p.bits & deny == 0 && p.bits != 0;
        let under = |map: &HashMap<String, Perms>| {
            map.iter()
                .any(|(k, p)| k.starts_with(mount_path) && grants(p))
        };
        if under(&self.exact) || under(&self.prefix) {
            return true;
        }
        self.bare_mount_allowed(mount_path)
    }

    /// `CheckAllowedFromNonExactPaths(path, bareMount=true) != nil`.
    fn bare_mount_allowed(&self, path: &str) -> bool {
        if self.segment.is_empty() {
            // Quirk kept from OpenBao: any matching prefix rule counts, even
            // a deny.
            let mut ends: Vec<usize> = path.char_indices().map(|(i, _)| i).collect();
            ends.push(path.len());
            return ends
                .iter()
                .any(|&end| self.prefix.contains_key(&path[..end]));
        }
        let parts: Vec<&str> = path.split('/').collect();
        let deny = Capability::Deny.bit();
        self.segment.iter().any(|(full, perms)| {
            if full.is_empty() {
                return false;
            }
            let (pattern, is_prefix) = match full.strip_suffix('*') {
                Some(p) => (p, true),
                None => (full.as_str(), false),
            };
            let acl_parts: Vec<&str> = pattern.split('/').collect();
            let last = acl_parts.len() - 1;
            let mut segments: Vec<&str> = Vec::new();
            for (i, acl) in acl_parts.iter().enumerate() {
                let Some(part) = parts.get(i) else {
                    return false;
                };
                if *acl == "+" || acl == part {
                    segments.push(part);
                } else if is_prefix && i == last && part.starts_with(acl) {
                    segments.extend(parts.get(i..).unwrap_or(&[]));
                }
                if parts.len() >= 2 && i == parts.len() - 2 {
                    let joined = format!("{}/", segments.join("/"));
                    return joined.starts_with(path) && perms.bits & deny == 0 && perms.bits > 0;
                }
            }
            false
        })
    }

    /// Finds the rule that governs `path` for `op`.
    fn lookup(&self, op: Operation, path: &str) -> Option<&Perms> {
        let path = strip_leading_slashes(path);
        let listing = matches!(op, Operation::List | Operation::Scan);
        if let Some(p) = self.exact.get(path) {
            return Some(p);
        }
        let trimmed = path.strip_suffix('/');
        if listing {
            if let Some(p) = self.exact.get(trimmed.unwrap_or(path)) {
                return Some(p);
            }
        }
        if let Some(p) = self.non_exact(path) {
            return Some(p);
        }
        // OpenBao: a list of `foo/` may also use a glob or `+` rule for `foo`.
        if listing {
            if let Some(t) = trimmed {
                return self.non_exact(t);
            }
        }
        None
    }

    /// The highest-priority glob or `+` rule matching `path`.
    fn non_exact(&self, path: &str) -> Option<&Perms> {
        let mut best: Option<Candidate<'_>> = None;
        // Longest matching prefix rule.
        let mut ends: Vec<usize> = path.char_indices().map(|(i, _)| i).collect();
        ends.push(path.len());
        for &end in ends.iter().rev() {
            let prefix = &path[..end];
            if let Some((k, perms)) = self.prefix.get_key_value(prefix) {
                if self.segment.is_empty() {
                    return Some(perms);
                }
                best = Some(Candidate {
                    first_wildcard: k.len(),
                    wildcards: 0,
                    is_prefix: true,
                    pattern: k.as_str(),
                    perms,
                });
                break;
            }
        }
        if self.segment.is_empty() {
            return None;
        }
        let parts: Vec<&str> = path.split('/').collect();
        for (full, perms) in &self.segment {
            if let Some(c) = segment_match(full, perms, &parts) {
                if best
                    .as_ref()
                    .is_none_or(|b| c.priority(b) == Ordering::Greater)
                {
                    best = Some(c);
                }
            }
        }
        best.map(|c| c.perms)
    }
}

/// Matches one `+` pattern against the request path's segments.
fn segment_match<'a>(full: &'a str, perms: &'a Perms, parts: &[&str]) -> Option<Candidate<'a>> {
    if full.is_empty() {
        return None;
    }
    let first_wildcard = full.find('+').unwrap_or(0);
    let (pattern, is_prefix) = match full.strip_suffix('*') {
        Some(p) => (p, true),
        None => (full, false),
    };
    let acl_parts: Vec<&str> = pattern.split('/').collect();
    if parts.len() < acl_parts.len() {
        return None;
    }
    if !is_prefix && acl_parts.len() != parts.len() {
        return None;
    }
    let mut wildcards = 0;
    let last = acl_parts.len() - 1;
    for (i, (acl, part)) in acl_parts.iter().zip(parts).enumerate() {
        if *acl == "+" {
            wildcards += 1;
        } else if acl == part || (is_prefix && i == last && part.starts_with(acl)) {
            // matches
        } else {
            return None;
        }
    }
    Some(Candidate {
        first_wildcard,
        wildcards,
        is_prefix,
        pattern,
        perms,
    })
}

/// Storage for one kind of rule, so `Acl::new` can treat them alike.
trait RuleMap {
    fn upsert(&mut self, key: String, rule: &PathRule);
}

impl RuleMap for HashMap<String, Perms> {
    fn upsert(&mut self, key: String, rule: &PathRule) {
        match self.get_mut(&key) {
            Some(p) => p.merge(rule),
            None => {
                self.insert(key, Perms::from_rule(rule));
            }
        }
    }
}

impl RuleMap for BTreeMap<String, Perms> {
    fn upsert(&mut self, key: String, rule: &PathRule) {
        match self.get_mut(&key) {
            Some(p) => p.merge(rule),
            None => {
                self.insert(key, Perms::from_rule(rule));
            }
        }
    }
}

fn wrapping_ok(perms: &Perms, wrap_ttl: Option<Duration>) -> bool {
    let ttl_ns = wrap_ttl.map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    if perms.max_wrap_ns > 0 && ttl_ns.is_none_or(|t| t > perms.max_wrap_ns) {
        return false;
    }
    if perms.min_wrap_ns > 0 && ttl_ns.is_none_or(|t| t < perms.min_wrap_ns) {
        return false;
    }
    !(perms.min_wrap_ns != 0 && perms.max_wrap_ns != 0 && perms.max_wrap_ns < perms.min_wrap_ns)
}

fn parameters_ok(perms: &Perms, data: &Map<String, Value>) -> bool {
    for p in &perms.required {
        if !data.contains_key(&p.to_lowercase()) {
            return false;
        }
    }
    if data.is_empty() {
        return true;
    }
    if let Some(denied) = perms.denied.as_ref().filter(|d| !d.is_empty()) {
        if denied.contains_key("*") {
            return false;
        }
        for (k, v) in data {
            if let Some(list) = denied.get(&k.to_lowercase()) {
                if value_in_list(v, list) {
                    return false;
                }
            }
        }
    }
    let Some(allowed) = perms.allowed.as_ref().filter(|a| !a.is_empty()) else {
        return true;
    };
    let allowed_all = allowed.contains_key("*");
    if allowed.len() == 1 && allowed_all {
        return true;
    }
    for (k, v) in data {
        match allowed.get(&k.to_lowercase()) {
            None if !allowed_all => return false,
            Some(list) if !value_in_list(v, list) => return false,
            _ => {}
        }
    }
    true
}

fn pagination_ok(perms: &Perms, data: &Map<String, Value>) -> bool {
    if perms.pagination_limit <= 0 {
        return true;
    }
    match data.get("limit") {
        None => !perms.required.iter().any(|p| p.to_lowercase() == "limit"),
        Some(v) => {
            let parsed = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            match parsed {
                Some(n) => (0..=perms.pagination_limit).contains(&n),
                None => v.as_str() == Some("max"),
            }
        }
    }
}

/// Vault's `valueInParameterList`: an empty list allows any value; strings
/// match with a leading and/or trailing `*` glob; anything else must be
/// deeply equal with Go's type rules (JSON numbers never equal HCL numbers).
fn value_in_list(v: &Value, list: &[Value]) -> bool {
    if list.is_empty() {
        return true;
    }
    list.iter().any(|el| match (el, v) {
        (Value::String(pat), Value::String(s)) => globbed_match(pat, s),
        _ => go_deep_equal(el, v),
    })
}

fn go_deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| go_deep_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, p)| y.get(k).is_some_and(|q| go_deep_equal(p, q)))
        }
        // Policy numbers are Go ints/floats, request numbers json.Number.
        _ => false,
    }
}

/// `strutil.GlobbedStringsMatch`.
fn globbed_match(item: &str, val: &str) -> bool {
    if item.len() < 2 {
        return val == item;
    }
    let has_prefix = item.starts_with('*');
    let has_suffix = item.ends_with('*');
    match (has_prefix, has_suffix) {
        (true, true) => val.contains(&item[1..item.len() - 1]),
        (true, false) => val.ends_with(&item[1..]),
        (false, true) => val.starts_with(&item[..item.len() - 1]),
        (false, false) => val == item,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use Operation::*;

    fn acl(texts: &[&str]) -> Acl {
        let policies: Vec<Policy> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| Policy::parse(&format!("p{i}"), t).expect("policy parses"))
            .collect();
        let refs: Vec<&Policy> = policies.iter().collect();
        Acl::new(&refs)
    }

    fn rule(path: &str, caps: &[&str]) -> String {
        let caps: Vec<String> = caps.iter().map(|c| format!("{c:?}")).collect();
        format!("path {path:?} {{ capabilities = [{}] }}", caps.join(", "))
    }

    fn allowed(a: &Acl, op: Operation, path: &str) -> bool {
        a.allow(op, path, false).allowed
    }

    #[test]
    fn exact_glob_and_plus_matching() {
        let a = acl(&[
            &rule("kv/exact", &["read"]),
            &rule("kv/glob*", &["read"]),
            &rule("kv/+/seg", &["read"]),
        ]);
        assert!(allowed(&a, Read, "kv/exact"));
        assert!(!allowed(&a, Read, "kv/exact2"));
        assert!(!allowed(&a, Read, "kv/exac"));
        assert!(allowed(&a, Read, "kv/glob"));
        assert!(allowed(&a, Read, "kv/globe/x/y"));
        assert!(!allowed(&a, Read, "kv/glo"));
        assert!(allowed(&a, Read, "kv/a/seg"));
        assert!(allowed(&a, Read, "kv//seg"));
        assert!(!allowed(&a, Read, "kv/a/b/seg"));
        assert!(!allowed(&a, Read, "kv/a/seg/x"));
        assert!(!allowed(&a, Read, "kv/seg"));
    }

    #[test]
    fn plus_with_trailing_glob() {
        let a = acl(&[&rule("kv/+/ab*", &["read"]), &rule("+", &["list"])]);
        assert!(allowed(&a, Read, "kv/x/ab"));
        assert!(allowed(&a, Read, "kv/x/abc/d/e"));
        assert!(!allowed(&a, Read, "kv/x/a"));
        assert!(!allowed(&a, Read, "kv/ab"));
        assert!(allowed(&a, List, "kv/"));
        assert!(!allowed(&a, List, "kv/x/"));
    }

    #[test]
    fn exact_rule_beats_globs_and_capabilities_do_not_union() {
        let a = acl(&[
            &rule("kv/foo", &["update"]),
            &rule("kv/*", &["read"]),
            &rule("kv/+", &["delete"]),
        ]);
        assert!(!allowed(&a, Read, "kv/foo"));
        assert!(allowed(&a, Update, "kv/foo"));
        assert!(!allowed(&a, Delete, "kv/foo"));
        // kv/+ (non-prefix) beats kv/* with the same first-wildcard index.
        assert!(allowed(&a, Delete, "kv/bar"));
        assert!(!allowed(&a, Read, "kv/bar"));
        assert!(allowed(&a, Read, "kv/bar/baz"));
    }

    #[test]
    fn same_pattern_merges_and_deny_wins() {
        let a = acl(&[&rule("kv/*", &["read"]), &rule("kv/*", &["update"])]);
        assert!(allowed(&a, Read, "kv/x") && allowed(&a, Update, "kv/x"));
        assert!(!allowed(&a, Create, "kv/x"));
        let a = acl(&[
            &rule("kv/*", &["read"]),
            &rule("kv/*", &["deny"]),
            &rule("kv/*", &["update"]),
        ]);
        assert!(!allowed(&a, Read, "kv/x") && !allowed(&a, Update, "kv/x"));
        assert_eq!(a.capabilities("kv/x"), ["deny"]);
        let a = acl(&[
            &rule("kv/+/c", &["deny"]),
            &rule("kv/+/c", &["read", "sudo"]),
        ]);
        assert!(!allowed(&a, Read, "kv/a/c"));
        let a = acl(&[&rule("kv/x", &["deny", "read"])]);
        assert!(!allowed(&a, Read, "kv/x"));
    }

    #[test]
    fn priority_rules() {
        // (1) later first wildcard wins.
        let a = acl(&[&rule("kv/a*", &["read"]), &rule("kv/+", &["update"])]);
        assert!(allowed(&a, Read, "kv/ab") && !allowed(&a, Update, "kv/ab"));
        let a = acl(&[&rule("kv/+/b/x", &["read"]), &rule("kv/a/+/x", &["update"])]);
        assert!(allowed(&a, Update, "kv/a/b/x") && !allowed(&a, Read, "kv/a/b/x"));
        // (2) not ending in * beats ending in *.
        let a = acl(&[&rule("kv/+/b", &["read"]), &rule("kv/+/b*", &["update"])]);
        assert!(allowed(&a, Read, "kv/a/b") && !allowed(&a, Update, "kv/a/b"));
        assert!(allowed(&a, Update, "kv/a/bc"));
        // (3) fewer + wins.
        let a = acl(&[&rule("kv/+/+/x", &["read"]), &rule("kv/+/b/x", &["update"])]);
        assert!(allowed(&a, Update, "kv/a/b/x") && !allowed(&a, Read, "kv/a/b/x"));
        // (4) longer wins.
        let a = acl(&[
            &rule("kv/+/b/c*", &["read"]),
            &rule("kv/+/b/*", &["update"]),
        ]);
        assert!(allowed(&a, Read, "kv/a/b/cd") && !allowed(&a, Update, "kv/a/b/cd"));
        let a = acl(&[&rule("kv/*", &["read"]), &rule("kv/app/*", &["update"])]);
        assert!(!allowed(&a, Read, "kv/app/x") && allowed(&a, Update, "kv/app/x"));
        // (5) lexicographically larger wins.
        let a = acl(&[
            &rule("kv/+/b/+/x", &["read"]),
            &rule("kv/+/+/c/x", &["update"]),
        ]);
        assert!(allowed(&a, Read, "kv/a/b/c/x") && !allowed(&a, Update, "kv/a/b/c/x"));
    }

    #[test]
    fn list_fallbacks() {
        let a = acl(&[&rule("kv/dir", &["list"])]);
        assert!(allowed(&a, List, "kv/dir/"));
        assert!(!allowed(&a, Read, "kv/dir/"));
        let a = acl(&[&rule("kv/+", &["list", "read"])]);
        assert!(allowed(&a, List, "kv/abc/"));
        assert!(!allowed(&a, Read, "kv/abc/"));
        // An exact rule for the trimmed path beats a glob for the full one.
        let a = acl(&[&rule("kv/m", &["read"]), &rule("kv/m/*", &["list"])]);
        assert!(!allowed(&a, List, "kv/m/"));
        let a = acl(&[&rule("kv/s/*", &["scan"])]);
        assert!(allowed(&a, Scan, "kv/s/") && !allowed(&a, List, "kv/s/"));
    }

    #[test]
    fn sudo() {
        let a = acl(&[
            &rule("sys/audit", &["read"]),
            &rule("sys/rotate", &["update", "sudo"]),
        ]);
        let r = a.allow(Read, "sys/audit", true);
        assert_eq!(
            r,
            AclResult {
                allowed: false,
                root_privs: false
            }
        );
        assert!(a.allow(Read, "sys/audit", false).allowed);
        let r = a.allow(Update, "sys/rotate", true);
        assert_eq!(
            r,
            AclResult {
                allowed: true,
                root_privs: true
            }
        );
        // sudo alone does not grant the operation.
        let a = acl(&[&rule("sys/audit", &["sudo"])]);
        assert_eq!(
            a.allow(Read, "sys/audit", true),
            AclResult {
                allowed: false,
                root_privs: true
            }
        );
    }

    #[test]
    fn root_acl() {
        let root = Acl::root();
        assert!(root.is_root());
        assert_eq!(
            root.allow(Delete, "sys/anything", true),
            AclResult {
                allowed: true,
                root_privs: true
            }
        );
        assert_eq!(root.capabilities("x"), ["root"]);
        let p = Policy::parse("root", "").map(|_| ()).expect_err("empty");
        assert_eq!(p, crate::PolicyError::Empty);
        let rootp = Policy {
            name: "root".into(),
            raw: String::new(),
            rules: vec![],
        };
        assert!(Acl::new(&[&rootp]).is_root());
        assert!(!Acl::new(&[]).is_root());
        assert_eq!(Acl::new(&[]).capabilities("x"), ["deny"]);
    }

    #[test]
    fn capabilities_output() {
        let a = acl(&[
            &rule(
                "kv/*",
                &[
                    "update", "read", "sudo", "create", "patch", "list", "delete", "scan",
                ],
            ),
            &rule("kv/none", &[]),
        ]);
        assert_eq!(
            a.capabilities("kv/x"),
            ["create", "delete", "list", "patch", "read", "scan", "sudo", "update"]
        );
        assert_eq!(a.capabilities("kv/none"), ["deny"]);
        assert_eq!(a.capabilities("other"), ["deny"]);
        assert_eq!(a.capabilities("/kv/x").len(), 8);
    }

    #[test]
    fn leading_slashes_are_ignored() {
        let a = acl(&[&rule("kv/x", &["read"])]);
        assert!(allowed(&a, Read, "//kv/x"));
    }

    fn req<'a>(
        op: Operation,
        path: &'a str,
        data: Option<&'a Map<String, Value>>,
    ) -> AclRequest<'a> {
        AclRequest {
            operation: op,
            path,
            needs_sudo: false,
            data,
            wrap_ttl: None,
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn parameter_constraints() {
        let a = acl(&[r#"path "kv/p" {
  capabilities = ["create", "update", "read", "list"]
  allowed_parameters = { "name" = ["alice", "bob*"] "ttl" = [] }
  denied_parameters = { "admin" = [] }
  required_parameters = ["name"]
}"#]);
        let ok = |d: Value| a.allow_request(&req(Update, "kv/p", Some(&obj(d)))).allowed;
        assert!(ok(json!({"name": "alice"})));
        assert!(ok(json!({"name": "bobby", "ttl": 5})));
        assert!(!ok(json!({"name": "carol"})));
        assert!(!ok(json!({"ttl": "1h"})));
        assert!(!ok(json!({"name": "alice", "admin": true})));
        assert!(!ok(json!({"name": "alice", "other": 1})));
        // Missing required parameter with no data at all.
        assert!(!a.allow_request(&req(Update, "kv/p", None)).allowed);
        // List ignores parameter rules; plain allow() ignores them too.
        assert!(a.allow_request(&req(List, "kv/p/", None)).allowed);
        assert!(a.allow(Update, "kv/p", false).allowed);

        let a = acl(&[r#"path "kv/n" {
  capabilities = ["update"]
  allowed_parameters = { "n" = [1] "b" = [true] "*" = [] }
  denied_parameters = { "s" = ["*bad*"] }
}"#]);
        let ok = |d: Value| a.allow_request(&req(Update, "kv/n", Some(&obj(d)))).allowed;
        // JSON numbers never equal policy numbers (Go type rules).
        assert!(!ok(json!({"n": 1})));
        assert!(ok(json!({"b": true})));
        assert!(!ok(json!({"b": false})));
        assert!(ok(json!({"anything": "x"})));
        assert!(!ok(json!({"s": "so bad here"})));
        assert!(ok(json!({"s": "fine"})));

        let a =
            acl(&[r#"path "kv/d" { capabilities = ["update"] denied_parameters = { "*" = [] } }"#]);
        assert!(
            !a.allow_request(&req(Update, "kv/d", Some(&obj(json!({"x": 1})))))
                .allowed
        );
        assert!(a.allow_request(&req(Update, "kv/d", None)).allowed);
    }

    #[test]
    fn parameter_merging() {
        let a = acl(&[
            r#"path "kv/m" { capabilities = ["update"] allowed_parameters = { "a" = ["1"] "b" = ["x"] } }"#,
            r#"path "kv/m" { capabilities = ["update"] allowed_parameters = { "a" = ["2"] "b" = [] } }"#,
        ]);
        let ok = |d: Value| a.allow_request(&req(Update, "kv/m", Some(&obj(d)))).allowed;
        assert!(ok(json!({"a": "1"})) && ok(json!({"a": "2"})));
        assert!(!ok(json!({"a": "3"})));
        assert!(ok(json!({"b": "anything"})));
    }

    #[test]
    fn wrapping_ttl_bounds() {
        let a = acl(&[
            r#"path "kv/w" { capabilities = ["read"] min_wrapping_ttl = "1m" max_wrapping_ttl = "1h" }"#,
        ]);
        let ok = |t: Option<u64>| {
            a.allow_request(&AclRequest {
                wrap_ttl: t.map(Duration::from_secs),
                ..req(Read, "kv/w", None)
            })
            .allowed
        };
        assert!(!ok(None));
        assert!(!ok(Some(30)));
        assert!(ok(Some(60)));
        assert!(ok(Some(3600)));
        assert!(!ok(Some(3601)));
        assert!(a.allow(Read, "kv/w", false).allowed);
    }

    #[test]
    fn pagination_limit() {
        let a = acl(&[r#"path "kv/l/*" { capabilities = ["list"] pagination_limit = 10 }"#]);
        let ok = |d: Value| a.allow_request(&req(List, "kv/l/", Some(&obj(d)))).allowed;
        assert!(ok(json!({})));
        assert!(ok(json!({"limit": "10"})));
        assert!(ok(json!({"limit": 0})));
        assert!(!ok(json!({"limit": 11})));
        assert!(!ok(json!({"limit": -1})));
        assert!(ok(json!({"limit": "max"})));
        assert!(!ok(json!({"limit": "lots"})));
    }

    #[test]
    fn expired_rules_are_ignored() {
        let p = Policy::parse(
            "p",
            r#"path "kv/x" { capabilities = ["read"] expiration = "2999-01-01T00:00:00Z" }"#,
        )
        .expect("parses");
        let mut expired = p.clone();
        expired.rules[0].expiration = Some(1);
        assert!(Acl::new(&[&p]).allow(Read, "kv/x", false).allowed);
        assert!(!Acl::new(&[&expired]).allow(Read, "kv/x", false).allowed);
    }

    /// Expectations checked against OpenBao 2.7.2's `sys/internal/ui/mounts`.
    #[test]
    fn mount_access() {
        let a = acl(&[&rule("kv*", &["read"]), &rule("x/+/y", &["read"])]);
        assert!(a.has_mount_access("kv/") && !a.has_mount_access("secret/"));
        let a = acl(&[&rule("k*", &["deny"])]);
        assert!(a.has_mount_access("kv/") && !a.has_mount_access("secret/"));
        let a = acl(&[&rule("kv/+", &["read"])]);
        assert!(a.has_mount_access("kv/") && !a.has_mount_access("secret/"));
        let a = acl(&[&rule("kv", &["read"])]);
        assert!(a.has_mount_access("kv/") && !a.has_mount_access("secret/"));
        let a = acl(&[&rule("secret/data/app", &["read"])]);
        assert!(a.has_mount_access("secret/"));
        assert!(!a.has_mount_access("kv/"));
        let a = acl(&[&rule("secret/*", &["deny"]), &rule("kv/x", &["deny"])]);
        assert!(
            a.has_mount_access("secret/"),
            "OpenBao quirk: any prefix match"
        );
        assert!(!a.has_mount_access("kv/"));
        let a = acl(&[&rule("secret/+/app", &["read"]), &rule("kv/+/x", &["deny"])]);
        assert!(a.has_mount_access("secret/"));
        assert!(!a.has_mount_access("kv/"));
        assert!(!a.has_mount_access("other/"));
        let a = acl(&[&rule("+/data/*", &["list"])]);
        assert!(a.has_mount_access("anything/"));
        assert!(Acl::root().has_mount_access("x/"));
        assert!(!Acl::new(&[]).has_mount_access("x/"));
    }

    #[test]
    fn glob_matching() {
        assert!(globbed_match("*", "*"));
        assert!(!globbed_match("*", "x"));
        assert!(globbed_match("ab*", "abc"));
        assert!(globbed_match("*bc", "abc"));
        assert!(globbed_match("*b*", "abc"));
        assert!(!globbed_match("*d*", "abc"));
        assert!(globbed_match("abc", "abc"));
    }
}
