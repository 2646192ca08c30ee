"""The built-in PKI for tests (issue 19), a pytest plugin registered in conftest.py.

* `pki_dir`: a directory holding an initialised PKI (all of adapters/pki/profiles.py
  HIERARCHY: csms-root, csms-sub, csms-server, v2g-root, cpo-sub1/2, mo-root, mo-sub1/2,
  oem-root, oem-sub1/2, cps-sub1/2, cps-leaf), made once per session (~0.2 s, EC P-256).
  Organisation "Ampyre Test"; the csms-server certificate is valid for localhost,
  127.0.0.1 and ::1. Treat it as read-only (tests share it).
* `local_pki`: `LocalPki.load(pki_dir)` (no OCSP URL in what it issues; load your own
  with `LocalPki.load(pki_dir, ocsp_url=...)` to get one).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ampyre.adapters.pki import LocalPki, init_pki

PKI_ORGANISATION = "Ampyre Test"


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    init_pki(directory, PKI_ORGANISATION)
    return directory


@pytest.fixture(scope="session")
def local_pki(pki_dir: Path) -> LocalPki:
    return LocalPki.load(pki_dir)
