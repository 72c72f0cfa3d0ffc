"""The Helm chart charts/coffer, tested offline with helm-python-sdk (the Helm v4 SDK):
it lints clean, renders with default and EKS values, every rendered object validates with
`kubernetes-validate --strict` for Kubernetes 1.33 and 1.37, the chart's CRD is the generated
one, the operator's permissions are the least it needs, and manifests/install.yaml is the
current render.

Needs the PyPI packages helm-python-sdk and kubernetes-validate (scripts/install-test-deps.sh).
"""
from __future__ import annotations

import importlib.util
import pathlib
import shutil
import subprocess
import tempfile

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "coffer"
KUBERNETES_VERSIONS = ["1.33.0", "1.37.0"]
INSTALL_HINT = "run scripts/install-test-deps.sh (pip install helm-python-sdk kubernetes-validate)"

try:
    import helm_python as helm
except ImportError as e:  # fail loudly: these tests are part of the suite
    raise ImportError(f"helm-python-sdk is required by {__file__}: {INSTALL_HINT}") from e


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_install", ROOT / "manifests" / "generate_install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = load_generator()

EKS_CLUSTER = yaml.safe_load((ROOT / "manifests" / "eks-vaultcluster.yaml").read_text())
EKS_VALUES = {
    "replicaCount": 2,
    "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/coffer-operator"}},
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "platform", "effect": "NoSchedule"}],
    "priorityClassName": "system-cluster-critical",
    "cluster": {"enabled": True, "name": "coffer", "spec": EKS_CLUSTER["spec"]},
}


