"""bench.path_cost: the socket-free measurement of Ampyre's own per-message path."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench import path_cost

from ampyre.domain.models import OcppVersion


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201])
async def test_every_message_is_answered_and_its_cost_measured(
    tmp_path: Path, version: OcppVersion
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/path.db"
    result = await path_cost.measure(url, version, stations=4, rounds=25, profile=False)
    assert result["messages"] == 100
    assert result["answered"] == 100  # a CALLRESULT for each
    assert result["errors"] == 0
    assert result["cpu_us"] > 0 and result["main_us"] > 0
