//! `load`: files, directories and merging, on a real file system.

use coffer_config::{load, ConfigError, StorageConfig};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

#[test]
fn a_directory_is_every_hcl_and_json_file_in_name_order() {
    let dir = tempdir();
    let d = dir.path();
    write(
        d,
        "10-storage.hcl",
        "storage \"inmem\" {}\napi_addr = \"https://first:8200\"\n",
    );
    write(
        d,
        "20-listener.json",
        r#"{"listener": {"tcp": {"address": "0.0.0.0:8200", "tls_disable": true}}, "api_addr": "https://second:8200"}"#,
    );
    write(
        d,
        "30-more.hcl",
        "listener \"tcp\" {\n  address = \"0.0.0.0:8300\"\n  tls_disable = true\n}\nstorage \"raft\" {\n  path = \"/d\"\n}\n",
    );
    // Not configuration: other extensions, editor leftovers, subdirectories.
    write(d, "notes.txt", "this is not HCL {");
    write(d, "30-more.hcl~", "broken {");
    write(d, ".#30-more.hcl", "broken {");
    write(d, "#30-more.hcl#", "broken {");
    std::fs::create_dir(d.join("sub.hcl")).unwrap_or_else(|e| panic!("{e}"));
    write(&d.join("sub.hcl"), "nested.hcl", "broken {");

    let c = load(&[d.to_path_buf()]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.listeners
            .iter()
            .map(|l| l.address.as_str())
            .collect::<Vec<_>>(),
        ["0.0.0.0:8200", "0.0.0.0:8300"]
    );
    // Later files win: the raft storage of 30-more.hcl replaces inmem.
    assert!(matches!(c.storage, Some(StorageConfig::Raft { .. })));
    assert_eq!(c.api_addr.as_deref(), Some("https://second:8200"));
    c.validate_for_server().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn several_paths_merge_in_order_and_a_file_is_read_once() {
    let dir = tempdir();
    let d = dir.path();
    let a = write(
        d,
        "a.hcl",
        "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = true\n}\nmax_lease_ttl = \"2h\"\nlog_level = \"debug\"\n",
    );
    let b = write(
        d,
        "b.conf",
        "max_lease_ttl = \"1h\"\nlog_level = \"error\"\nui = true\n",
    );
    // a.hcl is named directly and through the directory; b.conf (no .hcl
    // extension) only counts when named.
    let c = load(&[a.clone(), d.to_path_buf(), b]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.listeners.len(), 1);
    assert_eq!(c.max_lease_ttl, Some(Duration::from_secs(7200)));
    assert_eq!(c.log_level.as_deref(), Some("error"));
    assert!(c.ui);

    let only_dir = load(&[d.to_path_buf()]).unwrap_or_else(|e| panic!("{e}"));
    assert!(!only_dir.ui);
}

#[test]
fn errors_name_the_file_that_has_them() {
    let dir = tempdir();
    let d = dir.path();
    write(d, "a.hcl", "storage \"inmem\" {}\n");
    let bad = write(
        d,
        "b.hcl",
        "ui = true\n\nlistener \"tcp\" {\n  adress = \"x\"\n}\n",
    );
    let err = load(&[d.to_path_buf()])
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert_eq!(err.line(), Some(4));
    assert_eq!(
        err.to_string(),
        format!(
            "{}:4: unknown key \"adress\" in listener \"tcp\" (did you mean \"address\"?)",
            bad.display()
        )
    );
}

#[test]
fn conflicts_between_files_name_both_places() {
    let dir = tempdir();
    let d = dir.path();
    let a = write(d, "a.hcl", "ui = true\naudit \"file\" \"x\" {\n  options { file_path = \"a\" }\n}\nseal \"shamir\" {}\n");
    let b = write(
        d,
        "b.hcl",
        "\n\naudit \"file\" \"x/\" {\n  options { file_path = \"b\" }\n}\n",
    );
    let err = load(&[a.clone(), b.clone()]).err().map(|e| e.to_string());
    assert_eq!(
        err,
        Some(format!(
            "{}:3: duplicate audit device \"x/\" (first declared at {}:2)",
            b.display(),
            a.display()
        ))
    );
    let s = write(d, "s.hcl", "seal \"awskms\" {\n  region = \"r\"\n}\n");
    let err = load(&[a.clone(), s.clone()])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with(&format!(
            "{}:1: only one seal stanza is permitted (the first is at {}:5)",
            s.display(),
            a.display()
        )),
        "{err}"
    );
}

#[test]
fn unreadable_paths() {
    let dir = tempdir();
    let d = dir.path();
    assert!(matches!(load(&[]), Err(ConfigError::NoPaths)));

    let missing = d.join("missing.hcl");
    let err = load(std::slice::from_ref(&missing))
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(matches!(err, ConfigError::Io { .. }));
    assert!(
        err.to_string().starts_with(&missing.display().to_string()),
        "{err}"
    );

    let empty = d.join("empty");
    std::fs::create_dir(&empty).unwrap_or_else(|e| panic!("{e}"));
    write(&empty, "README.md", "# no config here");
    assert!(matches!(
        load(&[empty]),
        Err(ConfigError::EmptyDirectory { .. })
    ));

    let binary = d.join("binary.hcl");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, b'u', b'i']).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(load(&[binary]), Err(ConfigError::NotUtf8 { .. })));
}

#[test]
fn the_seal_is_refused_by_validate_not_by_load() {
    let dir = tempdir();
    let f = write(
        dir.path(),
        "config.hcl",
        "storage \"raft\" {\n  path = \"/d\"\n}\nlistener \"tcp\" {\n  tls_disable = true\n}\nseal \"awskms\" {\n  region = \"eu-west-1\"\n  kms_key_id = \"k\"\n}\n",
    );
    let c = load(&[f]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.seal.as_ref().map(|s| s.seal_type.as_str()),
        Some("awskms")
    );
    assert_eq!(
        c.validate_for_server()
            .err()
            .map(|e| e.to_string())
            .as_deref(),
        Some("seal \"awskms\": not yet supported by this version of coffer")
    );
}
