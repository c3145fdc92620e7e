"""Renders a kustomization the way `kustomize build` does, for the subset deploy/kubernetes/ uses.

No kustomize build is packaged by Debian (its kubernetes-client is too old for `patches:`) or npm, so the
overlays stay plain: resources, a namespace, labels, image overrides, a ConfigMap generator with fixed
names, and strategic-merge patches. Anything else in a kustomization is refused rather than ignored, so
this renderer cannot quietly differ from kustomize; where a kustomize binary is installed the tests also
compare their outputs (tests/ops/test_kubernetes.py).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches", "generatorOptions",
                  "configMapGenerator"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass"}
# Strategic-merge keys of the lists the manifests patch (Kubernetes' patchMergeKey); other lists are replaced.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "imagePullSecrets": "name", "topologySpreadConstraints": "topologyKey"}


class KustomizeError(ValueError):
    pass


def load_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def merge(base: Any, patch: Any, field: str | None = None) -> Any:
    """Strategic merge of `patch` into `base` (a copy is returned)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            merged[key] = merge(base[key], value, key) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list):
        key = MERGE_KEYS.get(field or "")
        if field == "ports":  # container ports merge on containerPort, Service ports on port
            key = "containerPort" if all("containerPort" in p for p in base + patch) else "port"
        if key and all(isinstance(item, dict) and key in item for item in base + patch):
            merged = copy.deepcopy(base)
            positions = {item[key]: n for n, item in enumerate(merged)}
            added = []
            for item in patch:
                if item[key] in positions:
                    merged[positions[item[key]]] = merge(merged[positions[item[key]]], item)
                else:
                    added.append(copy.deepcopy(item))
            return added + merged  # kustomize puts a patch's new items first
    return copy.deepcopy(patch)


def _generated_config_map(folder: Path, spec: dict) -> dict:
    if set(spec) - {"name", "files", "literals"}:
        raise KustomizeError(f"{folder}: configMapGenerator fields {sorted(set(spec) - {'name', 'files', 'literals'})}"
                             " are not supported")
    data: dict[str, str] = {}
    for entry in spec.get("files", []):
        key, _, path = entry.rpartition("=")
        source = folder / path
        data[key or source.name] = source.read_text(encoding="utf-8")
    for literal in spec.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": spec["name"]}, "data": data}


def _set_images(obj: Any, images: list[dict]) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    name, _, tag = container.get("image", "").partition(":")
                    for image in images:
                        if image["name"] == name:
                            new_tag = image.get("newTag", tag)
                            container["image"] = image.get("newName", name) + (f":{new_tag}" if new_tag else "")
            else:
                _set_images(value, images)
    elif isinstance(obj, list):
        for item in obj:
            _set_images(item, images)


def build(folder: Path) -> list[dict]:
    """The objects `kustomize build folder` would print."""
    folder = Path(folder)
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(spec) - SUPPORTED_KEYS
    if unknown:
        raise KustomizeError(f"{folder}/kustomization.yaml: {sorted(unknown)} not supported by this renderer")
    objects: list[dict] = []
    for resource in spec.get("resources", []):
        path = folder / resource
        objects.extend(build(path) if path.is_dir() else load_documents(path))
    if spec.get("configMapGenerator"):
        if not spec.get("generatorOptions", {}).get("disableNameSuffixHash"):
            raise KustomizeError(f"{folder}: generated names with a hash suffix are not supported")
        objects.extend(_generated_config_map(folder, generator) for generator in spec["configMapGenerator"])
    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise KustomizeError(f"{folder}: only file patches (`path:`) are supported")
        for change in load_documents(folder / patch["path"]):
            ident = (change["kind"], change["metadata"]["name"])
            matches = [n for n, obj in enumerate(objects) if (obj["kind"], obj["metadata"]["name"]) == ident]
            if len(matches) != 1:
                raise KustomizeError(f"{folder}/{patch['path']}: patch target {ident} found {len(matches)} times")
            objects[matches[0]] = merge(objects[matches[0]], change)
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = spec["namespace"]
    for label_set in spec.get("labels", []):
        if set(label_set) - {"pairs"}:
            raise KustomizeError(f"{folder}: labels options {sorted(set(label_set) - {'pairs'})} not supported")
        for obj in objects:
            obj["metadata"].setdefault("labels", {}).update(label_set["pairs"])
    if spec.get("images"):
        _set_images(objects, spec["images"])
    return objects
