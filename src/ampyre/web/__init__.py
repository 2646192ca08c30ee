"""The operator dashboard: a small client app (plain ES modules, no build step, no CDN)
served by `ampyre serve` next to the REST API, which it uses like any other client."""

from ampyre.web.assets import STATIC_DIR, install_dashboard

__all__ = ["STATIC_DIR", "install_dashboard"]
