"""hvac (the Python Vault client) against a real Coffer server."""
import hvac
import pytest
import requests


def client(server, token=None):
    # Plain HTTP on loopback: no CA involved, so SSL_* variables do not matter.
    return hvac.Client(url=server.addr, token=token)


def test_init_unseal_and_restart(raft_server):
    c = client(raft_server)
    assert c.sys.is_initialized() is False
    result = c.sys.initialize(secret_shares=3, secret_threshold=2)
    keys, root = result["keys"], result["root_token"]
    assert len(keys) == 3 and root
    assert c.sys.is_sealed() is True
    status = c.sys.submit_unseal_key(keys[0])
    assert status["sealed"] is True and status["progress"] == 1
    status = c.sys.submit_unseal_key(keys[2])
    assert status["sealed"] is False
    c.token = root
    assert c.is_authenticated()

    c.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    c.secrets.kv.v2.create_or_update_secret(path="app/db", secret={"password": "hunter2"}, mount_point="secret")
    tok = c.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]

    # Restart: sealed again, same keys unseal it, data and tokens survive.
    raft_server.stop()
    raft_server.start()
    c = client(raft_server)
    assert c.sys.is_sealed() is True
    c.sys.submit_unseal_keys(keys[:2])
    assert c.sys.is_sealed() is False
    c.token = root
    got = c.secrets.kv.v2.read_secret_version(path="app/db", mount_point="secret", raise_on_deleted_version=True)
    assert got["data"]["data"] == {"password": "hunter2"}
    looked = client(raft_server, tok).auth.token.lookup_self()
    assert looked["data"]["policies"] == ["default"]


def test_tokens(dev_server):
    c = client(dev_server, "root")
    created = c.auth.token.create(policies=["app"], ttl="1h", meta={"team": "a"}, display_name="svc1")
    auth = created["auth"]
    assert auth["policies"] == ["app", "default"]
    assert auth["lease_duration"] == 3600 and auth["renewable"] is True
    t = auth["client_token"]
    look = c.auth.token.lookup(t)["data"]
    assert look["display_name"] == "token-svc1" and look["meta"] == {"team": "a"}
    assert c.auth.token.lookup_accessor(auth["accessor"])["data"]["policies"] == ["app", "default"]
    renewed = c.auth.token.renew(t, increment="2h")
    assert renewed["auth"]["lease_duration"] > 3600
    c.auth.token.revoke(t)
    with pytest.raises(hvac.exceptions.Forbidden):
        client(dev_server, t).auth.token.lookup_self()
    orphan = c.auth.token.create_orphan(policies=["default"])["auth"]
    assert orphan["orphan"] is True
    assert orphan["accessor"] in c.auth.token.list_accessors()["data"]["keys"]


def test_kv_v2(dev_server):
    c = client(dev_server, "root")
    kv = c.secrets.kv.v2
    w = kv.create_or_update_secret(path="app", secret={"a": "1"})
    assert w["data"]["version"] == 1
    kv.create_or_update_secret(path="app", secret={"a": "2"}, cas=1)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        kv.create_or_update_secret(path="app", secret={"a": "3"}, cas=1)
    assert kv.read_secret_version(path="app", raise_on_deleted_version=True)["data"]["data"] == {"a": "2"}
    assert kv.read_secret_version(path="app", version=1, raise_on_deleted_version=True)["data"]["data"] == {"a": "1"}
    kv.patch(path="app", secret={"b": "x"})
    assert kv.read_secret_version(path="app", raise_on_deleted_version=True)["data"]["data"] == {"a": "2", "b": "x"}
    kv.delete_latest_version_of_secret(path="app")
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_version(path="app", raise_on_deleted_version=True)
    kv.undelete_secret_versions(path="app", versions=[3])
    assert kv.read_secret_version(path="app", raise_on_deleted_version=True)["data"]["data"]["b"] == "x"
    kv.destroy_secret_versions(path="app", versions=[1])
    meta = kv.read_secret_metadata(path="app")["data"]
    assert meta["current_version"] == 3 and meta["versions"]["1"]["destroyed"] is True
    kv.create_or_update_secret(path="dir/x", secret={"k": "v"})
    assert "dir/" in kv.list_secrets(path="")["data"]["keys"]
    kv.delete_metadata_and_all_versions(path="app")
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_metadata(path="app")


def test_kv_v1(dev_server):
    c = client(dev_server, "root")
    c.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    kv = c.secrets.kv.v1
    kv.create_or_update_secret(path="app/db", secret={"user": "u", "n": 5}, mount_point="kv1")
    assert kv.read_secret(path="app/db", mount_point="kv1")["data"] == {"user": "u", "n": 5}
    assert kv.list_secrets(path="app", mount_point="kv1")["data"]["keys"] == ["db"]
    kv.delete_secret(path="app/db", mount_point="kv1")
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret(path="app/db", mount_point="kv1")


def test_policies_and_userpass(dev_server):
    c = client(dev_server, "root")
    policy = 'path "secret/data/app/*" { capabilities = ["read", "create", "update"] }\n'
    c.sys.create_or_update_policy(name="app", policy=policy)
    assert "app" in c.sys.list_policies()["data"]["policies"]
    assert c.sys.read_policy("app")["data"]["rules"] == policy
    with pytest.raises(hvac.exceptions.InvalidRequest):
        c.sys.create_or_update_policy(name="bad", policy='path "x" { capabilities = ["fly"] }')

    c.sys.enable_auth_method("userpass")
    c.auth.userpass.create_or_update_user("alice", password="pw-alice", policies=["app"])
    u = client(dev_server)
    login = u.auth.userpass.login("alice", "pw-alice")
    assert login["auth"]["policies"] == ["app", "default"]
    assert u.is_authenticated()
    u.secrets.kv.v2.create_or_update_secret(path="app/x", secret={"v": "1"})
    assert u.secrets.kv.v2.read_secret_version(path="app/x", raise_on_deleted_version=True)["data"]["data"] == {"v": "1"}
    with pytest.raises(hvac.exceptions.Forbidden):
        u.secrets.kv.v2.create_or_update_secret(path="other", secret={"v": "1"})
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client(dev_server).auth.userpass.login("alice", "wrong")
    c.sys.delete_policy("app")
    assert "app" not in c.sys.list_policies()["data"]["policies"]


def test_health_body_and_codes(dev_server):
    r = requests.get(dev_server.addr + "/v1/sys/health")
    assert r.status_code == 200
    body = r.json()
    assert body["performance_standby"] is False and body["sealed"] is False
    assert r.headers["Cache-Control"] == "no-store"
    r = requests.head(dev_server.addr + "/v1/sys/health?activecode=299")
    assert r.status_code == 299 and r.content == b""
