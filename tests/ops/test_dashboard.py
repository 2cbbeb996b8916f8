"""The shipped Grafana dashboard: valid JSON with the datasource and job variables, every panel querying Prometheus
by `$job`, and every query accepted by a real Prometheus and answering with data from the contract's series.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.ops.conftest import DASHBOARD_FILE, SCRAPE_JOB
from tests.prometheus import Prometheus, dashboard_panels, dashboard_queries

# What Grafana would put in place of the variables: its rate interval, the scrape job, "All" for the others.
VARIABLES = {"__rate_interval": "5m", "job": SCRAPE_JOB}


def _dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text())
    return dashboard


def test_the_dashboard_has_its_variables_and_a_query_in_every_panel() -> None:
    dashboard = _dashboard()
    assert dashboard["schemaVersion"] >= 39
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["job"]["current"]["value"] == SCRAPE_JOB
    panels = dashboard_panels(DASHBOARD_FILE)
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert '{job="$job"' in target["expr"], (panel["title"], target["expr"])
            # Range windows follow Grafana's rate interval (at least four scrapes), never a fixed one.
            assert set(re.findall(r"\[([^\]]*)\]", target["expr"])) <= {"$__rate_interval"}, target["expr"]


def test_every_query_is_accepted_by_a_real_prometheus_and_finds_data(prometheus_server: Prometheus) -> None:
    failures = []
    for title, expr in dashboard_queries(DASHBOARD_FILE, VARIABLES):
        answer = prometheus_server.query(expr)
        if answer["status"] != "success":
            failures.append((title, expr, answer.get("error")))
        elif not answer["data"]["result"]:
            failures.append((title, expr, "no data"))
    assert failures == []
