//! Tests of parsing, merging and validation as a whole.

use super::*;
use proptest::prelude::*;

const FULL_HCL: &str = r#"# A production-style Vault/OpenBao configuration.
ui            = true
disable_mlock = true
cluster_name  = "coffer-prod"
log_level     = "Warning"
log_format    = "json"

api_addr     = "https://node-1.example.com:8200"
cluster_addr = "https://node-1.example.com:8201"

default_lease_ttl = "1h30m"
max_lease_ttl     = "768h"

storage "raft" {
  path    = "/var/lib/coffer/data"
  node_id = "node-1"

  retry_join {
    leader_api_addr         = "https://node-2.example.com:8200"
    leader_ca_cert_file     = "/etc/coffer/ca.pem"
    leader_client_cert_file = "/etc/coffer/client.pem"
    leader_client_key_file  = "/etc/coffer/client-key.pem"
    leader_tls_servername   = "node-2.example.com"
  }
  retry_join {
    leader_api_addr = "https://node-3.example.com:8200"
  }
}

listener "tcp" {
  address          = "0.0.0.0:8200"
  cluster_address  = "0.0.0.0:8201"
  tls_cert_file    = "/etc/coffer/tls.crt"
  tls_key_file     = "/etc/coffer/tls.key"
  tls_min_version  = "tls13"
  max_request_size = 1048576
}

listener "tcp" {
  address     = "127.0.0.1:8300"
  tls_disable = "true"
  max_request_size = -1
  disable_unauthed_rekey_endpoints = false
}

seal "shamir" {}

audit "file" "to-stdout" {
  description = "Write audit information to standard output."
  options {
    file_path = "stdout"
    log_raw   = "false"
  }
}

audit "file" "archive" {
  local = true
  options = {
    file_path     = "/var/log/coffer/audit.log"
    mode          = "0600"
    hmac_accessor = true
    format        = "json"
    prefix        = "coffer:"
  }
}
"#;

const FULL_JSON: &str = r#"{
  "ui": true,
  "disable_mlock": "true",
  "cluster_name": "coffer-prod",
  "log_level": "warning",
  "log_format": "json",
  "api_addr": "https://node-1.example.com:8200",
  "cluster_addr": "https://node-1.example.com:8201",
  "default_lease_ttl": "90m",
  "max_lease_ttl": 2764800,
  "storage": {
    "raft": {
      "path": "/var/lib/coffer/data",
      "node_id": "node-1",
      "retry_join": [
        {
          "leader_api_addr": "https://node-2.example.com:8200",
          "leader_ca_cert_file": "/etc/coffer/ca.pem",
          "leader_client_cert_file": "/etc/coffer/client.pem",
          "leader_client_key_file": "/etc/coffer/client-key.pem",
          "leader_tls_servername": "node-2.example.com"
        },
        { "leader_api_addr": "https://node-3.example.com:8200" }
      ]
    }
  },
  "listener": [
    {
      "tcp": {
        "address": "0.0.0.0:8200",
        "cluster_address": "0.0.0.0:8201",
        "tls_cert_file": "/etc/coffer/tls.crt",
        "tls_key_file": "/etc/coffer/tls.key",
        "tls_min_version": "tls13",
        "max_request_size": "1048576"
      }
    },
    {
      "tcp": {
        "address": "127.0.0.1:8300",
        "tls_disable": 1,
        "max_request_size": -1,
        "disable_unauthed_rekey_endpoints": "false"
      }
    }
  ],
  "seal": { "shamir": {} },
  "audit": [
    {
      "file": {
        "to-stdout": {
          "description": "Write audit information to standard output.",
          "options": { "file_path": "stdout", "log_raw": false }
        }
      }
    },
    {
      "file": {
        "archive": {
          "local": true,
          "options": {
            "file_path": "/var/log/coffer/audit.log",
            "mode": "0600",
            "hmac_accessor": "true",
            "format": "json",
            "prefix": "coffer:"
          }
        }
      }
    }
  ]
}"#;

