//! Table tests whose expected values were produced by a real OpenBao 2.7.2
//! dev server (`bao server -dev`): every policy set below was written with
//! `sys/policies/acl`, attached to a token created with
//! `no_default_policy`, and then
//!
//! * each `ALLOW_ROWS` entry was sent as a real request with that token
//!   (GET, LIST, POST to a missing/existing key for create/update, DELETE,
//!   PATCH) against a KV v1 mount at `kv/` and root-protected `sys` paths;
//!   "allowed" means OpenBao did not answer 403 permission denied;
//! * each `CAPABILITY_ROWS` entry is OpenBao's `sys/capabilities` answer;
//! * each `PARAM_ROWS` entry is a real request carrying parameters and/or
//!   an `X-Vault-Wrap-TTL` header, checked with [`Acl::allow_request`];
//! * each `PARSE_ROWS` text was written with `sys/policies/acl` (accepted or
//!   not), and for accepted ones `sys/capabilities` was asked for `PROBES`.
//!
//! Regenerate with a throwaway script if OpenBao behaviour is re-checked;
//! do not edit the expectations by hand.

use std::time::Duration;

use crate::{Acl, AclRequest, Operation, Policy};
use Operation::*;

fn acl_for(set: &str) -> Acl {
    let (_, texts) = POLICY_SETS
        .iter()
        .find(|(name, _)| *name == set)
        .expect("policy set exists");
    let policies: Vec<Policy> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| Policy::parse(&format!("{set}-{i}"), t).expect("table policy parses"))
        .collect();
    let refs: Vec<&Policy> = policies.iter().collect();
    Acl::new(&refs)
}

