#!/usr/bin/env python3
"""Generates openbao_fixture.json from a live OpenBao dev server.

Usage (OpenBao running with root token "root"):

    VAULT_ADDR=http://127.0.0.1:PORT python3 generate_fixture.py > openbao_fixture.json

The fixture holds OpenBao's *output* only: backups of exportable keys of
every type, and requests with what OpenBao answered (ciphertexts,
signatures, HMACs, exports, key reads). The transit unit tests restore the
backups into Coffer and check that Coffer decrypts and verifies OpenBao's
output, and gives identical answers where the operation is deterministic.
"""

import json
import os
import sys
import urllib.request

ADDR = os.environ.get("VAULT_ADDR", "http://127.0.0.1:8200")
MOUNT = "fixture-transit"
PLAINTEXT = "aGVsbG8gd29ybGQ="  # "hello world"
AD = "YXNzb2NpYXRlZA=="  # "associated"
CONTEXT = "Y29udGV4dA=="  # "context"


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{ADDR}/v1/{path}", data=data, method=method)
    req.add_header("X-Vault-Token", "root")
    try:
        with urllib.request.urlopen(req) as r:
            text = r.read().decode()
            return r.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code, json.loads(text) if text else None


def ok(method, path, body=None):
    status, out = call(method, path, body)
    if status >= 300:
        raise SystemExit(f"{method} {path} {body}: {status} {out}")
    return out