fn expected_full() -> ServerConfig {
    let opts = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    ServerConfig {
        storage: Some(StorageConfig::Raft {
            path: PathBuf::from("/var/lib/coffer/data"),
            node_id: Some("node-1".to_owned()),
            retry_join: vec![
                RetryJoin {
                    leader_api_addr: "https://node-2.example.com:8200".to_owned(),
                    leader_ca_cert_file: Some("/etc/coffer/ca.pem".into()),
                    leader_client_cert_file: Some("/etc/coffer/client.pem".into()),
                    leader_client_key_file: Some("/etc/coffer/client-key.pem".into()),
                    leader_tls_servername: Some("node-2.example.com".to_owned()),
                },
                RetryJoin {
                    leader_api_addr: "https://node-3.example.com:8200".to_owned(),
                    ..RetryJoin::default()
                },
            ],
        }),
        listeners: vec![
            TcpListenerConfig {
                address: "0.0.0.0:8200".to_owned(),
                cluster_address: Some("0.0.0.0:8201".to_owned()),
                tls_cert_file: Some("/etc/coffer/tls.crt".into()),
                tls_key_file: Some("/etc/coffer/tls.key".into()),
                tls_min_version: TlsVersion::Tls13,
                max_request_size: 1_048_576,
                ..TcpListenerConfig::default()
            },
            TcpListenerConfig {
                address: "127.0.0.1:8300".to_owned(),
                tls_disable: true,
                max_request_size: -1,
                disable_unauthed_rekey_endpoints: false,
                ..TcpListenerConfig::default()
            },
        ],
        api_addr: Some("https://node-1.example.com:8200".to_owned()),
        cluster_addr: Some("https://node-1.example.com:8201".to_owned()),
        cluster_name: Some("coffer-prod".to_owned()),
        disable_mlock: true,
        log_level: Some("warn".to_owned()),
        log_format: Some("json".to_owned()),
        ui: true,
        default_lease_ttl: Some(Duration::from_secs(5400)),
        max_lease_ttl: Some(Duration::from_secs(768 * 3600)),
        audit: vec![
            AuditConfig {
                device_type: "file".to_owned(),
                name: "to-stdout".to_owned(),
                description: Some("Write audit information to standard output.".to_owned()),
                local: false,
                options: opts(&[("file_path", "stdout"), ("log_raw", "false")]),
            },
            AuditConfig {
                device_type: "file".to_owned(),
                name: "archive".to_owned(),
                description: None,
                local: true,
                options: opts(&[
                    ("file_path", "/var/log/coffer/audit.log"),
                    ("mode", "0600"),
                    ("hmac_accessor", "true"),
                    ("format", "json"),
                    ("prefix", "coffer:"),
                ]),
            },
        ],
        seal: Some(SealStanza {
            seal_type: "shamir".to_owned(),
            disabled: false,
            options: BTreeMap::new(),
        }),
    }
}

fn parse(text: &str) -> ServerConfig {
    parse_str(text, "config.hcl").unwrap_or_else(|e| panic!("{e}"))
}

