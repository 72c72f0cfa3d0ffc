//! Property tests: parsing and evaluation never panic, and evaluation is
//! self-consistent on arbitrary (structured) policies.

use proptest::prelude::*;

use crate::{Acl, Operation, Policy};

const OPS: [Operation; 7] = [
    Operation::Create,
    Operation::Read,
    Operation::Update,
    Operation::Patch,
    Operation::Delete,
    Operation::List,
    Operation::Scan,
];

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("ab".to_string()),
        Just("+".to_string()),
        Just("*".to_string()),
        Just(String::new()),
        Just("{{identity.entity.id}}".to_string()),
        "[a-z+*{}é]{0,4}",
    ]
}

fn pattern() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(segment(), 1..5),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(segs, glob, slash)| {
            let mut p = segs.join("/");
            if glob {
                p.push('*');
            }
            if slash {
                p.insert(0, '/');
            }
            p
        })
}

fn request_path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            prop_oneof![
                Just("a".to_string()),
                Just("b".to_string()),
                Just("ab".to_string()),
                Just("abc".to_string()),
                Just(String::new()),
                "[a-z+*/é]{0,5}",
            ],
            0..6,
        ),
        any::<bool>(),
    )
        .prop_map(|(segs, slash)| {
            let mut p = segs.join("/");
            if slash {
                p.push('/');
            }
            p
        })
}

fn capability_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec![
            "create", "read", "update", "patch", "delete", "list", "sudo", "deny", "scan",
        ])
        .prop_map(str::to_string),
        1 => "[a-zA-Z]{0,6}",
    ]
}

/// One attribute line inside a path block.
fn attribute() -> impl Strategy<Value = String> {
    let quoted = |v: Vec<String>| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    prop_oneof![
        4 => prop::collection::vec(capability_name(), 0..5)
            .prop_map(move |c| format!("capabilities = [{}]", quoted(c))),
        1 => prop::sample::select(vec!["read", "write", "deny", "sudo", "list", ""])
            .prop_map(|p| format!("policy = {p:?}")),
        1 => (prop::collection::vec("[a-zA-Z*]{1,4}", 0..3), prop::collection::vec("[a-z*]{0,3}", 0..3))
            .prop_map(move |(k, v)| {
                let body: Vec<String> = k.iter().map(|k| format!("{k:?} = [{}]", quoted(v.clone()))).collect();
                format!("allowed_parameters = {{ {} }}", body.join("\n"))
            }),
        1 => prop::collection::vec("[a-z*]{1,4}", 0..3)
            .prop_map(move |k| {
                let body: Vec<String> = k.iter().map(|k| format!("{k:?} = [1, true, \"x*\"]")).collect();
                format!("denied_parameters = {{ {} }}", body.join("\n"))
            }),
        1 => prop::collection::vec("[a-z]{1,4}", 0..3)
            .prop_map(move |k| format!("required_parameters = [{}]", quoted(k))),
        1 => prop::sample::select(vec!["\"1m\"", "300", "\"1h\"", "\"bogus\"", "1.5", "\"2d\"", "true"])
            .prop_map(|t| format!("min_wrapping_ttl = {t}")),
        1 => prop::sample::select(vec!["\"1m\"", "300", "\"1h\"", "\"bogus\"", "\"-5s\""])
            .prop_map(|t| format!("max_wrapping_ttl = {t}")),
        1 => prop::sample::select(vec!["\"2001-01-01T00:00:00Z\"", "\"2999-01-01T00:00:00Z\"", "\"x\"", "5"])
            .prop_map(|t| format!("expiration = {t}")),
        1 => Just("pagination_limit = 5".to_string()),
        1 => Just("comment = \"c\"".to_string()),
        1 => "[a-z_]{1,8}".prop_map(|k| format!("{k} = 1")),
    ]
}

fn block() -> impl Strategy<Value = String> {
    (
        pattern(),
        prop::collection::vec(attribute(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(path, attrs, one_line)| {
            let sep = if one_line { " " } else { "\n  " };
            format!("path {path:?} {{{sep}{}\n}}", attrs.join(sep))
        })
}

fn policy_text() -> impl Strategy<Value = String> {
    prop::collection::vec(block(), 0..5).prop_map(|b| b.join("\n# comment\n"))
}

fn json_policy_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (pattern(), prop::collection::vec(capability_name(), 0..4)),
        0..4,
    )
    .prop_map(|rules| {
        let mut paths = serde_json::Map::new();
        for (p, caps) in rules {
            paths.insert(p, serde_json::json!({ "capabilities": caps }));
        }
        serde_json::json!({ "path": paths }).to_string()
    })
}

/// Checks invariants that hold for every ACL and path.
fn check_acl(acl: &Acl, path: &str) {
    let caps = acl.capabilities(path);
    assert!(!caps.is_empty());
    let mut sorted = caps.clone();
    sorted.sort();
    assert_eq!(caps, sorted);
    for op in OPS {
        let plain = acl.allow(op, path, false);
        let sudo = acl.allow(op, path, true);
        assert!(!sudo.allowed || plain.allowed);
        assert_eq!(sudo.allowed, plain.allowed && plain.root_privs);
        // Without a trailing slash, list lookups see the same rule, so
        // sys/capabilities predicts every operation.
        if !path.ends_with('/') {
            let name = op.required_capability().as_str();
            assert_eq!(
                plain.allowed,
                caps.iter().any(|c| c == name),
                "{op} {path:?} caps {caps:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>(), path in any::<String>()) {
        if let Ok(p) = Policy::parse("p", &text) {
            let acl = Acl::new(&[&p]);
            check_acl(&acl, &path);
        }
    }

    #[test]
    fn hcl_looking_strings_never_panic(
        text in "[a-z\"{}\\[\\]=,#/*+<>\\-\\\\$.0-9 \n\te]{0,96}",
        path in request_path(),
    ) {
        if let Ok(p) = Policy::parse("p", &text) {
            check_acl(&Acl::new(&[&p]), &path);
        }
    }

    #[test]
    fn structured_policies_evaluate_consistently(
        texts in prop::collection::vec(prop_oneof![3 => policy_text(), 1 => json_policy_text()], 1..4),
        paths in prop::collection::vec(request_path(), 1..8),
    ) {
        let policies: Vec<Policy> = texts
            .iter()
            .filter_map(|t| Policy::parse("p", t).ok())
            .collect();
        let refs: Vec<&Policy> = policies.iter().collect();
        let acl = Acl::new(&refs);
        let mut reversed = refs.clone();
        reversed.reverse();
        let acl_reversed = Acl::new(&reversed);
        let mut doubled = refs.clone();
        doubled.extend(refs.iter().copied());
        let acl_doubled = Acl::new(&doubled);
        for path in &paths {
            check_acl(&acl, path);
            // Merging is order-independent and idempotent for capabilities.
            prop_assert_eq!(acl.capabilities(path), acl_reversed.capabilities(path));
            prop_assert_eq!(acl.capabilities(path), acl_doubled.capabilities(path));
        }
    }

    #[test]
    fn structured_policies_mostly_parse(text in policy_text()) {
        // Never panics; when it fails, the error renders.
        if let Err(e) = Policy::parse("p", &text) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
