"""Dependency providers of the ops domain (runtime imports: Litestar reads these signatures)."""

from __future__ import annotations

from litestar.di import NamedDependency
from sqlalchemy.orm import Session

from app.core.settings import Settings
from app.ops.broker import BrokerProbe
from app.ops.service import OpsService, schedule_intervals

__all__ = ("provide_ops_service",)


def provide_ops_service(
    db_session: NamedDependency[Session],
    broker_probe: NamedDependency[BrokerProbe],
    settings: NamedDependency[Settings],
) -> OpsService:
    return OpsService(session=db_session, probe=broker_probe, intervals=schedule_intervals(settings))
