"""deploy/ checked offline as CI sees it: the compose file against the compose spec (the schema
check-jsonschema ships), every Kubernetes object against Kubernetes' own schemas (strict: an
unknown field is an error; kubernetes-validate ships them), and the nginx rules of
`hotline cluster`, compose and Kubernetes kept the same. Each check is shown to catch a broken
copy, so a green run means the files were read."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

from hotline.settings import KEEP_ALIVE_SECONDS, PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
K8S_VERSION = "1.33.0"  # the oldest Kubernetes the manifests are meant for
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))


def compose_errors(path: Path) -> str:
    """check-jsonschema's verdict on a compose file ("" when valid)."""
    cmd = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
           str(path)]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return "" if result.returncode == 0 else result.stdout + result.stderr


def k8s_errors(path: Path) -> list[str]:
    errors = []
    for doc in yaml.safe_load_all(path.read_text()):
        if doc is None:
            continue
        name = f"{path.name}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{name}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except SchemaNotFoundError:  # an unknown kind or apiVersion is an error, not a pass
            errors.append(f"{name}: no schema for {doc.get('apiVersion')} {doc.get('kind')}")
    return errors


def test_the_compose_file_follows_the_compose_spec() -> None:
    assert compose_errors(DEPLOY / "docker-compose.yml") == ""


def test_a_broken_compose_file_is_caught(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    text = (DEPLOY / "docker-compose.yml").read_text()
    assert "      interval: 5s" in text
    broken.write_text(text.replace("      interval: 5s", "      intervall: 5s", 1))
    assert "intervall" in compose_errors(broken)


def test_every_kubernetes_object_follows_its_schema() -> None:
    assert len(MANIFESTS) >= 6
    kinds = {doc["kind"] for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text())}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "Job"} <= kinds
    assert [error for path in MANIFESTS for error in k8s_errors(path)] == []


@pytest.mark.parametrize(
    ("good", "bad", "reported"),
    [
        ("              containerPort: 8000", "              containerPort: http", "containerPort"),
        ("          readinessProbe:", "          readinessProbes:", "readinessProbes"),
        ("apiVersion: apps/v1", "apiVersion: apps/v0", "no schema"),
    ],
)
def test_a_broken_manifest_is_caught(tmp_path: Path, good: str, bad: str, reported: str) -> None:
    text = (DEPLOY / "k8s" / "app.yaml").read_text()
    assert good in text
    broken = tmp_path / "app.yaml"
    broken.write_text(text.replace(good, bad, 1))
    errors = k8s_errors(broken)
    assert errors and reported in " ".join(errors), errors


def test_the_secret_holds_placeholders_only() -> None:
    [secret] = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "secret.yaml").read_text())]
    assert all(v in ("", "REPLACE_ME") or "REPLACE_ME" in v
               for v in secret["stringData"].values())  # fmt: skip


def test_probes_and_resources_on_every_long_running_container() -> None:
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc["kind"] not in ("Deployment", "StatefulSet"):
                continue
            for container in doc["spec"]["template"]["spec"]["containers"]:
                where = f"{path.name} {container['name']}"
                assert {"readinessProbe", "livenessProbe"} <= container.keys(), where
                assert container["resources"]["requests"]["memory"], where
                assert container["resources"]["limits"]["memory"], where
    app = _doc("app.yaml", "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert app["startupProbe"]["httpGet"]["path"] == "/health"  # why not readiness: app.yaml


def test_nginx_rules_are_the_same_for_the_cluster_compose_and_kubernetes() -> None:
    proxy = (DEPLOY / "nginx" / "proxy.conf").read_text()
    assert _doc("nginx.yaml", "ConfigMap")["data"]["proxy.conf"] == proxy
    template = (DEPLOY / "nginx" / "hotline.conf.template").read_text()
    rules = _public_rules(proxy)
    assert "proxy_buffering off;" in rules and len(rules) > 20
    assert _public_rules(template) == rules


def test_the_clusters_nginx_config_is_accepted_by_nginx(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("Debian nginx not installed")  # the stack tests fail on CI without it
    from hotline.cluster import Layout, render_nginx, with_shared_services
    from hotline.settings import Settings

    settings = with_shared_services(Settings(var_dir=tmp_path))
    conf = render_nginx(settings, Layout(18190), tmp_path / "nginx")
    log = tmp_path / "nginx" / "log" / "error.log"
    result = subprocess.run([nginx, "-t", "-e", str(log), "-c", str(conf), "-p", str(conf.parent)],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr


def _doc(file: str, kind: str) -> Any:
    [found] = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / file).read_text())
               if d["kind"] == kind]  # fmt: skip
    return found


def _public_rules(conf: str) -> list[str]:
    """The directives of the first server block (the public one), without comments and the
    lines that differ by design (address, upload size, where server_tokens is set)."""
    found = re.search(r"^ *server \{", conf, re.MULTILINE)
    assert found, conf
    block = conf[found.start() :]
    depth, lines = 0, []
    for raw in block.splitlines():
        line = re.sub(r"#.*", "", raw).strip()
        depth += line.count("{") - line.count("}")
        if line and not line.startswith(("listen", "client_max_body_size", "server_tokens")):
            lines.append(line)
        if depth == 0:
            break
    return lines


def test_proxies_give_up_idle_connections_before_the_servers_do() -> None:
    """nginx must drop an idle upstream connection before the app (or Rasa, 120 s) closes it,
    or a request sent on it as the server closes it fails (tests/integration/test_stack.py
    shows the servers' side). Kubernetes' ConfigMap carries proxy.conf word for word (above)."""
    for name in ("proxy.conf", "hotline.conf.template"):
        text = (DEPLOY / "nginx" / name).read_text()
        upstreams = re.findall(r"upstream \w+ \{(.*?)\n\s*\}", text, re.S)
        assert upstreams, name
        for block in upstreams:
            found = re.search(r"keepalive_timeout (\d+)s;", block)
            assert found and int(found.group(1)) < KEEP_ALIVE_SECONDS, (name, block)
