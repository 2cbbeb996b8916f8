from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient


def test_health_is_cheap_and_public(client: TestClient[Litestar]) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


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
