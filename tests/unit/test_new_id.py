"""`new_id`: the ids of new rows and broadcast frames are random version 4 UUIDs in the
canonical text `str(uuid.uuid4())` gives (lower case, 8-4-4-4-12)."""

from __future__ import annotations

import re
import uuid
from collections import Counter

from pm_fast.service.common import new_id

CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def test_new_ids_are_canonical_random_version_4_uuids() -> None:
    ids = [new_id() for _ in range(4000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        assert CANONICAL.fullmatch(text), text
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
    # every random position takes every hex digit (the fixed ones only theirs): no
    # nibble is lost or stuck; 4000 draws of 16 values leave none out by chance
    for pos in range(36):
        seen = Counter(text[pos] for text in ids)
        if pos in (8, 13, 18, 23):
            assert set(seen) == {"-"}
        elif pos == 14:
            assert set(seen) == {"4"}
        elif pos == 19:
            assert set(seen) == set("89ab")
        else:
            assert set(seen) == set("0123456789abcdef"), pos
