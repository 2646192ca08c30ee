"""What the REST API needs from the rest of the process (built by the composition root)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ampyre.config import Settings
from ampyre.metrics import Metrics
from ampyre.services.commands import CommandRouter
from ampyre.services.ports import Store
from ampyre.services.stations import StationService
from ampyre.services.tokens import TokenService

ReadyCheck = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class ApiDeps:
    settings: Settings
    store: Store
    stations: StationService
    tokens: TokenService
    commands: CommandRouter
    metrics: Metrics
    # Each raises when a dependency is unreachable (store.ping, bus ping, ...).
    ready_checks: list[ReadyCheck] = field(default_factory=list)
