"""Files Inkwell ships for its operators: Prometheus alert rules and a Grafana dashboard (``inkwell ops ...``)."""

from __future__ import annotations

from importlib.resources import files

__all__ = ("ALERT_RULES", "DASHBOARD", "read_asset")

ALERT_RULES = "alert-rules.yml"
DASHBOARD = "dashboard.json"


def read_asset(name: str) -> str:
    """The text of a shipped file, read from the installed package (a wheel or the source tree alike)."""
    return files(__name__).joinpath(name).read_text(encoding="utf-8")