/// Parses `text` as `config.hcl`, expects an error on `line`, and returns its message.
fn error_at(text: &str, line: usize) -> String {
    let err = match parse_str(text, "config.hcl") {
        Ok(c) => panic!("accepted: {c:?}\n{text}"),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert_eq!(err.file(), Some("config.hcl"), "{msg}");
    assert_eq!(err.line(), Some(line), "{msg}");
    assert!(msg.starts_with(&format!("config.hcl:{line}:")), "{msg}");
    msg
}

const TLS_OFF: &str = "listener \"tcp\" {\n  tls_disable = true\n}\n";

#[test]
fn full_config_hcl_and_json_are_the_same() {
    let hcl = parse_str(FULL_HCL, "config.hcl").unwrap_or_else(|e| panic!("{e}"));
    let json = parse_str(FULL_JSON, "config.json").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hcl, expected_full());
    assert_eq!(json, expected_full());
    hcl.validate_for_server().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn json_is_detected_by_content_too() {
    assert_eq!(
        parse_str(FULL_JSON, "config.conf").unwrap_or_else(|e| panic!("{e}")),
        expected_full()
    );
    // And a BOM does not get in the way.
    let with_bom = format!("\u{feff}{FULL_HCL}");
    assert_eq!(parse(&with_bom), expected_full());
}

#[test]
fn json_listener_forms() {
    let single = r#"{"listener": {"tcp": {"address": "10.0.0.1:8200", "tls_disable": true}}}"#;
    let list = r#"{"listener": [{"tcp": {"address": "10.0.0.1:8200", "tls_disable": true}}]}"#;
    let inner_list =
        r#"{"listener": {"tcp": [{"address": "10.0.0.1:8200", "tls_disable": true}]}}"#;
    let a = parse_str(single, "c.json").unwrap_or_else(|e| panic!("{e}"));
    let b = parse_str(list, "c.json").unwrap_or_else(|e| panic!("{e}"));
    let c = parse_str(inner_list, "c.json").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(a.listeners.len(), 1);
    assert_eq!(a.listeners[0].address, "10.0.0.1:8200");
    // Two listeners of one type in one JSON object.
    let two = r#"{"listener": {"tcp": [{"tls_disable": true}, {"address": "0.0.0.0:1", "tls_disable": true}]}}"#;
    assert_eq!(
        parse_str(two, "c.json").map(|c| c.listeners.len()).ok(),
        Some(2)
    );
}

#[test]
fn defaults() {
    let c = parse(&format!("storage \"inmem\" {{}}\n{TLS_OFF}"));
    assert_eq!(c.storage, Some(StorageConfig::Inmem));
    let l = &c.listeners[0];
    assert_eq!(l.address, DEFAULT_LISTENER_ADDRESS);
    assert_eq!(l.cluster_address, None);
    assert_eq!(l.tls_min_version, TlsVersion::Tls12);
    assert_eq!(l.max_request_size, 33_554_432);
    assert_eq!(l.max_request_bytes(), Some(33_554_432));
    assert!(l.disable_unauthed_rekey_endpoints);
    assert!(l.disable_unauthed_generate_root_endpoints);
    assert!(!c.ui && !c.disable_mlock);
    assert_eq!(c.default_lease_ttl, None);
    assert_eq!(c.log_level, None);
    c.validate_for_server().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn max_request_size_semantics() {
    let size = |v: &str| {
        let c = parse(&format!(
            "listener \"tcp\" {{\n  tls_disable = true\n  max_request_size = {v}\n}}\n"
        ));
        (
            c.listeners[0].max_request_size,
            c.listeners[0].max_request_bytes(),
        )
    };
    assert_eq!(size("0"), (DEFAULT_MAX_REQUEST_SIZE, Some(33_554_432)));
    assert_eq!(size("-1"), (-1, None));
    assert_eq!(size("1024"), (1024, Some(1024)));
    assert_eq!(size("\"2048\""), (2048, Some(2048)));
    let msg = error_at(
        "listener \"tcp\" {\n  tls_disable = true\n  max_request_size = \"big\"\n}\n",
        3,
    );
    assert!(
        msg.contains("\"max_request_size\" must be an integer"),
        "{msg}"
    );
    error_at(
        "listener \"tcp\" {\n  tls_disable = true\n  max_request_size = 1.5\n}\n",
        3,
    );
}

#[test]
fn tls_disable_variants() {
    let tls_disable = |v: &str| -> Result<bool, ConfigError> {
        parse_str(
            &format!("listener \"tcp\" {{\n  tls_disable = {v}\n  tls_cert_file = \"c\"\n  tls_key_file = \"k\"\n}}\n"),
            "config.hcl",
        )
        .map(|c| c.listeners[0].tls_disable)
    };
    for v in [
        "true", "1", "\"true\"", "\"1\"", "\"t\"", "\"TRUE\"", "\"True\"",
    ] {
        assert!(tls_disable(v).unwrap_or_else(|e| panic!("{v}: {e}")), "{v}");
    }
    for v in [
        "false",
        "0",
        "\"false\"",
        "\"0\"",
        "\"f\"",
        "\"FALSE\"",
        "null",
    ] {
        assert!(
            !tls_disable(v).unwrap_or_else(|e| panic!("{v}: {e}")),
            "{v}"
        );
    }
    for v in ["2", "\"yes\"", "\"\"", "[true]", "{}", "0.5"] {
        let msg = tls_disable(v)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            msg.starts_with("config.hcl:2: \"tls_disable\" must be a boolean"),
            "{v}: {msg}"
        );
    }
    // JSON: booleans, strings and integers.
    for (v, want) in [("true", true), ("\"1\"", true), ("1", true), ("0", false)] {
        let c = parse_str(
            &format!("{{\"listener\": {{\"tcp\": {{\"tls_disable\": {v}, \"tls_cert_file\": \"c\", \"tls_key_file\": \"k\"}}}}}}"),
            "c.json",
        )
        .unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!(c.listeners[0].tls_disable, want, "{v}");
    }
}

#[test]
fn tls_needs_cert_and_key() {
    let msg = error_at(
        "ui = true\nlistener \"tcp\" {\n  address = \"0.0.0.0:8200\"\n}\n",
        2,
    );
    assert!(
        msg.contains("listener \"tcp\" requires \"tls_cert_file\""),
        "{msg}"
    );
    let msg = error_at("listener \"tcp\" {\n  tls_cert_file = \"/c\"\n}\n", 1);
    assert!(msg.contains("requires \"tls_key_file\""), "{msg}");
    let c = parse("listener \"tcp\" {\n  tls_cert_file = \"/c\"\n  tls_key_file = \"/k\"\n}\n");
    assert!(!c.listeners[0].tls_disable);
}

#[test]
fn tls_min_version() {
    let v = |s: &str| {
        parse_str(
            &format!(
                "listener \"tcp\" {{\n  tls_disable = true\n  tls_min_version = \"{s}\"\n}}\n"
            ),
            "config.hcl",
        )
    };
    assert_eq!(
        v("tls12").map(|c| c.listeners[0].tls_min_version).ok(),
        Some(TlsVersion::Tls12)
    );
    assert_eq!(
        v("tls13").map(|c| c.listeners[0].tls_min_version).ok(),
        Some(TlsVersion::Tls13)
    );
    for bad in ["tls10", "tls11", "TLS1.2", "ssl3"] {
        let msg = v(bad).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.starts_with("config.hcl:3: invalid value for \"tls_min_version\""),
            "{bad}: {msg}"
        );
    }
}

#[test]
fn durations_in_config() {
    let ttl = |v: &str| {
        parse_str(&format!("default_lease_ttl = {v}\n"), "config.hcl").map(|c| c.default_lease_ttl)
    };
    assert_eq!(
        ttl("\"768h\"").ok(),
        Some(Some(Duration::from_secs(2_764_800)))
    );
    assert_eq!(ttl("\"30m\"").ok(), Some(Some(Duration::from_secs(1800))));
    assert_eq!(ttl("\"45s\"").ok(), Some(Some(Duration::from_secs(45))));
    assert_eq!(ttl("\"1h30m\"").ok(), Some(Some(Duration::from_secs(5400))));
    assert_eq!(ttl("\"3600\"").ok(), Some(Some(Duration::from_secs(3600))));
    assert_eq!(ttl("3600").ok(), Some(Some(Duration::from_secs(3600))));
    assert_eq!(ttl("1.5").ok(), Some(Some(Duration::from_millis(1500))));
    assert_eq!(ttl("\"7d\"").ok(), Some(Some(Duration::from_secs(604_800))));
    assert_eq!(ttl("0").ok(), Some(None));
    assert_eq!(ttl("\"\"").ok(), Some(None));
    for bad in ["\"forever\"", "\"-1h\"", "-5", "\"1x\"", "true", "[1]"] {
        let err = ttl(bad).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.starts_with("config.hcl:1: ") && err.contains("\"default_lease_ttl\""),
            "{bad}: {err}"
        );
    }
}

