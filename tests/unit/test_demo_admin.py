"""`make run`'s demo admin password: made once (0600), reused, overridable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ampyre import demo
from ampyre.domain.users import PASSWORD_MIN


def test_demo_admin_password_is_kept_private_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AMPYRE_BOOTSTRAP_ADMIN_PASSWORD", raising=False)
    demo.VAR.mkdir()
    first = demo._demo_admin_password()
    assert len(first) >= PASSWORD_MIN
    mode = stat.S_IMODE(demo.ADMIN_PASSWORD_FILE.stat().st_mode)
    assert mode == 0o600
    assert demo._demo_admin_password() == first  # the next run signs in the same way
    monkeypatch.setenv("AMPYRE_BOOTSTRAP_ADMIN_PASSWORD", "from the environment")
    assert demo._demo_admin_password() == "from the environment"
    monkeypatch.delenv("AMPYRE_BOOTSTRAP_ADMIN_PASSWORD")
    demo.ADMIN_PASSWORD_FILE.write_text("\n")
    fresh = demo._demo_admin_password()
    assert fresh and fresh != first
