"""``h``: the harness (tests/bot_harness.py), checked after every test."""

from __future__ import annotations

import pytest

from tests.bot_harness import Harness, mentions_off_everywhere


@pytest.fixture
async def h(tmp_path):
    async with Harness.open(tmp_path) as harness:
        yield harness
        # Whatever a test did: every message went out with mentions off, through routes Discord has.
        assert mentions_off_everywhere(harness.double) == []
        assert harness.double.unhandled_requests == []
