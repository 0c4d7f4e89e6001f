"""The built-in controllers as one service: a manager per repository, started and stopped
together (``gitstore controllers``, and ``serve`` against its own API).

``ControllersService(settings.controllers, api_url=...)``: one :class:`ApiClient` with the
controller token, per repository a :class:`Manager` running the enabled built-ins
(``readiness``, ``revalidation``) under one lease named ``builtin`` per repository.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from gitstore.config import ControllersSettings
from gitstore.domain.errors import InvalidArgument

from .builtin.readiness import ReadinessController
from .builtin.revalidation import RevalidationController
from .client import ApiClient
from .controller import Controller
from .manager import Manager, default_identity
from .metrics import ControllerMetrics

log = logging.getLogger("gitstore.controllers")

BUILTIN = ("readiness", "revalidation")


def builtin_controllers(settings: ControllersSettings) -> list[Controller]:
    unknown = [n for n in settings.enabled_list() if n not in BUILTIN]
    if unknown:
        raise InvalidArgument(
            f"GITSTORE_CONTROLLERS__ENABLED: unknown controller(s) {unknown}; known: {BUILTIN}",
            field="controllers.enabled",
        )
    made: list[Controller] = []
    for name in settings.enabled_list():
        if name == "readiness":
            made.append(ReadinessController())
        elif name == "revalidation":
            secret = settings.revalidate_secret
            made.append(
                RevalidationController(
                    settings.revalidate_url_list(),
                    secret.get_secret_value() if secret is not None else "",
                )
            )
    return made


class ControllersService:
    name = "controllers"

    def __init__(
        self,
        settings: ControllersSettings,
        *,
        api_url: Callable[[], str] | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if not settings.repository_list():
            raise InvalidArgument(
                "GITSTORE_CONTROLLERS__REPOSITORIES: name at least one namespace/repo",
                field="controllers.repositories",
            )
        if settings.token is None:
            raise InvalidArgument(
                "GITSTORE_CONTROLLERS__TOKEN: a controller token (scopes READ, STATUS) is needed",
                field="controllers.token",
            )
        builtin_controllers(settings)  # bad names fail here, before anything starts
        self.settings = settings
        self._api_url = api_url or (lambda: settings.api_url)
        self.metrics = ControllerMetrics(registry)
        self.managers: list[Manager] = []
        self._client: ApiClient | None = None

    async def start(self) -> None:
        s = self.settings
        assert s.token is not None
        self._client = ApiClient(self._api_url(), s.token.get_secret_value())
        identity = s.identity or default_identity()
        for repository in s.repository_list():
            manager = Manager(
                self._client,
                repository,
                builtin_controllers(s),
                identity=identity,
                lease_name="builtin",
                lease_seconds=s.lease_seconds,
                workers=s.workers,
                metrics=self.metrics,
            )
            await manager.start()
            self.managers.append(manager)
        log.info(
            "controllers %s started for %s as %s",
            ",".join(s.enabled_list()),
            ",".join(s.repository_list()),
            identity,
        )

    async def stop(self) -> None:
        for manager in self.managers:
            await manager.stop(self.settings.shutdown_seconds)
        if self._client is not None:
            await self._client.close()
        log.info("controllers stopped")
