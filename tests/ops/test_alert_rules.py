"""The shipped alert rules: promtool checks them and runs their unit tests (tests/ops/alert-rules.test.yml), every
alert is tested firing and not firing, and a real Prometheus loads them, evaluates each without error and raises
exactly the alerts the scraped state calls for.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.ops.conftest import ALERT_RULES_FILE, SCRAPE_JOB, STALE_JOB
from tests.prometheus import Prometheus

PROMTOOL_TESTS = Path(__file__).with_name("alert-rules.test.yml")


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERT_RULES_FILE.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _promtool(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, check=False)


def test_promtool_checks_the_shipped_rules(promtool: str) -> None:
    result = _promtool(promtool, "check", "rules", str(ALERT_RULES_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in result.stdout


def test_promtool_unit_tests_pass(promtool: str) -> None:
    result = _promtool(promtool, "test", "rules", str(PROMTOOL_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    cases = [
        case for test in yaml.safe_load(PROMTOOL_TESTS.read_text())["tests"] for case in test.get("alert_rule_test", [])
    ]
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    names = {rule["alert"] for rule in _alerts()}
    assert names - firing == set(), "alerts without a promtool case where they fire"
    assert names - quiet == set(), "alerts without a promtool case where they stay quiet"
    assert (firing | quiet) - names == set(), "promtool cases for alerts that are not shipped"


def test_every_alert_waits_has_a_severity_and_tells_what_to_do() -> None:
    for rule in _alerts():
        assert rule.get("for"), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert len(rule["annotations"]["description"]) > 100, rule["alert"]


def test_a_real_prometheus_evaluates_every_rule_and_raises_what_the_state_calls_for(
    prometheus_server: Prometheus,
) -> None:
    def evaluated() -> list[dict[str, Any]]:
        rules = [rule for group in prometheus_server.rule_groups() for rule in group["rules"]]
        return rules if all(rule["health"] != "unknown" for rule in rules) else []

    rules = prometheus_server.wait_until(evaluated, timeout=30, what="evaluation of every rule")
    assert {rule["name"] for rule in rules} == {rule["alert"] for rule in _alerts()}
    assert [(rule["name"], rule.get("lastError")) for rule in rules if rule["health"] != "ok"] == []

    # The stand-in /metrics: an hour-old pending email, a stale relay; all else well. Both alerts wait out their
    # `for:`, so they are pending; no other alert is raised.
    expected = {("InkwellOutboxPendingTooOld", ""), ("InkwellJobStale", STALE_JOB)}

    def raised() -> set[tuple[str, str]]:
        alerts = prometheus_server.alerts()
        assert all(alert["labels"]["job"] == SCRAPE_JOB for alert in alerts), alerts
        return {(alert["labels"]["alertname"], alert["labels"].get("schedule", "")) for alert in alerts}

    prometheus_server.wait_until(lambda: raised() >= expected, timeout=30, what=f"alerts {expected}")
    assert raised() == expected
    assert {alert["state"] for alert in prometheus_server.alerts()} == {"pending"}
