"""`GET /api/v1/openapi.json` against the server that serves it: a valid OpenAPI 3.1
document, every route it names is served (and no other method on its paths), and the
answers of a real session match the schemas it gives for their status."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from openapi_schema_validator import OAS31Validator
from openapi_schema_validator import validate as validate_schema
from openapi_spec_validator import validate as validate_spec

from .helpers import uniq_key
from .wsclient import ServerProcess, running_server

METHODS = ("GET", "POST", "PUT", "DELETE")


class Checker:
    """Sends requests and checks each answer against the document."""

    def __init__(self, srv: ServerProcess, doc: dict[str, Any]) -> None:
        self.srv = srv
        self.doc = doc
        self.client = httpx.Client(base_url=srv.url, timeout=30.0, trust_env=False)
        self.seen: set[tuple[str, str, int]] = set()  # (method, template, status)
        self.templates = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", t) + "$"), t) for t in doc["paths"]
        ]

    def template(self, path: str) -> str:
        found = [t for rx, t in self.templates if rx.match(path)]
        # a literal path wins over a parameter (none overlap today)
        assert found, f"{path} is not in the document"
        best: str = min(found, key=lambda t: t.count("{"))
        return best

    def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        if path.startswith("/admin"):
            kwargs.setdefault("headers", self.srv.admin_headers())
        resp = self.client.request(method, path, **kwargs)
        assert resp.status_code == status, (method, path, resp.status_code, resp.text[:500])
        template = self.template(path)
        op = self.doc["paths"][template][method.lower()]
        responses = op["responses"]
        documented = responses.get(str(status)) or responses["default"]
        self.seen.add((method, template, status))
        media = documented.get("content", {})
        content = media.get("application/json")
        if content is None and media:  # another media type (GET /metrics: text)
            ((kind, content),) = media.items()
            assert resp.headers["content-type"].startswith(kind), (path, resp.headers)
            validate_schema(resp.text, content["schema"], cls=OAS31Validator)
            return resp.text
        if content is None:
            assert resp.content == b"", (method, path, resp.content[:200])
            return None
        body = resp.json()
        schema = {**content["schema"], "components": self.doc["components"]}
        validate_schema(body, schema, cls=OAS31Validator)
        return body


def test_document_matches_what_is_served(tmp_path: Path) -> None:
    with running_server(tmp_path) as srv:
        r = httpx.get(srv.url + "/api/v1/openapi.json", timeout=30.0, trust_env=False)
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        doc = r.json()
        validate_spec(doc)
        assert doc["openapi"] == "3.1.0"
        c = Checker(srv, doc)
        coverage(c)
        session(c)
        documented = {
            (m.upper(), t) for t, ops in doc["paths"].items() for m in ops if m != "parameters"
        }
        exercised = {(m, t) for m, t, _ in c.seen}
        assert documented - exercised == {("POST", "/admin/shutdown")}
        # last: the server stops
        c.call("POST", "/admin/shutdown", 202)
        assert srv.wait_exit(30) == 0
        c.client.close()


def concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), template)


def coverage(c: Checker) -> None:
    """Every documented method of every documented path is served (not the router's
    404 or 405), and every other method on those paths is 405."""
    for template, ops in c.doc["paths"].items():
        path = concrete(template)
        headers = c.srv.admin_headers() if path.startswith("/admin") else {}
        for method in METHODS:
            if (method, template) == ("POST", "/admin/shutdown"):
                continue  # exercised last
            kwargs: dict[str, Any] = {"headers": headers}
            if method in ("POST", "PUT"):
                kwargs["json"] = {}  # never a valid body: nothing is created
            resp = c.client.request(method, path, **kwargs)
            if method.lower() in ops:
                assert resp.status_code != 405, (method, template)
                if resp.status_code == 404:
                    assert "No route for" not in resp.text, (method, template)
            else:
                assert resp.status_code == 405, (method, template, resp.status_code)
                assert resp.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    # a path the document does not name is not served
    resp = c.client.get("/api/v1/not-a-collection")
    assert resp.status_code == 404 and "No route for" in resp.text


def session(c: Checker) -> None:
    """One of everything, each answer checked against its schema."""
    key = uniq_key()
    now = int(time.time())
    c.call("GET", "/health", 200)
    c.call("GET", "/live", 200)
    c.call("GET", "/ready", 200)
    c.call("POST", "/admin/checkpoint", 200)
    project = c.call("POST", "/api/v1/projects", 200, json={"title": "Doc", "key": key})["project"]
    pid = project["id"]
    c.call("GET", "/api/v1/projects", 200)
    c.call("GET", f"/api/v1/projects/{key}", 200)
    c.call("PUT", f"/api/v1/projects/{pid}", 200, json={"expected_version": 1, "title": "D2"})
    c.call("PUT", f"/api/v1/projects/{pid}", 409, json={"expected_version": 1, "title": "D3"})
    c.call("GET", f"/api/v1/projects/{uuid.uuid4()}", 404)
    c.call("POST", "/api/v1/projects", 415, content=b"{}")
    c.call("POST", "/api/v1/projects", 422, json={"title": 5, "key": "X"})
    sprint = c.call(
        "POST",
        "/api/v1/sprints",
        200,
        json={"project_id": pid, "name": "S1", "start_date": now, "end_date": now + 86400},
    )["sprint"]
    c.call("GET", f"/api/v1/sprints/{sprint['id']}", 200)
    c.call("GET", f"/api/v1/projects/{pid}/sprints", 200)
    c.call("PUT", f"/api/v1/sprints/{sprint['id']}", 200, json={"expected_version": 1, "goal": "g"})
    item = {"project_id": pid, "item_type": "epic", "title": "E"}
    epic = c.call("POST", "/api/v1/work-items", 200, json=item)["work_item"]
    story = c.call(
        "POST",
        "/api/v1/work-items",
        200,
        json={"project_id": pid, "item_type": "story", "title": "S", "parent_id": epic["id"]},
    )["work_item"]
    c.call("GET", f"/api/v1/work-items/{story['id']}", 200)
    c.call("GET", f"/api/v1/projects/{pid}/work-items", 200, params={"orphaned": "true"})
    c.call("GET", f"/api/v1/projects/{pid}/work-items", 400, params={"orphaned": "maybe"})
    c.call(
        "PUT",
        f"/api/v1/work-items/{story['id']}",
        200,
        json={"expected_version": 1, "sprint_id": sprint["id"], "story_points": 3},
    )
    comment = c.call(
        "POST", f"/api/v1/work-items/{story['id']}/comments", 200, json={"content": "hi"}
    )["comment"]
    c.call("GET", f"/api/v1/work-items/{story['id']}/comments", 200)
    c.call("PUT", f"/api/v1/comments/{comment['id']}", 200, json={"content": "hello"})
    dep = c.call(
        "POST",
        "/api/v1/dependencies",
        200,
        json={
            "blocking_item_id": epic["id"],
            "blocked_item_id": story["id"],
            "dependency_type": "blocks",
        },
    )
    c.call("GET", f"/api/v1/work-items/{story['id']}/dependencies", 200)
    entry = c.call("POST", "/api/v1/time-entries", 200, json={"work_item_id": story["id"]})[
        "time_entry"
    ]
    c.call("GET", f"/api/v1/time-entries/{entry['id']}", 200)
    c.call("GET", f"/api/v1/work-items/{story['id']}/time-entries", 200)
    c.call("PUT", f"/api/v1/time-entries/{entry['id']}", 200, json={"stop": True})
    c.call("GET", f"/api/v1/projects/{pid}/swim-lanes", 200)
    c.call("GET", f"/api/v1/projects/{pid}/events", 200, params={"since": 0, "limit": 5})
    exported = c.call("GET", "/api/v1/sync/export", 200)
    c.call("GET", "/api/v1/sync/export", 200, params={"work_item": story["id"], "comments": "true"})
    c.call("POST", "/api/v1/sync/import", 200, json=exported)
    c.call("GET", "/api/v1/openapi.json", 200)
    c.call("GET", "/metrics", 200)
    c.call("DELETE", f"/api/v1/time-entries/{entry['id']}", 200)
    c.call("DELETE", f"/api/v1/dependencies/{dep['id']}", 200)
    c.call("DELETE", f"/api/v1/comments/{comment['id']}", 200)
    c.call("DELETE", f"/api/v1/work-items/{epic['id']}", 400)  # it has a child
    c.call("DELETE", f"/api/v1/work-items/{story['id']}", 200)
    c.call("DELETE", f"/api/v1/work-items/{epic['id']}", 200)
    c.call("DELETE", f"/api/v1/sprints/{sprint['id']}", 200)
    c.call("DELETE", f"/api/v1/projects/{pid}", 200)