#[test]
fn lease_ttls_are_checked_against_each_other() {
    let c = parse("max_lease_ttl = \"1h\"\n");
    let err = c
        .validate()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("cannot be greater than max_lease_ttl"),
        "{err}"
    );
    let c = parse("max_lease_ttl = \"1h\"\ndefault_lease_ttl = \"10m\"\n");
    assert!(c.validate().is_ok());
    let c = parse("max_lease_ttl = \"1h\"\ndefault_lease_ttl = \"2h\"\n");
    assert!(c.validate().is_err());
}

#[test]
fn log_level_and_format() {
    for (given, want) in [
        ("trace", "trace"),
        ("DEBUG", "debug"),
        ("info", "info"),
        ("notice", "info"),
        ("warn", "warn"),
        (" warning ", "warn"),
        ("err", "error"),
        ("error", "error"),
    ] {
        let c = parse(&format!("log_level = \"{given}\"\n"));
        assert_eq!(c.log_level.as_deref(), Some(want), "{given}");
    }
    let msg = error_at("ui = true\nlog_level = \"loud\"\n", 2);
    assert!(msg.contains("invalid value for \"log_level\""), "{msg}");
    assert_eq!(
        parse("log_format = \"JSON\"\n").log_format.as_deref(),
        Some("json")
    );
    assert_eq!(
        parse("log_format = \"standard\"\n").log_format.as_deref(),
        Some("standard")
    );
    error_at("log_format = \"xml\"\n", 1);
}

#[test]
fn unknown_keys_name_file_line_and_key() {
    let msg = error_at(
        "storage \"inmem\" {}\n\nlistener \"tcp\" {\n  tls_disable = true\n\n\n  adress = \"0.0.0.0:8200\"\n}\n",
        7,
    );
    assert_eq!(
        msg,
        "config.hcl:7: unknown key \"adress\" in listener \"tcp\" (did you mean \"address\"?)"
    );
    let msg = error_at("ui = true\nfoo_bar_baz = 1\n", 2);
    assert_eq!(
        msg,
        "config.hcl:2: unknown key \"foo_bar_baz\" at the top level"
    );
    let msg = error_at("storage \"raft\" {\n  path = \"/d\"\n  pth = \"x\"\n}\n", 3);
    assert!(
        msg.contains("unknown key \"pth\" in storage \"raft\""),
        "{msg}"
    );
    let msg = error_at(
        "storage \"raft\" {\n  path = \"/d\"\n  retry_join {\n    leader_api_addr = \"https://a:1\"\n    leader_ca_cert_fil = \"x\"\n  }\n}\n",
        5,
    );
    assert!(
        msg.contains("unknown key \"leader_ca_cert_fil\" in retry_join (did you mean \"leader_ca_cert_file\"?)"),
        "{msg}"
    );
    let msg = error_at(
        "audit \"file\" \"a\" {\n  options {\n    file_path = \"stdout\"\n    colour = \"red\"\n  }\n}\n",
        4,
    );
    assert!(
        msg.contains("unknown key \"colour\" in options of audit \"file\" \"a\""),
        "{msg}"
    );
    let msg = error_at("audit \"file\" \"a\" {\n  descr = \"x\"\n}\n", 2);
    assert!(
        msg.contains("unknown key \"descr\" in audit \"file\" \"a\""),
        "{msg}"
    );
    let msg = error_at("storage \"inmem\" {\n  path = \"/x\"\n}\n", 2);
    assert!(
        msg.contains("unknown key \"path\" in storage \"inmem\""),
        "{msg}"
    );
    let msg = error_at("seal \"shamir\" {\n  key = \"x\"\n}\n", 2);
    assert!(
        msg.contains("unknown key \"key\" in seal \"shamir\""),
        "{msg}"
    );
}

#[test]
fn unknown_keys_in_json_name_the_line() {
    let text = "{\n  \"storage\": {\"inmem\": {}},\n  \"listener\": [{\"tcp\": {\n    \"tls_disable\": true,\n    \"adress\": \"x\"\n  }}]\n}\n";
    let err = parse_str(text, "config.json").err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "config.json:5: unknown key \"adress\" in listener \"tcp\" (did you mean \"address\"?)"
        )
    );
    let err = parse_str("{\n\n  \"tls_disable\": true}", "config.json")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with("config.json:3: \"tls_disable\" at the top level is not supported"),
        "{err}"
    );
}

