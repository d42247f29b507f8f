"""No Docker engine runs here, so the deployment files are checked for what can be checked: they
parse, they start commands that exist, and every alert and dashboard reads metrics (and labels)
the platform really exports."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.apps import apps
from django.conf import settings
from prometheus_client import REGISTRY

ROOT = Path(settings.BASE_DIR)
PROMQL_WORDS = {"sum", "max", "min", "rate", "increase", "by", "or", "and", "time", "histogram_quantile", "le", "count"}


def _exported_metrics() -> dict[str, set[str]]:
    """Every metric family the platform defines -> its label names (from the live registry)."""
    from django_prometheus.middleware import Metrics

    Metrics.get_instance()  # the request metrics exist once the middleware has started
    for config in apps.get_app_configs():
        if not (ROOT / config.name.replace(".", "/")).is_dir():
            continue  # third-party apps
        for module in ("metrics", "tasks", "services"):
            try:
                package = importlib.import_module(f"{config.name}.{module}")
            except ModuleNotFoundError:
                continue
            for info in pkgutil.iter_modules(getattr(package, "__path__", [])):
                importlib.import_module(f"{package.__name__}.{info.name}")
    families: dict[str, set[str]] = {}
    for collector in list(REGISTRY._collector_to_names):  # the registry has no public iterator of collectors
        for name in REGISTRY._collector_to_names[collector]:
            families[name] = set(getattr(collector, "_labelnames", ()))
    return families


def _promql_metrics(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, labels used in by(...) and {...}) in a PromQL expression."""
    labels = {label for group in re.findall(r"by \(([^)]*)\)", expr) for label in re.split(r"\s*,\s*", group)}
    labels |= set(re.findall(r"[{,]\s*([a-z_]+)\s*=", expr))
    unquoted = re.sub(r"\"[^\"]*\"", "", expr)
    names = {token for token in re.findall(r"\b[a-z_][a-z0-9_]*\b", unquoted) if "_" in token} - PROMQL_WORDS - labels
    return names, labels - {"le"}


def _check_expr(expr: str, exported: dict[str, set[str]]) -> list[str]:
    names, labels = _promql_metrics(expr)
    problems, known = [], set()
    for name in names:
        family = next((f for f in (name, re.sub(r"_(bucket|sum|count)$", "", name)) if f in exported), None)
        if family is None:
            problems.append(f"{name} is not exported")
        else:
            known |= exported[family]
    if not problems and labels - known - {"pid"}:
        problems.append(f"labels {sorted(labels - known)} are not on {sorted(names)}")
    return problems


@pytest.fixture(scope="module")
def exported() -> dict[str, set[str]]:
    return _exported_metrics()


def test_alert_rules_read_real_metrics_and_each_has_a_runbook(exported):
    rules = [
        rule
        for group in yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    ]
    assert len(rules) >= 8
    problems = []
    for rule in rules:
        assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule
        runbook = ROOT / rule["annotations"]["runbook"]
        assert runbook.is_file(), f"{rule['alert']}: no runbook at {runbook}"
        assert rule["alert"] in runbook.read_text() or "alert" in runbook.read_text().lower()
        problems += [f"{rule['alert']}: {p}" for p in _check_expr(rule["expr"], exported)]
    assert not problems, problems
    names = {rule["alert"] for rule in rules}
    assert {
        "LedgerInvariantBreached",
        "PayoutsStuck",
        "ParkedFundsAgeing",
        "AuditAnchorLag",
        "BreakerOpen",
        "DeadLetters",
    } <= names


def test_dashboards_read_real_metrics(exported):
    dashboards = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
    assert {d.stem for d in dashboards} >= {"money-flow", "queues", "latency", "breakers"}
    problems = []
    for path in dashboards:
        dashboard: dict[str, Any] = json.loads(path.read_text())
        assert dashboard["uid"]
        assert dashboard["panels"]
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                problems += [f"{path.name} / {panel['title']}: {p}" for p in _check_expr(target["expr"], exported)]
    assert not problems, problems


def test_compose_starts_commands_that_exist():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "chain", "sandbox-insurer", "prometheus", "grafana"} <= set(
        services
    )
    for name in ("web", "worker", "beat", "migrate", "sandbox-insurer"):
        command = services[name]["command"]
        assert command[0] == "python"
        module = command[2] if command[1] == "-m" else None
        if module == "celery":
            assert command[3:5] == ["-A", "escrow_project"]
            importlib.import_module("escrow_project.celery")
        elif module:
            importlib.import_module(module.split(":")[0] if module != "uvicorn" else command[3].split(":")[0])
        else:
            assert command[1] == "manage.py"
    for mount in services["prometheus"]["volumes"] + services["grafana"]["volumes"]:
        assert (ROOT / mount.split(":")[0]).exists(), mount


def test_dockerfile_is_multi_stage_and_runs_as_a_non_root_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.MULTILINE)) >= 2
    user = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert user
    assert user[-1] not in ("root", "0")
    cmd = json.loads(re.findall(r"^CMD (.+)$", dockerfile, re.MULTILINE)[-1])
    assert shlex.join(cmd).startswith("python -m uvicorn escrow_project.asgi:application")
