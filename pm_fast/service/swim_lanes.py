"""Swim lanes are read-only: nothing in the API creates them."""

from __future__ import annotations

from ..core.model import SwimLane
from ..store.base import Program, db
from .common import resolve_project


def list_swim_lanes(project_ident: str) -> Program[list[SwimLane]]:
    project = yield from resolve_project(project_ident)
    lanes: list[SwimLane] = yield db.lanes_by_project(project.id)
    return lanes
