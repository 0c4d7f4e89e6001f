"""A pluggable model adapter: a language model behind an OpenAI-compatible HTTP endpoint
(``POST <url>/chat/completions``), configured by URL, key and model name
(``GITSTORE_CONTROLLERS__MODEL_URL`` / ``MODEL_KEY`` / ``MODEL_NAME``; off unless the URL is
set). What it answers is text to be checked, never trusted: callers validate it before they
propose anything.

``ModelClient(url, key, model, timeout=30, retries=2)``: ``await complete(messages)`` returns
the first choice's message content. A refused connection, a timeout, HTTP 429 or 5xx is
retried ``retries`` times (``0.5 s · 2^n`` apart); after that, or on any other non-2xx or an
answer without a completion, :class:`ModelError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx


class ModelError(Exception):
    """The model could not be reached or gave no usable completion (the message says why)."""


def check_model(url: str, model: str) -> None:
    """``ValueError`` naming what is wrong with a model URL / model name."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"model URL {url!r} is not an http(s) URL")
    if not model:
        raise ValueError("a model name is needed (GITSTORE_CONTROLLERS__MODEL_NAME)")


class ModelClient:
    def __init__(
        self,
        url: str,
        key: str | None,
        model: str,
        *,
        timeout: float = 30.0,
        retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        check_model(url, model)
        self.url = url.rstrip("/")
        self.endpoint = self.url + "/chat/completions"
        self.model = model
        self.retries, self.backoff = retries, backoff
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.AsyncClient(headers=headers, timeout=timeout)

    async def close(self) -> None:
        await self._http.aclose()

    async def complete(self, messages: Sequence[dict[str, str]]) -> str:
        body: dict[str, Any] = {"model": self.model, "messages": list(messages), "temperature": 0}
        attempt = 0
        while True:
            try:
                response = await self._http.post(self.endpoint, json=body)
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Transient(f"HTTP {response.status_code}")
            except (httpx.HTTPError, _Transient) as exc:
                if attempt >= self.retries:
                    raise ModelError(
                        f"model endpoint {self.endpoint}: {exc or type(exc).__name__} "
                        f"(after {attempt + 1} attempts)"
                    ) from exc
                await asyncio.sleep(self.backoff * 2**attempt)
                attempt += 1
                continue
            return _content(self.endpoint, response)


class _Transient(Exception):
    pass


def _content(endpoint: str, response: httpx.Response) -> str:
    if response.status_code != 200:
        raise ModelError(f"model endpoint {endpoint} answered HTTP {response.status_code}")
    try:
        data = response.json()
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ModelError(f"model endpoint {endpoint} answered no chat completion") from exc
    if not isinstance(content, str):
        raise ModelError(f"model endpoint {endpoint} answered a completion without text")
    return content
