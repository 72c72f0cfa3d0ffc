"""Whole-system test of the operator on a real Kubernetes cluster.

Given KUBECONFIG, it installs charts/coffer (with the Helm v4 SDK, helm-python-sdk), applies a
VaultCluster and checks what the operator made: StatefulSet, Services, ConfigMap, status,
events, CRD validation, scaling and deletion. Without KUBECONFIG it is skipped and says why;
with COFFER_E2E_REQUIRED=1 a missing cluster is a failure instead.

    KUBECONFIG=~/.kube/config python3 -m pytest -v e2e/test_cluster.py

Environment:
    KUBECONFIG                 the cluster (required)
    COFFER_OPERATOR_IMAGE      operator image, repository:tag (default: the chart's)
    COFFER_SERVER_IMAGE        server image repository (default: the CRD's default)
    COFFER_SERVER_VERSION      server image tag (default: the CRD's default)
    COFFER_E2E_STORAGE_CLASS   StorageClass for the data volumes (default: the cluster's)
    COFFER_E2E_KEEP=1          keep the namespace afterwards, for debugging
See e2e/README.md for kind and EKS.
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import time
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "coffer"
REQUIRED = os.environ.get("COFFER_E2E_REQUIRED") == "1"
KUBECONFIG = os.environ.get("KUBECONFIG")

if not KUBECONFIG:
    reason = "e2e NOT RUN: no cluster given (set KUBECONFIG; see e2e/README.md)"
    if REQUIRED:
        raise RuntimeError(reason + " and COFFER_E2E_REQUIRED=1")
    pytest.skip(reason, allow_module_level=True)

if shutil.which("kubectl") is None:
    raise RuntimeError("kubectl is required by the e2e tests (see e2e/README.md)")

import helm_python as helm  # noqa: E402  (only needed when a cluster is given)

NAMESPACE = f"coffer-e2e-{uuid.uuid4().hex[:6]}"
RELEASE = "coffer-e2e"
CLUSTER = "e2e"


def kubectl(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def get(kind: str, name: str | None = None, namespace: str = NAMESPACE) -> dict | None:
    args = ["get", kind, "-n", namespace, "-o", "json"]
    if name:
        args.insert(2, name)
    result = kubectl(*args, check=False)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout)


def eventually(what: str, probe, timeout: float = 120, interval: float = 2):
    """Polls `probe` until it returns something truthy; fails with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                return last
        except AssertionError as e:  # keep the last reason
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last}")


def vaultcluster(replicas: int) -> str:
    spec = {
        "replicas": replicas,
        "unseal": {"shamir": {"shares": 3, "threshold": 2}},
        "storage": {"size": "1Gi"},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "keys": {"deletePolicy": "Delete"},
    }
    if os.environ.get("COFFER_SERVER_IMAGE"):
        spec["image"] = os.environ["COFFER_SERVER_IMAGE"]
    if os.environ.get("COFFER_SERVER_VERSION"):
        spec["version"] = os.environ["COFFER_SERVER_VERSION"]
    if os.environ.get("COFFER_E2E_STORAGE_CLASS"):
        spec["storage"]["storageClassName"] = os.environ["COFFER_E2E_STORAGE_CLASS"]
    return json.dumps({
        "apiVersion": "coffer.dev/v1alpha1", "kind": "VaultCluster",
        "metadata": {"name": CLUSTER, "namespace": NAMESPACE}, "spec": spec,
    })


@pytest.fixture(scope="module")
def installed():
    values: dict = {"replicaCount": 2}
    image = os.environ.get("COFFER_OPERATOR_IMAGE")
    if image:
        repository, _, tag = image.rpartition(":")
        values["image"] = {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"}
    with helm.Config(namespace=NAMESPACE) as cfg:
        cfg.install(str(CHART), RELEASE, values, namespace=NAMESPACE, create_namespace=True,
                    wait="watcher", timeout=300)
        try:
            yield cfg
        finally:
            if os.environ.get("COFFER_E2E_KEEP") != "1":
                kubectl("delete", "vaultcluster", "--all", "-n", NAMESPACE, "--wait=true", "--timeout=120s", check=False)
                cfg.uninstall(RELEASE, ignore_not_found=True, wait="watcher", timeout=120)
                kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_operator_is_running(installed):
    deploy = eventually("the operator Deployment to be available",
                        lambda: (d := get("deployment", f"{RELEASE}-operator"))
                        and d.get("status", {}).get("availableReplicas", 0) >= 1 and d)
    assert deploy["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"]
    lease = eventually("a leader Lease", lambda: get("lease", "coffer-operator"))
    assert lease["spec"]["holderIdentity"].startswith(f"{RELEASE}-operator-")


def test_crd_rejects_obvious_mistakes(installed):
    bad = json.loads(vaultcluster(3))
    bad["metadata"]["name"] = "even"
    bad["spec"]["replicas"] = 4
    result = kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(bad), check=False)
    assert result.returncode != 0 and "replicas must be odd" in result.stderr, result.stderr
    bad["spec"]["replicas"] = 3
    bad["spec"]["unseal"] = {"shamir": {"shares": 2, "threshold": 3}}
    result = kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(bad), check=False)
    assert result.returncode != 0 and "threshold cannot be greater" in result.stderr, result.stderr


