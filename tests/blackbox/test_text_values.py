"""Text values at what each store can hold (docs/compat.md, "Text PostgreSQL cannot hold").

SQLite stores any text, the NUL character and very long keys included, as the original
does. PostgreSQL cannot: its text has no NUL, and a value in an indexed column (a
project key, the message id an idempotent create is remembered by) must fit a B-tree
entry, about 2,700 bytes. There such a value is refused as invalid (VALIDATION_ERROR,
400 over REST) instead of failing as a database error (500), nothing is written, and
the project keeps working.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator

import httpx
import pytest
from harness import ON_POSTGRES

from pm_fast.api import pm_pb2 as pb

from .wsclient import ServerProcess, case_of, clients, module_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(tmp_path_factory, "text")


@pytest.fixture
def api(srv: ServerProcess) -> Iterator[httpx.Client]:
    with srv.client() as c:
        yield c


def noise(n: int) -> str:
    """`n` characters that do not compress (PostgreSQL compresses index entries)."""
    rng = random.Random(n)
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def project(api: httpx.Client, key: str) -> str:
    r = api.post("/api/v1/projects", json={"title": key, "key": key})
    assert r.status_code == 200, r.text
    return str(r.json()["project"]["id"])


def refused(r: httpx.Response, words: str) -> None:
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "VALIDATION_ERROR", error
    assert words in error["message"], error


def titles(api: httpx.Client, pid: str) -> list[str]:
    r = api.get(f"/api/v1/projects/{pid}/work-items")
    assert r.status_code == 200, r.text
    return sorted(w["title"] for w in r.json()["work_items"])


def test_nul_in_text_over_rest(api: httpx.Client) -> None:
    pid = project(api, "NULR")
    body = {"project_id": pid, "item_type": "task", "title": "a\u0000b", "description": "x"}
    r = api.post("/api/v1/work-items", json=body)
    if ON_POSTGRES:
        refused(r, "NUL character")
        assert titles(api, pid) == []
    else:
        assert r.status_code == 200, r.text
        assert r.json()["work_item"]["title"] == "a\u0000b"
    # a lookup by such a key: nothing can match it
    r = api.get("/api/v1/projects/A%00B")
    if ON_POSTGRES:
        refused(r, "NUL character")
    else:
        assert r.status_code == 404, r.text
    ok = api.post("/api/v1/work-items", json={**body, "title": "fine"})
    assert ok.status_code == 200, ok.text
    assert "fine" in titles(api, pid)


def test_too_long_for_an_index_over_rest(api: httpx.Client) -> None:
    key = noise(4000).upper()
    r = api.post("/api/v1/projects", json={"title": "long key", "key": key})
    if ON_POSTGRES:
        refused(r, "too long")
        assert all(p["key"] != key for p in api.get("/api/v1/projects").json()["projects"])
    else:
        assert r.status_code == 200, r.text
        assert r.json()["project"]["key"] == key
    project(api, "AFTERLONG")


async def test_nul_and_long_message_ids_over_websocket(
    srv: ServerProcess, api: httpx.Client
) -> None:
    pid = project(api, "NULW")
    async with clients(srv.port, "new") as (c,):
        cases = [
            ("m-nul", {"title": "t", "description": "d\u0000"}, "NUL character"),
            (noise(4000), {"title": "long id"}, "too long"),
        ]
        for mid, fields, words in cases:
            reply, events = await c.request(
                "create_work_item_request",
                message_id=mid,
                project_id=pid,
                item_type=pb.TASK,
                **fields,
            )
            if ON_POSTGRES:
                assert case_of(reply) == "error", reply
                assert reply.error.code == "VALIDATION_ERROR", reply.error
                assert words in reply.error.message, reply.error
                assert events == []
            else:
                assert case_of(reply) == "work_item_created", reply
        made = await c.call(
            "create_work_item_request", project_id=pid, item_type=pb.TASK, title="after"
        )
        assert made.work_item.title == "after"
    expected = ["after"] if ON_POSTGRES else ["after", "long id", "t"]
    assert titles(api, pid) == expected