#[test]
fn vault_keys_coffer_lacks_are_refused() {
    let msg = error_at("ui = true\nplugin_directory = \"/p\"\n", 2);
    assert_eq!(
        msg,
        "config.hcl:2: \"plugin_directory\" at the top level is not supported by coffer"
    );
    let msg = error_at("telemetry {\n  statsite_address = \"x\"\n}\n", 1);
    assert!(
        msg.contains("\"telemetry\" at the top level is not supported"),
        "{msg}"
    );
    let msg = error_at(
        "listener \"tcp\" {\n  tls_disable = true\n  tls_client_ca_file = \"/ca\"\n}\n",
        3,
    );
    assert!(
        msg.contains("\"tls_client_ca_file\" in listener \"tcp\" is not supported by coffer"),
        "{msg}"
    );
    let msg = error_at(
        "storage \"raft\" {\n  path = \"/d\"\n  performance_multiplier = 1\n}\n",
        3,
    );
    assert!(
        msg.contains("\"performance_multiplier\" in storage \"raft\""),
        "{msg}"
    );
    let msg = error_at(
        "storage \"raft\" {\n  path = \"/d\"\n  retry_join {\n    auto_join = \"provider=aws\"\n  }\n}\n",
        4,
    );
    assert!(
        msg.contains("\"auto_join\" in retry_join is not supported"),
        "{msg}"
    );
    let msg = error_at(
        "storage \"raft\" {\n  path = \"/d\"\n  cluster_addr = \"https://x:1\"\n}\n",
        3,
    );
    assert!(msg.contains("top level"), "{msg}");
}

#[test]
fn unknown_stanza_types() {
    let msg = error_at(
        "ui = true\n\nstorage \"consul\" {\n  address = \"x\"\n}\n",
        3,
    );
    assert_eq!(
        msg,
        "config.hcl:3: storage \"consul\" is not supported by coffer (supported: raft, inmem)"
    );
    let msg = error_at("listener \"unix\" {\n  address = \"/s\"\n}\n", 1);
    assert!(msg.contains("listener \"unix\" is not supported"), "{msg}");
    let msg = error_at("ui = true\naudit \"syslog\" \"s\" {}\n", 2);
    assert!(msg.contains("audit \"syslog\" is not supported"), "{msg}");
    let msg = error_at("seal \"rot13\" {}\n", 1);
    assert!(msg.contains("seal \"rot13\" is not supported"), "{msg}");
    let err = parse_str(
        "{\n  \"storage\": {\n    \"consul\": {}\n  }\n}",
        "config.json",
    )
    .err()
    .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "config.json:3: storage \"consul\" is not supported by coffer (supported: raft, inmem)"
        )
    );
}

#[test]
fn wrong_types() {
    let msg = error_at(
        "ui = true\nlistener \"tcp\" {\n  tls_disable = \"maybe\"\n}\n",
        3,
    );
    assert_eq!(
        msg,
        "config.hcl:3: \"tls_disable\" must be a boolean, got the string \"maybe\""
    );
    let msg = error_at("api_addr = 8200\n", 1);
    assert_eq!(msg, "config.hcl:1: \"api_addr\" must be a string, got 8200");
    let msg = error_at("ui = [true]\n", 1);
    assert!(
        msg.contains("\"ui\" must be a boolean, got a list"),
        "{msg}"
    );
    let msg = error_at("storage \"raft\" {\n  path {\n  }\n}\n", 2);
    assert!(
        msg.contains("\"path\" must be a string, got a block"),
        "{msg}"
    );
    let msg = error_at("storage = \"raft\"\n", 1);
    assert!(msg.contains("\"storage\" must be a block"), "{msg}");
    let msg = error_at(
        "audit \"file\" \"a\" {\n  options {\n    file_path = [\"x\"]\n  }\n}\n",
        3,
    );
    assert!(
        msg.contains("\"file_path\" must be a string, got a list"),
        "{msg}"
    );
    let msg = error_at("seal \"transit\" {\n  address = { a = 1 }\n}\n", 2);
    assert!(msg.contains("\"address\" must be a string"), "{msg}");
    // Expressions are not literals.
    let msg = error_at("ui = true\napi_addr = var.addr\n", 2);
    assert!(msg.contains("must be a literal value"), "{msg}");
    let msg = error_at("cluster_name = \"${env}\"\n", 1);
    assert!(msg.contains("interpolation"), "{msg}");
}

#[test]
fn invalid_values() {
    let msg = error_at("api_addr = \"node-1:8200\"\n", 1);
    assert!(msg.contains("invalid value for \"api_addr\""), "{msg}");
    let msg = error_at("cluster_addr = \"{{ GetPrivateIP }}:8201\"\n", 1);
    assert!(msg.contains("go-sockaddr"), "{msg}");
    let msg = error_at(
        "listener \"tcp\" {\n  address = \":8200\"\n  tls_disable = 1\n}\n",
        2,
    );
    assert!(msg.contains("invalid value for \"address\""), "{msg}");
    let msg = error_at(
        "listener \"tcp\" {\n  tls_disable = 1\n  cluster_address = \"0.0.0.0\"\n}\n",
        3,
    );
    assert!(
        msg.contains("invalid value for \"cluster_address\""),
        "{msg}"
    );
    let msg = error_at(
        "audit \"file\" \"a\" {\n  options {\n    file_path = \"x\"\n    mode = \"rw\"\n  }\n}\n",
        4,
    );
    assert!(msg.contains("invalid value for \"mode\""), "{msg}");
    let msg = error_at(
        "audit \"file\" \"a\" {\n  options {\n    file_path = \"x\"\n    format = \"jsonx\"\n  }\n}\n",
        4,
    );
    assert!(msg.contains("jsonx"), "{msg}");
    let msg = error_at(
        "storage \"raft\" {\n  path = \"/d\"\n  retry_join {\n    leader_api_addr = \"node-2:8200\"\n  }\n}\n",
        4,
    );
    assert!(
        msg.contains("invalid value for \"leader_api_addr\""),
        "{msg}"
    );
}

