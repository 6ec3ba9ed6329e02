"""§1.7 health and admin endpoints, §1.1 CORS and media types."""

from __future__ import annotations

import httpx

from .helpers import assert_keys, ok


def test_health_body(api: httpx.Client) -> None:
    r = api.get("/health")
    body = ok(r)
    assert body == {"status": "ok", "version": "0.1.4"}
    assert_keys(body, ["status", "version"])


def test_health_ignores_user_header(api: httpx.Client) -> None:
    body = ok(api.get("/health", headers={"X-User-Id": "garbage"}))
    assert body == {"status": "ok", "version": "0.1.4"}


def test_live_is_empty_200(api: httpx.Client) -> None:
    r = api.get("/live")
    assert r.status_code == 200
    assert r.content == b""


def test_ready_shape(api: httpx.Client) -> None:
    body = ok(api.get("/ready"))
    assert_keys(body, ["status", "version", "database", "circuit_breaker"])
    assert body["status"] == "healthy"
    assert body["version"] == "0.1.4"
    assert_keys(body["database"], ["status", "latency_ms"])
    assert body["database"]["status"] == "healthy"
    lat = body["database"]["latency_ms"]
    assert isinstance(lat, int) and not isinstance(lat, bool) and lat >= 0
    assert body["circuit_breaker"] == {"state": "Closed"}


def test_admin_checkpoint(api: httpx.Client) -> None:
    body = ok(api.post("/admin/checkpoint"))
    assert body == {"status": "ok", "message": "Database checkpoint completed"}
    assert_keys(body, ["status", "message"])


def test_admin_checkpoint_twice_still_ok(api: httpx.Client) -> None:
    for _ in range(2):
        assert ok(api.post("/admin/checkpoint"))["status"] == "ok"


def test_health_wrong_method_405(api: httpx.Client) -> None:
    from .helpers import assert_error

    assert_error(api.post("/health"), 405, "METHOD_NOT_ALLOWED")
    assert_error(api.get("/admin/shutdown"), 405, "METHOD_NOT_ALLOWED")
    assert_error(api.get("/admin/checkpoint"), 405, "METHOD_NOT_ALLOWED")


def test_cors_simple_request(api: httpx.Client) -> None:
    # Only configured origins get CORS headers (docs/compat.md; tests in test_origins.py).
    r = api.get("/api/v1/projects", headers={"Origin": "http://localhost:8080"})
    assert r.status_code == 200
    assert r.headers.get("access-control-allow-origin") == "http://localhost:8080"
    r = api.get("/api/v1/projects", headers={"Origin": "http://example.test"})
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers


def test_cors_preflight(api: httpx.Client) -> None:
    r = api.request(
        "OPTIONS",
        "/api/v1/projects",
        headers={
            "Origin": "tauri://localhost",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-user-id",
        },
    )
    assert r.status_code == 200
    assert r.headers.get("access-control-allow-origin") == "tauri://localhost"
    methods = r.headers.get("access-control-allow-methods", "")
    assert methods == "*" or "POST" in methods.upper()
    allowed = r.headers.get("access-control-allow-headers", "")
    assert "*" in allowed or "x-user-id" in allowed.lower()


def test_json_content_type_on_api(api: httpx.Client) -> None:
    r = api.get("/api/v1/projects")
    assert r.headers["content-type"].split(";")[0] == "application/json"


def test_admin_checkpoint_truncates_wal(api: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    from .helpers import create_project

    create_project(api)
    wal = server.db_path.with_name(server.db_path.name + "-wal")
    assert ok(api.post("/admin/checkpoint"))["status"] == "ok"
    assert not wal.exists() or wal.stat().st_size == 0
