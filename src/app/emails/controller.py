"""Ops routes for the outbox: ``/api/v1/ops/emails`` lists emails and puts failed ones back in the queue."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from app.core.caller import Caller, requires_superuser
from app.core.openapi import BODY_ERRORS, RESTRICTED_ERRORS, errors
from app.core.page_links import PAGE_HEADERS, page_response
from app.core.pagination import DEFAULT_PAGE_SIZE, Page, PageNumber, PageRequest, PageSize
from app.core.routes import get, post
from app.emails.models import EmailStatus
from app.emails.schemas import OutboxEmail, RetryFailed, RetryResult, to_outbox_email
from app.emails.service import OutboxService
from app.idempotency.responses import REPLAY_HEADERS, IdempotencyKeyHeader, respond_once
from app.idempotency.service import IdempotencyService

__all__ = ("OutboxController",)


# Guards on each handler, not the controller: Litestar's automatic OPTIONS route skips authentication, and a
# controller-level guard would run there without a user.
class OutboxController(Controller):
    path = "/ops/emails"
    tags = ["ops"]

    @get(
        "/",
        operation_id="listEmails",
        guards=[requires_superuser],
        responses=errors(*RESTRICTED_ERRORS, 422),
        response_headers=PAGE_HEADERS,
    )
    def list_emails(
        self,
        request: Request[Any, Any, Any],
        outbox_service: NamedDependency[OutboxService],
        *,
        page: PageNumber = 1,
        size: PageSize = DEFAULT_PAGE_SIZE,
        status: Annotated[EmailStatus | None, QueryParameter(description="only emails in this state")] = None,
    ) -> Response[Page[OutboxEmail]]:
        """Outbox emails, newest first, with masked recipients (superusers only); `status=failed` for the ones
        that need attention."""
        listing = outbox_service.list_page(PageRequest(page=page, size=size), status).map(to_outbox_email)
        return page_response(request, listing)

    @post(
        "/retry",
        operation_id="retryFailedEmails",
        guards=[requires_superuser],
        responses=errors(*BODY_ERRORS, *RESTRICTED_ERRORS, 409),
        status_code=HTTP_200_OK,
        response_headers=REPLAY_HEADERS,
    )
    def retry_failed(
        self,
        *,
        request: Request[Caller, Any, Any],
        data: JSONBody[RetryFailed],
        outbox_service: NamedDependency[OutboxService],
        idempotency: NamedDependency[IdempotencyService],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[RetryResult]:
        """Put every failed email back in the queue with a fresh attempt budget, or only those that failed at or
        after `failed_since` (superusers only). With an `Idempotency-Key`, a retry of the same request answers the
        first count again and requeues nothing more."""

        def retry() -> Response[RetryResult]:
            retried = outbox_service.retry_failed(data.failed_since)
            return Response(RetryResult(retried=retried), status_code=HTTP_200_OK)

        return respond_once(idempotency, request, retry, key=idempotency_key, caller_id=request.user.id, body=data)

    @post(
        "/{email_id:str}/retry",
        operation_id="retryEmail",
        guards=[requires_superuser],
        responses=errors(*RESTRICTED_ERRORS, 404, 409, 422),
        status_code=HTTP_200_OK,
        response_headers=REPLAY_HEADERS,
    )
    def retry_email(
        self,
        *,
        request: Request[Caller, Any, Any],
        email_id: FromPath[UUID],
        outbox_service: NamedDependency[OutboxService],
        idempotency: NamedDependency[IdempotencyService],
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response[OutboxEmail]:
        """Put one failed email back in the queue with a fresh attempt budget (superusers only); 409 unless it
        failed. With an `Idempotency-Key`, a retry of the same request answers as the first did instead of 409."""

        def retry() -> Response[OutboxEmail]:
            return Response(to_outbox_email(outbox_service.retry(email_id)), status_code=HTTP_200_OK)

        return respond_once(idempotency, request, retry, key=idempotency_key, caller_id=request.user.id, body=None)
