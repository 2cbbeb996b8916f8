"""The application factory: every dependency is built here and wired explicitly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING

from advanced_alchemy.exceptions import DuplicateKeyError
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy.exc import IntegrityError

from app.audit.controller import MyEventsController, UserEventsController
from app.auth.access_tokens import AccessTokenIssuer
from app.auth.account_security import build_users_service
from app.auth.bearer import BearerAuthenticator, build_jwt_auth
from app.auth.controller import AuthController
from app.auth.deps import (
    auth_service_provider,
    login_service_provider,
    provide_caller,
    two_factor_service_provider,
)
from app.auth.session_controller import SessionController, UserSessionController
from app.auth.two_factor_controller import TwoFactorController, UserTwoFactorController
from app.core.database import build_read_config, build_sqlalchemy_config, request_session_provider
from app.core.edge import edge_middleware
from app.core.error_responses import exception_handlers
from app.core.http import MAX_REQUEST_BODY_BYTES, build_cors_config, security_headers
from app.core.logging import build_logging_config
from app.core.metrics import HttpMetrics
from app.core.openapi import build_openapi_config
from app.core.rate_limit import STATE_KEY as RATE_LIMITER_KEY
from app.core.rate_limit import RateLimiter
from app.core.routes import answer_options_with_every_method
from app.core.security import PasswordHashing, SecretSealing
from app.core.settings import Settings, get_settings
from app.core.task_metrics import TaskMetricsRecorder, count_published_tasks
from app.core.task_queue import SEND_EMAIL_TASK, CeleryTaskQueue, TaskQueue
from app.core.telemetry import Telemetry
from app.emails.controller import OutboxController
from app.emails.deps import outbox_service_provider
from app.idempotency.deps import idempotency_service_provider
from app.ops.broker import BrokerProbe
from app.ops.controller import MetricsController, OpsController
from app.ops.guards import STATE_KEY as METRICS_ACCESS_KEY
from app.ops.guards import MetricsAccess
from app.ops.metrics import OpsMetrics
from app.posts.controller import PostController, UserPostsController
from app.posts.deps import posts_service_provider
from app.system.controller import HealthController
from app.users.controller import UserController
from app.users.deps import users_service_provider

if TYPE_CHECKING:
    from advanced_alchemy.config import SQLAlchemySyncConfig

__all__ = ("create_app",)

logger = logging.getLogger(__name__)


def _bootstrap_superuser(settings: Settings, db_config: SQLAlchemySyncConfig, passwords: PasswordHashing) -> None:
    email, password = settings.first_superuser_email, settings.first_superuser_password
    if not (email and password):
        return
    with db_config.get_session() as session:
        service = build_users_service(session, passwords, settings)
        try:
            user, created = service.ensure_superuser(email, password)
        except (DuplicateKeyError, IntegrityError):
            # Several web processes start at once (WEB_CONCURRENCY): another one created it a moment earlier.
            logger.info("first superuser %s already created by another process", email)
            return
    if created:
        logger.info("created first superuser %s", user.email)


def _size_thread_pool(web_threads: int) -> Callable[[], Awaitable[None]]:
    async def size_thread_pool() -> None:
        # Sync handlers run on the loop's default executor. Python sizes it from os.cpu_count(), which ignores a
        # taskset or cgroup pin and has nothing to do with the database pool the handlers draw on.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=web_threads, thread_name_prefix="inkwell-handler")
        )

    return size_thread_pool


def _flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def create_app(
    settings: Settings | None = None, task_queue: TaskQueue | None = None, telemetry: Telemetry | None = None
) -> Litestar:
    """Build the app from ``settings`` (default: the environment), wiring every dependency explicitly.

    ``task_queue`` announces committed emails to the workers (default: Celery on the configured broker);
    ``telemetry`` sends traces and error reports (default: those the settings turn on, if any).
    """
    settings = settings or get_settings()
    telemetry = telemetry or Telemetry.from_settings(settings, "web")
    task_queue = task_queue or CeleryTaskQueue(settings)
    db_config = build_sqlalchemy_config(settings)
    engine = db_config.get_engine()
    passwords = PasswordHashing(settings)
    sealing = SecretSealing(settings)
    access_tokens = AccessTokenIssuer(settings)
    read_config = build_read_config(settings, engine)
    telemetry.instrument_engine(engine)
    telemetry.instrument_engine(read_config.get_engine())
    telemetry.instrument_celery(published_by_name=(SEND_EMAIL_TASK,))
    bearer_authenticator = BearerAuthenticator(settings, read_config)
    refresh_lifetime = timedelta(days=settings.refresh_token_expire_days)
    jwt_auth = build_jwt_auth(settings, bearer_authenticator)
    broker_probe = BrokerProbe(settings)
    ops_metrics = OpsMetrics(engine, broker_probe, settings)
    http_metrics = HttpMetrics()
    task_metrics = TaskMetricsRecorder.from_settings(settings)
    count_published_tasks(task_metrics)

    api_v1 = Router(
        path=settings.api_v1_str,
        route_handlers=[
            AuthController,
            SessionController,
            TwoFactorController,
            MyEventsController,
            UserController,
            UserSessionController,
            UserTwoFactorController,
            UserEventsController,
            PostController,
            UserPostsController,
            OpsController,
            OutboxController,
        ],
    )
    app = Litestar(
        route_handlers=[HealthController, MetricsController, api_v1],
        dependencies={
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
            "db_engine": Provide(lambda: engine, use_cache=True, sync_to_thread=False),
            "db_session": request_session_provider(db_config, read_config),
            "broker_probe": Provide(lambda: broker_probe, use_cache=True, sync_to_thread=False),
            "ops_metrics": Provide(lambda: ops_metrics, use_cache=True, sync_to_thread=False),
            "http_metrics": Provide(lambda: http_metrics, use_cache=True, sync_to_thread=False),
            "bearer_authenticator": Provide(lambda: bearer_authenticator, use_cache=True, sync_to_thread=False),
            "caller": Provide(provide_caller, sync_to_thread=False),
            "users_service": users_service_provider(
                lambda session, origin: build_users_service(session, passwords, settings, task_queue, origin),
                settings.trusted_proxy_hops,
            ),
            "auth_service": auth_service_provider(access_tokens, refresh_lifetime, settings),
            "login_service": login_service_provider(
                settings,
                passwords=passwords,
                sealing=sealing,
                access_tokens=access_tokens,
                refresh_lifetime=refresh_lifetime,
                task_queue=task_queue,
            ),
            "two_factor_service": two_factor_service_provider(sealing, settings),
            "posts_service": posts_service_provider(settings),
            "outbox_service": outbox_service_provider(settings, task_queue),
            "idempotency": idempotency_service_provider(settings),
        },
        state=State({RATE_LIMITER_KEY: RateLimiter(settings), METRICS_ACCESS_KEY: MetricsAccess(settings)}),
        on_app_init=[jwt_auth.on_app_init],
        on_startup=[
            _size_thread_pool(settings.web_threads),
            lambda: _bootstrap_superuser(settings, db_config, passwords),
        ],
        # Last: the log lines of the shutdown itself are written too.
        on_shutdown=[
            task_metrics.close,
            read_config.get_engine().dispose,
            engine.dispose,
            telemetry.flush,
            _flush_logs,
        ],
        exception_handlers=exception_handlers(telemetry.report_unexpected if telemetry.error_reports else None),
        plugins=telemetry.litestar_plugins(),
        cors_config=build_cors_config(settings),
        request_max_body_size=MAX_REQUEST_BODY_BYTES,
        openapi_config=build_openapi_config(settings),
        logging_config=build_logging_config(debug=settings.debug),
        debug=settings.debug,
    )
    answer_options_with_every_method(app)
    app.asgi_handler = edge_middleware(app.asgi_handler, headers=security_headers(settings), metrics=http_metrics)
    return app
