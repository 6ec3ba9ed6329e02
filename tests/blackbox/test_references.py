"""References stay inside a project the caller may write (docs/compat.md).

Bob, who is no member of Alice's private project, must not reach into it through a
reference: a story of his under her epic, his task moved under her story or into her
sprint. Each such write is refused and leaves her project as it was: her epic still
deletes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pm_fast.api import pm_pb2 as pb

from .wsclient import ServerProcess, assert_error, clients, module_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from module_server(tmp_path_factory, "ws-references")


async def test_no_reference_into_another_project(srv: ServerProcess) -> None:
    async with clients(srv.port, "new", "new") as (alice, bob):
        hers = await alice.project()
        epic = await alice.item(hers.id, pb.EPIC)
        story = await alice.item(hers.id, pb.STORY, parent_id=epic.id)
        sprint = await alice.sprint(hers.id)

        his = await bob.project()
        err = await bob.error(
            "create_work_item_request",
            project_id=his.id,
            item_type=pb.STORY,
            title="mine, under hers",
            parent_id=epic.id,
        )
        assert_error(err, "VALIDATION_ERROR", "same project", field="parent_id")

        his_story = await bob.item(his.id, pb.STORY)
        err = await bob.error(
            "update_work_item_request",
            work_item_id=his_story.id,
            expected_version=his_story.version,
            parent_id=epic.id,
            update_parent=True,
        )
        assert_error(err, "VALIDATION_ERROR", "same project", field="parent_id")

        his_task = await bob.item(his.id, pb.TASK)
        err = await bob.error(
            "update_work_item_request",
            work_item_id=his_task.id,
            expected_version=his_task.version,
            parent_id=story.id,
            update_parent=True,
        )
        assert_error(err, "VALIDATION_ERROR", "same project", field="parent_id")
        err = await bob.error(
            "update_work_item_request",
            work_item_id=his_task.id,
            expected_version=his_task.version,
            sprint_id=sprint.id,
        )
        assert_error(err, "VALIDATION_ERROR", "same project", field="sprint_id")

        # her project is untouched: the story is her epic's only child, and both delete
        listed = await alice.call("get_work_items_request", project_id=hers.id)
        assert sorted(w.id for w in listed.work_items) == sorted([epic.id, story.id])
        await alice.call("delete_work_item_request", work_item_id=story.id)
        await alice.call("delete_work_item_request", work_item_id=epic.id)
        # and Bob's items kept their own values
        mine = await bob.call("get_work_items_request", project_id=his.id)
        by_id = {w.id: w for w in mine.work_items}
        assert not by_id[his_task.id].HasField("parent_id")
        assert not by_id[his_task.id].HasField("sprint_id")
        assert by_id[his_task.id].version == his_task.version
