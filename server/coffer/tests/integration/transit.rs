//! Live tests of the transit engine against OpenBao 2.7.2:
//!
//! * a differential run: the same request sequence against an OpenBao dev
//!   server and a Coffer dev server, comparing status codes and bodies
//!   (random material — ciphertexts, signatures, keys, times — normalised);
//! * key portability in both directions: keys of every type created,
//!   used and backed up on one server, restored on the other, which must
//!   decrypt the first server's ciphertexts, verify its signatures, produce
//!   the same HMACs (and the same Ed25519 signatures and convergent
//!   ciphertexts, which are deterministic).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::harness::{self, CofferServer};
use crate::openbao::{json_diff, Mismatches, OpenBao};

/// One request of the differential sequence.
struct Step {
    method: &'static str,
    /// Path under `/v1/transit/`, with `{var}` placeholders.
    path: &'static str,
    /// JSON body with `{var}` placeholders.
    body: Option<&'static str>,
    /// Values to remember: (var, JSON pointer into the answer).
    save: &'static [(&'static str, &'static str)],
}

const fn s(method: &'static str, path: &'static str, body: Option<&'static str>) -> Step {
    Step {
        method,
        path,
        body,
        save: &[],
    }
}

const fn keep(mut st: Step, vars: &'static [(&'static str, &'static str)]) -> Step {
    st.save = vars;
    st
}

