from __future__ import annotations

import socket

from litestar import Litestar
from litestar.testing import TestClient

from app.application import create_app
from tests.conftest import make_settings


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
    assert response.json() == {"status_code": 404, "detail": "Not Found"}


def test_metrics_count_requests_by_route_template(client: TestClient[Litestar]) -> None:
    client.get("/api/v1/posts/00000000-0000-0000-0000-000000000000")
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    lines = [line for line in metrics.text.splitlines() if line.startswith("litestar_requests_total{")]
    assert any(
        'app_name="inkwell"' in line and 'path="/api/v1/posts/{post_id}"' in line and 'status_code="404"' in line
        for line in lines
    ), lines
    assert 'litestar_request_duration_seconds_bucket{app_name="inkwell"' in metrics.text
