"""Kind definitions and the kind registry.

A kind is described by a ``KindDefinition`` manifest (Kubernetes CRD-like), stored in a
repository at ``kinds/<plural>.yaml``::

    apiVersion: gitstore.dev/v1
    kind: KindDefinition
    metadata: {name: brands}            # must equal spec.names.plural
    spec:
      group: acme.example               # any DNS subdomain except the reserved gitstore.dev
      names: {kind: Brand, plural: brands, singular: brand}
      versions:
        - name: v1
          served: true                  # accepted in manifests, served over GraphQL
          storage: true                 # the hub: exactly one version; must be served
          schema: {...}                 # JSON Schema draft 2020-12 of spec, "type": "object"
          statusSchema: {...}           # optional: JSON Schema of status (docs/resources.md)
          deprecatedFields: [{path: spec.logoUrl, reason: Use logo.url}]
      conversion: {strategy: Wasm, wasm: {module: hooks/brands.wasm, sha256: ...}}  # or None

Product, Category, Collection and KindDefinition itself are built in: the same manifests,
shipped as JSON in ``builtin/`` and parsed by the same code, so built-in and custom kinds are
served exactly alike. ``KindRegistry.builtin()`` holds those four; a repository's registry adds
its ``kinds/*`` definitions (``KindRegistry.with_definitions``). Lookup is by kind name, by
plural (the directory) and by ``(apiVersion, kind)``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from gitstore.domain.content.annotations import AnnotationPlan, Found
from gitstore.domain.content.errors import (
    KIND_DEFINITION,
    SCHEMA,
    ContentError,
    ManifestError,
    short_repr,
)
from gitstore.domain.content.formats import parse_manifest
from gitstore.domain.content.manifest import Manifest
from gitstore.domain.content.schemacheck import CompiledSchema, compile_check
from gitstore.domain.content.schemas import check_schema, make_validator, resolve, spec_errors
from gitstore.domain.errors import AlreadyExists, FailedPrecondition, NotFound

BUILTIN_GROUP = "gitstore.dev"
KIND_DEFINITION_KIND = "KindDefinition"
KIND_DEFINITION_API_VERSION = f"{BUILTIN_GROUP}/v1"
_BUILTIN_FILES = ("kinddefinitions.json", "products.json", "categories.json", "collections.json")


@dataclass(frozen=True, slots=True)
class DeprecatedField:
    path: str  # e.g. spec.price or spec.variants[].price
    reason: str


@dataclass(frozen=True)
class KindVersion:
    name: str
    served: bool
    storage: bool
    schema: Mapping[str, Any]
    deprecated: bool = False
    deprecation_warning: str = ""
    deprecated_fields: tuple[DeprecatedField, ...] = ()
    # JSON Schema of ``status`` (``versions[].statusSchema``); None: any object
    # (``domain.resources.status_schema``).
    status_schema: Mapping[str, Any] | None = None

    @functools.cached_property
    def validator(self) -> Any:
        """The compiled JSON Schema validator of ``spec`` in this version (built once)."""
        return make_validator(self.schema)

    @functools.cached_property
    def fast_check(self) -> CompiledSchema | None:
        """The spec schema compiled by jsonschema-rs: "is this spec valid?" fast, and its
        errors where GitStore can word them (None: ``validator`` alone decides)."""
        return compile_check(self.schema)

    @functools.cached_property
    def _plans(self) -> dict[str, AnnotationPlan]:
        return {}

    def find_annotated(self, spec: Any, keyword: str) -> list[Found]:
        """(path, value, annotation) for values of ``spec`` whose schema has ``keyword``."""
        plan = self._plans.get(keyword)
        if plan is None:
            plan = self._plans[keyword] = AnnotationPlan(self.schema, keyword)
        return plan.find(spec)


@dataclass(frozen=True, slots=True)
class KindNames:
    kind: str
    plural: str
    singular: str


@dataclass(frozen=True, slots=True)
class ConversionHook:
    strategy: str = "None"  # None: versions share one shape; Wasm: a WASI module converts
    module: str = ""  # repository path of the .wasm module
    sha256: str = ""


@dataclass(frozen=True)
class KindDefinition:
    group: str
    names: KindNames
    versions: tuple[KindVersion, ...]
    conversion: ConversionHook = field(default_factory=ConversionHook)
    description: str = ""
    builtin: bool = False
    source: str = ""  # the file it was read from, if any

    @property
    def kind(self) -> str:
        return self.names.kind

    @property
    def plural(self) -> str:
        return self.names.plural

    @property
    def hub(self) -> KindVersion:
        """The storage version: what is stored, projected and synthesised into GraphQL."""
        return next(v for v in self.versions if v.storage)

    @property
    def hub_api_version(self) -> str:
        return f"{self.group}/{self.hub.name}"

    def api_version(self, version: KindVersion) -> str:
        return f"{self.group}/{version.name}"

    @functools.cached_property
    def fingerprint(self) -> str:
        """A SHA-256 of everything that decides how a resource of this kind is judged and
        converted: group, names, versions and their schemas, the conversion strategy, hook
        module path and its ``sha256`` (so a new hook is a new fingerprint), not ``source``.
        Content-based: equal definitions read twice (or in two repositories) share it."""
        text = json.dumps(
            dataclasses.asdict(dataclasses.replace(self, source="")), sort_keys=True, default=str
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def served_api_versions(self) -> list[str]:
        return [self.api_version(v) for v in self.versions if v.served]

    def version(self, api_version: str) -> KindVersion | None:
        """The served version named by ``api_version`` (``group/vN``), or None."""
        return self._served_by_api_version.get(api_version)

    @functools.cached_property
    def _served_by_api_version(self) -> dict[str, KindVersion]:
        """``version``'s answers, worked out once: validation and the hub test ask per file."""
        served: dict[str, KindVersion] = {}
        for v in self.versions:
            if v.served and "/" not in v.name:  # a name with "/" is never what rpartition gives
                served.setdefault(f"{self.group}/{v.name}", v)
        return served