fn steps() -> Vec<Step> {
    vec![
        // ---- keys
        s("POST", "keys/k1", Some("{}")),
        s("POST", "keys/k1", Some(r#"{"type":"ed25519"}"#)),
        s("GET", "keys/k1", None),
        s("GET", "keys/nonexist", None),
        s("POST", "keys/bad", Some(r#"{"type":"foo"}"#)),
        s("POST", "keys/h", Some(r#"{"type":"hmac"}"#)),
        s("POST", "keys/h", Some(r#"{"type":"hmac","key_size":16}"#)),
        s("POST", "keys/h", Some(r#"{"type":"hmac","key_size":48}"#)),
        s("POST", "keys/x", Some(r#"{"key_size":32}"#)),
        s("POST", "keys/x", Some(r#"{"auto_rotate_period":"10m"}"#)),
        s("POST", "keys/x", Some(r#"{"convergent_encryption":true}"#)),
        s(
            "POST",
            "keys/x",
            Some(r#"{"type":"ecdsa-p256","derived":true}"#),
        ),
        s("POST", "keys/x", Some(r#"{"derived":"maybe"}"#)),
        s("POST", "keys/d", Some(r#"{"derived":true}"#)),
        s(
            "POST",
            "keys/c",
            Some(
                r#"{"derived":true,"convergent_encryption":true,"exportable":true,"allow_plaintext_backup":true,"auto_rotate_period":"2h"}"#,
            ),
        ),
        s("POST", "keys/ec", Some(r#"{"type":"ecdsa-p256"}"#)),
        s("POST", "keys/ec384", Some(r#"{"type":"ecdsa-p384"}"#)),
        s("POST", "keys/ec521", Some(r#"{"type":"ecdsa-p521"}"#)),
        s("POST", "keys/sig", Some(r#"{"type":"ed25519"}"#)),
        s(
            "POST",
            "keys/edd",
            Some(r#"{"type":"ed25519","derived":true}"#),
        ),
        s("GET", "keys/edd?context=YWJj", None),
        s("GET", "keys/edd?context=!!", None),
        s("POST", "keys/r", Some(r#"{"type":"rsa-2048"}"#)),
        s("POST", "keys/ch", Some(r#"{"type":"chacha20-poly1305"}"#)),
        s("POST", "keys/xch", Some(r#"{"type":"xchacha20-poly1305"}"#)),
        s("POST", "keys/a128", Some(r#"{"type":"aes128-gcm96"}"#)),
        s("LIST", "keys", None),
        s("GET", "keys?list=true&limit=2", None),
        s("GET", "keys?list=true&after=d", None),
        s("GET", "keys", None),
        s("POST", "keys/c", Some(r#"{"name":"foo","bar":1}"#)),
        // ---- encrypt / decrypt
        keep(
            s(
                "POST",
                "encrypt/k1",
                Some(r#"{"plaintext":"aGVsbG8gd29ybGQ="}"#),
            ),
            &[("ct1", "/data/ciphertext")],
        ),
        s("POST", "decrypt/k1", Some(r#"{"ciphertext":"{ct1}"}"#)),
        s("POST", "encrypt/k1", Some("{}")),
        s("POST", "encrypt/k1", Some(r#"{"plaintext":""}"#)),
        s("POST", "encrypt/k1", Some(r#"{"plaintext":"not base64!"}"#)),
        s(
            "POST",
            "encrypt/k1",
            Some(r#"{"plaintext":"aGk=","key_version":5}"#),
        ),
        s(
            "POST",
            "encrypt/k1",
            Some(r#"{"plaintext":"aGk=","key_version":-1}"#),
        ),
        s(
            "POST",
            "encrypt/k1",
            Some(r#"{"plaintext":"aGk=","key_version":"x"}"#),
        ),
        s("POST", "encrypt/k1", Some(r#"{"plaintext":{"a":1}}"#)),
        s("POST", "encrypt/d", Some(r#"{"plaintext":"aGk="}"#)),
        s(
            "POST",
            "encrypt/d",
            Some(r#"{"plaintext":"aGk=","context":"!!"}"#),
        ),
        s("POST", "encrypt/ec", Some(r#"{"plaintext":"aGk="}"#)),
        s("POST", "encrypt/h", Some(r#"{"plaintext":"aGk="}"#)),
        s(
            "POST",
            "encrypt/r",
            Some(r#"{"plaintext":"aGk=","associated_data":"YWQ="}"#),
        ),
        keep(
            s("POST", "encrypt/r", Some(r#"{"plaintext":"aGk="}"#)),
            &[("rct", "/data/ciphertext")],
        ),
        s("POST", "decrypt/r", Some(r#"{"ciphertext":"{rct}"}"#)),
        keep(
            s(
                "POST",
                "encrypt/ch",
                Some(r#"{"plaintext":"aGk=","associated_data":"YWQ="}"#),
            ),
            &[("chct", "/data/ciphertext")],
        ),
        s(
            "POST",
            "decrypt/ch",
            Some(r#"{"ciphertext":"{chct}","associated_data":"YWQ="}"#),
        ),
        s("POST", "decrypt/ch", Some(r#"{"ciphertext":"{chct}"}"#)),
        keep(
            s("POST", "encrypt/xch", Some(r#"{"plaintext":"aGk="}"#)),
            &[("xct", "/data/ciphertext")],
        ),
        s("POST", "decrypt/xch", Some(r#"{"ciphertext":"{xct}"}"#)),
        keep(
            s("POST", "encrypt/a128", Some(r#"{"plaintext":"aGk="}"#)),
            &[("act", "/data/ciphertext")],
        ),
        s("POST", "decrypt/a128", Some(r#"{"ciphertext":"{act}"}"#)),
        s(
            "POST",
            "encrypt/k1",
            Some(r#"{"plaintext":"aGk=","associated_data":"!!"}"#),
        ),
        s("POST", "decrypt/k1", Some("{}")),
        s("POST", "decrypt/k1", Some(r#"{"ciphertext":"foo"}"#)),
        s("POST", "decrypt/k1", Some(r#"{"ciphertext":"vault:v1"}"#)),
        s(
            "POST",
            "decrypt/k1",
            Some(r#"{"ciphertext":"vault:vx:AAAA"}"#),
        ),
        s(
            "POST",
            "decrypt/k1",
            Some(r#"{"ciphertext":"vault:v9:AAAA"}"#),
        ),
        s(
            "POST",
            "decrypt/k1",
            Some(r#"{"ciphertext":"vault:v1:!!"}"#),
        ),
        s(
            "POST",
            "decrypt/k1",
            Some(r#"{"ciphertext":"vault:v1:AAAA"}"#),
        ),
        s(
            "POST",
            "decrypt/k1",
            Some(r#"{"ciphertext":"vault:v-1:AAAA"}"#),
        ),
        s(
            "POST",
            "decrypt/k1",
            Some(r#"{"ciphertext":"vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#),
        ),
        s(
            "POST",
            "decrypt/ch",
            Some(r#"{"ciphertext":"vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#),
        ),
        s(
            "POST",
            "decrypt/nokey",
            Some(r#"{"ciphertext":"vault:v1:AAAA"}"#),
        ),
        s(
            "POST",
            "decrypt/ec",
            Some(r#"{"ciphertext":"vault:v1:AAAA"}"#),
        ),
        s(
            "POST",
            "decrypt/r",
            Some(r#"{"ciphertext":"vault:v1:AAAA"}"#),
        ),
        s(
            "POST",
            "decrypt/d",
            Some(r#"{"ciphertext":"vault:v1:AAAA"}"#),
        ),
        s(
            "POST",
            "decrypt/k1",
            Some(r#"{"ciphertext":"vault:v1:AAAA","associated_data":"!!"}"#),
        ),
        keep(
            s(
                "POST",
                "encrypt/d",
                Some(r#"{"plaintext":"aGk=","context":"YWJj"}"#),
            ),
            &[("dct", "/data/ciphertext")],
        ),
        s(
            "POST",
            "decrypt/d",
            Some(r#"{"ciphertext":"{dct}","context":"YWJj"}"#),
        ),
        s(
            "POST",
            "decrypt/d",
            Some(r#"{"ciphertext":"{dct}","context":"eHl6"}"#),
        ),
        s(
            "POST",
            "encrypt/c",
            Some(r#"{"plaintext":"aGk=","context":"YQ==","name":"foo","bar":1}"#),
        ),
        // ---- batches
        keep(
            s(
                "POST",
                "encrypt/k1",
                Some(
                    r#"{"batch_input":[{"plaintext":"aGVsbG8gd29ybGQ=","reference":"a"},{"plaintext":"c2Vjb25k"}]}"#,
                ),
            ),
            &[
                ("b0", "/data/batch_results/0/ciphertext"),
                ("b1", "/data/batch_results/1/ciphertext"),
            ],
        ),
        s(
            "POST",
            "encrypt/k1",
            Some(
                r#"{"batch_input":[{"plaintext":"aGVsbG8gd29ybGQ="},{"plaintext":"c2Vjb25k"},{"plaintext":"!!bad"}]}"#,
            ),
        ),
        s(
            "POST",
            "encrypt/k1",
            Some(
                r#"{"batch_input":[{"plaintext":"aGk="},{"plaintext":"!!"}],"partial_failure_response_code":207}"#,
            ),
        ),
        s(
            "POST",
            "encrypt/k1",
            Some(
                r#"{"batch_input":[{"plaintext":"aGk="},{"plaintext":"!!"}],"partial_failure_response_code":700}"#,
            ),
        ),
        s(
            "POST",
            "decrypt/k1",
            Some(
                r#"{"batch_input":[{"ciphertext":"{b0}"},{"ciphertext":"{b1}","reference":"r"},{"ciphertext":"vault:v1:AAAA"}]}"#,
            ),
        ),
        s(
            "POST",
            "decrypt/k1",
            Some(r#"{"batch_input":[{"ciphertext":"{b0}"},{"ciphertext":"{b1}"}]}"#),
        ),
        s("POST", "decrypt/k1", Some(r#"{"batch_input":[]}"#)),
        s(
            "POST",
            "decrypt/k1",
            Some(r#"{"batch_input":[{"context":"YQ=="},{}]}"#),
        ),
        s(
            "POST",
            "decrypt/k1",
            Some(r#"{"batch_input":[{"ciphertext":5}]}"#),
        ),
        s("POST", "decrypt/k1", Some(r#"{"batch_input":"x"}"#)),
        s("POST", "encrypt/k1", Some(r#"{"batch_input":["x"]}"#)),
        s(
            "POST",
            "encrypt/k1",
            Some(r#"{"batch_input":[{"plaintext":"aGk=","context":"YQ=="},{"plaintext":"aGk="}]}"#),
        ),
        s(
            "POST",
            "encrypt/r",
            Some(r#"{"batch_input":[{"plaintext":"aGk=","associated_data":"YQ=="}]}"#),
        ),
        // ---- upsert
        s("POST", "encrypt/new1", Some(r#"{"plaintext":"aGk="}"#)),
        s("GET", "keys/new1", None),
        s(
            "POST",
            "encrypt/new2",
            Some(r#"{"plaintext":"aGk=","context":"YWJj","type":"chacha20-poly1305"}"#),
        ),
        s("GET", "keys/new2", None),
        s(
            "POST",
            "encrypt/new3",
            Some(r#"{"plaintext":"aGk=","type":"ecdsa-p256"}"#),
        ),
        s(
            "POST",
            "encrypt/new3",
            Some(r#"{"plaintext":"aGk=","type":"rsa-2048"}"#),
        ),
        s(
            "POST",
            "encrypt/new4",
            Some(r#"{"plaintext":"aGk=","convergent_encryption":true}"#),
        ),
        s("POST", "encrypt/new5", Some(r#"{"plaintext":"!!"}"#)),
        s("GET", "keys/new5", None),
        s("GET", "config/keys", None),
        s("POST", "config/keys", Some(r#"{"disable_upsert":true}"#)),
        s("POST", "encrypt/nokey2", Some(r#"{"plaintext":"aGk="}"#)),
        s("POST", "config/keys", Some("{}")),
        // ---- rewrap / datakey
        s("POST", "keys/k1/rotate", None),
        s("POST", "rewrap/k1", Some(r#"{"ciphertext":"{ct1}"}"#)),
        s(
            "POST",
            "rewrap/k1",
            Some(r#"{"ciphertext":"{ct1}","key_version":1}"#),
        ),
        s("POST", "rewrap/k1", Some("{}")),
        s("POST", "rewrap/nokey", Some(r#"{"ciphertext":"x"}"#)),
        s("POST", "rewrap/k1", Some(r#"{"ciphertext":"x"}"#)),
        s(
            "POST",
            "rewrap/k1",
            Some(
                r#"{"batch_input":[{"ciphertext":"x","reference":"a"},{"ciphertext":""},{"ciphertext":"{ct1}"}]}"#,
            ),
        ),
        s(
            "POST",
            "rewrap/k1",
            Some(r#"{"batch_input":[{"ciphertext":5}]}"#),
        ),
        s("POST", "rewrap/k1", Some(r#"{"batch_input":"x"}"#)),
        s(
            "POST",
            "rewrap/k1",
            Some(r#"{"batch_input":[{"ciphertext":true}]}"#),
        ),
        s("POST", "datakey/plaintext/k1", Some("{}")),
        s("POST", "datakey/wrapped/k1", Some(r#"{"bits":512}"#)),
        s("POST", "datakey/wrapped/k1", Some(r#"{"bits":128}"#)),
        s("POST", "datakey/foo/k1", Some("{}")),
        s("POST", "datakey/plaintext/k1", Some(r#"{"bits":100}"#)),
        s("POST", "datakey/plaintext/nokey", Some("{}")),
        s("POST", "datakey/wrapped/k1", Some(r#"{"context":"!!"}"#)),
        s("POST", "datakey/wrapped/ec", Some("{}")),
        s(
            "POST",
            "datakey/wrapped/r",
            Some(r#"{"associated_data":"YQ=="}"#),
        ),
        s("POST", "datakey/wrapped/k1", Some(r#"{"key_version":3}"#)),
        s("POST", "datakey/wrapped/k1", Some(r#"{"plaintext":"x"}"#)),
        s("PUT", "datakey/wrapped", Some("{}")),
        s("GET", "datakey/wrapped/k1", None),
        // ---- config, min versions, trim
        s("POST", "keys/nokey/config", Some("{}")),
        s(
            "POST",
            "keys/k1/config",
            Some(r#"{"min_decryption_version":-1}"#),
        ),
        s(
            "POST",
            "keys/k1/config",
            Some(r#"{"min_decryption_version":0}"#),
        ),
        s(
            "POST",
            "keys/k1/config",
            Some(r#"{"min_decryption_version":5}"#),
        ),
        s(
            "POST",
            "keys/k1/config",
            Some(r#"{"min_encryption_version":5}"#),
        ),
        s(
            "POST",
            "keys/k1/config",
            Some(r#"{"min_decryption_version":2,"min_encryption_version":1}"#),
        ),
        s(
            "POST",
            "keys/k1/config",
            Some(r#"{"auto_rotate_period":"30m"}"#),
        ),
        s(
            "POST",
            "keys/k1/config",
            Some(r#"{"min_decryption_version":"abc"}"#),
        ),
        s(
            "POST",
            "keys/k1/config",
            Some(r#"{"auto_rotate_period":"abc"}"#),
        ),
        s("POST", "keys/k1/config", Some(r#"{"foo":1}"#)),
        s("GET", "keys/k1/config", None),
        s("POST", "keys/k1/rotate", None),
        s(
            "POST",
            "keys/k1/config",
            Some(r#"{"min_decryption_version":2}"#),
        ),
        s("POST", "decrypt/k1", Some(r#"{"ciphertext":"{ct1}"}"#)),
        s(
            "POST",
            "encrypt/k1",
            Some(r#"{"plaintext":"aGk=","key_version":1}"#),
        ),
        s(
            "POST",
            "hmac/k1",
            Some(r#"{"input":"aGk=","key_version":1}"#),
        ),
        s(
            "POST",
            "keys/k1/config",
            Some(r#"{"min_encryption_version":3}"#),
        ),
        s(
            "POST",
            "encrypt/k1",
            Some(r#"{"plaintext":"aGk=","key_version":2}"#),
        ),
        s(
            "POST",
            "hmac/k1",
            Some(r#"{"input":"aGk=","key_version":2}"#),
        ),
        s("POST", "keys/k1/trim", Some("{}")),
        s(
            "POST",
            "keys/k1/trim",
            Some(r#"{"min_available_version":4}"#),
        ),
        s(
            "POST",
            "keys/k1/trim",
            Some(r#"{"min_available_version":0}"#),
        ),
        s(
            "POST",
            "keys/k1/trim",
            Some(r#"{"min_available_version":2}"#),
        ),
        s(
            "POST",
            "keys/k1/trim",
            Some(r#"{"min_available_version":1}"#),
        ),
        s(
            "POST",
            "keys/k1/config",
            Some(r#"{"min_decryption_version":1}"#),
        ),
        s("POST", "keys/nokey/rotate", None),
        s("POST", "keys/nokey/trim", Some("{}")),
        s(
            "POST",
            "keys/r/trim",
            Some(r#"{"min_available_version":1}"#),
        ),
        s(
            "POST",
            "keys/k1/config",
            Some(
                r#"{"exportable":true,"allow_plaintext_backup":true,"deletion_allowed":true,"auto_rotate_period":"1h"}"#,
            ),
        ),
        s("POST", "keys/k1/config", Some(r#"{"exportable":false}"#)),
        // ---- export
        s("GET", "export/foo/c", None),
        s("GET", "export/encryption-key/nokey", None),
        s("GET", "export/encryption-key/ec", None),
        s("GET", "export/public-key/ec", None),
        s("GET", "export/encryption-key/c", None),
        s("GET", "export/encryption-key/c/latest", None),
        s("GET", "export/encryption-key/c/v1", None),
        s("GET", "export/encryption-key/c/2", None),
        s("GET", "export/encryption-key/c/x", None),
        s("GET", "export/encryption-key/c/0", None),
        s("GET", "export/hmac-key/c", None),
        s("GET", "export/signing-key/c", None),
        s("GET", "export/public-key/c", None),
        s("GET", "export/public-key/c?format=x", None),
        s("GET", "export/encryption-key/c?format=pem", None),
        s("GET", "export/certificate-chain/c", None),
        s("GET", "export/certificate-chain/ec", None),
        s("GET", "export/public-key/sig?format=pem", None),
        s("GET", "export/public-key/r?format=raw", None),
        s("GET", "export/encryption-key/k1", None),
        s("GET", "export/encryption-key/k1/1", None),
        // ---- hmac
        keep(
            s("POST", "hmac/k1", Some(r#"{"input":"aGVsbG8gd29ybGQ="}"#)),
            &[("hm", "/data/hmac")],
        ),
        s(
            "POST",
            "hmac/k1/sha2-512",
            Some(r#"{"input":"aGVsbG8gd29ybGQ="}"#),
        ),
        s("POST", "hmac/k1", Some("{}")),
        s("POST", "hmac/nokey", Some("{}")),
        s("POST", "hmac/k1", Some(r#"{"input":"!!"}"#)),
        s("POST", "hmac/k1/sha1", Some(r#"{"input":"aGk="}"#)),
        s("POST", "hmac/k1/md5", Some(r#"{"input":"aGk="}"#)),
        s("POST", "hmac/k1/none", Some(r#"{"input":"aGk="}"#)),
        s(
            "POST",
            "hmac/k1",
            Some(r#"{"input":"aGk=","algorithm":"sha3-256"}"#),
        ),
        s(
            "POST",
            "hmac/k1",
            Some(r#"{"input":"aGk=","key_version":9}"#),
        ),
        s(
            "POST",
            "hmac/k1",
            Some(r#"{"input":"aGk=","key_version":-3}"#),
        ),
        s("POST", "hmac/h", Some(r#"{"input":"aGk="}"#)),
        s("POST", "hmac/ec", Some(r#"{"input":"aGk="}"#)),
        s(
            "POST",
            "hmac/k1",
            Some(r#"{"batch_input":[{"input":"aGk=","reference":"x"},{"input":"!!"},{}]}"#),
        ),
        s("POST", "hmac/k1", Some(r#"{"batch_input":[{"input":5}]}"#)),
        s(
            "POST",
            "hmac/k1",
            Some(r#"{"batch_input":[{"input":true}]}"#),
        ),
        s("POST", "hmac/k1", Some(r#"{"batch_input":["x"]}"#)),
        s("POST", "hmac/k1", Some(r#"{"batch_input":"x"}"#)),
        s("POST", "hmac/k1", Some(r#"{"batch_input":[]}"#)),
        s(
            "POST",
            "verify/k1",
            Some(r#"{"input":"aGVsbG8gd29ybGQ=","hmac":"{hm}"}"#),
        ),
        s(
            "POST",
            "verify/k1",
            Some(r#"{"input":"dGFtcGVyZWQ=","hmac":"{hm}"}"#),
        ),
        s("POST", "verify/k1", Some(r#"{"input":"aGk="}"#)),
        s(
            "POST",
            "verify/k1",
            Some(r#"{"input":"aGk=","hmac":"x","signature":"y"}"#),
        ),
        s("POST", "verify/k1", Some(r#"{"input":"aGk=","hmac":"x"}"#)),
        s(
            "POST",
            "verify/k1",
            Some(r#"{"input":"aGk=","hmac":"vault:vx"}"#),
        ),
        s(
            "POST",
            "verify/k1",
            Some(r#"{"input":"aGk=","hmac":"vault:vx:a"}"#),
        ),
        s(
            "POST",
            "verify/k1",
            Some(r#"{"input":"aGk=","hmac":"vault:v1:!"}"#),
        ),
        s(
            "POST",
            "verify/k1",
            Some(r#"{"input":"aGk=","hmac":"vault:v9:AAAA"}"#),
        ),
        s(
            "POST",
            "verify/k1",
            Some(r#"{"input":"aGk=","hmac":"vault:v3:AAAA"}"#),
        ),
        s(
            "POST",
            "verify/k1",
            Some(r#"{"input":"aGk=","hmac":"vault:v0:AAAA"}"#),
        ),
        s("POST", "verify/k1", Some(r#"{"hmac":"vault:v3:AAAA"}"#)),
        s(
            "POST",
            "verify/k1/md5",
            Some(r#"{"input":"aGk=","hmac":"vault:v3:AAAA"}"#),
        ),
        s(
            "POST",
            "verify/k1/none",
            Some(r#"{"input":"aGk=","hmac":"vault:v3:AAAA"}"#),
        ),
        s(
            "POST",
            "verify/k1",
            Some(
                r#"{"batch_input":[{"input":"aGVsbG8gd29ybGQ=","hmac":"{hm}","reference":"q"},{"input":"aGk=","hmac":"x"}]}"#,
            ),
        ),
        s(
            "POST",
            "verify/k1",
            Some(r#"{"batch_input":[{"input":"aGk=","hmac":"vault:v3:AAAA"},{"input":"aGk="}]}"#),
        ),
        s(
            "POST",
            "verify/k1",
            Some(
                r#"{"batch_input":[{"input":"aGk=","hmac":"vault:v3:AAAA"},{"input":"aGk=","signature":"x"}]}"#,
            ),
        ),
        s(
            "POST",
            "verify/k1",
            Some(r#"{"batch_input":[{"input":"aGk="}]}"#),
        ),
        // ---- sign / verify
        keep(
            s("POST", "sign/sig", Some(r#"{"input":"aGVsbG8gd29ybGQ="}"#)),
            &[("edsig", "/data/signature")],
        ),
        s(
            "POST",
            "verify/sig",
            Some(r#"{"input":"aGVsbG8gd29ybGQ=","signature":"{edsig}"}"#),
        ),
        s(
            "POST",
            "verify/sig",
            Some(r#"{"input":"dGFtcGVyZWQ=","signature":"{edsig}"}"#),
        ),
        s("POST", "sign/k1", Some(r#"{"input":"aGk="}"#)),
        s("POST", "sign/nokey", Some("{}")),
        keep(
            s("POST", "sign/ec", Some(r#"{"input":"aGk="}"#)),
            &[("ecsig", "/data/signature")],
        ),
        keep(
            s(
                "POST",
                "sign/ec384/sha2-384",
                Some(r#"{"input":"aGk=","marshaling_algorithm":"jws"}"#),
            ),
            &[("jws", "/data/signature")],
        ),
        s(
            "POST",
            "verify/ec384/sha2-384",
            Some(r#"{"input":"aGk=","marshaling_algorithm":"jws","signature":"{jws}"}"#),
        ),
        keep(
            s(
                "POST",
                "sign/ec521",
                Some(r#"{"input":"aGk=","hash_algorithm":"sha3-512"}"#),
            ),
            &[("sig521", "/data/signature")],
        ),
        s(
            "POST",
            "verify/ec521",
            Some(r#"{"input":"aGk=","hash_algorithm":"sha3-512","signature":"{sig521}"}"#),
        ),
        s("POST", "sign/ec", Some(r#"{"input":"!!"}"#)),
        s("POST", "sign/ec/md5", Some(r#"{"input":"aGk="}"#)),
        s(
            "POST",
            "sign/ec",
            Some(r#"{"input":"aGk=","marshaling_algorithm":"x"}"#),
        ),
        s(
            "POST",
            "sign/ec",
            Some(r#"{"input":"aGk=","key_version":4}"#),
        ),
        s(
            "POST",
            "sign/ec",
            Some(r#"{"input":"aGk=","key_version":-1}"#),
        ),
        s(
            "POST",
            "sign/ec",
            Some(r#"{"input":"aGk=","hash_algorithm":"none"}"#),
        ),
        s(
            "POST",
            "sign/ec",
            Some(r#"{"input":"aGk=","salt_length":"x"}"#),
        ),
        s(
            "POST",
            "sign/ec",
            Some(r#"{"input":"aGk=","salt_length":"-5"}"#),
        ),
        s("POST", "sign/edd", Some(r#"{"input":"aGk="}"#)),
        keep(
            s(
                "POST",
                "sign/edd",
                Some(r#"{"input":"aGk=","context":"YWJj"}"#),
            ),
            &[("eddsig", "/data/signature")],
        ),
        s(
            "POST",
            "verify/edd",
            Some(r#"{"input":"aGk=","context":"YWJj","signature":"{eddsig}"}"#),
        ),
        s(
            "POST",
            "sign/edd",
            Some(r#"{"input":"aGk=","context":"!!"}"#),
        ),
        s(
            "POST",
            "sign/r",
            Some(r#"{"input":"aGk=","signature_algorithm":"foo"}"#),
        ),
        s(
            "POST",
            "sign/r",
            Some(r#"{"input":"aGk=","salt_length":"1000"}"#),
        ),
        keep(
            s(
                "POST",
                "sign/r",
                Some(
                    r#"{"input":"aGk=","signature_algorithm":"pkcs1v15","hash_algorithm":"sha3-256"}"#,
                ),
            ),
            &[("rsig", "/data/signature")],
        ),
        s(
            "POST",
            "verify/r",
            Some(
                r#"{"input":"aGk=","signature_algorithm":"pkcs1v15","hash_algorithm":"sha3-256","signature":"{rsig}"}"#,
            ),
        ),
        keep(
            s(
                "POST",
                "sign/r",
                Some(r#"{"input":"aGk=","salt_length":"hash"}"#),
            ),
            &[("psig", "/data/signature")],
        ),
        s(
            "POST",
            "verify/r",
            Some(r#"{"input":"aGk=","signature":"{psig}"}"#),
        ),
        s(
            "POST",
            "verify/r",
            Some(r#"{"input":"aGk=","signature":"{psig}","salt_length":"auto"}"#),
        ),
        s(
            "POST",
            "verify/r",
            Some(r#"{"input":"aGk=","signature":"{psig}","salt_length":"10"}"#),
        ),
        s(
            "POST",
            "sign/r",
            Some(
                r#"{"input":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=","prehashed":true,"hash_algorithm":"none","signature_algorithm":"pkcs1v15"}"#,
            ),
        ),
        s("POST", "sign/h", Some(r#"{"input":"aGk="}"#)),
        s(
            "POST",
            "sign/ec",
            Some(r#"{"batch_input":[{"input":"aGk=","reference":"a"},{"input":"!!"},{}]}"#),
        ),
        s(
            "POST",
            "sign/ec",
            Some(r#"{"batch_input":[{"input":true}]}"#),
        ),
        s(
            "POST",
            "verify/ec",
            Some(r#"{"input":"aGk=","signature":"{ecsig}"}"#),
        ),
        s(
            "POST",
            "verify/ec",
            Some(r#"{"input":"aGk=","signature":"{ecsig}","marshaling_algorithm":"jws"}"#),
        ),
        s(
            "POST",
            "verify/ec",
            Some(r#"{"input":"aGk=","signature":"x"}"#),
        ),
        s(
            "POST",
            "verify/ec",
            Some(r#"{"input":"aGk=","signature":"vault:v1"}"#),
        ),
        s(
            "POST",
            "verify/ec",
            Some(r#"{"input":"aGk=","signature":"vault:vx:AAAA"}"#),
        ),
        s(
            "POST",
            "verify/ec",
            Some(r#"{"input":"aGk=","signature":"vault:v5:AAAA"}"#),
        ),
        s(
            "POST",
            "verify/ec",
            Some(r#"{"input":"aGk=","signature":"vault:v1:!!"}"#),
        ),
        s(
            "POST",
            "verify/ec",
            Some(r#"{"input":"aGk=","signature":"vault:v1:AAAA"}"#),
        ),
        s(
            "POST",
            "verify/ec",
            Some(r#"{"input":"aGk=","signature":"vault:v1:AAAA","marshaling_algorithm":"jws"}"#),
        ),
        s(
            "POST",
            "verify/ec",
            Some(r#"{"input":"aGk=","signature":"vault:v0:AAAA"}"#),
        ),
        s(
            "POST",
            "verify/ec",
            Some(r#"{"input":"aGk=","signature":"vault:v1:MAA="}"#),
        ),
        s(
            "POST",
            "verify/ec",
            Some(r#"{"input":"aGk=","signature":"vault:v1:MAYCAQECAQEA"}"#),
        ),
        s(
            "POST",
            "verify/nokey",
            Some(r#"{"input":"aGk=","signature":"vault:v0:AAAA"}"#),
        ),
        s(
            "POST",
            "verify/k1",
            Some(r#"{"input":"aGk=","signature":"vault:v0:AAAA"}"#),
        ),
        s(
            "POST",
            "verify/sig",
            Some(r#"{"input":"aGk=","signature":"vault:v1:AAAA"}"#),
        ),
        s(
            "POST",
            "verify/edd",
            Some(r#"{"input":"aGk=","signature":"vault:v1:AAAA"}"#),
        ),
        s(
            "POST",
            "verify/r",
            Some(r#"{"input":"aGk=","signature":"vault:v1:AAAA"}"#),
        ),
        s(
            "POST",
            "verify/r",
            Some(r#"{"input":"aGk=","signature":"vault:v1:AAAA","signature_algorithm":"x"}"#),
        ),
        s(
            "POST",
            "verify/ec",
            Some(
                r#"{"batch_input":[{"input":"aGk=","signature":"{ecsig}","reference":"z"},{"input":"aGk=","signature":"vault:v1:AAAA"},{"input":"aGk=","signature":"x"},{"input":"!!","signature":"x"}]}"#,
            ),
        ),
        s(
            "POST",
            "verify/ec",
            Some(r#"{"batch_input":[{"input":"aGk=","signature":true}]}"#),
        ),
        // ---- random / hash
        s("POST", "random", Some("{}")),
        s("POST", "random/8", Some("{}")),
        s("POST", "random/8", Some(r#"{"format":"hex"}"#)),
        s("POST", "random", Some(r#"{"bytes":4,"format":"hex"}"#)),
        s("POST", "random/seal/4", Some(r#"{"format":"hex"}"#)),
        s("POST", "random/all", Some(r#"{"bytes":4}"#)),
        s("POST", "random/foo", Some("{}")),
        s("POST", "random/foo/4", Some("{}")),
        s("POST", "random/0", Some("{}")),
        s("POST", "random/200000", Some("{}")),
        s("POST", "random", Some(r#"{"format":"x"}"#)),
        s("POST", "random/platform/x", Some("{}")),
        s("GET", "random", None),
        s("POST", "random", Some(r#"{"bytes":"x"}"#)),
        s("POST", "random", Some(r#"{"source":"seal","bytes":3}"#)),
        s("POST", "hash", Some("{}")),
        s("POST", "hash", Some(r#"{"input":"aGk="}"#)),
        s(
            "POST",
            "hash/sha2-512",
            Some(r#"{"input":"aGk=","format":"base64"}"#),
        ),
        s(
            "POST",
            "hash",
            Some(r#"{"input":"aGk=","algorithm":"sha3-224"}"#),
        ),
        s(
            "POST",
            "hash",
            Some(r#"{"input":"aGk=","algorithm":"md5"}"#),
        ),
        s("POST", "hash", Some(r#"{"input":"aGk=","format":"x"}"#)),
        s("POST", "hash", Some(r#"{"input":"!!"}"#)),
        s("POST", "hash/sha1", Some(r#"{"input":"aGk="}"#)),
        // ---- backup / restore / soft delete / delete
        s("GET", "backup/nonexist", None),
        s("GET", "backup/ec", None),
        keep(s("GET", "backup/c", None), &[("bk", "/data/backup")]),
        s("POST", "restore", Some("{}")),
        s("POST", "restore", Some(r#"{"backup":"{bk}"}"#)),
        s("POST", "restore/c2", Some(r#"{"backup":"{bk}"}"#)),
        s(
            "POST",
            "restore/c2",
            Some(r#"{"backup":"{bk}","force":true}"#),
        ),
        s("POST", "restore", Some(r#"{"backup":"!!"}"#)),
        s("POST", "restore/a/b", Some(r#"{"backup":"{bk}"}"#)),
        s("POST", "restore", Some(r#"{"backup":"{bk}","name":"zz"}"#)),
        s("GET", "keys/zz", None),
        s(
            "POST",
            "encrypt/c2",
            Some(r#"{"plaintext":"aGk=","context":"YWJj"}"#),
        ),
        s(
            "POST",
            "encrypt/c",
            Some(r#"{"plaintext":"aGk=","context":"YWJj"}"#),
        ),
        s("DELETE", "keys/h/soft-delete", None),
        s("DELETE", "keys/h/soft-delete", None),
        s("POST", "hmac/h", Some(r#"{"input":"aGk="}"#)),
        s("GET", "export/hmac-key/h", None),
        s("POST", "keys/h/rotate", None),
        s(
            "POST",
            "keys/h/config",
            Some(r#"{"deletion_allowed":true}"#),
        ),
        s("POST", "keys/h/soft-delete-restore", Some("{}")),
        s("POST", "keys/h/soft-delete-restore", Some("{}")),
        s("DELETE", "keys/nokey/soft-delete", None),
        s("DELETE", "keys/nokey", None),
        s("DELETE", "keys/ec", None),
        s("DELETE", "keys/k1", None),
        s("GET", "keys/k1", None),
        s("GET", "keys/k1/trim", None),
        s("DELETE", "keys/k1/trim", None),
        s("GET", "cache-config", None),
        s("POST", "cache-config", Some(r#"{"size":5}"#)),
        s("POST", "cache-config", Some(r#"{"size":0}"#)),
    ]
}

/// Differences Coffer keeps on purpose.
const KNOWN: &[(&str, &str)] = &[];

/// Whether `s` looks like random key material or an encoding of it.
fn opaque(s: &str) -> bool {
    s.len() >= 8
        && !s.contains(' ')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_'))
        && s.chars()
            .any(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

/// Normalises what differs between any two transit servers: random
/// material (keeping the `vault:vN:` prefix and PEM labels), times, ids.
fn norm(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let nv = match k.as_str() {
                        "request_id" => json!("<ID>"),
                        "creation_time" | "time" => json!("<TIME>"),
                        "random_bytes" => json!(format!(
                            "<{} random chars>",
                            v.as_str().map(str::len).unwrap_or(0)
                        )),
                        "keys"
                            if v.as_object()
                                .is_some_and(|o| o.values().all(Value::is_number)) =>
                        {
                            Value::Object(o_map(v, |_| json!("<TIME>")))
                        }
                        _ => norm(v),
                    };
                    (k.clone(), nv)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(norm).collect()),
        Value::String(s) => {
            if let Some(rest) = s.strip_prefix("vault:v") {
                if let Some((ver, _)) = rest.split_once(':') {
                    return json!(format!("vault:v{ver}:<B64>"));
                }
            }
            if let Some(i) = s.find("-----BEGIN ") {
                let label = s[i..].lines().next().unwrap_or_default();
                return json!(format!("<PEM {label}>"));
            }
            if opaque(s) {
                return json!("<B64>");
            }
            v.clone()
        }
        other => other.clone(),
    }
}

fn o_map(v: &Value, f: impl Fn(&Value) -> Value) -> serde_json::Map<String, Value> {
    v.as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), f(v))).collect())
        .unwrap_or_default()
}

struct Side {
    base: String,
    vars: BTreeMap<String, String>,
}

impl Side {
    fn fill(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (k, v) in &self.vars {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }

    async fn run(&mut self, c: &reqwest::Client, st: &Step) -> harness::Reply {
        let url = format!("{}/v1/transit/{}", self.base, self.fill(st.path));
        let body = st.body.map(|b| self.fill(b));
        let r = harness::call(c, st.method, &url, Some("root"), body.as_deref()).await;
        for (var, pointer) in st.save {
            let v = serde_json::from_str::<Value>(&r.body)
                .ok()
                .and_then(|j| {
                    j.pointer(pointer)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_else(|| {
                    panic!("{} {}: {pointer} missing: {}", st.method, st.path, r.body)
                });
            self.vars.insert(var.to_string(), v);
        }
        r
    }
}

fn body_json(r: &harness::Reply) -> Value {
    if r.body.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&r.body).unwrap_or_else(|_| Value::String(r.body.clone()))
}

async fn enable_transit(c: &reqwest::Client, base: &str) {
    let r = harness::call(
        c,
        "POST",
        &format!("{base}/v1/sys/mounts/transit"),
        Some("root"),
        Some(r#"{"type":"transit"}"#),
    )
    .await;
    assert_eq!(r.status, 204, "{base}: enable transit: {}", r.body);
}

#[tokio::test]
async fn transit_matches_openbao() {
    let server = CofferServer::dev();
    let bao = OpenBao::dev();
    let c = harness::client();
    enable_transit(&c, &server.url).await;
    enable_transit(&c, &bao.url).await;
    let mut coffer = Side {
        base: server.url.clone(),
        vars: BTreeMap::new(),
    };
    let mut openbao = Side {
        base: bao.url.clone(),
        vars: BTreeMap::new(),
    };
    let mut mm = Mismatches::new("transit", KNOWN);
    let steps = steps();
    assert!(steps.len() > 250, "{}", steps.len());
    for st in &steps {
        let a = coffer.run(&c, st).await;
        let b = openbao.run(&c, st).await;
        let mut diffs = Vec::new();
        if a.status != b.status {
            diffs.push(format!(
                "status: coffer {} != openbao {}",
                a.status, b.status
            ));
        }
        let (ja, jb) = (body_json(&a), body_json(&b));
        json_diff(&norm(&ja), &norm(&jb), "", &mut diffs);
        // Key order inside data matters to clients that compare text.
        if a.status == 200 && b.status == 200 {
            let order = |j: &Value| -> Vec<String> {
                j["data"]
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default()
            };
            if order(&ja) != order(&jb) {
                diffs.push(format!(
                    "data key order: coffer {:?} != openbao {:?}",
                    order(&ja),
                    order(&jb)
                ));
            }
        }
        for d in diffs {
            mm.push(format!(
                "{} {}: {d}\n  coffer:  {}\n  openbao: {}",
                st.method,
                st.path,
                a.body.trim(),
                b.body.trim()
            ));
        }
    }
    mm.finish();
}

// ---------------------------------------------------------------------------
// Portability of keys between the two servers
// ---------------------------------------------------------------------------

const PT: &str = "aGVsbG8gd29ybGQ=";
const CTX: &str = "Y29udGV4dA==";

/// What a key was used for on its home server.
#[derive(Default)]
struct Evidence {
    /// (decrypt body, expected plaintext)
    decrypt: Vec<(Value, String)>,
    /// (verify body) that must verify
    verify: Vec<Value>,
    /// (path, body, data) that must be answered identically
    same: Vec<(String, Value, Value)>,
}

/// `POST {mount}/{path}` where `mount` is `URL/v1/MOUNT`.
async fn post(c: &reqwest::Client, mount: &str, path: &str, body: Value) -> Value {
    let r = harness::call(
        c,
        "POST",
        &format!("{mount}/{path}"),
        Some("root"),
        Some(&body.to_string()),
    )
    .await;
    assert!(
        r.status == 200 || r.status == 204,
        "{mount} POST {path} {body}: {} {}",
        r.status,
        r.body
    );
    body_json(&r)
}

async fn get(c: &reqwest::Client, mount: &str, path: &str) -> Value {
    let r = harness::call(c, "GET", &format!("{mount}/{path}"), Some("root"), None).await;
    assert_eq!(r.status, 200, "{mount} GET {path}: {}", r.body);
    body_json(&r)
}

/// Creates exportable keys of every type on `mount`, uses them, and returns
/// (name, backup blob) pairs and what must hold wherever they are restored.
async fn make_keys(c: &reqwest::Client, mount: &str) -> (Vec<(String, String)>, Evidence) {
    let mut ev = Evidence::default();
    let specs: &[(&str, Value)] = &[
        ("aes256", json!({"type": "aes256-gcm96"})),
        ("aes128", json!({"type": "aes128-gcm96"})),
        ("chacha", json!({"type": "chacha20-poly1305"})),
        ("xchacha", json!({"type": "xchacha20-poly1305"})),
        ("derived", json!({"type": "aes256-gcm96", "derived": true})),
        (
            "convergent",
            json!({"type": "aes256-gcm96", "derived": true, "convergent_encryption": true}),
        ),
        ("ed25519", json!({"type": "ed25519"})),
        ("ed25519d", json!({"type": "ed25519", "derived": true})),
        ("p256", json!({"type": "ecdsa-p256"})),
        ("p384", json!({"type": "ecdsa-p384"})),
        ("p521", json!({"type": "ecdsa-p521"})),
        ("rsa2048", json!({"type": "rsa-2048"})),
        ("hmac", json!({"type": "hmac", "key_size": 40})),
    ];
    let mut blobs = Vec::new();
    for (name, spec) in specs {
        let mut body = spec.clone();
        body["exportable"] = json!(true);
        body["allow_plaintext_backup"] = json!(true);
        post(c, mount, &format!("keys/{name}"), body).await;
        post(c, mount, &format!("keys/{name}/rotate"), json!({})).await;
        let ty = spec["type"].as_str().unwrap_or_default();
        let derived = spec["derived"] == json!(true);
        let with_ctx = |mut b: Value| {
            if derived {
                b["context"] = json!(CTX);
            }
            b
        };
        if ty.starts_with("aes") || ty.contains("chacha") || ty.starts_with("rsa") {
            for ver in [1, 2] {
                let b = with_ctx(json!({"plaintext": PT, "key_version": ver}));
                let out = post(c, mount, &format!("encrypt/{name}"), b.clone()).await;
                let d = with_ctx(json!({"ciphertext": out["data"]["ciphertext"]}));
                ev.decrypt
                    .push((json!({"key": name, "body": d}), PT.to_string()));
                if *name == "convergent" {
                    ev.same
                        .push((format!("encrypt/{name}"), b, out["data"].clone()));
                }
            }
            if !ty.starts_with("rsa") {
                let b = with_ctx(json!({"plaintext": PT, "associated_data": "YWQ="}));
                let out = post(c, mount, &format!("encrypt/{name}"), b).await;
                let d = with_ctx(
                    json!({"ciphertext": out["data"]["ciphertext"], "associated_data": "YWQ="}),
                );
                ev.decrypt
                    .push((json!({"key": name, "body": d}), PT.to_string()));
            }
            let out = post(
                c,
                mount,
                &format!("datakey/plaintext/{name}"),
                with_ctx(json!({"bits": 512})),
            )
            .await;
            let d = with_ctx(json!({"ciphertext": out["data"]["ciphertext"]}));
            let key = out["data"]["plaintext"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            ev.decrypt.push((json!({"key": name, "body": d}), key));
        }
        if ty.starts_with("ecdsa") || ty.starts_with("rsa") || ty == "ed25519" {
            let variants: Vec<Value> = if ty.starts_with("ecdsa") {
                vec![
                    json!({"hash_algorithm": "sha2-256"}),
                    json!({"hash_algorithm": "sha2-512", "marshaling_algorithm": "jws"}),
                    json!({"hash_algorithm": "sha3-384", "key_version": 1}),
                    json!({"hash_algorithm": "sha1"}),
                ]
            } else if ty.starts_with("rsa") {
                vec![
                    json!({"hash_algorithm": "sha2-256"}),
                    json!({"hash_algorithm": "sha2-384", "signature_algorithm": "pkcs1v15"}),
                    json!({"hash_algorithm": "sha3-256", "salt_length": "hash", "key_version": 1}),
                ]
            } else {
                vec![
                    json!({}),
                    json!({"marshaling_algorithm": "jws", "key_version": 1}),
                ]
            };
            for v in variants {
                let mut b = with_ctx(v.clone());
                b["input"] = json!(PT);
                let out = post(c, mount, &format!("sign/{name}"), b.clone()).await;
                let mut vb = b.clone();
                if let Some(m) = vb.as_object_mut() {
                    m.remove("key_version");
                }
                vb["signature"] = out["data"]["signature"].clone();
                ev.verify.push(json!({"key": name, "body": vb}));
                if ty == "ed25519" {
                    ev.same
                        .push((format!("sign/{name}"), b, out["data"].clone()));
                }
            }
        }
        for alg in ["sha2-256", "sha3-512"] {
            let b = json!({"input": PT, "algorithm": alg, "key_version": 1});
            let out = post(c, mount, &format!("hmac/{name}"), b.clone()).await;
            ev.same
                .push((format!("hmac/{name}"), b, out["data"].clone()));
        }
        let blob = get(c, mount, &format!("backup/{name}")).await["data"]["backup"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        blobs.push((name.to_string(), blob));
    }
    (blobs, ev)
}

/// Restores `blobs` on `mount` and checks every piece of evidence there.
async fn check_on(
    c: &reqwest::Client,
    mount: &str,
    blobs: &[(String, String)],
    ev: &Evidence,
    home: &str,
) {
    for (name, blob) in blobs {
        let r = harness::call(
            c,
            "POST",
            &format!("{mount}/restore/{name}"),
            Some("root"),
            Some(&json!({"backup": blob}).to_string()),
        )
        .await;
        assert_eq!(
            r.status, 204,
            "restore {name} (from {home}) on {mount}: {}",
            r.body
        );
    }
    for (check, plaintext) in &ev.decrypt {
        let key = check["key"].as_str().unwrap_or_default();
        let out = post(c, mount, &format!("decrypt/{key}"), check["body"].clone()).await;
        assert_eq!(
            out["data"]["plaintext"],
            json!(plaintext),
            "decrypt {check} (from {home})"
        );
    }
    for check in &ev.verify {
        let key = check["key"].as_str().unwrap_or_default();
        let out = post(c, mount, &format!("verify/{key}"), check["body"].clone()).await;
        assert_eq!(
            out["data"]["valid"],
            json!(true),
            "verify {check} (from {home})"
        );
        let mut tampered = check["body"].clone();
        tampered["input"] = json!("dGFtcGVyZWQ=");
        let out = post(c, mount, &format!("verify/{key}"), tampered).await;
        assert_eq!(
            out["data"]["valid"],
            json!(false),
            "tampered {check} (from {home})"
        );
    }
    for (path, body, data) in &ev.same {
        let out = post(c, mount, path, body.clone()).await;
        assert_eq!(&out["data"], data, "{path} {body} (from {home})");
    }
}

/// Exports of every key agree between the two mounts.
async fn same_exports(c: &reqwest::Client, a: &str, b: &str, blobs: &[(String, String)]) {
    for (name, _) in blobs {
        for kind in ["encryption-key", "signing-key", "hmac-key", "public-key"] {
            for format in ["", "?format=der", "?format=pem"] {
                let path = format!("export/{kind}/{name}{format}");
                let x = harness::call(c, "GET", &format!("{a}/{path}"), Some("root"), None).await;
                let y = harness::call(c, "GET", &format!("{b}/{path}"), Some("root"), None).await;
                assert_eq!(x.status, y.status, "{path}: {} | {}", x.body, y.body);
                if x.status == 200 {
                    assert_eq!(body_json(&x)["data"], body_json(&y)["data"], "{path}");
                }
            }
        }
        let x = get(c, a, &format!("keys/{name}")).await["data"].clone();
        let y = get(c, b, &format!("keys/{name}")).await["data"].clone();
        let strip = |mut v: Value| {
            if let Some(m) = v.as_object_mut() {
                m.remove("backup_info");
                m.remove("restore_info");
            }
            v
        };
        assert_eq!(strip(x), strip(y), "keys/{name}");
    }
}

#[tokio::test]
async fn transit_keys_move_between_openbao_and_coffer() {
    let server = CofferServer::dev();
    let bao = OpenBao::dev();
    let c = harness::client();
    enable_transit(&c, &server.url).await;
    enable_transit(&c, &bao.url).await;
    let coffer_mount = format!("{}/v1/transit", server.url);
    let bao_mount = format!("{}/v1/transit", bao.url);

    // OpenBao → Coffer.
    let (blobs, ev) = make_keys(&c, &bao_mount).await;
    assert!(ev.decrypt.len() >= 25 && ev.verify.len() >= 15 && ev.same.len() >= 25);
    check_on(&c, &coffer_mount, &blobs, &ev, "openbao").await;
    same_exports(&c, &coffer_mount, &bao_mount, &blobs).await;

    // Coffer → OpenBao, on fresh mounts.
    for base in [&server.url, &bao.url] {
        let r = harness::call(
            &c,
            "POST",
            &format!("{base}/v1/sys/mounts/transit2"),
            Some("root"),
            Some(r#"{"type":"transit"}"#),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let coffer_mount = format!("{}/v1/transit2", server.url);
    let bao_mount = format!("{}/v1/transit2", bao.url);
    let (blobs, ev) = make_keys(&c, &coffer_mount).await;
    check_on(&c, &bao_mount, &blobs, &ev, "coffer").await;
    same_exports(&c, &coffer_mount, &bao_mount, &blobs).await;
}