def render(values: dict | None = None) -> list[dict]:
    return [yaml.safe_load(doc) for doc in GEN.render(values)]


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def kubernetes_validate(objects: list[dict], label: str) -> None:
    exe = shutil.which("kubernetes-validate")
    if exe is None:
        pytest.fail(f"kubernetes-validate is not installed: {INSTALL_HINT}")
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / f"{label}.yaml"
        path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
        for version in KUBERNETES_VERSIONS:
            result = subprocess.run(
                [exe, "--strict", "--no-warn", "-k", version, str(path)],
                capture_output=True, text=True, check=False,
            )
            assert result.returncode == 0 and "ERROR" not in result.stdout, (
                f"kubernetes-validate --strict -k {version} failed for {label}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
            assert result.stdout.count(" passed ") == len(objects), result.stdout


def crd_schema() -> dict:
    crd = yaml.safe_load((ROOT / "crds" / "vaultcluster.yaml").read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def validate_vaultcluster(obj: dict) -> None:
    """Structural check of a VaultCluster against the CRD's OpenAPI schema (types, required
    fields, bounds); the CEL rules are evaluated by the Rust tests."""
    import jsonschema  # a dependency of kubernetes-validate

    jsonschema.Draft7Validator(crd_schema()).validate(obj)


def test_lint_is_clean():
    for values in (None, EKS_VALUES):
        report = helm.lint(str(CHART), values, strict=True, kube_version="v1.33.0")
        assert report["errors"] == [], report
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert problems == [], report


def test_default_render_validates():
    objects = render()
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted([
        "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
        "Role", "RoleBinding", "Service", "Deployment",
    ]), kinds
    kubernetes_validate(objects, "default")
    for o in objects:
        if o["kind"] not in ("ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"):
            assert o["metadata"]["namespace"] == GEN.NAMESPACE, o["metadata"]


def test_eks_render_validates_and_carries_irsa():
    objects = render(EKS_VALUES)
    builtins = [o for o in objects if o["kind"] != "VaultCluster"]
    kubernetes_validate(builtins, "eks")
    (sa,) = by_kind(objects, "ServiceAccount")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(":role/coffer-operator")
    (deploy,) = by_kind(objects, "Deployment")
    assert deploy["spec"]["replicas"] == 2
    pod = deploy["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["tolerations"][0]["key"] == "dedicated"
    (vc,) = by_kind(objects, "VaultCluster")
    assert vc["apiVersion"] == "coffer.dev/v1alpha1"
    assert vc["metadata"]["namespace"] == GEN.NAMESPACE
    assert vc["spec"] == EKS_CLUSTER["spec"]
    assert vc["spec"]["unseal"]["awsKms"]["keyId"] == "alias/coffer-unseal"
    validate_vaultcluster(vc)


def test_default_cluster_value_is_a_valid_vaultcluster():
    (vc,) = by_kind(render({"cluster": {"enabled": True}}), "VaultCluster")
    validate_vaultcluster(vc)
    assert vc["spec"]["replicas"] == 3
    assert vc["spec"]["unseal"] == {"shamir": {}}, "Shamir with the CRD defaults"


def test_chart_crd_is_the_generated_crd():
    chart_copy = (CHART / "crds" / "vaultcluster.yaml").read_text()
    generated = (ROOT / "crds" / "vaultcluster.yaml").read_text()
    assert chart_copy == generated, (
        "charts/coffer/crds/vaultcluster.yaml differs from crds/vaultcluster.yaml: run "
        "`cargo run -p coffer-operator --bin coffer-crdgen > crds/vaultcluster.yaml && "
        "cp crds/vaultcluster.yaml charts/coffer/crds/`"
    )
    with helm.Chart.load(str(CHART)) as chart:
        assert [c["filename"] for c in chart.crds] == ["coffer/crds/vaultcluster.yaml"]


def test_cluster_role_is_least_privilege():
    (role,) = by_kind(render(), "ClusterRole")
    rules = {(tuple(r["apiGroups"]), tuple(r["resources"])): set(r["verbs"]) for r in role["rules"]}
    assert rules == {
        (("coffer.dev",), ("vaultclusters",)): {"get", "list", "watch", "patch"},
        (("coffer.dev",), ("vaultclusters/status",)): {"get", "patch"},
        (("coffer.dev",), ("vaultclusters/finalizers",)): {"update"},
        (("apps",), ("statefulsets",)): {"get", "list", "watch", "create", "patch"},
        (("",), ("services", "configmaps")): {"get", "list", "watch", "create", "patch"},
        (("",), ("secrets",)): {"get", "create", "patch", "delete"},
        (("",), ("serviceaccounts",)): {"get", "create", "patch"},
        (("rbac.authorization.k8s.io",), ("roles", "rolebindings")): {"get", "create", "patch"},
        (("policy",), ("poddisruptionbudgets",)): {"get", "create", "patch"},
        (("",), ("pods",)): {"get", "list", "watch", "patch"},
        (("events.k8s.io",), ("events",)): {"create", "patch"},
    }
    for r in role["rules"]:
        assert "*" not in r["verbs"] and "*" not in r["resources"] and "*" not in r["apiGroups"]
    (lease_role,) = by_kind(render(), "Role")
    assert lease_role["rules"][1]["resourceNames"] == ["coffer-operator"]


def test_operator_pod_is_hardened_and_probed():
    (deploy,) = by_kind(render(), "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["LEADER_ELECTION"]["value"] == "true"
    assert c["image"] == "ghcr.io/coffer/coffer-operator:0.1.0"


def test_leader_election_can_be_disabled():
    objects = render({"leaderElection": {"enabled": False}})
    assert by_kind(objects, "Role") == []
    (deploy,) = by_kind(objects, "Deployment")
    env = {e["name"]: e for e in deploy["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["LEADER_ELECTION"]["value"] == "false"


def test_install_yaml_is_the_current_render():
    on_disk = (ROOT / "manifests" / "install.yaml").read_text()
    assert on_disk == GEN.install_yaml(), (
        "manifests/install.yaml is out of date: run `python3 manifests/generate_install.py`"
    )


def test_install_yaml_validates():
    objects = [d for d in yaml.safe_load_all((ROOT / "manifests" / "install.yaml").read_text()) if d]
    assert objects[0]["kind"] == "Namespace"
    assert objects[1]["kind"] == "CustomResourceDefinition"
    kubernetes_validate(objects, "install")


def test_example_vaultclusters_match_the_schema():
    for name in ("eks-vaultcluster.yaml", "dev-vaultcluster.yaml"):
        validate_vaultcluster(yaml.safe_load((ROOT / "manifests" / name).read_text()))