def kind_definition_from_manifest(
    manifest: Manifest, *, allow_reserved: bool = False, validator: Any = None
) -> KindDefinition:
    """Build a ``KindDefinition`` from its manifest; raise ``ManifestError`` if invalid."""
    errors = kind_definition_errors(manifest, allow_reserved=allow_reserved, validator=validator)
    if errors:
        raise ManifestError(errors)
    return _build(manifest, builtin=allow_reserved)


_ERRORS_KEPT = 256  # definition manifests whose check results are remembered
_errors_memo: OrderedDict[tuple[object, ...], tuple[Any, tuple[ContentError, ...]]] = OrderedDict()
_errors_lock = threading.Lock()


def kind_definition_errors(
    manifest: Manifest, *, allow_reserved: bool = False, validator: Any = None
) -> list[ContentError]:
    """Every problem with a ``KindDefinition`` manifest: schema first, then semantics.

    Memoised (the last ``_ERRORS_KEPT`` manifests) by the manifest's content, the file it was
    read from and its positions: one kind commit checks the same definition about ten times
    (the write's per-file check, its registry, the API's and the worker's kinds loaders,
    statuses, conversion checks), ~1 ms each."""
    key = (
        json.dumps(manifest.to_dict(), sort_keys=True, default=str),
        manifest.path,
        tuple(sorted(manifest.positions.items())),
        allow_reserved,
        id(validator),
    )
    with _errors_lock:
        kept = _errors_memo.get(key)
        if kept is not None and kept[0] is validator:
            _errors_memo.move_to_end(key)
            return list(kept[1])
    errors = _kind_definition_errors(manifest, allow_reserved=allow_reserved, validator=validator)
    with _errors_lock:
        _errors_memo[key] = (validator, tuple(errors))
        while len(_errors_memo) > _ERRORS_KEPT:
            _errors_memo.popitem(last=False)
    return errors


def _kind_definition_errors(
    manifest: Manifest, *, allow_reserved: bool, validator: Any
) -> list[ContentError]:
    if validator is None:
        validator = _kind_definition_version().validator
    errors = spec_errors(validator, manifest, KIND_DEFINITION_KIND)
    if errors:
        return errors
    spec = manifest.spec
    names = spec["names"]
    if manifest.name != names["plural"]:
        errors.append(
            manifest.error(
                "metadata.name",
                KIND_DEFINITION,
                f"metadata.name: {manifest.name!r} must equal spec.names.plural "
                f"({names['plural']!r}): the kind's files live in {names['plural']}/",
            )
        )
    if names["singular"] == names["plural"]:
        errors.append(
            manifest.error(
                "spec.names.singular",
                KIND_DEFINITION,
                "spec.names.singular: must differ from spec.names.plural (GraphQL has a field "
                "for one and for a list)",
            )
        )
    if not allow_reserved and spec["group"] == BUILTIN_GROUP:
        errors.append(
            manifest.error(
                "spec.group",
                KIND_DEFINITION,
                f"spec.group: {BUILTIN_GROUP} is reserved for built-in kinds; use your own "
                "domain, e.g. acme.example",
            )
        )
    errors.extend(_version_errors(manifest))
    return errors


