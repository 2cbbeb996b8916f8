from __future__ import annotations

import socket

from litestar import Litestar
from litestar.testing import TestClient

from app.application import create_app
from tests.conftest import make_settings
from tests.problems import about_blank, problem


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_health_is_cheap_and_public(client: TestClient[Litestar]) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


def test_ready_reports_each_dependency(client: TestClient[Litestar], database_url: str) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["database"] == {"status": "ok", "detail": "postgresql" if "postgresql" in database_url else "sqlite"}
    assert body["broker"]["status"] == "ok"


def test_ready_names_an_unreachable_broker(database_url: str) -> None:
    settings = make_settings(database_url, REDIS_URL=f"redis://127.0.0.1:{_closed_port()}/0")
    with TestClient(app=create_app(settings)) as client:
        response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"]["status"], body["broker"]["status"]) == (
        "unavailable",
        "ok",
        "unavailable",
    )


def test_ready_names_an_unreachable_database() -> None:
    settings = make_settings(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/inkwell")
    with TestClient(app=create_app(settings)) as client:
        response = client.get("/health/ready")
        assert client.get("/health").status_code == 200
    assert response.status_code == 503
    assert response.json()["database"]["status"] == "unavailable"
    assert response.json()["broker"]["status"] == "ok"


def test_docs_are_served(client: TestClient[Litestar]) -> None:
    schema = client.get("/schema/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/auth/login" in schema.json()["paths"]
    for renderer in ("/schema", "/schema/swagger", "/schema/scalar"):
        page = client.get(renderer)
        assert page.status_code == 200, renderer
        assert "text/html" in page.headers["content-type"]


def test_unknown_route_is_a_json_404(client: TestClient[Litestar]) -> None:
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert problem(response) == about_blank(404, "Not Found")


def _requests_counted(client: TestClient[Litestar], labels: str) -> float:
    """The ``inkwell_http_requests_total`` sample with exactly these labels, 0 if there is none yet."""
    prefix = f"inkwell_http_requests_total{{{labels}}} "
    samples = [line for line in client.get("/metrics").text.splitlines() if line.startswith(prefix)]
    return float(samples[0].removeprefix(prefix)) if samples else 0.0


def test_metrics_count_requests_by_route_template(client: TestClient[Litestar]) -> None:
    post_404 = 'method="GET",route="/api/v1/posts/{post_id}",status="404"'
    unmatched = 'method="GET",route="<unmatched>",status="404"'
    before = _requests_counted(client, post_404), _requests_counted(client, unmatched)
    client.get("/api/v1/posts/00000000-0000-0000-0000-000000000000")
    # Unknown paths share one series, whatever was asked for.
    client.get("/nowhere/1")
    client.get("/nowhere/2")
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert (_requests_counted(client, post_404), _requests_counted(client, unmatched)) == (before[0] + 1, before[1] + 2)
    assert 'inkwell_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/posts/{post_id}"}' in (
        metrics.text
    )
    # Scrapes are not traffic.
    assert 'route="/metrics"' not in metrics.text
