"""A small bounded LRU map, safe to share between threads (one lock, O(1) operations)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("LRU capacity must be at least 1")
        self.capacity = capacity
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def recent_keys(self) -> list[K]:
        """The keys, most recently used first (a copy)."""
        with self._lock:
            return list(reversed(self._data))

    def recent_items(self) -> list[tuple[K, V]]:
        """The entries, most recently used first (a copy)."""
        with self._lock:
            return list(reversed(self._data.items()))

    def __len__(self) -> int:
        return len(self._data)
