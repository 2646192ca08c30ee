"""The roots a contract certificate may chain to (Plug & Charge, Authorize with a
certificate): the built-in PKI's MO and V2G roots (`<pki_dir>/mo-root.pem`,
`v2g-root.pem`, when `ampyre pki init` made them) and an operator's PEM bundle
(setting pnc_trusted_roots); and the CA certificates known to issue contract
certificates (those roots and the PKI's MO sub-CAs), whose OCSP answers can then be
verified. Files are read again when they change (a PKI initialised after the server
started counts at once), else served from memory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

BUILTIN_ROOTS: Final = ("mo-root", "v2g-root")
BUILTIN_ISSUERS: Final = ("mo-sub1", "mo-sub2")


class PemFiles:
    """The texts of some PEM files, each re-read when its modification time changes."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths = paths
        self._seen: dict[Path, tuple[float, str]] = {}

    def __call__(self) -> list[str]:
        texts: list[str] = []
        for path in self._paths:
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue  # not there (yet): the PKI may not be initialised
            cached = self._seen.get(path)
            if cached is None or cached[0] != mtime:
                try:
                    cached = (mtime, path.read_text(encoding="ascii"))
                except (OSError, UnicodeError) as exc:
                    log.error("certificate file %s is unreadable: %s", path, exc)
                    continue
                self._seen[path] = cached
            texts.append(cached[1])
        return texts


def trusted_roots(pki_dir: str, bundle: str = "") -> PemFiles:
    paths = [Path(pki_dir) / f"{name}.pem" for name in BUILTIN_ROOTS] if pki_dir else []
    if bundle:
        paths.append(Path(bundle))
    return PemFiles(paths)


def known_issuers(pki_dir: str, bundle: str = "") -> PemFiles:
    """The roots and the built-in PKI's MO sub-CAs."""
    names = (*BUILTIN_ROOTS, *BUILTIN_ISSUERS)
    paths = [Path(pki_dir) / f"{name}.pem" for name in names] if pki_dir else []
    if bundle:
        paths.append(Path(bundle))
    return PemFiles(paths)
