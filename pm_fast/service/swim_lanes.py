"""Swim lanes are read-only: nothing in the API creates them."""

from __future__ import annotations

from ..core.model import SwimLane
from ..store.base import Program, op
from .access import require
from .common import Ctx, resolve_project


def list_swim_lanes(ctx: Ctx, project_ident: str) -> Program[list[SwimLane]]:
    project = yield from resolve_project(project_ident)
    yield from require(ctx, project.id, "view")
    lanes: list[SwimLane] = yield from op(lambda tx: tx.lanes_by_project(project.id))
    return lanes
