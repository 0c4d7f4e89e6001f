"""A real API (Smart HTTP relay + hook service) wired to a real git service, for git tests.

``start_git_stack(tmp)`` starts the git service (``start_server``, ephemeral gRPC port, its
own repositories dir), then the API (uvicorn on an ephemeral port, in a thread) with
``hook_server=True`` on hook port 0, and points the git service's pushes at the hook
service's bound port (``GitServiceHandle.set_hook_uri``). Both share one data dir (queue, KV),
as under ``gitstore serve``. ``GitStack`` adds helpers: ``url(repo, user, secret)``, ``git``
(the real ``git`` binary with prompts off and a throwaway HOME), ``pat`` (a personal access
token through GraphQL), ``new_repo``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gitstore.api.app import create_app
from gitstore.config import Settings, load_settings
from gitstore.git.client import GitClient
from gitstore.gitservice.server import GitServiceHandle, start_server
from tests.api.server import TEST_JWT_SECRET, ApiServer
from tests.api_ns.ops import create_namespace, create_repository
from tests.support.graphql_ops import Person, mutate, ok, person
from tests.support.uvicorn_thread import serve_in_thread

CREATE_TOKEN = """
mutation T($input: CreateAccessTokenInput!) {
  createAccessToken(input: $input) { secret userErrors { field message code } }
}"""


@dataclass
class GitStack:
    api: ApiServer
    git_service: GitServiceHandle
    settings: Settings
    home: Path

    @property
    def hook_port(self) -> int:
        port = self.api.services.hook_port
        assert port is not None
        return port

    def url(self, repository: str, user: str | None = None, secret: str | None = None) -> str:
        base = self.api.base_url
        if user is None:
            return f"{base}/{repository}.git"
        scheme, rest = base.split("://", 1)
        return f"{scheme}://{quote(user)}:{quote(secret or '')}@{rest}/{repository}.git"

    def git(
        self,
        *args: str,
        cwd: Path | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Tess Ter",
            "GIT_AUTHOR_EMAIL": "tess@example.com",
            "GIT_COMMITTER_NAME": "Tess Ter",
            "GIT_COMMITTER_EMAIL": "tess@example.com",
            **(env or {}),
        }
        result = subprocess.run(
            ["git", *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120
        )
        if check and result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def person(self, *, admin: bool = False) -> Person:
        return person(self.api, admin=admin)

    def pat(self, who: Person, scopes: tuple[str, ...] = ("READ", "WRITE")) -> str:
        payload = ok(
            mutate(self.api, CREATE_TOKEN, {"name": "git", "scopes": list(scopes)}, who.token)
        )
        secret = payload["secret"]
        assert isinstance(secret, str)
        return secret

    def new_repo(self, owner: Person, **extra: Any) -> str:
        """A fresh repository in a fresh USER namespace of ``owner``: ``ns/name``."""
        namespace = create_namespace(self.api, owner.token)["identifier"]
        repository = create_repository(self.api, owner.token, namespace, **extra)
        full_name = repository["fullName"]
        assert isinstance(full_name, str)
        return full_name


def git_stack_settings(data_dir: Path) -> Settings:
    return load_settings(
        **{
            "data_dir": str(data_dir),
            "db.url": f"sqlite:///{(data_dir / 'metadata.sqlite3').resolve()}",
            "api.jwt_secret": TEST_JWT_SECRET,
            "grpc.port": 0,
            "hook.grpc.port": 0,
            "git.fsync": False,
        }
    )


@contextmanager
def start_git_stack(data_dir: Path) -> Iterator[GitStack]:
    data_dir.mkdir(parents=True, exist_ok=True)
    home = data_dir / "home"
    home.mkdir(exist_ok=True)
    settings = git_stack_settings(data_dir)
    git_service = start_server(settings)
    try:
        uri = f"127.0.0.1:{git_service.port}"

        def git_factory(_settings: Settings) -> Any:
            return GitClient(uri, timeout=30)

        app = create_app(settings, git_client_factory=git_factory, hook_server=True)
        with serve_in_thread(app, name="api-git") as (base_url, client, loop):
            api = ApiServer(base_url, app, client, loop)
            stack = GitStack(api, git_service, settings, home)
            git_service.set_hook_uri(f"127.0.0.1:{stack.hook_port}")
            yield stack
    finally:
        git_service.stop(grace=1.0)
