"""deploy/compose: no Docker engine here, so the compose file is checked against the Compose Specification
schema (the copy check-jsonschema ships, from PyPI) and the proxy config with `haproxy -c`."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose" / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_the_compose_file_follows_the_compose_specification(compose, validator):
    errors = sorted(validator.iter_errors(compose), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    # The schema is strict enough to catch a typo (so the check above means something).
    broken = {**compose, "services": {**compose["services"], "proxy": {**compose["services"]["proxy"], "portz": []}}}
    assert list(validator.iter_errors(broken))


def test_two_instances_share_one_database_behind_the_proxy(compose):
    services = compose["services"]
    instances = [name for name, svc in services.items() if svc.get("image") == "cds-service:local"]
    assert len(instances) == 2
    urls = {services[name]["environment"]["DATABASE_URL"] for name in instances}
    assert len(urls) == 1 and "@postgres:5432/" in urls.pop()
    for name in instances:
        service = services[name]
        assert (COMPOSE.parent / service["build"]["context"] / "Dockerfile").is_file()
        assert service["read_only"] is True and service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "/healthz/ready" in " ".join(service["healthcheck"]["test"])
    proxy = services["proxy"]
    config = COMPOSE.parent / proxy["volumes"][0].split(":")[0]
    text = config.read_text(encoding="utf-8")
    assert "balance roundrobin" in text
    assert all(f"server {name} {name}:8080" in text for name in instances)


def test_haproxy_accepts_the_proxy_config():
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).exists():
        pytest.skip("haproxy not installed (tests/infra/install.sh installs it)")
    done = subprocess.run([haproxy, "-c", "-f", str(COMPOSE.parent / "haproxy.cfg")], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
