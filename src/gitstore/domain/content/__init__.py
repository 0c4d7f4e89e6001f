"""The catalogue content model: manifests, kinds, schemas, validation and diffs.

Pure domain code (no I/O beyond reading the package's own JSON data). The pieces:

* ``manifest``   the envelope (apiVersion, kind, metadata, spec) and ``Manifest``;
* ``formats``    YAML / JSON / Markdown-with-frontmatter parsing and canonical writing;
* ``yamlio``     the safe YAML loader (duplicate keys, aliases, tags, depth) and dumper;
* ``paths``      the path convention ``<plural>/<name>.<ext>`` and identity checks;
* ``kinds``      ``KindDefinition`` (built-in and custom) and ``KindRegistry``;
* ``schemas``    JSON Schema checks, validation errors -> ``ContentError``, schema walking;
* ``validation`` one manifest against its kind; ``references`` a whole tree;
* ``diff``       field-level semantic diff; ``money`` decimal amounts and ISO 4217;
* ``errors``     ``ContentError`` / ``ManifestError`` and the rule names.

See docs/content-model.md for the formats, the path table and the built-in kinds.
"""

from gitstore.domain.content.diff import FieldChange, diff_manifests, diff_values
from gitstore.domain.content.errors import ContentError, ManifestError, field_path
from gitstore.domain.content.formats import (
    DEFAULT_MAX_MANIFEST_BYTES,
    ManifestFormat,
    check_size,
    encode_manifest,
    format_for_path,
    parse_manifest,
)
from gitstore.domain.content.kinds import (
    ConversionHook,
    DeprecatedField,
    KindDefinition,
    KindNames,
    KindRegistry,
    KindVersion,
    builtin_definitions,
    kind_definition_errors,
    kind_definition_from_manifest,
)
from gitstore.domain.content.layout import (
    DEFAULT_LAYOUT,
    LAYOUT_MARKER,
    Layout,
    bucket_for,
    layout_of,
    marker_content,
    marker_errors,
    marker_problem,
)
from gitstore.domain.content.manifest import Manifest, ResourceIdentity
from gitstore.domain.content.money import Money, format_amount, parse_amount, price_currency_codes
from gitstore.domain.content.paths import (
    PathIdentity,
    candidate_paths,
    identity_errors,
    identity_for_path,
    layout_errors,
    layout_moves,
    path_for,
)
from gitstore.domain.content.references import check_references
from gitstore.domain.content.validation import parse_and_validate, validate_manifest

__all__ = [
    "DEFAULT_LAYOUT",
    "DEFAULT_MAX_MANIFEST_BYTES",
    "LAYOUT_MARKER",
    "ContentError",
    "ConversionHook",
    "DeprecatedField",
    "FieldChange",
    "KindDefinition",
    "KindNames",
    "KindRegistry",
    "KindVersion",
    "Layout",
    "Manifest",
    "ManifestError",
    "ManifestFormat",
    "Money",
    "PathIdentity",
    "ResourceIdentity",
    "bucket_for",
    "builtin_definitions",
    "candidate_paths",
    "check_references",
    "check_size",
    "diff_manifests",
    "diff_values",
    "encode_manifest",
    "field_path",
    "format_amount",
    "format_for_path",
    "identity_errors",
    "identity_for_path",
    "kind_definition_errors",
    "kind_definition_from_manifest",
    "layout_errors",
    "layout_moves",
    "layout_of",
    "marker_content",
    "marker_errors",
    "marker_problem",
    "parse_amount",
    "parse_and_validate",
    "parse_manifest",
    "path_for",
    "price_currency_codes",
    "validate_manifest",
]
