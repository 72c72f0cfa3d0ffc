"""Fixtures that start real Coffer servers for the hvac client tests.

Each server listens on 127.0.0.1 on a port picked free at run time and is
stopped when the test ends.
"""
import os
import pathlib
import socket
import subprocess
import tempfile
import time

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("COFFER_BIN", ROOT / "target" / "debug" / "coffer"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, args, workdir):
        if not BIN.exists():
            raise RuntimeError(f"coffer binary not found at {BIN}; run cargo build first")
        self.port = free_port()
        self.addr = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.log = open(os.path.join(workdir, f"server-{self.port}.log"), "w+")
        self.args = [a.replace("{PORT}", str(self.port)).replace("{DIR}", workdir) for a in args]
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([str(BIN), *self.args], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"coffer exited early: {self.log.read()}")
            try:
                requests.get(self.addr + "/v1/sys/seal-status", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("coffer did not start listening")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="coffer-test-") as d:
        yield d


@pytest.fixture
def dev_server(workdir):
    s = Server(["server", "-dev", "-dev-root-token-id=root", "-dev-listen-address=127.0.0.1:{PORT}"], workdir)
    yield s
    s.stop()


@pytest.fixture
def raft_server(workdir):
    cfg = os.path.join(workdir, "config.hcl")
    with open(cfg, "w") as f:
        f.write(
            'storage "raft" {\n  path = "{DIR}/data"\n  node_id = "node1"\n}\n'
            'listener "tcp" {\n  address = "127.0.0.1:{PORT}"\n  tls_disable = true\n}\n'
            'api_addr = "http://127.0.0.1:{PORT}"\n'
            'disable_mlock = true\n'
        )
    os.makedirs(os.path.join(workdir, "data"), exist_ok=True)
    s = Server.__new__(Server)
    s.port = free_port()
    text = open(cfg).read().replace("{PORT}", str(s.port)).replace("{DIR}", workdir)
    with open(cfg, "w") as f:
        f.write(text)
    s.addr = f"http://127.0.0.1:{s.port}"
    s.workdir = workdir
    s.log = open(os.path.join(workdir, "server.log"), "w+")
    s.args = ["server", "-config", cfg]
    s.proc = None
    s.start()
    yield s
    s.stop()
