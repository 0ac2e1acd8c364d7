"""`store`: each hub test that asks for it runs on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from careplan_link.hub import HubStore

from ..stores import open_test_store, store_params


@pytest.fixture(params=store_params())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubStore]:
    opened = open_test_store(request.param, tmp_path)
    yield opened
    opened.close()
