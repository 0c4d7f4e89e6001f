"""Measured, not used: ``yaml_rs`` (Rust) accepted only where a round trip proves it agrees.

The fourth round of issue 16 (docs/benchmarks.md, "Fourth round: the YAML reader") asked for
a sound guard on the native reader: parse with ``yaml_rs``, write the result back with an
emitter that writes exactly what GitStore's writer (``dump_yaml``, as ``encode_manifest``
uses it) writes, and accept the data only when those bytes are the input. Then the text is
the writer's output for that data, and GitStore's readers are held to read the writer's
output back as the data it was written from (``tests/domain/test_blockyaml.py``,
``test_yaml_*``), so ``yaml_rs``'s reading is GitStore's.

The emitter is conservative: it writes only what it is sure ``dump_yaml`` writes the same
way, and declines (``None``) otherwise: strings plain when they start with a letter, hold
only ``[A-Za-z0-9 ._/()|%,+&=:-]`` (no ``": "``, no ``#``, no trailing space or ``:``) and
resolve to a string under PyYAML's dumper rules (YAML 1.1); single-quoted when they hold
only ``[A-Za-z0-9._-]`` and would resolve to something else (``'6.10'``, ``'on'``); integers,
``true``/``false``/``null``, floats whose ``repr`` is ``-?[0-9]+.[0-9]+``; plain-word keys;
non-empty block mappings and sequences (sequences not indented under their key, ``- k: v``
and ``- - x`` items). Multi-line strings, empty collections and anything else: declined.

Measured on the catalogue's products (``bench_yaml_reader.py --roundtrip``): ``yaml_rs``
alone costs about what the optimised ``blockyaml`` costs, so with the emitter on top it is
slower, and GitStore keeps ``blockyaml``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml_rs import DuplicateKeyPolicy
from yaml_rs import _yaml_rs as _native

_LOADS: Any = _native._loads
_ERROR_ON_DUPLICATES: Any = DuplicateKeyPolicy.Error
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 ._/()|%,+&=:-]*")
_QUOTABLE = re.compile(r"[A-Za-z0-9._-]+")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+")
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()
_scalars: dict[Any, str | None] = {}


class _Decline(Exception):
    pass


def _dumper_tag(text: str) -> str:
    return _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-any-return]


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        out = _scalars.get(value)
        if out is None:
            out = _string(value)
            if len(_scalars) > 50_000:
                _scalars.clear()
            _scalars[value] = out
        return out
    if kind is int:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is float:
        text = repr(value)
        if _FLOAT.fullmatch(text):
            return text
    raise _Decline


def _string(value: str) -> str:
    if (
        _PLAIN.fullmatch(value)
        and ": " not in value
        and value[-1] not in " :"
        and _dumper_tag(value) == _STR_TAG
    ):
        return value
    if _QUOTABLE.fullmatch(value) and _dumper_tag(value) != _STR_TAG:
        return f"'{value}'"
    raise _Decline


def _key(key: Any) -> str:
    if type(key) is not str:
        raise _Decline
    out = _scalar(key)
    if out[0] == "'":
        raise _Decline
    return out


def _mapping(data: dict[str, Any], pad: str, parts: list[str]) -> None:
    if not data:
        raise _Decline
    for key, value in data.items():
        kind = type(value)
        if kind is dict:
            parts.append(f"{pad}{_key(key)}:\n")
            _mapping(value, pad + "  ", parts)
        elif kind is list:
            parts.append(f"{pad}{_key(key)}:\n")
            _sequence(value, pad, parts)
        else:
            parts.append(f"{pad}{_key(key)}: {_scalar(value)}\n")


def _sequence(data: list[Any], pad: str, parts: list[str]) -> None:
    if not data:
        raise _Decline
    for value in data:
        kind = type(value)
        if kind is dict or kind is list:
            start = len(parts)
            if kind is dict:
                _mapping(value, pad + "  ", parts)
            else:
                _sequence(value, pad + "  ", parts)
            parts[start] = f"{pad}- {parts[start][len(pad) + 2 :]}"
        else:
            parts.append(f"{pad}- {_scalar(value)}\n")


def emit(data: dict[str, Any]) -> str | None:
    """What ``dump_yaml(data)`` writes, or ``None`` where this emitter is not sure."""
    parts: list[str] = []
    try:
        _mapping(data, "", parts)
    except _Decline:
        return None
    return "".join(parts)


def native_load(text: str) -> Any:
    """What ``yaml_rs`` reads from ``text`` (its own rules, no guard), or ``None``."""
    try:
        return _LOADS(text, parse_datetime=False, duplicate_key_policy=_ERROR_ON_DUPLICATES)
    except (ValueError, RecursionError, OverflowError):
        return None


def roundtrip_load(text: str) -> dict[str, Any] | None:
    """The mapping ``text`` holds, read by ``yaml_rs``, when writing it back gives ``text``."""
    data = native_load(text)
    if type(data) is not dict or emit(data) != text:
        return None
    return data