#[test]
fn allow_table_matches_openbao() {
    assert!(ALLOW_ROWS.len() >= 60);
    let mut failures = Vec::new();
    for &(set, op, path, sudo, expected) in ALLOW_ROWS {
        let got = acl_for(set).allow(op, path, sudo).allowed;
        if got != expected {
            failures.push(format!(
                "{set}: {op} {path} sudo={sudo}: expected {expected}, got {got}"
            ));
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

#[test]
fn capabilities_table_matches_openbao() {
    let mut failures = Vec::new();
    for &(set, path, expected) in CAPABILITY_ROWS {
        let got = acl_for(set).capabilities(path);
        if got != expected {
            failures.push(format!(
                "{set}: {path:?}: expected {expected:?}, got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

#[test]
fn parameter_table_matches_openbao() {
    let mut failures = Vec::new();
    for &(set, op, path, data, wrap, expected) in PARAM_ROWS {
        let data: Option<serde_json::Map<String, serde_json::Value>> =
            (!data.is_empty()).then(|| serde_json::from_str(data).expect("row data is JSON"));
        let req = AclRequest {
            operation: op,
            path,
            needs_sudo: false,
            data: data.as_ref(),
            wrap_ttl: wrap.map(Duration::from_secs),
        };
        let got = acl_for(set).allow_request(&req).allowed;
        if got != expected {
            failures.push(format!(
                "{set}: {op} {path} {data:?} wrap={wrap:?}: expected {expected}, got {got}"
            ));
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

#[test]
fn parse_table_matches_openbao() {
    let mut failures = Vec::new();
    for &(text, accepted, non_deny) in PARSE_ROWS {
        match Policy::parse("p", text) {
            Ok(policy) => {
                if !accepted {
                    failures.push(format!("{text:?}: OpenBao rejects it, we accept it"));
                    continue;
                }
                let acl = Acl::new(&[&policy]);
                for probe in PROBES {
                    let expected: Vec<&str> = non_deny
                        .iter()
                        .find(|(p, _)| p == probe)
                        .map_or(vec!["deny"], |(_, caps)| caps.to_vec());
                    let got = acl.capabilities(probe);
                    if got != expected {
                        failures.push(format!(
                            "{text:?} at {probe:?}: expected {expected:?}, got {got:?}"
                        ));
                    }
                }
            }
            Err(e) => {
                if accepted {
                    failures.push(format!("{text:?}: OpenBao accepts it, we reject it: {e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

/// Policy sets: (name, policy texts).
const POLICY_SETS: &[(&str, &[&str])] = &[
    ("glob_read", &["path \"kv/*\" {\n  capabilities = [\"read\"]\n}\n"]),
    ("exact_vs_glob", &["path \"kv/foo\" {\n  capabilities = [\"create\", \"update\"]\n}\n", "path \"kv/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n"]),
    ("plus", &["path \"kv/+/config\" {\n  capabilities = [\"read\", \"list\"]\n}\n"]),
    ("plus_glob", &["path \"kv/team/+/sec*\" {\n  capabilities = [\"read\"]\n}\n"]),
    ("deny_specific", &["path \"kv/*\" {\n  capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"]\n}\n", "path \"kv/secret/*\" {\n  capabilities = [\"deny\"]\n}\n"]),
    ("deny_same_pattern", &["path \"kv/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n", "path \"kv/*\" {\n  capabilities = [\"deny\"]\n}\n"]),
    ("merge_same_pattern", &["path \"kv/*\" {\n  capabilities = [\"read\"]\n}\n", "path \"kv/*\" {\n  capabilities = [\"update\"]\n}\n", "path \"kv/*\" {\n  capabilities = [\"list\"]\n}\n"]),
    ("no_union", &["path \"kv/*\" {\n  capabilities = [\"read\"]\n}\n", "path \"kv/app/*\" {\n  capabilities = [\"update\"]\n}\n"]),
    ("prio_first_wc", &["path \"kv/a*\" {\n  capabilities = [\"read\"]\n}\n", "path \"kv/+\" {\n  capabilities = [\"update\"]\n}\n"]),
    ("prio_nonprefix", &["path \"kv/+/config\" {\n  capabilities = [\"read\"]\n}\n", "path \"kv/*\" {\n  capabilities = [\"update\", \"create\"]\n}\n"]),
    ("prio_fewer_plus", &["path \"kv/+/+/x\" {\n  capabilities = [\"read\"]\n}\n", "path \"kv/+/b/x\" {\n  capabilities = [\"update\"]\n}\n"]),
    ("prio_longer", &["path \"kv/+/b/c*\" {\n  capabilities = [\"read\"]\n}\n", "path \"kv/+/b/*\" {\n  capabilities = [\"update\"]\n}\n"]),
    ("prio_lex", &["path \"kv/+/b/+/x\" {\n  capabilities = [\"read\"]\n}\n", "path \"kv/+/+/c/x\" {\n  capabilities = [\"update\"]\n}\n"]),
    ("prio_later_plus", &["path \"kv/+/b/x\" {\n  capabilities = [\"read\"]\n}\n", "path \"kv/a/+/x\" {\n  capabilities = [\"update\"]\n}\n"]),
    ("list_exact_noslash", &["path \"kv/dir\" {\n  capabilities = [\"list\"]\n}\n"]),
    ("list_slash_pattern", &["path \"kv/dir/\" {\n  capabilities = [\"list\"]\n}\n"]),
    ("list_plus_noslash", &["path \"kv/+\" {\n  capabilities = [\"list\", \"read\"]\n}\n"]),
    ("list_glob", &["path \"kv/app*\" {\n  capabilities = [\"list\"]\n}\n"]),
    ("patch", &["path \"kv/p/*\" {\n  capabilities = [\"patch\"]\n}\n", "path \"kv/q/*\" {\n  capabilities = [\"update\", \"read\"]\n}\n"]),
    ("create_only", &["path \"kv/c/*\" {\n  capabilities = [\"create\"]\n}\n"]),
    ("sudo_needed", &["path \"sys/audit\" {\n  capabilities = [\"read\"]\n}\n", "path \"auth/token/accessors/\" {\n  capabilities = [\"list\"]\n}\n", "path \"sys/rotate\" {\n  capabilities = [\"update\"]\n}\n"]),
    ("sudo_granted", &["path \"sys/audit\" {\n  capabilities = [\"read\", \"sudo\"]\n}\n", "path \"auth/token/accessors/\" {\n  capabilities = [\"list\", \"sudo\"]\n}\n", "path \"sys/rotate\" {\n  capabilities = [\"update\", \"sudo\"]\n}\n"]),
    ("sudo_only", &["path \"sys/audit\" {\n  capabilities = [\"sudo\"]\n}\n", "path \"sys/config/auditing/*\" {\n  capabilities = [\"sudo\", \"read\"]\n}\n"]),
    ("sudo_other_pattern", &["path \"sys/*\" {\n  capabilities = [\"sudo\"]\n}\n", "path \"sys/audit\" {\n  capabilities = [\"read\"]\n}\n"]),
    ("old_style", &["path \"kv/old/*\" {\n  policy = \"write\"\n}\n", "path \"kv/ro/*\" {\n  policy = \"read\"\n}\n", "path \"kv/dn/*\" {\n  policy = \"deny\"\n}\n", "path \"sys/audit\" {\n  policy = \"sudo\"\n}\n"]),
    ("none", &["path \"kv/x\" {\n  capabilities = [\"read\"]\n}\n"]),
    ("star_all_deny_exact", &["path \"*\" {\n  capabilities = [\"read\", \"list\"]\n}\n", "path \"kv/blocked\" {\n  capabilities = [\"deny\"]\n}\n"]),
    ("deny_plus", &["path \"kv/+/config\" {\n  capabilities = [\"read\"]\n}\n", "path \"kv/+/config\" {\n  capabilities = [\"deny\"]\n}\n", "path \"kv/+/other\" {\n  capabilities = [\"read\"]\n}\n"]),
    ("leading_slash", &["path \"/kv/lead/*\" {\n  capabilities = [\"read\"]\n}\n"]),
    ("plus_start", &["path \"+/foo\" {\n  capabilities = [\"read\"]\n}\n"]),
    ("glob_middle_literal", &["path \"kv/*/x\" {\n  capabilities = [\"read\"]\n}\n"]),
    ("list_mix", &["path \"kv/m\" {\n  capabilities = [\"read\"]\n}\n", "path \"kv/m/*\" {\n  capabilities = [\"list\"]\n}\n"]),
    ("scan", &["path \"kv/s/*\" {\n  capabilities = [\"scan\", \"list\"]\n}\n"]),
    ("params", &["path \"kv/p\" {\n  capabilities = [\"create\", \"update\", \"read\", \"list\"]\n  allowed_parameters = {\n    \"name\" = [\"alice\", \"bob*\"]\n    \"ttl\" = []\n  }\n  denied_parameters = {\n    \"admin\" = []\n  }\n  required_parameters = [\"name\"]\n}"]),
    ("params_types", &["path \"kv/n\" {\n  capabilities = [\"update\"]\n  allowed_parameters = {\n    \"n\" = [1]\n    \"b\" = [true]\n    \"s\" = [\"x\"]\n    \"*\" = []\n  }\n  denied_parameters = {\n    \"d\" = [\"*bad*\"]\n  }\n}"]),
    ("params_merge", &["path \"kv/m\" {\n  capabilities = [\"update\"]\n  allowed_parameters = {\n    \"a\" = [\"1\"]\n    \"b\" = [\"x\"]\n  }\n}", "path \"kv/m\" {\n  capabilities = [\"update\"]\n  allowed_parameters = {\n    \"a\" = [\"2\"]\n    \"b\" = []\n  }\n}"]),
    ("deny_all_params", &["path \"kv/d\" {\n  capabilities = [\"update\"]\n  denied_parameters = {\n    \"*\" = []\n  }\n}"]),
    ("wrapping", &["path \"kv/w\" {\n  capabilities = [\"read\"]\n  min_wrapping_ttl = \"1m\"\n  max_wrapping_ttl = \"1h\"\n}"]),
    ("pagination", &["path \"kv/l/*\" {\n  capabilities = [\"list\"]\n  pagination_limit = 10\n}"]),
];

/// (policy set, operation, path, path needs sudo, OpenBao allowed it).
const ALLOW_ROWS: &[(&str, Operation, &str, bool, bool)] = &[
    ("glob_read", Read, "kv/foo", false, true),
    ("glob_read", Read, "kv/a/b/c", false, true),
    ("glob_read", Read, "kv", false, false),
    ("glob_read", List, "kv/", false, false),
    ("glob_read", Update, "kv/foo", false, false),
    ("glob_read", Create, "kv/new1", false, false),
    ("glob_read", Delete, "kv/foo", false, false),
    ("glob_read", Read, "kvx/foo", false, false),
    ("exact_vs_glob", Read, "kv/foo", false, false),
    ("exact_vs_glob", Update, "kv/foo", false, true),
    ("exact_vs_glob", Create, "kv/foo", false, true),
    ("exact_vs_glob", Read, "kv/foo2", false, true),
    ("exact_vs_glob", Read, "kv/foo/bar", false, true),
    ("exact_vs_glob", List, "kv/foo/", false, false),
    ("plus", Read, "kv/a/config", false, true),
    ("plus", Read, "kv/b/config", false, true),
    ("plus", Read, "kv/a/b/config", false, false),
    ("plus", Read, "kv/config", false, false),
    ("plus", Read, "kv/a/config2", false, false),
    ("plus", Read, "kv/a/config/x", false, false),
    ("plus", List, "kv/a/config/", false, true),
    ("plus", Update, "kv/a/config", false, false),
    ("plus_glob", Read, "kv/team/x/secret", false, true),
    ("plus_glob", Read, "kv/team/x/sec", false, true),
    ("plus_glob", Read, "kv/team/x/se", false, false),
    ("plus_glob", Read, "kv/team/x/secret/deep/er", false, true),
    ("plus_glob", Read, "kv/team/sec", false, false),
    ("plus_glob", Read, "kv/team/x/y/secret", false, false),
    ("deny_specific", Read, "kv/secret/x", false, false),
    ("deny_specific", Read, "kv/public/x", false, true),
    ("deny_specific", Update, "kv/secret/a", false, false),
    ("deny_specific", Read, "kv/secret", false, true),
    ("deny_specific", List, "kv/secret/", false, false),
    ("deny_specific", Delete, "kv/secretive", false, true),
    ("deny_same_pattern", Read, "kv/foo", false, false),
    ("deny_same_pattern", List, "kv/", false, false),
    ("merge_same_pattern", Read, "kv/foo", false, true),
    ("merge_same_pattern", Update, "kv/foo", false, true),
    ("merge_same_pattern", List, "kv/", false, true),
    ("merge_same_pattern", Create, "kv/new2", false, false),
    ("merge_same_pattern", Delete, "kv/foo", false, false),
    ("no_union", Read, "kv/app/x", false, false),
    ("no_union", Update, "kv/app/x", false, true),
    ("no_union", Read, "kv/other", false, true),
    ("no_union", Update, "kv/other", false, false),
    ("prio_first_wc", Read, "kv/ab", false, true),
    ("prio_first_wc", Update, "kv/ab", false, false),
    ("prio_first_wc", Read, "kv/zz", false, false),
    ("prio_first_wc", Update, "kv/zz", false, true),
    ("prio_nonprefix", Read, "kv/x/config", false, true),
    ("prio_nonprefix", Update, "kv/x/config", false, false),
    ("prio_nonprefix", Read, "kv/x/other", false, false),
    ("prio_nonprefix", Update, "kv/x/other", false, true),
    ("prio_fewer_plus", Read, "kv/a/b/x", false, false),
    ("prio_fewer_plus", Update, "kv/a/b/x", false, true),
    ("prio_fewer_plus", Read, "kv/a/c/x", false, true),
    ("prio_longer", Read, "kv/a/b/cd", false, true),
    ("prio_longer", Update, "kv/a/b/cd", false, false),
    ("prio_longer", Read, "kv/a/b/zz", false, false),
    ("prio_longer", Update, "kv/a/b/zz", false, true),
    ("prio_lex", Read, "kv/a/b/c/x", false, true),
    ("prio_lex", Update, "kv/a/b/c/x", false, false),
    ("prio_lex", Update, "kv/a/z/c/x", false, true),
    ("prio_later_plus", Read, "kv/a/b/x", false, false),
    ("prio_later_plus", Update, "kv/a/b/x", false, true),
    ("prio_later_plus", Read, "kv/z/b/x", false, true),
    ("list_exact_noslash", List, "kv/dir/", false, true),
    ("list_exact_noslash", Read, "kv/dir", false, false),
    ("list_exact_noslash", Read, "kv/dir/", false, false),
    ("list_exact_noslash", List, "kv/dir/x/", false, false),
    ("list_slash_pattern", List, "kv/dir/", false, true),
    ("list_slash_pattern", List, "kv/dir2/", false, false),
    ("list_plus_noslash", List, "kv/abc/", false, true),
    ("list_plus_noslash", Read, "kv/abc", false, true),
    ("list_plus_noslash", Read, "kv/abc/", false, false),
    ("list_plus_noslash", List, "kv/a/b/", false, false),
    ("list_glob", List, "kv/app/", false, true),
    ("list_glob", List, "kv/apple/", false, true),
    ("list_glob", List, "kv/", false, false),
    ("patch", Patch, "kv/p/x", false, true),
    ("patch", Update, "kv/p/x", false, false),
    ("patch", Patch, "kv/q/x", false, false),
    ("patch", Read, "kv/q/x", false, true),
    ("create_only", Create, "kv/c/new3", false, true),
    ("create_only", Update, "kv/c/existing", false, false),
    ("create_only", Read, "kv/c/existing", false, false),
    ("sudo_needed", Read, "sys/audit", true, false),
    ("sudo_needed", List, "auth/token/accessors/", true, false),
    ("sudo_needed", Update, "sys/rotate", true, false),
    ("sudo_granted", Read, "sys/audit", true, true),
    ("sudo_granted", List, "auth/token/accessors/", true, true),
    ("sudo_granted", Update, "sys/rotate", true, true),
    ("sudo_only", Read, "sys/audit", true, false),
    (
        "sudo_only",
        Read,
        "sys/config/auditing/request-headers",
        true,
        true,
    ),
    ("sudo_other_pattern", Read, "sys/audit", true, false),
    ("old_style", Read, "kv/old/x", false, true),
    ("old_style", Create, "kv/old/n4", false, true),
    ("old_style", Update, "kv/old/x", false, true),
    ("old_style", Delete, "kv/old/x", false, true),
    ("old_style", Patch, "kv/old/x", false, false),
    ("old_style", Read, "kv/ro/x", false, true),
    ("old_style", Update, "kv/ro/x", false, false),
    ("old_style", List, "kv/ro/", false, true),
    ("old_style", Read, "kv/dn/x", false, false),
    ("old_style", Read, "sys/audit", true, true),
    ("none", Read, "kv/y", false, false),
    ("none", Read, "kv/x/", false, false),
    ("none", List, "kv/", false, false),
    ("star_all_deny_exact", Read, "kv/anything", false, true),
    ("star_all_deny_exact", Read, "kv/blocked", false, false),
    ("star_all_deny_exact", List, "kv/blocked/", false, false),
    ("star_all_deny_exact", Read, "kv/blocked/x", false, true),
    ("deny_plus", Read, "kv/a/config", false, false),
    ("deny_plus", Read, "kv/a/other", false, true),
    ("leading_slash", Read, "kv/lead/x", false, true),
    ("plus_start", Read, "kv/foo", false, true),
    ("plus_start", Read, "kv/bar", false, false),
    ("glob_middle_literal", Read, "kv/a/x", false, false),
    ("glob_middle_literal", Read, "kv/*/x", false, true),
    ("list_mix", List, "kv/m/", false, false),
    ("list_mix", Read, "kv/m", false, true),
    ("list_mix", Read, "kv/m/x", false, false),
    ("scan", List, "kv/s/", false, true),
];

/// (policy set, path, OpenBao's sys/capabilities answer).
const CAPABILITY_ROWS: &[(&str, &str, &[&str])] = &[
    ("glob_read", "kv/foo", &["read"]),
    ("glob_read", "kv/", &["read"]),
    ("glob_read", "kv", &["deny"]),
    ("glob_read", "kvfoo", &["deny"]),
    ("exact_vs_glob", "kv/foo", &["create", "update"]),
    ("exact_vs_glob", "kv/foo/", &["create", "update"]),
    ("exact_vs_glob", "kv/foo2", &["list", "read"]),
    ("plus", "kv/a/config", &["list", "read"]),
    ("plus", "kv/a/config/", &["list", "read"]),
    ("plus", "kv//config", &["list", "read"]),
    ("plus", "kv/a/b/config", &["deny"]),
    ("plus_glob", "kv/team/a/secret", &["read"]),
    ("plus_glob", "kv/team/a/sex", &["deny"]),
    ("deny_specific", "kv/secret/x", &["deny"]),
    (
        "deny_specific",
        "kv/secret",
        &["create", "delete", "list", "read", "update"],
    ),
    ("deny_specific", "kv/secret/", &["deny"]),
    ("deny_same_pattern", "kv/foo", &["deny"]),
    ("merge_same_pattern", "kv/foo", &["list", "read", "update"]),
    ("no_union", "kv/app/x", &["update"]),
    ("no_union", "kv/other", &["read"]),
    ("prio_first_wc", "kv/ab", &["read"]),
    ("prio_first_wc", "kv/zz", &["update"]),
    ("prio_first_wc", "kv/a", &["read"]),
    ("prio_nonprefix", "kv/x/config", &["read"]),
    ("prio_nonprefix", "kv/x/other", &["create", "update"]),
    ("prio_fewer_plus", "kv/a/b/x", &["update"]),
    ("prio_fewer_plus", "kv/a/c/x", &["read"]),
    ("prio_longer", "kv/a/b/cd", &["read"]),
    ("prio_longer", "kv/a/b/zz", &["update"]),
    ("prio_lex", "kv/a/b/c/x", &["read"]),
    ("prio_later_plus", "kv/a/b/x", &["update"]),
    ("list_exact_noslash", "kv/dir", &["list"]),
    ("list_exact_noslash", "kv/dir/", &["list"]),
    ("list_slash_pattern", "kv/dir/", &["list"]),
    ("list_slash_pattern", "kv/dir", &["deny"]),
    ("list_plus_noslash", "kv/abc/", &["list", "read"]),
    ("list_plus_noslash", "kv/abc", &["list", "read"]),
    ("patch", "kv/p/x", &["patch"]),
    ("sudo_needed", "sys/audit", &["read"]),
    ("sudo_needed", "auth/token/accessors/", &["list"]),
    ("sudo_granted", "sys/audit", &["read", "sudo"]),
    ("sudo_granted", "auth/token/accessors/", &["list", "sudo"]),
    ("sudo_granted", "sys/rotate", &["sudo", "update"]),
    ("sudo_only", "sys/audit", &["sudo"]),
    (
        "sudo_only",
        "sys/config/auditing/request-headers",
        &["read", "sudo"],
    ),
    ("sudo_other_pattern", "sys/audit", &["read"]),
    (
        "old_style",
        "kv/old/x",
        &["create", "delete", "list", "read", "update"],
    ),
    ("old_style", "kv/ro/x", &["list", "read"]),
    ("old_style", "kv/dn/x", &["deny"]),
    (
        "old_style",
        "sys/audit",
        &["create", "delete", "list", "read", "sudo", "update"],
    ),
    ("none", "kv/y", &["deny"]),
    ("none", "sys/audit", &["deny"]),
    ("star_all_deny_exact", "kv/blocked", &["deny"]),
    ("star_all_deny_exact", "kv/blocked/", &["deny"]),
    ("star_all_deny_exact", "kv/x", &["list", "read"]),
    ("deny_plus", "kv/a/config", &["deny"]),
    ("leading_slash", "kv/lead/x", &["read"]),
    ("leading_slash", "/kv/lead/x", &["read"]),
    ("plus_start", "kv/foo", &["read"]),
    ("plus_start", "x/foo", &["read"]),
    ("plus_start", "foo", &["deny"]),
    ("glob_middle_literal", "kv/a/x", &["deny"]),
    ("glob_middle_literal", "kv/*/x", &["read"]),
    ("list_mix", "kv/m/", &["read"]),
    ("list_mix", "kv/m", &["read"]),
    ("scan", "kv/s/", &["list", "scan"]),
    ("scan", "kv/s/x", &["list", "scan"]),
];

/// (policy set, operation, path, request data as JSON or "" for none,
/// response-wrapping TTL in seconds, OpenBao allowed it). Read/list data
/// was sent as query parameters (strings), write data as a JSON body.
type ParamRow = (
    &'static str,
    Operation,
    &'static str,
    &'static str,
    Option<u64>,
    bool,
);
const PARAM_ROWS: &[ParamRow] = &[
    (
        "params",
        Update,
        "kv/p",
        "{\"name\": \"alice\"}",
        None,
        true,
    ),
    (
        "params",
        Update,
        "kv/p",
        "{\"name\": \"bobby\", \"ttl\": 5}",
        None,
        true,
    ),
    (
        "params",
        Update,
        "kv/p",
        "{\"name\": \"carol\"}",
        None,
        false,
    ),
    ("params", Update, "kv/p", "{\"ttl\": \"1h\"}", None, false),
    (
        "params",
        Update,
        "kv/p",
        "{\"admin\": true, \"name\": \"alice\"}",
        None,
        false,
    ),
    (
        "params",
        Update,
        "kv/p",
        "{\"name\": \"alice\", \"other\": 1}",
        None,
        false,
    ),
    ("params", Update, "kv/p", "{}", None, false),
    (
        "params",
        Create,
        "kv/p",
        "{\"name\": \"alice\"}",
        None,
        true,
    ),
    (
        "params",
        Create,
        "kv/p",
        "{\"Name\": \"alice\"}",
        None,
        false,
    ),
    ("params", Read, "kv/p", "", None, false),
    ("params", Read, "kv/p", "{\"name\": \"alice\"}", None, true),
    ("params", List, "kv/p/", "", None, true),
    ("params_types", Update, "kv/n", "{\"n\": 1}", None, false),
    (
        "params_types",
        Update,
        "kv/n",
        "{\"n\": \"1\"}",
        None,
        false,
    ),
    ("params_types", Update, "kv/n", "{\"b\": true}", None, true),
    (
        "params_types",
        Update,
        "kv/n",
        "{\"b\": false}",
        None,
        false,
    ),
    (
        "params_types",
        Update,
        "kv/n",
        "{\"s\": \"y\"}",
        None,
        false,
    ),
    (
        "params_types",
        Update,
        "kv/n",
        "{\"anything\": \"x\"}",
        None,
        true,
    ),
    (
        "params_types",
        Update,
        "kv/n",
        "{\"d\": \"so bad here\"}",
        None,
        false,
    ),
    (
        "params_types",
        Update,
        "kv/n",
        "{\"d\": \"fine\"}",
        None,
        true,
    ),
    ("params_merge", Update, "kv/m", "{\"a\": \"1\"}", None, true),
    ("params_merge", Update, "kv/m", "{\"a\": \"2\"}", None, true),
    (
        "params_merge",
        Update,
        "kv/m",
        "{\"a\": \"3\"}",
        None,
        false,
    ),
    (
        "params_merge",
        Update,
        "kv/m",
        "{\"b\": \"anything\"}",
        None,
        true,
    ),
    (
        "deny_all_params",
        Update,
        "kv/d",
        "{\"x\": \"1\"}",
        None,
        false,
    ),
    ("deny_all_params", Update, "kv/d", "{}", None, true),
    ("wrapping", Read, "kv/w", "", None, false),
    ("wrapping", Read, "kv/w", "", Some(30), false),
    ("wrapping", Read, "kv/w", "", Some(60), true),
    ("wrapping", Read, "kv/w", "", Some(3600), true),
    ("wrapping", Read, "kv/w", "", Some(3601), false),
    ("pagination", List, "kv/l/", "", None, true),
    (
        "pagination",
        List,
        "kv/l/",
        "{\"limit\": \"10\"}",
        None,
        true,
    ),
    (
        "pagination",
        List,
        "kv/l/",
        "{\"limit\": \"0\"}",
        None,
        true,
    ),
    (
        "pagination",
        List,
        "kv/l/",
        "{\"limit\": \"11\"}",
        None,
        false,
    ),
    (
        "pagination",
        List,
        "kv/l/",
        "{\"limit\": \"-1\"}",
        None,
        false,
    ),
    (
        "pagination",
        List,
        "kv/l/",
        "{\"limit\": \"max\"}",
        None,
        true,
    ),
    (
        "pagination",
        List,
        "kv/l/",
        "{\"limit\": \"lots\"}",
        None,
        false,
    ),
];

/// Paths whose capabilities were probed for every accepted PARSE_ROWS policy.
const PROBES: &[&str] = &["a", "a/b", "a/b/c", "path", "a/${foo}", "/a", "x", "a/"];

/// (policy text, OpenBao accepted it, probes whose capabilities were not ["deny"]).
type ParseRow = (
    &'static str,
    bool,
    &'static [(&'static str, &'static [&'static str])],
);
const PARSE_ROWS: &[ParseRow] = &[
    ("path \"a\" { capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { capabilities = [\"read\"] policy = \"write\" }", true, &[("a", &["create", "delete", "list", "read", "update"]), ("/a", &["create", "delete", "list", "read", "update"]), ("a/", &["create", "delete", "list", "read", "update"])]),
    ("path \"a\" { capabilities = [\"read\"], policy = \"deny\" }", true, &[]),
    ("path \"a\" {\n  capabilities = [\"read\",]\n}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" {\n  capabilities = [\"read\" \"list\"]\n}", false, &[]),
    ("path \"a\" { capabilities = [\"read\"] bogus = 1 }", false, &[]),
    ("path a { capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" \"b\" { capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path { capabilities = [\"read\"] }", true, &[("path", &["read"])]),
    ("path \"a\" = { capabilities = [\"read\"] }", false, &[]),
    ("path = { \"a\" = { capabilities = [\"read\"] } }", false, &[]),
    ("path \"a\" { capabilities = [\"read\"] }\npath \"a\" { capabilities = [\"list\"] }", true, &[("a", &["list", "read"]), ("/a", &["list", "read"]), ("a/", &["list", "read"])]),
    ("path \"a\" {\n  capabilities = [\"read\"]\n  capabilities = [\"list\"]\n}", true, &[("a", &["list", "read"]), ("/a", &["list", "read"]), ("a/", &["list", "read"])]),
    ("path \"a\" {\n  policy = \"read\"\n  policy = \"deny\"\n}", true, &[]),
    ("path \"a\" { capabilities = {} }", true, &[]),
    ("path \"a\" { capabilities = \"read\" }", false, &[]),
    ("path \"a\" { capabilities = [1] }", false, &[]),
    ("path \"a\" { capabilities = [true] }", false, &[]),
    ("path \"a\" { capabilities = [\"deny\", \"bogus\"] }", true, &[]),
    ("path \"a\" { capabilities = [\"bogus\", \"deny\"] }", false, &[]),
    ("path \"a\" { capabilities = [\"Read\"] }", false, &[]),
    ("PATH \"a\" { capabilities = [\"read\"] }", false, &[]),
    ("path \"a\" { CAPABILITIES = [\"read\"] }", false, &[]),
    ("name = \"x\"\npath \"a\" { capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("name = 5", true, &[]),
    ("name = true", false, &[]),
    ("path \"a\" { capabilities = [\"read\"] }\nname =", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("# only a comment", true, &[]),
    ("   ", true, &[]),
    ("path \"a/${foo}\" { capabilities = [\"read\"] }", true, &[("a/${foo}", &["read"])]),
    ("path \"a\" { capabilities = [\"read\"] } garbage", false, &[]),
    ("path \"a\" { capabilities = [<<EOF\nread\nEOF\n] }", false, &[]),
    ("path \"a\" {\n  capabilities = [<<EOF\nread\nEOF\n  ]\n}", false, &[]),
    ("path \"a\" { comment = \"hi\" capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { comment = [1, {x = 2}] capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" {\n  allowed_parameters { \"*\" = [] }\n  capabilities = [\"read\"]\n}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { allowed_parameters = { \"x\" = \"y\" } capabilities = [\"read\"] }", false, &[]),
    ("path \"a\" { min_wrapping_ttl = \"1m\" capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { min_wrapping_ttl = \"1x\" }", false, &[]),
    ("path \"a\" { min_wrapping_ttl = true }", false, &[]),
    ("path \"a\" { min_wrapping_ttl = \"-5m\" max_wrapping_ttl = \"1m\" capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { min_wrapping_ttl = 1.5 capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { min_wrapping_ttl = \"10m\" max_wrapping_ttl = \"5m\" }", false, &[]),
    ("path \"a\" { expiration = \"2001-01-01T00:00:00Z\" capabilities = [\"read\"] }", true, &[]),
    ("path \"a\" { expiration = \"bad\" }", false, &[]),
    ("path \"a\" { expiration = \"2001-01-01T00:00:00Z\" capabilities = [\"bogus\"] }", true, &[]),
    ("path \"a\" { expiration = \"2999-01-01T00:00:00Z\" capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a/+*\" {}", false, &[]),
    ("path \"/a\" { capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"//a\" { capabilities = [\"read\"] }", true, &[]),
    ("path \"a/{{identity.entity.id}}\" { capabilities = [\"read\"] }", true, &[]),
    ("path \"a/{{identity.entity.id}\" {}", false, &[]),
    ("path \"a/}}\" {}", false, &[]),
    ("path \"a\" { pagination_limit = 10 capabilities = [\"list\"] }", true, &[("a", &["list"]), ("/a", &["list"]), ("a/", &["list"])]),
    ("path \"a\" { pagination_limit = \"x\" }", false, &[]),
    ("path \"a\" { list_scan_response_keys_filter_path = \"{{ .key }}\" capabilities = [\"read\"] }", false, &[]),
    ("path \"a\" { control_group = { ttl = \"1h\" } }", false, &[]),
    ("path \"a\" { mfa_methods = [\"x\"] capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"]}}}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"allowed_parameters\": {\"x\": []}}}}", false, &[]),
    ("{\"path\": [{\"a\": {\"capabilities\": [\"read\"]}}, {\"a/b\": {\"policy\": \"write\"}}]}", true, &[("a", &["read"]), ("a/b", &["create", "delete", "list", "read", "update"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"bogus\"]}}}", false, &[]),
    ("{\"bogus\": {}}", false, &[]),
    ("{\"path\": {\"a\": {}}}", true, &[]),
    ("  {\"path\": {\"a\": {\"capabilities\": [\"read\"]}}}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": \"read\"}}}", false, &[]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"], \"allowed_parameters\": {\"x\": [\"1\"]}}}}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { policy = \"write\" capabilities = [\"deny\"] }", true, &[]),
    ("path \"a\" { capabilities = [\"read\"] } path \"a/*\" { capabilities = [\"list\"] }", true, &[("a", &["read"]), ("a/b", &["list"]), ("a/b/c", &["list"]), ("a/${foo}", &["list"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" {}", true, &[]),
    ("path \"+\" { capabilities = [\"read\"] }", true, &[("a", &["read"]), ("path", &["read"]), ("/a", &["read"]), ("x", &["read"]), ("a/", &["read"])]),
    ("path \"*\" { capabilities = [\"read\"] }", true, &[("a", &["read"]), ("a/b", &["read"]), ("a/b/c", &["read"]), ("path", &["read"]), ("a/${foo}", &["read"]), ("/a", &["read"]), ("x", &["read"]), ("a/", &["read"])]),
    ("path \"\" { capabilities = [\"read\"] }", true, &[]),
    ("path \"a\" { capabilities = ['read'] }", false, &[]),
    ("path \"a\" { capabilities = [read] }", false, &[]),
    ("path \"a\" { capabilities = [\"read\"] };", false, &[]),
    ("path \"a\" {\n  capabilities = [\"read\"] # trailing comment\n}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { capabilities = [\"read\"] // c\n}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { capabilities = [\"read\"] /* c */ }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { capabilities = [\"read\"] } /* unterminated", false, &[]),
    ("path \"a\" { capabilities = [\"re\\u0061d\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { required_parameters = \"x\" }", false, &[]),
    ("path \"a\" { denied_parameters = { \"x\" = [1, \"a\", true] } capabilities = [\"update\"] }", true, &[("a", &["update"]), ("/a", &["update"]), ("a/", &["update"])]),
    ("path \"a\" { capabilities = [\"read\"], }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { capabilities = [\"read\"] policy = \"\" }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { capabilities = [\"scan\"] }", true, &[("a", &["scan"]), ("/a", &["scan"]), ("a/", &["scan"])]),
    ("path \"a\" { allowed_parameters = { \"x\" = {} } capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { max_wrapping_ttl = \"10d\" capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("name \"x\" {}", false, &[]),
    ("path \"a\" { capabilities = [[\"read\"]] }", false, &[]),
    ("path \"a\" { expiration = 1 capabilities = [\"read\"] }", true, &[]),
    ("path \"a\" { capabilities = [\"read\"] policy = 5 }", false, &[]),
    ("path \"a\" { capabilities = [\"read\" , \"list\" ,] }", true, &[("a", &["list", "read"]), ("/a", &["list", "read"]), ("a/", &["list", "read"])]),
    ("path \"a\" { capabilities = [\"read\"] policy = \"sudo\" }", true, &[("a", &["create", "delete", "list", "read", "sudo", "update"]), ("/a", &["create", "delete", "list", "read", "sudo", "update"]), ("a/", &["create", "delete", "list", "read", "sudo", "update"])]),
    ("path \"a/b\" { capabilities = [\"read\"] }\npath \"a/*\" { capabilities = [\"deny\"] }", true, &[("a/b", &["read"])]),
    ("path \"a\" {\n  capabilities = [\"read\"]\n}\r\npath \"a/b\" {\r\n  capabilities = [\"list\"]\r\n}\r\n", true, &[("a", &["read"]), ("a/b", &["list"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { capabilities = [] }", true, &[]),
    ("path \"a\" { capabilities = [\"read\"] allowed_parameters = {} }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { capabilities = [\"read\"] required_parameters = [\"x\", 1] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { capabilities = [\"read\"] min_wrapping_ttl = \"\" }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { capabilities = [\"read\"] min_wrapping_ttl = [] }", false, &[]),
    ("path \"a\" { capabilities = [\"read\"] max_wrapping_ttl = 0x10 }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { capabilities = [\"read\"] max_wrapping_ttl = 09 }", false, &[]),
    ("path \"a\" { capabilities = [\"read\"] pagination_limit = \"0x10\" }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { capabilities = [\"read\"] \"policy\" = \"write\" }", true, &[("a", &["create", "delete", "list", "read", "update"]), ("/a", &["create", "delete", "list", "read", "update"]), ("a/", &["create", "delete", "list", "read", "update"])]),
    ("path \"a\" { capabilities = [\"read\"] policy \"x\" {} }", false, &[]),
    ("path \"a\" { capabilities \"x\" {} }", false, &[]),
    ("path \"a\" { capabilities = [\"read\"] } path \"b\" { capabilities = [\"nope\"] expiration = \"2001-01-01T00:00:00Z\" }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { capabilities = [\"read\", \"read\", \"list\"] }", true, &[("a", &["list", "read"]), ("/a", &["list", "read"]), ("a/", &["list", "read"])]),
    ("\u{feff}path \"a\" { capabilities = [\"read\"] }", false, &[]),
    ("path \"a\" { capabilities = [\"read\"] }\0", false, &[]),
    ("path \"\u{e9}/\u{fc}\" { capabilities = [\"read\"] }", true, &[]),
    ("path \"a\" { capabilities = [\"read\"] comment = }", false, &[]),
    ("path \"a\" { capabilities = -1 }", false, &[]),
    ("path \"a\" { control_group = { factor \"f\" { identity { group_names = [\"g\"] approvals = 1 } } } capabilities = [\"read\"] }", false, &[]),
    ("path \"a\" { control_group = { factor \"f\" { controlled_capabilities = [\"read\"] identity { group_names = [\"g\"] approvals = 1 } } } capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { control_group = { factor \"f\" { controlled_capabilities = [\"read\"] } } capabilities = [\"read\"] }", false, &[]),
    ("path \"a\" { control_group = { factor \"f\" { controlled_capabilities = [\"bogus\"] identity { group_names = [\"g\"] approvals = 1 } } } capabilities = [\"read\"] }", false, &[]),
    ("path \"a\" { control_group = { factor \"f\" { controlled_capabilities = [\"read\"] identity { group_names = [\"g\"] approvals = 0 } } } capabilities = [\"read\"] }", false, &[]),
    ("path \"a\" { control_group = { factor \"f\" { controlled_capabilities = [\"read\"] identity { approvals = 1 } } } capabilities = [\"read\"] }", false, &[]),
    ("path \"a\" { control_group = { ttl = \"4h\" factor \"ops\" { controlled_capabilities = [\"read\"] identity { group_names = [\"ops\"] approvals = 2 } } } capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { control_group = { ttl = \"bad\" factor \"ops\" { controlled_capabilities = [\"read\"] identity { group_names = [\"ops\"] approvals = 2 } } } capabilities = [\"read\"] }", false, &[]),
    ("path \"a\" { control_group = { factor { controlled_capabilities = [\"read\"] identity { group_names = [\"ops\"] approvals = 2 } } } capabilities = [\"read\"] }", false, &[]),
    ("path \"a\" { control_group = { self_auth_allowed = true factor \"ops\" { controlled_capabilities = [\"update\", \"list\"] identity { group_names = [\"ops\"] approvals = 2 } } } capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { control_group = { factor \"ops\" { controlled_capabilities = [\"read\"] identity { group_names = [\"ops\"] approvals = 1 bogus = 1 } } } capabilities = [\"read\"] }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("path \"a\" { capabilities = [\"deny\"] control_group = { } }", false, &[]),
    ("{", true, &[]),
    ("{}", true, &[]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"]}} ", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"]}}} trailing garbage", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"]}}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [null]}}}", false, &[]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\", true, \"list\"]}}}", true, &[("a", &["list", "read"]), ("/a", &["list", "read"]), ("a/", &["list", "read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [[\"read\"]]}}}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"re\\/ad\"]}}}", false, &[]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"re\\u0061d\"]}}}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"min_wrapping_ttl\": 01, \"capabilities\": [\"read\"]}}}", false, &[]),
    ("{\"path\": {\"a\": {\"min_wrapping_ttl\": 1.5, \"capabilities\": [\"read\"]}}}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"],}}}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"]} \"b\": {\"capabilities\": [\"list\"]}}}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\" \"b\": {\"capabilities\": [\"read\"]}}}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"]}, \"a/b\": {\"capabilities\": [\"list\"]}, \"x\": {\"policy\": \"deny\"}}}", true, &[("a", &["read"]), ("a/b", &["list"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"], \"bogus\": 1}}}", false, &[]),
    ("{\"name\": \"x\", \"path\": {\"a\": {\"capabilities\": [\"read\"]}}}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"]}}, \"path\": {\"a/b\": {\"capabilities\": [\"list\"]}}}", true, &[("a", &["read"]), ("a/b", &["list"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"], \"policy\": null}}}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": \"read\"}}, \"x\": 1}", false, &[]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"]}}, \"x\": 1}", false, &[]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"]}}, nope}", false, &[]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"]},}}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\" {\"a\": {\"capabilities\": [\"read\"]}}}", false, &[]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"]}}}\0junk", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"]}}, \"path\": }", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
    ("{\"path\": {\"a\": {\"capabilities\": [\"read\"], \"allowed_parameters\": {\"x\": [1, \"y\", true]}}}}", true, &[("a", &["read"]), ("/a", &["read"]), ("a/", &["read"])]),
];
