"""Version conversion by WASI hooks: the pure contract (see docs/conversion.md).

``contract`` — requests, the JSON Lines batch protocol, limits and the runner interface;
``errors`` — the typed failures of a hook; ``checks`` — round-tripping a KindDefinition's
declared examples when it is added or changed. The wasmtime runner is ``backends.wasm``.
"""

from gitstore.domain.conversion.checks import (
    ConversionExample,
    check_conversion,
    conversion_examples,
    hook_ref,
)
from gitstore.domain.conversion.contract import (
    Batch,
    ConversionRequest,
    Direction,
    HookLimits,
    HookRef,
    HookRunner,
    decode_batch_output,
    encode_batches,
)
from gitstore.domain.conversion.errors import (
    HookContext,
    HookError,
    HookFailed,
    HookModuleRefused,
    HookTimedOut,
)
from gitstore.domain.conversion.hub import HubResult, needs_hub, spoke_of, to_hub

__all__ = [
    "Batch",
    "ConversionExample",
    "ConversionRequest",
    "Direction",
    "HookContext",
    "HookError",
    "HookFailed",
    "HookLimits",
    "HookModuleRefused",
    "HookRef",
    "HookRunner",
    "HookTimedOut",
    "HubResult",
    "check_conversion",
    "conversion_examples",
    "decode_batch_output",
    "encode_batches",
    "hook_ref",
    "needs_hub",
    "spoke_of",
    "to_hub",
]
