"""The ``maintenance_run`` table: one row per housekeeping job with its last run, for ops to read."""

from __future__ import annotations

from datetime import datetime

from advanced_alchemy.base import UUIDv7Base
from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

__all__ = ("MaintenanceRun",)


class MaintenanceRun(UUIDv7Base):
    """The latest run of ``job``: when it started and finished, and what it counted (the cleanup: rows deleted per
    table; the relay: ``relayed``).
    """

    __tablename__ = "maintenance_run"

    job: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    counts: Mapped[dict[str, int]] = mapped_column(JsonB, default=dict)