#[test]
fn missing_things() {
    let msg = error_at("ui = true\nstorage \"raft\" {\n  node_id = \"n\"\n}\n", 2);
    assert!(
        msg.starts_with("config.hcl:2: storage \"raft\" requires \"path\""),
        "{msg}"
    );
    let msg = error_at("storage \"raft\" {\n  path = \"\"\n}\n", 1);
    assert!(msg.contains("requires \"path\""), "{msg}");
    let msg = error_at(
        "storage \"raft\" {\n  path = \"/d\"\n  retry_join {\n    leader_ca_cert_file = \"/ca\"\n  }\n}\n",
        3,
    );
    assert!(
        msg.contains("retry_join requires \"leader_api_addr\""),
        "{msg}"
    );
    let msg = error_at(
        "storage \"raft\" {\n  path = \"/d\"\n  retry_join {\n    leader_api_addr = \"https://a:1\"\n    leader_client_key_file = \"/k\"\n  }\n}\n",
        5,
    );
    assert!(msg.contains("must be set together"), "{msg}");
    let msg = error_at("audit \"file\" \"a\" {\n  description = \"d\"\n}\n", 1);
    assert!(msg.contains("requires \"file_path\""), "{msg}");
    let msg = error_at("ui = true\nstorage {}\n", 2);
    assert!(msg.contains("without a type"), "{msg}");
    let msg = error_at("listener \"tcp\" \"extra\" {\n}\n", 1);
    assert!(msg.contains("takes one label"), "{msg}");
    let msg = error_at("audit \"file\" {\n}\n", 1);
    assert!(msg.contains("without a type"), "{msg}");

    // What only a server needs is checked separately.
    let no_storage = parse(TLS_OFF);
    assert!(no_storage.validate().is_ok());
    assert_eq!(
        no_storage
            .validate_for_server()
            .err()
            .map(|e| e.to_string())
            .as_deref(),
        Some("no storage stanza")
    );
    let no_listener = parse("storage \"inmem\" {}\n");
    assert!(matches!(
        no_listener.validate_for_server(),
        Err(ConfigError::NoListener)
    ));
    assert!(matches!(
        ServerConfig::default().validate_for_server(),
        Err(ConfigError::NoStorage)
    ));
}

#[test]
fn duplicates() {
    // hcl-edit refuses a repeated attribute itself; the message still names the key.
    let msg = error_at("ui = true\n\nui = false\n", 3);
    assert!(msg.contains("duplicate key \"ui\""), "{msg}");
    let err = parse_str("{\"ui\": true,\n\"ui\": false}", "c.json")
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("c.json:2: duplicate key \"ui\" at the top level (first set on line 1)")
    );
    let msg = error_at(
        "listener \"tcp\" {\n  tls_disable = true\n  address = \"0.0.0.0:1\"\n  address = \"0.0.0.0:2\"\n}\n",
        4,
    );
    assert!(msg.contains("duplicate key \"address\""), "{msg}");
    let err = parse_str(
        "{\"listener\": {\"tcp\": {\n\"tls_disable\": 1,\n\"tls_disable\": 0}}}",
        "c.json",
    )
    .err()
    .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("c.json:3: duplicate key \"tls_disable\" in listener \"tcp\" (first set on line 2)")
    );
    let msg = error_at(
        "storage \"inmem\" {}\nstorage \"raft\" {\n  path = \"/d\"\n}\n",
        2,
    );
    assert!(msg.contains("only one storage stanza"), "{msg}");
    let msg = error_at("storage \"inmem\" {}\nbackend \"inmem\" {}\n", 2);
    assert!(msg.contains("only one storage stanza"), "{msg}");
    let msg = error_at("seal \"shamir\" {}\nseal \"awskms\" {}\n", 2);
    assert!(msg.contains("only one seal stanza"), "{msg}");
    let msg = error_at(
        "audit \"file\" \"a\" {\n  options { file_path = \"x\" }\n}\naudit \"file\" \"a/\" {\n  options { file_path = \"y\" }\n}\n",
        4,
    );
    assert!(
        msg.contains("duplicate audit device \"a/\" (first declared on line 1)"),
        "{msg}"
    );
}

#[test]
fn syntax_errors() {
    let err = parse_str(
        "ui = true\nlistener \"tcp\" {\n  address = \"x\"\n",
        "config.hcl",
    )
    .err()
    .map(|e| (e.line(), e.to_string()));
    let (line, msg) = err.unwrap_or_default();
    assert!(line.is_some(), "{msg}");
    assert!(msg.starts_with("config.hcl:"), "{msg}");
    assert!(msg.contains("syntax error"), "{msg}");
    let err = parse_str("{\n  \"ui\": true,\n  \"x\" 1\n}", "config.json")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.starts_with("config.json:3:7: syntax error"), "{err}");
}

#[test]
fn backend_is_an_old_name_for_storage() {
    let c = parse("backend \"raft\" {\n  path = \"/d\"\n}\n");
    assert!(matches!(c.storage, Some(StorageConfig::Raft { .. })));
}

