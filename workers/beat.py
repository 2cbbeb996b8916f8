"""Beat's scheduler on Redis: RedBeat's, riding out an outage of Redis instead of exiting.

RedBeat lets a Redis error out of a tick, which ends beat (and its outbox relay) until the platform restarts it, and
a platform that sees a process crash again and again at start-up (Redis still away) waits longer and longer to
restart it. This one logs the error and tries again a tick later. If its lock lapsed meanwhile (a long outage, or a
Redis that came back empty), it takes the lock again when no other beat holds it and installs the schedule again (an
empty Redis lost it), and exits, as before, when another beat holds the lock.
"""

from __future__ import annotations

import logging
from typing import Any

from redbeat import RedBeatScheduler
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockNotOwnedError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ("Scheduler",)

logger = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


class Scheduler(RedBeatScheduler):  # type: ignore[misc]  # RedBeat ships no type information
    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            return float(super().tick(*args, **kwargs))
        except REDIS_DOWN as exc:
            logger.warning("beat: Redis did not answer (%s); trying again in %.0f s", exc, self.max_interval)
            return float(self.max_interval)
        except LockNotOwnedError:
            if not self.lock.acquire(blocking=False):
                raise  # another beat holds the lock now: this one stops, as RedBeat does
            logger.warning("beat: the lock lapsed while Redis was away; took it again")
            # A Redis that came back empty lost the schedule too, and RedBeat dispatches only what Redis lists.
            self.setup_schedule()
            return 0.0

    def close(self) -> None:
        try:
            super().close()
        except REDIS_DOWN as exc:
            # The lock could not be released: it lapses by itself, so a standby waits the lock timeout.
            logger.warning("beat: could not release the lock: %s", exc)
