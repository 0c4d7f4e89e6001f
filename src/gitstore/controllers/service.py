"""The built-in controllers as one service: a manager per repository, started and stopped
together (``gitstore controllers``, and ``serve`` against its own API).

``ControllersService(settings.controllers, api_url=...)``: one :class:`ApiClient` with the
controller token, per repository a :class:`Manager` running the enabled built-ins
(``readiness``, ``revalidation``) under one lease named ``builtin`` per repository. The
repositories are discovered (``discovery``: ``*``, ``namespace/*`` or names, a filter over
what the token can read) at start and every ``discover_seconds``: a new repository gets a
manager without a restart, a deleted (or no longer readable) one has its manager stopped.
An API that cannot be reached keeps the managers running and is asked again next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from gitstore.config import ControllersSettings
from gitstore.domain.errors import InvalidArgument

from .builtin.descriptions import DescriptionController
from .builtin.quality import QualityController
from .builtin.readiness import ReadinessController
from .builtin.revalidation import RevalidationController
from .client import ApiClient
from .controller import Controller
from .discovery import RepositoryFilter, discover
from .errors import ControllerError
from .manager import Manager, default_identity
from .metrics import ControllerMetrics
from .model import ModelClient, check_model

log = logging.getLogger("gitstore.controllers")

BUILTIN = ("readiness", "revalidation", "quality", "descriptions")


def model_client(settings: ControllersSettings) -> ModelClient | None:
    """The model adapter of ``settings`` (``None`` unless ``model_url`` is set)."""
    if not settings.model_url:
        return None
    key = settings.model_key.get_secret_value() if settings.model_key is not None else None
    return ModelClient(
        settings.model_url,
        key,
        settings.model_name,
        timeout=settings.model_timeout,
        retries=settings.model_retries,
    )


def check_builtin(settings: ControllersSettings) -> None:
    """Refuse, naming the setting: unknown names, ``descriptions`` without a model, a bad
    model URL or a missing model name."""
    unknown = [n for n in settings.enabled_list() if n not in BUILTIN]
    if unknown:
        raise InvalidArgument(
            f"GITSTORE_CONTROLLERS__ENABLED: unknown controller(s) {unknown}; known: {BUILTIN}",
            field="controllers.enabled",
        )
    if "descriptions" in settings.enabled_list() and not settings.model_url:
        raise InvalidArgument(
            "GITSTORE_CONTROLLERS__ENABLED: 'descriptions' needs a model: set "
            "GITSTORE_CONTROLLERS__MODEL_URL (and MODEL_NAME, MODEL_KEY)",
            field="controllers.model_url",
        )
    if settings.model_url:
        try:
            check_model(settings.model_url, settings.model_name)
        except ValueError as exc:
            raise InvalidArgument(
                f"GITSTORE_CONTROLLERS__MODEL_*: {exc}", field="controllers.model_url"
            ) from exc


def builtin_controllers(
    settings: ControllersSettings,
    metrics: ControllerMetrics | None = None,
    model: ModelClient | None = None,
) -> list[Controller]:
    """The enabled built-ins (``descriptions`` with ``model``, made by :func:`model_client`)."""
    check_builtin(settings)
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
        elif name == "quality":
            made.append(QualityController(max_open=settings.proposals_max_open, metrics=metrics))
        elif name == "descriptions":
            if model is None:
                raise InvalidArgument("the descriptions controller needs a model client")
            made.append(
                DescriptionController(model, max_open=settings.proposals_max_open, metrics=metrics)
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
        self.filter = RepositoryFilter.parse(settings.repository_list())
        if settings.token is None:
            raise InvalidArgument(
                "GITSTORE_CONTROLLERS__TOKEN: a controller token (scopes READ, STATUS) is needed",
                field="controllers.token",
            )
        check_builtin(settings)  # bad names and model settings fail here, before anything starts
        self.settings = settings
        self._api_url = api_url or (lambda: settings.api_url)
        self.metrics = ControllerMetrics(registry)
        self.managers: dict[str, Manager] = {}
        self._client: ApiClient | None = None
        self._model: ModelClient | None = None
        self._identity = ""
        self._discovering: asyncio.Task[None] | None = None
        self.discovered = asyncio.Event()  # set after each completed discovery round

    async def start(self) -> None:
        s = self.settings
        assert s.token is not None
        self._client = ApiClient(self._api_url(), s.token.get_secret_value())
        self._identity = s.identity or default_identity()
        if "descriptions" in s.enabled_list():
            self._model = model_client(s)
        try:
            await self.sync()
        except ControllerError as exc:  # the API is not up yet: the loop asks again
            log.warning("controllers: cannot list repositories yet: %s", exc)
        self._discovering = asyncio.create_task(self._discover_forever(), name="discovery")
        log.info(
            "controllers %s started for %s as %s",
            ",".join(s.enabled_list()),
            ",".join(s.repository_list()),
            self._identity,
        )

    async def sync(self) -> None:
        """One discovery round: start managers for new repositories, stop those of gone ones."""
        assert self._client is not None
        found = await discover(self._client, self.filter)
        for repository in sorted(found - self.managers.keys()):
            manager = Manager(
                self._client,
                repository,
                builtin_controllers(self.settings, self.metrics, self._model),
                identity=self._identity,
                lease_name="builtin",
                lease_seconds=self.settings.lease_seconds,
                workers=self.settings.workers,
                metrics=self.metrics,
            )
            await manager.start()
            self.managers[repository] = manager
            log.info("controllers: managing %s", repository)
        for repository in sorted(self.managers.keys() - found):
            await self.managers.pop(repository).stop(self.settings.shutdown_seconds)
            log.info("controllers: %s is gone, its manager stopped", repository)
        self.discovered.set()

    async def _discover_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.discover_seconds)
            try:
                await self.sync()
            except ControllerError as exc:
                log.warning("controllers: listing repositories failed (kept as is): %s", exc)
            except Exception:
                log.exception("controllers: discovery round failed (kept as is)")

    async def stop(self) -> None:
        if self._discovering is not None:
            self._discovering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._discovering
            self._discovering = None
        for manager in self.managers.values():
            await manager.stop(self.settings.shutdown_seconds)
        self.managers.clear()
        if self._client is not None:
            await self._client.close()
        if self._model is not None:
            await self._model.close()
        log.info("controllers stopped")