def _version_errors(manifest: Manifest) -> list[ContentError]:
    errors: list[ContentError] = []
    versions = manifest.spec["versions"]
    seen: set[str] = set()
    for i, version in enumerate(versions):
        where = f"spec.versions[{i}]"
        if version["name"] in seen:
            errors.append(
                manifest.error(
                    f"{where}.name",
                    KIND_DEFINITION,
                    f"{where}.name: version {version['name']!r} is defined twice",
                )
            )
        seen.add(version["name"])
        if version["storage"] and not version["served"]:
            errors.append(
                manifest.error(
                    f"{where}.served",
                    KIND_DEFINITION,
                    f"{where}.served: the storage (hub) version must be served",
                )
            )
        schema_problems = check_schema(version["schema"])
        for sub, message in schema_problems:
            fld = f"{where}.schema" + (f".{sub}" if sub and not sub.startswith("[") else sub)
            errors.append(manifest.error(fld, SCHEMA, f"{fld}: {message}"))
        status_problems = check_schema(version["statusSchema"]) if "statusSchema" in version else []
        for sub, message in status_problems:
            fld = f"{where}.statusSchema" + (f".{sub}" if sub and not sub.startswith("[") else sub)
            errors.append(manifest.error(fld, SCHEMA, f"{fld}: {message}"))
        if schema_problems:
            continue
        for j, dep in enumerate(version.get("deprecatedFields", [])):
            if not _schema_has_path(version["schema"], dep["path"]):
                fld = f"{where}.deprecatedFields[{j}].path"
                errors.append(
                    manifest.error(
                        fld,
                        KIND_DEFINITION,
                        f"{fld}: {dep['path']!r} is not a field of the {version['name']} schema",
                    )
                )
    storage = [v["name"] for v in versions if v["storage"]]
    if len(storage) != 1:
        found = f"found {len(storage)}" + (f": {', '.join(storage)}" if storage else "")
        errors.append(
            manifest.error(
                "spec.versions",
                KIND_DEFINITION,
                f"spec.versions: exactly one version must have storage: true (the hub), {found}",
            )
        )
    return errors


def _schema_has_path(schema: Mapping[str, Any], path: str) -> bool:
    node = resolve(schema, schema)
    for segment in path.split(".")[1:]:
        is_list = segment.endswith("[]")
        name = segment.removesuffix("[]")
        props = node.get("properties")
        if not isinstance(props, Mapping) or name not in props:
            return False
        node = resolve(props[name], schema)
        if is_list:
            if node.get("type") != "array":
                return False
            node = resolve(node.get("items"), schema)
    return True


def _build(manifest: Manifest, *, builtin: bool) -> KindDefinition:
    spec = manifest.spec
    names = spec["names"]
    conversion = spec.get("conversion") or {}
    wasm = conversion.get("wasm") or {}
    return KindDefinition(
        group=spec["group"],
        names=KindNames(names["kind"], names["plural"], names["singular"]),
        versions=tuple(
            KindVersion(
                name=v["name"],
                served=v["served"],
                storage=v["storage"],
                schema=v["schema"],
                deprecated=v.get("deprecated", False),
                deprecation_warning=v.get("deprecationWarning", ""),
                deprecated_fields=tuple(
                    DeprecatedField(d["path"], d["reason"]) for d in v.get("deprecatedFields", [])
                ),
                status_schema=v.get("statusSchema"),
            )
            for v in spec["versions"]
        ),
        conversion=ConversionHook(
            conversion.get("strategy", "None"), wasm.get("module", ""), wasm.get("sha256", "")
        ),
        description=spec.get("description", ""),
        builtin=builtin,
        source=manifest.path,
    )


@functools.cache
def _builtin_manifests() -> tuple[Manifest, ...]:
    folder = resources.files("gitstore.domain.content").joinpath("builtin")
    return tuple(
        parse_manifest(folder.joinpath(name).read_bytes(), f"builtin/{name}")
        for name in _BUILTIN_FILES
    )


@functools.cache
def _kind_definition_version() -> KindVersion:
    """The KindDefinition kind's own schema, checked structurally (it validates the rest)."""
    manifest = _builtin_manifests()[0]
    schema = manifest.spec["versions"][0]["schema"]
    problems = check_schema(schema)
    if problems:  # pragma: no cover - shipped data
        raise RuntimeError(f"built-in KindDefinition schema is invalid: {problems}")
    return KindVersion("v1", True, True, schema)


@functools.cache
def builtin_definitions() -> tuple[KindDefinition, ...]:
    """Product, Category, Collection and KindDefinition, validated like custom kinds."""
    validator = _kind_definition_version().validator
    return tuple(
        kind_definition_from_manifest(m, allow_reserved=True, validator=validator)
        for m in _builtin_manifests()
    )


