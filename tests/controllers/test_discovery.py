"""Controllers discover their repositories (docs/controllers.md, "Which repositories"):
``*``, ``namespace/*`` or names, against a real ``gitstore serve``; a repository created
after start is picked up without a restart (``gitstore controllers`` as an OS process), a
deleted one has its manager stopped."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys

import pytest
from pydantic import SecretStr

from gitstore.config import ControllersSettings
from gitstore.controllers.discovery import RepositoryFilter, discover
from gitstore.controllers.service import ControllersService
from gitstore.domain.errors import InvalidArgument
from tests.e2e.flows import create_namespace, create_repository
from tests.e2e.served import ROOT

from .harness import Catalog, apply, category, good_spec, product
from .test_cli import ready

DELETE_REPOSITORY = """mutation($i: DeleteRepositoryInput!) { deleteRepository(input: $i) {
  deletedFullName userErrors { code message } } }"""
_names = itertools.count(1)


def namespace(catalog: Catalog) -> str:
    identifier = f"disc-{next(_names)}"
    create_namespace(catalog.served, catalog.owner_token, identifier)
    return identifier


def test_entries_are_checked_and_name_the_bad_one() -> None:
    wanted = RepositoryFilter.parse(["acme/*", "shop/main"])
    assert wanted.matches("acme/any") and wanted.matches("shop/main")
    assert not wanted.matches("shop/other") and not wanted.matches("other/main")
    assert wanted.namespaces_to_scan() == {"acme", "shop"}
    assert RepositoryFilter.parse(["*"]).namespaces_to_scan() is None
    for bad in (["acme"], ["acme/*/x"], ["*/x"], ["a b/c"], []):
        with pytest.raises(InvalidArgument) as refused:
            RepositoryFilter.parse(bad)
        assert "GITSTORE_CONTROLLERS__REPOSITORIES" in str(refused.value)
        if bad:
            assert repr(bad[0]) in str(refused.value)


async def test_discover_lists_what_the_entries_select(catalog: Catalog) -> None:
    first, second = namespace(catalog), namespace(catalog)
    a = create_repository(catalog.served, catalog.owner_token, f"{first}/a")
    b = create_repository(catalog.served, catalog.owner_token, f"{first}/b")
    c = create_repository(catalog.served, catalog.owner_token, f"{second}/c")
    client = catalog.controller()
    try:
        assert await discover(client, RepositoryFilter.parse([f"{first}/*"])) == {a, b}
        named = RepositoryFilter.parse([c, "missing-ns/x", f"{first}/not-yet"])
        assert await discover(client, named) == {c}
        assert {a, b, c} <= await discover(client, RepositoryFilter.parse(["*"]))
    finally:
        await client.close()


async def test_managers_follow_repositories_being_created_and_deleted(catalog: Catalog) -> None:
    ns = namespace(catalog)
    settings = ControllersSettings(
        api_url=catalog.url,
        token=SecretStr(catalog.controller_token),
        repositories=f"{ns}/*",
        enabled="readiness",
        discover_seconds=3600,  # rounds driven by the test (sync)
    )
    service = ControllersService(settings)
    await service.start()
    try:
        assert service.managers == {}
        repo = create_repository(catalog.served, catalog.owner_token, f"{ns}/late")
        await service.sync()
        assert set(service.managers) == {repo}
        name = repo.split("/")[1]
        deleted = catalog.served.data(
            DELETE_REPOSITORY, {"i": {"namespace": ns, "name": name}}, catalog.owner_token
        )
        assert deleted["deleteRepository"]["userErrors"] == [], deleted
        await service.sync()
        assert service.managers == {}
    finally:
        await service.stop()


async def test_gitstore_controllers_picks_up_a_new_repository_without_restart(
    catalog: Catalog,
) -> None:
    ns = namespace(catalog)
    env = {
        **os.environ,
        "GITSTORE_CONTROLLERS__API_URL": catalog.url,
        "GITSTORE_CONTROLLERS__TOKEN": catalog.controller_token,
        "GITSTORE_CONTROLLERS__DISCOVER_SECONDS": "0.5",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitstore", "controllers", "--repositories", f"{ns}/*",
         "--enabled", "readiness"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        repo = create_repository(catalog.served, catalog.owner_token, f"{ns}/new")  # after start
        owner = catalog.owner()
        await apply(owner, repo, [category("shirts"), product("p", **good_spec(f"{repo}-p"))])
        await owner.close()
        condition = await ready(catalog, repo, "p")
        assert (condition["status"], condition["reason"]) == ("True", "Ready")
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"controllers: managing {ns}/new" in err
