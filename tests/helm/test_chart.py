"""Renders helm/pgmask with `helm template` and checks the manifests: probes on the admin
endpoints, a non-root read-only pod, the checksum that rolls pods on a policy change, and that
values overrides reach the right places. With --chart-pgmask, the rendered policy and config file are
also fed to the real binary."""

from __future__ import annotations

import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "pgmask"


def render(helm: Path, *args: str, values: dict | None = None) -> list[dict]:
    argv = [str(helm), "template", "rel", str(CHART), "--namespace", "db", *args]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        if values is not None:
            yaml.safe_dump(values, f)
            f.flush()
            argv += ["-f", f.name]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def only(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind} {name}: {[d['metadata']['name'] for d in found]}"
    return found[0]


def container(docs: list[dict]) -> dict:
    return only(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def test_lint_is_clean(helm_bin):
    result = subprocess.run([str(helm_bin), "lint", "--strict", str(CHART)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_probes_use_the_admin_endpoints(helm_bin):
    docs = render(helm_bin)
    c = container(docs)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"sql": 6432, "admin": 9187}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    config = yaml.safe_load(only(docs, "ConfigMap", "rel-pgmask")["data"]["pgmask.yaml"])
    assert config["admin"] == "0.0.0.0:9187"
    assert config["listen"] == "0.0.0.0:6432"
    # The client-facing Service exposes the SQL port only.
    service = only(docs, "Service", "rel-pgmask")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["sql"]


def test_pod_runs_non_root_with_a_read_only_root(helm_bin):
    docs = render(helm_bin)
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    sc = container(docs)["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert pod["automountServiceAccountToken"] is False


def test_policy_change_changes_the_checksum(helm_bin):
    policy_a = "version: 1\nroles:\n  \"*\": { default: mask }\n"
    policy_b = "version: 1\nroles:\n  \"*\": { default: null }\n"

    def annotations(policy: str, *args: str) -> dict:
        docs = render(helm_bin, *args, values={"policy": policy})
        return only(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]

    a, b = annotations(policy_a), annotations(policy_b)
    assert re.fullmatch(r"[0-9a-f]{64}", a["checksum/policy"])
    assert a["checksum/policy"] != b["checksum/policy"]
    assert a["checksum/config"] == b["checksum/config"]
    assert annotations(policy_a) == a, "rendering is deterministic"
    # Live reload: no checksum, so a policy change does not roll the pods.
    live = annotations(policy_b, "--set", "policyReload=live")
    assert "checksum/policy" not in live
    docs = render(helm_bin, values={"policy": policy_b})
    assert only(docs, "ConfigMap", "rel-pgmask-policy")["data"]["policy.yaml"] == policy_b


def test_values_overrides(helm_bin):
    docs = render(helm_bin, values={
        "replicaCount": 5,
        "image": {"repository": "registry.example/pgmask", "tag": "9.9"},
        "upstream": {"host": "pg.db.svc", "port": 5433},
        "ports": {"admin": 9999},
        "config": {"logFormat": "plain", "maxClientConn": 42},
        "keys": {"tokenKey": "00" * 32, "hashKey": "11" * 32},
        "resources": {"limits": {"cpu": "2", "memory": "1Gi"}},
    })
    deployment = only(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 5
    c = container(docs)
    assert c["image"] == "registry.example/pgmask:9.9"
    assert c["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    assert {p["name"]: p["containerPort"] for p in c["ports"]}["admin"] == 9999
    config = yaml.safe_load(only(docs, "ConfigMap", "rel-pgmask")["data"]["pgmask.yaml"])
    assert config["upstream"] == "pg.db.svc:5433"
    assert config["admin"] == "0.0.0.0:9999"
    assert config["log_format"] == "plain"
    assert config["max_client_conn"] == 42
    assert config["token_key_file"] == "/etc/pgmask/keys/token.key"
    secret = only(docs, "Secret")
    assert set(secret["data"]) == {"token.key", "hash.key"}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["keys"] == "/etc/pgmask/keys"
    # An existing Secret replaces the generated one.
    docs = render(helm_bin, values={"keys": {"existingSecret": "vault-keys"}})
    assert not [d for d in docs if d["kind"] == "Secret"]
    volumes = {v["name"]: v for v in only(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["keys"]["secret"]["secretName"] == "vault-keys"


def test_optional_objects(helm_bin):
    defaults = {d["kind"] for d in render(helm_bin)}
    assert {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget"} <= defaults
    assert not defaults & {"HorizontalPodAutoscaler", "ServiceMonitor", "NetworkPolicy", "Secret"}
    docs = render(helm_bin, "--set", "autoscaling.enabled=true", "--set", "metrics.serviceMonitor.enabled=true",
                  "--set", "networkPolicy.enabled=true", "--set", "tls.enabled=true",
                  "--set", "tls.existingSecret=pgmask-tls")
    hpa = only(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "rel-pgmask"
    assert "replicas" not in only(docs, "Deployment")["spec"], "the HPA owns the replica count"
    monitor = only(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["spec"]["endpoints"][0]["port"] == "admin"
    admin_service = only(docs, "Service", "rel-pgmask-admin")
    assert admin_service["metadata"]["labels"]["app.kubernetes.io/component"] == "admin"
    netpol = only(docs, "NetworkPolicy")
    assert {p["port"] for rule in netpol["spec"]["ingress"] for p in rule["ports"]} == {"sql", "admin"}
    assert 5432 in {p["port"] for rule in netpol["spec"]["egress"] for p in rule["ports"]}
    volumes = {v["name"]: v for v in only(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "pgmask-tls"


def test_bad_values_fail_to_render(helm_bin):
    result = subprocess.run([str(helm_bin), "template", "rel", str(CHART), "--set", "policyReload=sometimes"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "policyReload must be rollout or live" in result.stderr


def test_rendered_files_are_accepted_by_pgmask(helm_bin, pgmask_bin, tmp_path):
    if pgmask_bin is None:
        pytest.skip("no --chart-pgmask given")
    docs = render(helm_bin)
    policy = tmp_path / "policy.yaml"
    policy.write_text(only(docs, "ConfigMap", "rel-pgmask-policy")["data"]["policy.yaml"])
    check = subprocess.run([str(pgmask_bin), "check", str(policy)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    # The config file as the pod reads it; addresses and paths that only exist in the pod are overridden.
    config = tmp_path / "pgmask.yaml"
    config.write_text(only(docs, "ConfigMap", "rel-pgmask")["data"]["pgmask.yaml"])
    log = tmp_path / "pgmask.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(pgmask_bin), "serve", "--config", str(config), "--listen", "127.0.0.1:0",
                                 "--admin", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--policy", str(policy)],
                                stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 30
        while b"admin listening on" not in log.read_bytes():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert log.read_text().lstrip().startswith("{"), "the chart asks for JSON logs"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text()
