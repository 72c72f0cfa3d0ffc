//! The storage conformance suite every physical backend must pass.
//!
//! Call [`run`] on an empty backend from the backend's own tests. It panics with
//! a message naming the failed expectation.

use super::{Physical, TxnOp};

/// Exercise get/put/delete/list/transaction semantics on an empty backend.
pub async fn run(b: &dyn Physical) {
    // Empty store.
    assert_eq!(b.get("foo").await.expect("get"), None, "empty get");
    assert!(b.list("").await.expect("list").is_empty(), "empty list");
    b.delete("missing")
        .await
        .expect("delete of a missing key is not an error");

    // Put and get, overwrite.
    b.put("foo", b"bar".to_vec()).await.expect("put");
    assert_eq!(
        b.get("foo").await.expect("get").as_deref(),
        Some(&b"bar"[..])
    );
    b.put("foo", b"baz".to_vec()).await.expect("overwrite");
    assert_eq!(
        b.get("foo").await.expect("get").as_deref(),
        Some(&b"baz"[..])
    );

    // Binary values, empty values.
    let bin: Vec<u8> = (0..=255u8).collect();
    b.put("bin", bin.clone()).await.expect("put bin");
    assert_eq!(b.get("bin").await.expect("get bin"), Some(bin));
    b.put("empty", Vec::new()).await.expect("put empty");
    assert_eq!(b.get("empty").await.expect("get empty"), Some(Vec::new()));

    // Nested keys and list semantics.
    b.put("a/b/c", b"1".to_vec()).await.expect("put");
    b.put("a/b/d", b"2".to_vec()).await.expect("put");
    b.put("a/e", b"3".to_vec()).await.expect("put");
    b.put("a/b", b"4".to_vec())
        .await
        .expect("put: a key may also be a folder");
    b.put("ab", b"5".to_vec()).await.expect("put");
    assert_eq!(
        b.list("").await.expect("list"),
        vec!["a/", "ab", "bin", "empty", "foo"],
        "root list"
    );
    assert_eq!(
        b.list("a/").await.expect("list"),
        vec!["b", "b/", "e"],
        "list a/"
    );
    assert_eq!(b.list("a/b/").await.expect("list"), vec!["c", "d"]);
    assert!(b.list("nope/").await.expect("list").is_empty());

    // Prefix does not leak into siblings.
    assert_eq!(
        b.get("a/b/c").await.expect("get").as_deref(),
        Some(&b"1"[..])
    );
    assert_eq!(b.get("a/b/").await.expect("get"), None);

    // Delete keeps siblings; an emptied folder disappears from lists.
    b.delete("a/b/c").await.expect("delete");
    b.delete("a/b/d").await.expect("delete");
    assert_eq!(b.get("a/b/c").await.expect("get"), None);
    assert_eq!(b.list("a/").await.expect("list"), vec!["b", "e"]);

    // Transactions apply in order and atomically.
    b.transaction(vec![
        TxnOp::Put {
            key: "t/1".into(),
            value: b"x".to_vec(),
        },
        TxnOp::Put {
            key: "t/2".into(),
            value: b"y".to_vec(),
        },
        TxnOp::Delete { key: "t/1".into() },
        TxnOp::Put {
            key: "t/3".into(),
            value: b"z".to_vec(),
        },
    ])
    .await
    .expect("transaction");
    assert_eq!(b.list("t/").await.expect("list"), vec!["2", "3"]);
    assert_eq!(b.get("t/1").await.expect("get"), None);

    // Many keys, listed sorted.
    for i in (0..200).rev() {
        b.put(&format!("many/{i:04}"), vec![i as u8])
            .await
            .expect("put many");
    }
    let listed = b.list("many/").await.expect("list many");
    assert_eq!(listed.len(), 200);
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "list is sorted");
    assert_eq!(
        b.get("many/0123").await.expect("get").as_deref(),
        Some(&[123u8][..])
    );

    // Keys with unusual characters.
    let odd = "odd/ä ö/%2F+=?&\u{1F512}";
    b.put(odd, b"v".to_vec()).await.expect("put odd");
    assert_eq!(
        b.get(odd).await.expect("get odd").as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(b.list("odd/").await.expect("list odd"), vec!["ä ö/"]);
}
