"""Ops routes for the outbox: ``/api/v1/ops/emails`` lists emails and puts failed ones back in the queue."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from app.core.caller import requires_superuser
from app.core.openapi import BODY_ERRORS, RESTRICTED_ERRORS, errors
from app.core.page_links import PAGE_HEADERS, page_response
from app.core.pagination import DEFAULT_PAGE_SIZE, Page, PageNumber, PageRequest, PageSize
from app.core.routes import get, post
from app.emails.models import EmailStatus
from app.emails.schemas import OutboxEmail, RetryFailed, RetryResult, to_outbox_email
from app.emails.service import OutboxService

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
        responses=errors(*BODY_ERRORS, *RESTRICTED_ERRORS),
        status_code=HTTP_200_OK,
    )
    def retry_failed(self, data: JSONBody[RetryFailed], outbox_service: NamedDependency[OutboxService]) -> RetryResult:
        """Put every failed email back in the queue with a fresh attempt budget, or only those that failed at or
        after `failed_since` (superusers only)."""
        return RetryResult(retried=outbox_service.retry_failed(data.failed_since))

    @post(
        "/{email_id:str}/retry",
        operation_id="retryEmail",
        guards=[requires_superuser],
        responses=errors(*RESTRICTED_ERRORS, 404, 409, 422),
        status_code=HTTP_200_OK,
    )
    def retry_email(self, email_id: FromPath[UUID], outbox_service: NamedDependency[OutboxService]) -> OutboxEmail:
        """Put one failed email back in the queue with a fresh attempt budget (superusers only); 409 unless it
        failed."""
        return to_outbox_email(outbox_service.retry(email_id))