def test_vaultcluster_becomes_its_objects(installed):
    kubectl("apply", "-f", "-", input=vaultcluster(3))

    sts = eventually("the StatefulSet", lambda: get("statefulset", CLUSTER))
    spec = sts["spec"]
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["updateStrategy"]["type"] == "OnDelete"
    assert spec["serviceName"] == f"{CLUSTER}-internal"
    assert sts["metadata"]["ownerReferences"][0]["kind"] == "VaultCluster"

    for name in (CLUSTER, f"{CLUSTER}-internal", f"{CLUSTER}-active", f"{CLUSTER}-standby"):
        svc = eventually(f"Service {name}", lambda name=name: get("service", name))
        assert svc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "coffer-operator"
    internal = get("service", f"{CLUSTER}-internal")
    assert internal["spec"]["clusterIP"] == "None"
    assert internal["spec"]["publishNotReadyAddresses"] is True
    assert get("service", f"{CLUSTER}-active")["spec"]["selector"]["coffer.dev/active"] == "true"

    cm = eventually("the ConfigMap", lambda: get("configmap", f"{CLUSTER}-config"))
    hcl = cm["data"]["coffer.hcl"]
    for i in range(3):
        assert f"https://{CLUSTER}-{i}.{CLUSTER}-internal.{NAMESPACE}.svc:8200" in hcl
    tls = eventually("the TLS Secret", lambda: get("secret", f"{CLUSTER}-tls"))
    assert tls["type"] == "kubernetes.io/tls"
    assert eventually("the PodDisruptionBudget", lambda: get("pdb", CLUSTER))["spec"]["maxUnavailable"] == 1

    def status_ok():
        vc = get("vaultcluster", CLUSTER)
        if not vc:
            return False
        status = vc.get("status") or {}
        types = {c["type"]: c for c in status.get("conditions", [])}
        return (status.get("observedGeneration") == vc["metadata"]["generation"]
                and types.get("Degraded", {}).get("status") == "False"
                and "Ready" in types and vc)
    vc = eventually("the VaultCluster status", status_ok)
    assert vc["metadata"]["finalizers"] == ["coffer.dev/cleanup"]

    def events():
        result = kubectl("get", "events.events.k8s.io", "-n", NAMESPACE, "-o", "json",
                         "--field-selector", f"regarding.name={CLUSTER},regarding.kind=VaultCluster")
        reasons = {e.get("reason") for e in json.loads(result.stdout)["items"]}
        return {"Created", "IssuedCertificate"} <= reasons and reasons
    eventually("the operator's events", events)


def test_scaling_updates_statefulset_and_retry_join(installed):
    kubectl("patch", "vaultcluster", CLUSTER, "-n", NAMESPACE, "--type=merge", "-p", '{"spec":{"replicas":5}}')
    eventually("5 replicas", lambda: (get("statefulset", CLUSTER) or {}).get("spec", {}).get("replicas") == 5)
    eventually("retry_join for member 4",
               lambda: f"{CLUSTER}-4.{CLUSTER}-internal" in get("configmap", f"{CLUSTER}-config")["data"]["coffer.hcl"])


def test_paused_cluster_is_left_alone(installed):
    kubectl("patch", "vaultcluster", CLUSTER, "-n", NAMESPACE, "--type=merge", "-p", '{"spec":{"paused":true}}')
    time.sleep(5)
    kubectl("patch", "vaultcluster", CLUSTER, "-n", NAMESPACE, "--type=merge", "-p", '{"spec":{"replicas":3}}')
    time.sleep(10)
    assert get("statefulset", CLUSTER)["spec"]["replicas"] == 5, "a paused cluster must not change"
    kubectl("patch", "vaultcluster", CLUSTER, "-n", NAMESPACE, "--type=merge", "-p", '{"spec":{"paused":false}}')
    eventually("3 replicas after unpausing", lambda: get("statefulset", CLUSTER)["spec"]["replicas"] == 3)


def test_deletion_runs_the_finalizer(installed):
    kubectl("delete", "vaultcluster", CLUSTER, "-n", NAMESPACE, "--wait=true", "--timeout=120s")
    assert get("vaultcluster", CLUSTER) is None
    eventually("garbage collection of the StatefulSet", lambda: get("statefulset", CLUSTER) is None)
