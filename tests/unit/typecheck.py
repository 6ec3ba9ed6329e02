"""Run mypy --strict on a snippet, for tests that a mistake is a type error."""

from __future__ import annotations

from pathlib import Path


def mypy_errors(tmp_path: Path, name: str, source: str) -> tuple[int, list[tuple[int, str]], str]:
    """mypy's exit status, its errors as (line, message) in line order, and its output,
    for `source` written to `tmp_path / name` (with a cache of its own there)."""
    from mypy import api

    path = tmp_path / name
    path.write_text(source)
    out, _, status = api.run(
        ["--strict", "--no-error-summary", "--cache-dir", str(tmp_path / "cache"), str(path)]
    )
    errors = sorted(
        (int(line.split(":")[1]), line.split("error: ")[1])
        for line in out.splitlines()
        if ": error: " in line
    )
    return status, errors, out