def main():
    call("DELETE", f"sys/mounts/{MOUNT}")
    ok("POST", f"sys/mounts/{MOUNT}", {"type": "transit"})
    t = MOUNT
    fixture = {"openbao_version": "2.7.2", "keys": {}, "checks": []}
    checks = fixture["checks"]

    def create(name, params, rotations=1):
        body = dict(params, exportable=True, allow_plaintext_backup=True)
        ok("POST", f"{t}/keys/{name}", body)
        for _ in range(rotations):
            ok("POST", f"{t}/keys/{name}/rotate")

    # Symmetric keys: two versions, ciphertexts under both.
    for name, typ in [
        ("aes256", "aes256-gcm96"),
        ("aes128", "aes128-gcm96"),
        ("chacha", "chacha20-poly1305"),
        ("xchacha", "xchacha20-poly1305"),
    ]:
        create(name, {"type": typ})
        for ver in (1, 2):
            out = ok("POST", f"{t}/encrypt/{name}", {"plaintext": PLAINTEXT, "key_version": ver})
            checks.append({"kind": "decrypt", "key": name, "body": {"ciphertext": out["data"]["ciphertext"]}, "plaintext": PLAINTEXT})
        out = ok("POST", f"{t}/encrypt/{name}", {"plaintext": PLAINTEXT, "associated_data": AD})
        checks.append({"kind": "decrypt", "key": name, "body": {"ciphertext": out["data"]["ciphertext"], "associated_data": AD}, "plaintext": PLAINTEXT})
        out = ok("POST", f"{t}/datakey/plaintext/{name}", {"bits": 512})
        checks.append({"kind": "decrypt", "key": name, "body": {"ciphertext": out["data"]["ciphertext"]}, "plaintext": out["data"]["plaintext"]})
        for alg in ("sha2-256", "sha2-512", "sha3-384", "sha1"):
            for ver in (1, 2):
                body = {"input": PLAINTEXT, "algorithm": alg, "key_version": ver}
                out = ok("POST", f"{t}/hmac/{name}", body)
                checks.append({"kind": "same", "method": "POST", "path": f"hmac/{name}", "body": body, "data": out["data"]})

    # Derived and convergent keys.
    create("derived", {"derived": True})
    out = ok("POST", f"{t}/encrypt/derived", {"plaintext": PLAINTEXT, "context": CONTEXT})
    checks.append({"kind": "decrypt", "key": "derived", "body": {"ciphertext": out["data"]["ciphertext"], "context": CONTEXT}, "plaintext": PLAINTEXT})
    create("convergent", {"derived": True, "convergent_encryption": True, "type": "chacha20-poly1305"})
    for ver in (1, 2):
        body = {"plaintext": PLAINTEXT, "context": CONTEXT, "key_version": ver}
        out = ok("POST", f"{t}/encrypt/convergent", body)
        checks.append({"kind": "same", "method": "POST", "path": "encrypt/convergent", "body": body, "data": out["data"]})
        checks.append({"kind": "decrypt", "key": "convergent", "body": {"ciphertext": out["data"]["ciphertext"], "context": CONTEXT}, "plaintext": PLAINTEXT})

    # A trimmed key: versions 1-2 gone, 3 and 4 left.
    create("trimmed", {}, rotations=3)
    cts = {}
    for ver in (3, 4):
        cts[ver] = ok("POST", f"{t}/encrypt/trimmed", {"plaintext": PLAINTEXT, "key_version": ver})["data"]["ciphertext"]
    ok("POST", f"{t}/keys/trimmed/config", {"min_decryption_version": 3, "min_encryption_version": 3})
    ok("POST", f"{t}/keys/trimmed/trim", {"min_available_version": 3})
    for ver, ct in cts.items():
        checks.append({"kind": "decrypt", "key": "trimmed", "body": {"ciphertext": ct}, "plaintext": PLAINTEXT})

    # Signing keys.
    create("ed25519", {"type": "ed25519"})
    create("ed25519-derived", {"type": "ed25519", "derived": True})
    for name, extra in [("ed25519", {}), ("ed25519-derived", {"context": CONTEXT})]:
        for ver in (1, 2):
            for marshaling in ("asn1", "jws"):
                body = dict({"input": PLAINTEXT, "key_version": ver, "marshaling_algorithm": marshaling}, **extra)
                out = ok("POST", f"{t}/sign/{name}", body)
                checks.append({"kind": "same", "method": "POST", "path": f"sign/{name}", "body": body, "data": out["data"]})
    out = ok("GET", f"{t}/keys/ed25519-derived?context={CONTEXT}")
    checks.append({"kind": "read", "path": "keys/ed25519-derived", "query": {"context": CONTEXT}, "data": out["data"]})

    for name, typ in [("p256", "ecdsa-p256"), ("p384", "ecdsa-p384"), ("p521", "ecdsa-p521")]:
        create(name, {"type": typ})
        for alg in ("sha2-256", "sha2-384", "sha2-512", "sha3-256", "sha1", "sha2-224"):
            for marshaling in ("asn1", "jws"):
                body = {"input": PLAINTEXT, "hash_algorithm": alg, "marshaling_algorithm": marshaling}
                out = ok("POST", f"{t}/sign/{name}", body)
                vbody = dict(body, signature=out["data"]["signature"])
                checks.append({"kind": "verify", "key": name, "body": vbody})
        digest = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="  # sha256("hello")
        body = {"input": digest, "prehashed": True}
        out = ok("POST", f"{t}/sign/{name}/sha2-256", body)
        checks.append({"kind": "verify", "key": name, "body": dict(body, signature=out["data"]["signature"], hash_algorithm="sha2-256")})

    create("rsa2048", {"type": "rsa-2048"})
    create("rsa3072", {"type": "rsa-3072"}, rotations=0)
    for name in ("rsa2048", "rsa3072"):
        for alg in ("sha2-256", "sha2-512", "sha3-256", "sha1"):
            for sig in ("pss", "pkcs1v15"):
                for salt in (["auto", "hash", "20"] if sig == "pss" else [None]):
                    body = {"input": PLAINTEXT, "hash_algorithm": alg, "signature_algorithm": sig}
                    if salt:
                        body["salt_length"] = salt
                    out = ok("POST", f"{t}/sign/{name}", body)
                    vbody = dict(body, signature=out["data"]["signature"])
                    vbody.pop("salt_length", None)
                    if salt == "20":
                        vbody["salt_length"] = "20"
                    checks.append({"kind": "verify", "key": name, "body": vbody})
        body = {"input": "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=", "prehashed": True, "hash_algorithm": "none", "signature_algorithm": "pkcs1v15"}
        out = ok("POST", f"{t}/sign/{name}", body)
        checks.append({"kind": "same", "method": "POST", "path": f"sign/{name}", "body": body, "data": out["data"]})
        out = ok("POST", f"{t}/encrypt/{name}", {"plaintext": PLAINTEXT})
        checks.append({"kind": "decrypt", "key": name, "body": {"ciphertext": out["data"]["ciphertext"]}, "plaintext": PLAINTEXT})

    create("hmac", {"type": "hmac", "key_size": 48})
    for alg in ("sha2-256", "sha3-512"):
        body = {"input": PLAINTEXT, "algorithm": alg}
        out = ok("POST", f"{t}/hmac/hmac", body)
        checks.append({"kind": "same", "method": "POST", "path": "hmac/hmac", "body": body, "data": out["data"]})

    # Exports and reads of every key.
    names = ["aes256", "aes128", "chacha", "xchacha", "derived", "convergent", "trimmed",
             "ed25519", "ed25519-derived", "p256", "p384", "p521", "rsa2048", "rsa3072", "hmac"]
    for name in names:
        for kind in ("encryption-key", "signing-key", "hmac-key", "public-key"):
            for fmt in ("", "raw", "der", "pem"):
                q = f"?format={fmt}" if fmt else ""
                status, out = call("GET", f"{t}/export/{kind}/{name}{q}")
                entry = {"kind": "export", "path": f"export/{kind}/{name}", "query": {"format": fmt} if fmt else {}, "status": status}
                entry["response"] = out["data"] if status == 200 else out
                checks.append(entry)
        out = ok("GET", f"{t}/keys/{name}")
        checks.append({"kind": "read", "path": f"keys/{name}", "query": {}, "data": out["data"]})
        fixture["keys"][name] = ok("GET", f"{t}/backup/{name}")["data"]["backup"]

    json.dump(fixture, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