#[test]
fn labels_are_case_insensitive_like_vault() {
    let c = parse("storage \"Raft\" {\n  path = \"/d\"\n}\nlistener \"TCP\" {\n  tls_disable = 1\n}\nseal \"Shamir\" {}\n");
    assert!(matches!(c.storage, Some(StorageConfig::Raft { .. })));
    assert_eq!(c.listeners.len(), 1);
    assert_eq!(c.seal.map(|s| s.seal_type).as_deref(), Some("shamir"));
}

#[test]
fn audit_stanzas() {
    let c = parse(
        "audit \"file\" \"to-stdout\" {\n  description = \"out\"\n  local = \"true\"\n  options {\n    path = \"stdout\"\n    log_raw = 1\n    hmac_accessor = \"f\"\n    mode = 600\n  }\n}\n",
    );
    let a = &c.audit[0];
    assert_eq!(a.device_type, "file");
    assert_eq!(a.name, "to-stdout");
    assert_eq!(a.description.as_deref(), Some("out"));
    assert!(a.local);
    assert_eq!(
        a.options.get("file_path").map(String::as_str),
        Some("stdout")
    );
    assert_eq!(a.options.get("log_raw").map(String::as_str), Some("true"));
    assert_eq!(
        a.options.get("hmac_accessor").map(String::as_str),
        Some("false")
    );
    assert_eq!(a.options.get("mode").map(String::as_str), Some("600"));
    assert!(!a.options.contains_key("path"));
    // The documented OpenBao JSON form, and the form with nested objects.
    for json in [
        r#"{"audit": [{"file": {"to-stdout": {"options": {"file_path": "stdout"}}}}]}"#,
        r#"{"audit": {"file": {"to-stdout": {"options": {"file_path": "stdout"}}}}}"#,
    ] {
        let c = parse_str(json, "c.json").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.audit.len(), 1);
        assert_eq!(c.audit[0].name, "to-stdout");
    }
    let msg = error_at(
        "audit \"file\" \"a\" {\n  options {\n    file_path = \"x\"\n    elide_list_responses = true\n  }\n}\n",
        4,
    );
    assert!(msg.contains("is not supported by coffer"), "{msg}");
}

#[test]
fn seals() {
    let c = parse("seal \"shamir\" {}\n");
    assert!(c.validate().is_ok());

    let c = parse(
        "seal \"awskms\" {\n  region     = \"us-east-1\"\n  kms_key_id = \"alias/coffer\"\n  secret_key = \"hunter2\"\n  max_retries = 3\n}\n",
    );
    let seal = c.seal.clone().unwrap_or_else(|| panic!("no seal"));
    assert_eq!(seal.seal_type, "awskms");
    assert_eq!(
        seal.options.get("region").map(String::as_str),
        Some("us-east-1")
    );
    assert_eq!(
        seal.options.get("max_retries").map(String::as_str),
        Some("3")
    );
    // Debug output does not show the option values.
    assert!(!format!("{c:?}").contains("hunter2"));
    let err = c.validate().err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("seal \"awskms\": not yet supported by this version of coffer")
    );
    assert!(matches!(
        c.validate_for_server(),
        Err(ConfigError::UnsupportedSeal { .. })
    ));

    let c = parse("seal \"shamir\" {\n  disabled = \"true\"\n}\n");
    assert!(c.validate().is_err());

    let c = parse_str(
        r#"{"seal": {"transit": {"address": "https://t:8200", "disable_renewal": "false"}}}"#,
        "c.json",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.validate().err().map(|e| e.to_string()).as_deref(),
        Some("seal \"transit\": not yet supported by this version of coffer")
    );
}

#[test]
fn merging() {
    let a = parse(
        "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = true\n}\napi_addr = \"https://a:8200\"\ncluster_name = \"one\"\nmax_lease_ttl = \"10h\"\nui = true\n",
    );
    let b = parse(
        "storage \"raft\" {\n  path = \"/d\"\n}\nlistener \"tcp\" {\n  address = \"0.0.0.0:9\"\n  tls_disable = true\n}\napi_addr = \"https://b:8200\"\nmax_lease_ttl = \"5h\"\nui = false\ndefault_lease_ttl = \"1h\"\n",
    );
    let m = a.merge(b).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(m.storage, Some(StorageConfig::Raft { .. })));
    assert_eq!(m.listeners.len(), 2);
    assert_eq!(m.listeners[1].address, "0.0.0.0:9");
    assert_eq!(m.api_addr.as_deref(), Some("https://b:8200"));
    assert_eq!(m.cluster_name.as_deref(), Some("one"));
    assert_eq!(m.max_lease_ttl, Some(Duration::from_secs(36_000)));
    assert_eq!(m.default_lease_ttl, Some(Duration::from_secs(3600)));
    assert!(m.ui);

    let s1 = parse("seal \"shamir\" {}\n");
    let s2 = parse("seal \"awskms\" {}\n");
    assert!(matches!(s1.merge(s2), Err(ConfigError::Conflict(_))));
    let a1 = parse("audit \"file\" \"x\" {\n  options { file_path = \"a\" }\n}\n");
    let a2 = parse("audit \"file\" \"x\" {\n  options { file_path = \"b\" }\n}\n");
    assert!(matches!(
        a1.clone().merge(a2),
        Err(ConfigError::Conflict(_))
    ));
    let a3 = parse("audit \"file\" \"y\" {\n  options { file_path = \"b\" }\n}\n");
    assert_eq!(a1.merge(a3).map(|c| c.audit.len()).ok(), Some(2));
}

