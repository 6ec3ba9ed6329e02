"""The OpenAPI document (pm_fast/api/openapi.py) against the route table."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from pm_fast.api import openapi, rest
from pm_fast.core import model


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    built = openapi.build()
    return built


def routes_in(doc: dict[str, Any]) -> set[tuple[str, str]]:
    out = set()
    for path, ops in doc["paths"].items():
        for method in ops:
            out.add((method.upper(), path))
    return out


def table_routes() -> set[tuple[str, str]]:
    out = set()
    for method, pattern, _ in rest.ROUTES:
        path, _params = openapi._path(pattern)
        out.add((method, path))
    return out


def test_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises on an invalid document


def test_every_route_and_no_other(doc: dict[str, Any]) -> None:
    assert routes_in(doc) == table_routes()
    assert len(routes_in(doc)) == len(rest.ROUTES)
    assert ("GET", "/api/v1/openapi.json") in routes_in(doc)


def test_served_bytes_are_the_document(doc: dict[str, Any]) -> None:
    assert json.loads(openapi.document_bytes()) == json.loads(json.dumps(doc))


def test_path_parameters_named_and_required(doc: dict[str, Any]) -> None:
    for path, ops in doc["paths"].items():
        names = [seg[1:-1] for seg in path.split("/") if seg.startswith("{")]
        for op in ops.values():
            declared = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
            assert declared == names, path
            assert all(p["required"] for p in op.get("parameters", []) if p["in"] == "path")


def test_bodies_and_replies_come_from_the_types(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    create = doc["paths"]["/api/v1/work-items"]["post"]
    body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref.endswith("/CreateWorkItem")
    body = schemas["CreateWorkItem"]
    assert set(body["required"]) == {"project_id", "item_type", "title"}
    reply_ref = create["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    reply = schemas[reply_ref.rsplit("/", 1)[1]]
    assert reply["properties"]["work_item"]["$ref"].endswith("/WorkItem")
    assert set(schemas["WorkItem"]["properties"]) == set(model.WorkItem.__struct_fields__)
    # the one create answered with the bare entity
    dep = doc["paths"]["/api/v1/dependencies"]["post"]["responses"]["200"]
    assert dep["content"]["application/json"]["schema"]["$ref"].endswith("/Dependency")
    # error envelope on every operation
    for ops in doc["paths"].values():
        for op in ops.values():
            default = op["responses"]["default"]["content"]["application/json"]["schema"]
            assert default == {"$ref": "#/components/schemas/Error"}
    listing = doc["paths"]["/api/v1/projects/{project_id}/work-items"]["get"]
    query = {p["name"]: p["schema"] for p in listing["parameters"] if p["in"] == "query"}
    assert set(query) == set(rest._LIST_FIELDS)
    assert query["orphaned"]["type"] == "boolean"
    export = doc["paths"]["/api/v1/sync/export"]["get"]
    assert {p["name"] for p in export["parameters"]} == set(rest._EXPORT_FIELDS)


def test_undocumented_route_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    async def stray(app: Any, req: Any, p: list[str]) -> Any:
        raise AssertionError

    monkeypatch.setattr(rest, "ROUTES", [*rest.ROUTES, ("GET", "/api/v1/stray", stray)])
    with pytest.raises(LookupError, match="/api/v1/stray"):
        openapi.build()