class KindRegistry:
    """Kinds known to one repository: the built-ins plus its own ``KindDefinition``s."""

    def __init__(self, definitions: Iterable[KindDefinition] = ()) -> None:
        self._by_kind: dict[str, KindDefinition] = {}
        self._by_plural: dict[str, KindDefinition] = {}
        for definition in definitions:
            self.register(definition)

    @classmethod
    def builtin(cls) -> KindRegistry:
        """A new registry holding only the built-in kinds."""
        return cls(builtin_definitions())

    def copy(self) -> KindRegistry:
        return KindRegistry(self._by_kind.values())

    def register(self, definition: KindDefinition, *, replace: bool = False) -> None:
        """Add a kind; ``replace=True`` updates a custom kind of the same name.

        Raise ``AlreadyExists`` when the kind name or plural is taken by another kind and
        ``FailedPrecondition`` when replacing a built-in.
        """
        current = self._by_kind.get(definition.kind)
        if current is not None:
            if current.builtin:
                raise FailedPrecondition(
                    f"kind {definition.kind} is built in and cannot be redefined", field="kind"
                )
            if not replace:
                raise AlreadyExists(f"kind {definition.kind} is already defined", field="kind")
        other = self._by_plural.get(definition.plural)
        if other is not None and other.kind != definition.kind:
            raise AlreadyExists(
                f"plural {definition.plural!r} is already used by kind {other.kind}",
                field="spec.names.plural",
            )
        if current is not None:
            del self._by_plural[current.plural]
        self._by_kind[definition.kind] = definition
        self._by_plural[definition.plural] = definition

    def unregister(self, kind: str) -> None:
        definition = self.get(kind)
        if definition.builtin:
            raise FailedPrecondition(f"kind {kind} is built in and cannot be removed")
        del self._by_kind[kind]
        del self._by_plural[definition.plural]

    def find(self, kind: str) -> KindDefinition | None:
        return self._by_kind.get(kind)

    def get(self, kind: str) -> KindDefinition:
        definition = self._by_kind.get(kind)
        if definition is None:
            raise NotFound(f"unknown kind {kind!r} (known: {', '.join(self.kinds())})")
        return definition

    def by_plural(self, plural: str) -> KindDefinition | None:
        return self._by_plural.get(plural)

    def resolve(self, api_version: str, kind: str) -> tuple[KindDefinition, KindVersion]:
        """The definition and served version for ``apiVersion`` + ``kind``; ``NotFound``."""
        definition = self.get(kind)
        version = definition.version(api_version)
        if version is None:
            served = ", ".join(definition.served_api_versions())
            raise NotFound(
                f"kind {kind} is not served as {short_repr(api_version)} (served: {served})",
                field="apiVersion",
            )
        return definition, version

    def schema_for(self, manifest: Manifest) -> Mapping[str, Any] | None:
        """The spec schema of the manifest's kind and version (e.g. for ``encode_manifest``
        key order), or None when the kind or version is unknown."""
        definition = self._by_kind.get(manifest.kind)
        version = definition.version(manifest.api_version) if definition else None
        return version.schema if version else None

    def kinds(self) -> list[str]:
        return sorted(self._by_kind)

    def __iter__(self) -> Iterator[KindDefinition]:
        return iter(sorted(self._by_kind.values(), key=lambda d: d.kind))

    def __contains__(self, kind: object) -> bool:
        return kind in self._by_kind

    def __len__(self) -> int:
        return len(self._by_kind)

    def with_definitions(
        self, manifests: Iterable[Manifest]
    ) -> tuple[KindRegistry, list[ContentError]]:
        """A copy with every valid ``KindDefinition`` among ``manifests`` added.

        Invalid definitions and conflicts (a built-in or duplicate kind or plural) are left
        out and reported; the rest of the repository keeps working.
        """
        registry = self.copy()
        errors: list[ContentError] = []
        for manifest in sorted(manifests, key=lambda m: (m.path, m.name)):
            if manifest.kind != KIND_DEFINITION_KIND:
                continue
            try:
                definition = kind_definition_from_manifest(manifest)
                registry.register(definition)
            except ManifestError as err:
                errors.extend(err.errors)
            except (AlreadyExists, FailedPrecondition) as err:
                fld = "spec.names.plural" if err.field == "spec.names.plural" else "spec.names.kind"
                errors.append(manifest.error(fld, KIND_DEFINITION, f"{fld}: {err.message}"))
        return registry, errors