#[test]
fn disable_mlock_is_recorded() {
    assert!(parse("disable_mlock = true\n").disable_mlock);
    assert!(!parse("disable_mlock = false\n").disable_mlock);
    assert!(parse("disable_mlock = \"1\"\n").disable_mlock);
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(parse(""), ServerConfig::default());
    assert_eq!(
        parse("# nothing\n// here\n/* at all */\n"),
        ServerConfig::default()
    );
    assert_eq!(
        parse_str("{}", "c.json").ok(),
        Some(ServerConfig::default())
    );
}

#[test]
fn null_means_unset() {
    let c = parse_str(
        r#"{"api_addr": null, "ui": null, "listener": {"tcp": {"tls_disable": true, "address": null}}}"#,
        "c.json",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.api_addr, None);
    assert_eq!(c.listeners[0].address, DEFAULT_LISTENER_ADDRESS);
}

fn arb_hclish() -> impl Strategy<Value = String> {
    // Fragments of real configurations, glued together at random, so that
    // the decoder (and not only the parsers) sees odd but parseable input.
    let fragment = prop_oneof![
        Just("storage \"raft\" {".to_owned()),
        Just("storage \"inmem\" {}".to_owned()),
        Just("listener \"tcp\" {".to_owned()),
        Just("audit \"file\" \"x\" {".to_owned()),
        Just("seal \"awskms\" {".to_owned()),
        Just("retry_join {".to_owned()),
        Just("options {".to_owned()),
        Just("}".to_owned()),
        Just("path = \"/d\"".to_owned()),
        Just("tls_disable = true".to_owned()),
        Just("address = \"0.0.0.0:8200\"".to_owned()),
        Just("max_request_size = -1".to_owned()),
        Just("file_path = \"stdout\"".to_owned()),
        Just("leader_api_addr = \"https://a:1\"".to_owned()),
        Just("default_lease_ttl = \"1h\"".to_owned()),
        Just("x = [1, {a = 2}]".to_owned()),
        Just("ui = { tcp = [] }".to_owned()),
        "[a-z_]{1,8} = \"[ -~]{0,6}\"",
        "[a-z_]{1,8} = -?[0-9]{1,20}",
        "[ -~]{0,12}",
    ];
    prop::collection::vec(fragment, 0..20).prop_map(|v| v.join("\n"))
}

fn arb_jsonish() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        prop_oneof![
            Just("tcp"),
            Just("raft"),
            Just("file"),
            Just("1h"),
            Just("/d"),
            Just("https://a:1"),
            Just("0.0.0.0:1")
        ]
        .prop_map(|s| serde_json::Value::String(s.to_owned())),
    ];
    let key = prop_oneof![
        Just("storage"),
        Just("listener"),
        Just("audit"),
        Just("seal"),
        Just("raft"),
        Just("tcp"),
        Just("file"),
        Just("x"),
        Just("path"),
        Just("options"),
        Just("file_path"),
        Just("retry_join"),
        Just("tls_disable"),
        Just("leader_api_addr"),
    ];
    leaf.prop_recursive(5, 40, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(serde_json::Value::Array),
            prop::collection::vec((key.clone(), inner), 0..4).prop_map(|kv| {
                serde_json::Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
    .prop_map(|v| serde_json::json!({ "storage": v.clone(), "listener": v }).to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any text, as HCL or as JSON: an answer, never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_str(&text, "fuzz.hcl");
        let _ = parse_str(&text, "fuzz.json");
    }

    #[test]
    fn hcl_like_text_never_panics(text in arb_hclish()) {
        if let Ok(c) = parse_str(&text, "fuzz.hcl") {
            let _ = c.validate_for_server();
        }
    }

    #[test]
    fn json_like_text_never_panics(text in arb_jsonish()) {
        if let Ok(c) = parse_str(&text, "fuzz.json") {
            let _ = c.validate_for_server();
        }
    }

    /// Errors inside a file always carry its name and a line within it.
    #[test]
    fn errors_point_into_the_file(text in arb_hclish()) {
        if let Err(e) = parse_str(&text, "fuzz.hcl") {
            prop_assert_eq!(e.file(), Some("fuzz.hcl"));
            let line = e.line().unwrap_or(0);
            prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "{}: {}", line, e);
        }
    }
}

#[test]
fn hcl1_habits() {
    // Unquoted labels and one-attribute one-line blocks read as in Vault.
    let c = parse("storage inmem {}\nlistener tcp { tls_disable = true }\n");
    assert_eq!(c.storage, Some(StorageConfig::Inmem));
    assert_eq!(c.listeners.len(), 1);
    // Two attributes on one line is HCL 1 only: a syntax error, with its line.
    let err = parse_str(
        "ui = true\nlistener \"tcp\" { address = \"0.0.0.0:1\", tls_disable = true }\n",
        "config.hcl",
    )
    .err();
    assert_eq!(err.as_ref().and_then(ConfigError::line), Some(2), "{err:?}");
}
