"""shared.ids.new_id: RFC 4122 version-4 UUID text as str(uuid.uuid4()) gives (checked by the
standard library's own parser), unique, and using every random bit it should."""

import uuid

from shared.ids import new_id


def test_ids_are_version_4_uuids_in_canonical_text():
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for i in ids[:2000]:
        u = uuid.UUID(i)
        assert (u.version, u.variant) == (4, uuid.RFC_4122) and str(u) == i
    # The 122 random bits vary: every hex position outside the fixed version nibble takes many values.
    for pos in (p for p in range(36) if p not in (8, 13, 14, 18, 23)):
        assert len({i[pos] for i in ids}) >= (4 if pos == 19 else 16)
