"""Starting more than one test stack in one test.

``numbered_stacks(start, root)`` gives a ``factory(**options)`` that starts one more stack with
``start(root / "stack-<n>", **options)`` (``start`` is a suite harness's ``start_stack``
context manager) and stops them all when the ``with`` ends. The ``stack_factory`` fixtures of
the API suites are this, for a test that injects failures or needs other settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

S = TypeVar("S")


@contextmanager
def numbered_stacks(
    start: Callable[..., AbstractContextManager[S]], root: Path
) -> Iterator[Callable[..., S]]:
    with ExitStack() as exits:
        count = 0

        def factory(**options: Any) -> S:
            nonlocal count
            count += 1
            return exits.enter_context(start(root / f"stack-{count}", **options))

        yield factory
