"""The wasmtime runner of conversion hooks (the contract is ``domain.conversion``).

``WasmHookRunner`` runs a hook's batches synchronously (a blocking call: wasm executes in the
calling thread); ``AsyncHookRunner`` offers the same to asyncio code through a bounded thread
pool; ``ModuleCache`` keeps compiled modules by sha256. See docs/conversion.md.
"""

from gitstore.backends.wasm.cache import ModuleCache
from gitstore.backends.wasm.pool import AsyncHookRunner
from gitstore.backends.wasm.runner import WasmHookRunner

__all__ = ["AsyncHookRunner", "ModuleCache", "WasmHookRunner"]
