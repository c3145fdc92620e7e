"""deploy/kubernetes: both layers rendered (tests/infra/kustomize.py, and kustomize itself when installed) and
every object validated against the Kubernetes OpenAPI schemas offline (kubernetes-validate bundles them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from cds_service.auth.issuers import load_issuers
from cds_service.rules.packs import load_rule_book
from tests.infra.kustomize import build

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
LAYERS = [KUBE / "base", KUBE / "overlays" / "production"]
KUBERNETES_VERSION = "1.30.0"  # the oldest minor still supported upstream when these manifests were written
REQUIRED_KINDS = {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "Secret",
                  "NetworkPolicy"}
MEASURED_WORKER_MB = 165  # largest worker RSS in bench/ with the text pipeline (README, Running in production)
MEASURED_MASTER_MB = 35


def by_kind(objects: list[dict]) -> dict[str, dict]:
    return {obj["kind"]: obj for obj in objects}


@pytest.mark.parametrize("layer", LAYERS, ids=lambda p: p.name)
def test_every_object_is_valid_kubernetes(layer):
    objects = build(layer)
    assert REQUIRED_KINDS <= {obj["kind"] for obj in objects}
    for obj in objects:
        # strict: an unknown field (a typo) fails too, not only a wrong type.
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build", "--load-restrictor", "LoadRestrictionsNone"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize", "--load-restrictor", "LoadRestrictionsNone"]
    return None


@pytest.mark.parametrize("layer", LAYERS, ids=lambda p: p.name)
def test_kustomize_renders_the_same_objects(layer):
    command = kustomize_command()
    if command is None:
        pytest.skip("no kustomize build installed (none is packaged by Debian or npm); rendered by the test only")
    done = subprocess.run([*command, str(layer)], capture_output=True, text=True, timeout=60)
    if done.returncode != 0 and "unknown flag" in done.stderr:
        pytest.skip(f"{command[0]} is too old for --load-restrictor")
    assert done.returncode == 0, done.stderr
    theirs = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(done.stdout) if o}
    ours = {(o["kind"], o["metadata"]["name"]): o for o in build(layer)}
    assert ours == theirs


def test_the_deployment_runs_locked_down_with_probes_and_measured_resources():
    objects = by_kind(build(KUBE / "overlays" / "production"))
    deployment = objects["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {item["name"]: item for item in container["env"]}
    workers = int(env["WEB_CONCURRENCY"]["value"])
    limit = container["resources"]["limits"]["memory"]
    # The limit leaves room above the measured resident memory; the request covers it.
    assert limit.endswith("Mi") and int(limit[:-2]) >= 1.5 * (workers * MEASURED_WORKER_MB + MEASURED_MASTER_MB)
    request = container["resources"]["requests"]["memory"]
    assert int(request[:-2]) >= workers * MEASURED_WORKER_MB + MEASURED_MASTER_MB
    assert container["resources"]["requests"]["memory"] and container["resources"]["requests"]["cpu"]
    # The only writable mount is /tmp, where the workers keep their metrics.
    assert env["PROMETHEUS_MULTIPROC_DIR"]["value"].startswith("/tmp/")
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == objects["Secret"]["metadata"]["name"]
    assert container["image"].startswith("registry.example.org/") and deployment["spec"]["replicas"] == 3
    # Service, HPA and PDB find these pods.
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert objects["Service"]["spec"]["selector"].items() <= labels.items()
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]


def test_the_mounted_config_is_what_the_service_loads(tmp_path):
    """Lay out the ConfigMap and Secret as the volumes do, and load them with the service's own loaders."""
    objects = by_kind(build(KUBE / "overlays" / "production"))
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    sources = {"ConfigMap": objects["ConfigMap"]["data"], "Secret": objects["Secret"]["stringData"]}
    for volume in pod["volumes"]:
        kind = "ConfigMap" if "configMap" in volume else "Secret" if "secret" in volume else None
        if kind is None:
            continue
        items = (volume.get("configMap") or volume.get("secret"))["items"]
        if kind == "ConfigMap":  # every pack in the ConfigMap reaches the folder the service reads
            assert {item["key"] for item in items} == set(sources[kind]), f"volume {volume['name']} leaves keys out"
        for item in items:
            target = tmp_path / mounts[volume["name"]].lstrip("/") / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(sources[kind][item["key"]], encoding="utf-8")
    book = load_rule_book(tmp_path / env["CDS_RULE_PACKS"].lstrip("/"))  # raises on a broken or missing file
    assert len(book.packs) == len([k for k in sources["ConfigMap"] if not k.startswith("payers.")])
    assert len(book.payers) == len([k for k in sources["ConfigMap"] if k.startswith("payers.")])
    issuers = load_issuers(tmp_path / env["CDS_TRUSTED_ISSUERS"].lstrip("/"), production=True)
    assert len(issuers) == 1


def test_egress_goes_only_to_dns_the_database_and_the_fhir_servers():
    policy = by_kind(build(KUBE / "overlays" / "production"))["NetworkPolicy"]
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    ports = sorted({port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]})
    assert ports == [53, 443, 5432]
    for rule in policy["spec"]["egress"]:
        assert rule["to"], "an egress rule without `to` would allow every destination"
        for peer in rule["to"]:
            assert peer.get("ipBlock", {}).get("cidr") not in ("0.0.0.0/0", "::/0")
