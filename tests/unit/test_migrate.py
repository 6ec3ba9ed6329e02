"""`pm_fast.migrate`'s pieces that need no database: the checksum's normalisation,
the progress output and the command line (the copies themselves are black-box tested
in tests/blackbox/test_migrate.py)."""

from __future__ import annotations

import io

from pm_fast import migrate


def digest(*rows: tuple[object, ...]) -> str:
    d = migrate.Digest()
    d.add(list(rows))
    return d.hex


def test_checksum_ignores_order_but_counts_duplicates() -> None:
    a, b = ("id-1", 1, None), ("id-2", 2, "ü ✓")
    assert digest(a, b) == digest(b, a)
    assert digest(a, a, b) != digest(a, b)
    assert digest() == "0" * 32


def test_checksum_sees_a_value_that_changed_type() -> None:
    """What the drivers return is compared as is: an integer that came back as text, or
    a boolean that was not normalised to 0/1, is a mismatch rather than a match."""
    assert digest(("x", 5)) != digest(("x", "5"))
    assert digest(("x", 1)) != digest(("x", True))


def test_checksum_sees_null_versus_empty_and_large_integers() -> None:
    assert digest(("x", None)) != digest(("x", ""))
    assert digest(("x", 2**62)) != digest(("x", 2**62 + 1))


def test_progress_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    p = migrate.Progress(out, quiet=False)
    p.start("pm_work_items", 10)
    for _ in range(10):
        p.advance(1)
    p.finish(0.5)
    lines = out.getvalue().splitlines()
    assert lines[0] == "pm_work_items: copying 10 rows"
    assert "pm_work_items: 2/10 rows" in lines
    assert lines[-1] == "pm_work_items: copied 10 rows in 0.50 s"
    quiet = io.StringIO()
    q = migrate.Progress(quiet, quiet=True)
    q.start("users", 1)
    q.advance(1)
    q.finish(0.1)
    assert quiet.getvalue() == ""


def test_usage_errors() -> None:
    err = io.StringIO()
    assert migrate.main(["--from", "a.db"], err) == 2
    assert "--from and --to are required" in err.getvalue()
    err = io.StringIO()
    assert migrate.main(["--from", "a.db", "--to", "b.db"], err) == 2
    assert "postgresql://" in err.getvalue()
    err = io.StringIO()
    assert migrate.main(["--from", "a.db", "--to", "postgresql://x/y", "--force"], err) == 2
    assert "unknown option '--force'" in err.getvalue()
