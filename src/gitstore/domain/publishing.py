"""The push policy as pure rules: which ref updates a push may make, and how a refusal reads.

The API's pre-receive check (``gitstore.api.hooks.prereceive``) gathers the facts (the
repository record, the pusher's SSH key fingerprints, recorded releases, the content of the
pushed commits) and asks this module; nothing here does I/O.

**Refs.** ``classify_ref`` sorts a full ref name into: the repository's *default branch*,
another *branch* (``refs/heads/*``), a *release tag* (``refs/tags/<t>`` whose short name ``t``
matches one of the repository's release patterns), another *tag*, or *other* — anything
outside ``refs/heads/`` and ``refs/tags/`` (``refs/notes/*``, ``refs/gitstore/*``,
``refs/pull/*``, ...), which a push may not touch (rule ``ref-namespace``).

**Release patterns** (``release_tag_matches``) are globs on the short tag name, matched in
full and case-sensitively: ``*`` matches any run of characters *except* ``/``, ``**``
matches any run including ``/``, ``?`` one character other than ``/``, ``[abc]`` / ``[a-z]``
/ ``[!abc]`` one character of (not of) a set; everything else is literal. So ``release/*``
matches ``release/2026-11`` but not ``release/2026/11`` (use ``release/**`` for that), and
``v*`` matches ``v1.2.0`` but not ``v1/rc``. Not crossing ``/`` keeps a pattern from reaching
into tag "directories" nobody meant to publish.

**Rules** (the ``rule`` of each ``Violation``; docs/git-transport.md "Push policy"):

* ``ref-name``: the ref name breaks ``git check-ref-format``; tag names are further limited
  to ``A-Z a-z 0-9 . _ - + /`` (they appear in release URLs and GraphQL);
* ``ref-namespace``: a ref outside ``refs/heads/`` and ``refs/tags/``;
* ``branch-delete``: deleting the default branch;
* ``force-push``: a non-fast-forward update of the default branch;
* ``tag-immutable``: updating or deleting a release tag whose release is recorded, or
  re-creating it at another commit;
* ``tag-target``: a release tag that does not point (through an annotated tag) at a commit;
* ``too-many-commits``: a ref update bringing more new commits than the hook checks;
* ``signature``: with ``require_signed_commits``, a pushed commit or annotated tag that is
  unsigned, badly signed or signed by a key that is not one of the pusher's;
* ``permission``: the pusher may not write the repository (or is unknown);
* content (from ``content_violations``): ``parse`` (the file cannot be read), ``path`` (it
  breaks the path convention or disagrees with it), ``schema`` (envelope, kind, JSON Schema,
  product rules), ``duplicate`` (two files with one identity), ``reference`` (a name that
  resolves to nothing in the pushed tip).

**The refusal** (``refusal_lines``) is the block git shows as ``remote:`` lines: a dashed
rule, ``❌ POLICY CHECK FAILED  (N problems)``, one line per violation —
``<path> @ <short sha> [<rule>] <field>: <message>`` for a file, ``<ref> [<rule>] <message>``
for a ref — at most ``MAX_LINES`` of them and then ``… and N more``, and
``Please fix policy violations and push again.``
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from gitstore.domain.content.errors import (
    DUPLICATE,
    IDENTITY_MISMATCH,
    INVALID_PATH,
    LAYOUT,
    MALFORMED_RULES,
    REFERENCE,
    TOO_LARGE,
    ContentError,
)
from gitstore.domain.content.errors import field_path as join_path
from gitstore.domain.content.kinds import KindRegistry
from gitstore.domain.content.manifest import Manifest

ZERO_SHA = "0" * 40
HEADS = "refs/heads/"
TAGS = "refs/tags/"
MAX_LINES = 50
SHORT_SHA = 7

# Rule ids (stable: clients and tests match on them).
PARSE = "parse"
PATH = "path"
SCHEMA = "schema"
DUPLICATE_RULE = DUPLICATE
REFERENCE_RULE = REFERENCE
LAYOUT_RULE = LAYOUT
REF_NAME = "ref-name"
REF_NAMESPACE = "ref-namespace"
BRANCH_DELETE = "branch-delete"
FORCE_PUSH = "force-push"
TAG_IMMUTABLE = "tag-immutable"
TAG_TARGET = "tag-target"
TOO_MANY_COMMITS = "too-many-commits"
SIGNATURE = "signature"
PERMISSION = "permission"

RULES: Mapping[str, str] = {
    PARSE: "a pushed file cannot be read (YAML/JSON syntax, encoding, size, frontmatter)",
    PATH: "a file breaks the path convention <plural>/<name>.<ext> or disagrees with it",
    SCHEMA: "a manifest breaks the envelope rules, its kind's schema or the product rules",
    DUPLICATE_RULE: "two files of the pushed tip hold one resource (kind, name)",
    REFERENCE_RULE: "a manifest names a resource that the pushed tip does not hold",
    LAYOUT_RULE: "a file is not in its repository's layout (.gitstore/layout), or the marker "
    "itself is wrong",
    REF_NAME: "the ref name is not valid",
    REF_NAMESPACE: "only refs/heads/* and refs/tags/* may be pushed",
    BRANCH_DELETE: "the default branch cannot be deleted",
    FORCE_PUSH: "the default branch cannot be force-pushed (non fast-forward)",
    TAG_IMMUTABLE: "a recorded release tag cannot be moved or deleted",
    TAG_TARGET: "a release tag must point at a commit",
    TOO_MANY_COMMITS: "the push brings more new commits than the hook checks",
    SIGNATURE: "pushed commits and tags must be signed by one of the pusher's SSH keys",
    PERMISSION: "the pusher may not write this repository",
}


class RefKind(enum.StrEnum):
    DEFAULT_BRANCH = "default-branch"
    BRANCH = "branch"
    RELEASE_TAG = "release-tag"
    TAG = "tag"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class RefClass:
    ref: str
    kind: RefKind
    short: str  # branch or tag name; the full ref for OTHER

    @property
    def is_tag(self) -> bool:
        return self.kind in (RefKind.TAG, RefKind.RELEASE_TAG)

    @property
    def is_branch(self) -> bool:
        return self.kind in (RefKind.BRANCH, RefKind.DEFAULT_BRANCH)


@dataclass(frozen=True, slots=True)
class Violation:
    """One reason to refuse a push (the hook proto's ``Violation``)."""

    ref: str
    rule: str
    message: str
    commit: str = ""
    path: str = ""
    field: str = ""

    def line(self) -> str:
        """The ``remote:`` line of this violation."""
        if self.path:
            at = f" @ {self.commit[:SHORT_SHA]}" if self.commit else ""
            text = self.message
            if self.field and not text.startswith(f"{self.field}:"):
                text = f"{self.field}: {text}"
            return f"{self.path}{at} [{self.rule}] {text}"
        return f"{self.ref or '(push)'} [{self.rule}] {self.message}"


@dataclass(frozen=True, slots=True)
class PushedCommit:
    sha: str
    parents: tuple[str, ...] = ()
    signature: str = "none"  # "none" | "good" | "bad"
    signer: str = ""  # fingerprint of a good signature


@dataclass(frozen=True, slots=True)
class RefPush:
    """One ref update as the git service saw it (the hook proto's ``PushedRef``)."""

    ref: str
    old: str
    new: str
    new_type: str = "commit"  # "commit" | "tag" | "" (deletion) | "tree" | "blob"
    peeled: str = ""
    fast_forward: bool = True
    commits: tuple[PushedCommit, ...] = ()
    truncated: bool = False
    tag_signature: str = "none"
    tag_signer: str = ""

    @property
    def created(self) -> bool:
        return is_zero(self.old)

    @property
    def deleted(self) -> bool:
        return is_zero(self.new)


@dataclass(frozen=True, slots=True)
class RepositoryPolicy:
    """The repository settings the ref rules read."""

    default_branch: str
    release_patterns: tuple[str, ...] = ("release/*", "v*")
    require_signed_commits: bool = False


@dataclass(frozen=True, slots=True)
class RecordedRelease:
    tag: str
    commit: str


@dataclass(slots=True)
class PolicyFacts:
    """What the caller looked up for the ref rules."""

    # Recorded releases of the repository by short tag name (only tags this push touches).
    releases: Mapping[str, RecordedRelease] = field(default_factory=dict)
    # The pusher's SSH key fingerprints ("SHA256:..."), for the signature rule.
    fingerprints: Collection[str] = ()


def is_zero(sha: str) -> bool:
    return not sha or set(sha) == {"0"}


# ---------------------------------------------------------------------- release patterns


def release_tag_matches(tag: str, patterns: Iterable[str]) -> bool:
    """Does the short tag name match any release pattern (see the module docstring)?"""
    return any(_glob(p).fullmatch(tag) for p in patterns if p)


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                body = body.replace("\\", "\\\\").replace("^", "\\^")
                out.append(f"[^/{body}]" if negate else f"[{body}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


# ---------------------------------------------------------------------- refs


def classify_ref(ref: str, policy: RepositoryPolicy) -> RefClass:
    if ref.startswith(HEADS):
        short = ref[len(HEADS) :]
        kind = RefKind.DEFAULT_BRANCH if short == policy.default_branch else RefKind.BRANCH
        return RefClass(ref, kind, short)
    if ref.startswith(TAGS):
        short = ref[len(TAGS) :]
        release = release_tag_matches(short, policy.release_patterns)
        return RefClass(ref, RefKind.RELEASE_TAG if release else RefKind.TAG, short)
    return RefClass(ref, RefKind.OTHER, ref)


_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_TAG_NAME = re.compile(r"[A-Za-z0-9._+/-]+")
MAX_TAG_LENGTH = 200


def ref_name_problem(ref: str) -> str | None:
    """Why ``ref`` is not a valid ref name (``git check-ref-format`` rules), or None."""
    if not ref.startswith("refs/") or ref.count("/") < 2:
        return "must be a full ref name such as refs/heads/<branch> or refs/tags/<tag>"
    if _BAD_REF_CHARS.search(ref):
        return "contains a space, a control character or one of ~ ^ : ? * [ \\"
    if ref.endswith("/") or "//" in ref:
        return "has an empty path component"
    if ref.endswith(".") or ".." in ref or "@{" in ref:
        return "contains '..' or '@{', or ends with '.'"
    for part in ref.split("/"):
        if part.startswith(".") or part.endswith(".lock"):
            return f"component {part!r} starts with '.' or ends with '.lock'"
    return None


def tag_name_problem(tag: str) -> str | None:
    if len(tag) > MAX_TAG_LENGTH:
        return f"is longer than {MAX_TAG_LENGTH} characters"
    if not _TAG_NAME.fullmatch(tag):
        return "may only use letters, digits and . _ - + /"
    return None


def ref_violations(
    push: RefPush, policy: RepositoryPolicy, facts: PolicyFacts, *, max_commits: int = 0
) -> list[Violation]:
    """Every ref-level rule ``push`` breaks (not content: see ``content_violations``)."""
    cls = classify_ref(push.ref, policy)
    ref = push.ref
    out: list[Violation] = []
    problem = ref_name_problem(ref)
    if problem is None and cls.is_tag:
        problem = tag_name_problem(cls.short)
    if problem is not None:
        out.append(Violation(ref, REF_NAME, f"ref name {ref!r} {problem}"))
    if cls.kind is RefKind.OTHER:
        out.append(
            Violation(
                ref,
                REF_NAMESPACE,
                f"{ref} is outside refs/heads/ and refs/tags/; "
                "only branches and tags may be pushed",
            )
        )
        return out
    if cls.kind is RefKind.DEFAULT_BRANCH:
        if push.deleted:
            out.append(
                Violation(ref, BRANCH_DELETE, f"the default branch {cls.short!r} cannot be deleted")
            )
        elif not push.created and not push.fast_forward:
            out.append(
                Violation(
                    ref,
                    FORCE_PUSH,
                    f"the default branch {cls.short!r} cannot be force-pushed "
                    f"({push.old[:SHORT_SHA]} is not an ancestor of {push.new[:SHORT_SHA]})",
                )
            )
    if cls.kind is RefKind.RELEASE_TAG:
        out.extend(_release_tag(push, cls, facts))
    if push.truncated:
        out.append(
            Violation(
                ref,
                TOO_MANY_COMMITS,
                f"{ref} brings more than {max_commits or len(push.commits)} new commits; "
                "push the history in smaller steps",
            )
        )
    if policy.require_signed_commits and not push.deleted:
        out.extend(signature_violations(push, facts.fingerprints))
    return out


def _release_tag(push: RefPush, cls: RefClass, facts: PolicyFacts) -> list[Violation]:
    ref, out = push.ref, []
    recorded = facts.releases.get(cls.short)
    if recorded is not None:
        at = recorded.commit[:SHORT_SHA]
        if push.deleted:
            what = "deleted"
        elif not push.created:
            what = "moved"
        elif push.peeled != recorded.commit:
            what = "re-created at another commit"
        else:
            what = ""
        if what:
            out.append(
                Violation(
                    ref,
                    TAG_IMMUTABLE,
                    f"release {cls.short!r} is recorded at {at}; a release tag cannot be {what}",
                )
            )
    if not push.deleted and not push.peeled:
        out.append(
            Violation(
                ref,
                TAG_TARGET,
                f"release tag {cls.short!r} does not peel to a commit (its object is a "
                f"{push.new_type or 'non-commit'})",
            )
        )
    return out


def signature_violations(push: RefPush, fingerprints: Collection[str]) -> list[Violation]:
    """Every pushed commit (and an annotated tag) must carry a good signature by one of
    ``fingerprints``."""
    out: list[Violation] = []
    allowed = set(fingerprints)
    for commit in push.commits:
        problem = _signature_problem(commit.signature, commit.signer, allowed)
        if problem:
            out.append(
                Violation(
                    push.ref,
                    SIGNATURE,
                    f"commit {commit.sha[:SHORT_SHA]} {problem}",
                    commit=commit.sha,
                )
            )
    if push.new_type == "tag":
        problem = _signature_problem(push.tag_signature, push.tag_signer, allowed)
        if problem:
            out.append(
                Violation(push.ref, SIGNATURE, f"tag object {push.new[:SHORT_SHA]} {problem}")
            )
    return out


def _signature_problem(status: str, signer: str, allowed: set[str]) -> str | None:
    if status == "good":
        if signer and signer in allowed:
            return None
        return (
            f"is signed by {signer or 'an unknown key'}, which is not one of your SSH keys "
            "(add it with addSshKey)"
        )
    if status == "bad":
        return "has a bad or unsupported signature (sign with an SSH key: gpg.format=ssh)"
    return "is not signed (git commit -S with gpg.format=ssh and one of your SSH keys)"


# ---------------------------------------------------------------------- content


def content_rule(error: ContentError) -> str:
    """The policy rule a content error falls under."""
    if error.rule in MALFORMED_RULES or error.rule == TOO_LARGE:
        return PARSE
    if error.rule in (INVALID_PATH, IDENTITY_MISMATCH):
        return PATH
    if error.rule == DUPLICATE:
        return DUPLICATE_RULE
    if error.rule == REFERENCE:
        return REFERENCE_RULE
    if error.rule == LAYOUT:
        return LAYOUT_RULE
    return SCHEMA


def content_violations(ref: str, commit: str, errors: Iterable[ContentError]) -> list[Violation]:
    out = []
    for e in errors:
        message = e.message
        if e.line is not None:
            message += f" (line {e.line})"
        out.append(Violation(ref, content_rule(e), message, commit, e.path, e.field))
    return out


def references(manifest: Manifest, registry: KindRegistry) -> list[tuple[str, str, str]]:
    """``(field, kind, name)`` of every ``x-reference`` value in ``manifest``."""
    definition = registry.find(manifest.kind)
    version = definition.version(manifest.api_version) if definition else None
    if version is None:
        return []
    out = []
    for parts, value, ref in version.find_annotated(manifest.spec, "x-reference"):
        if isinstance(value, str) and isinstance(ref, Mapping):
            out.append((join_path(["spec", *parts]), str(ref.get("kind")), value))
    return out


def reference_errors(
    manifests: Iterable[Manifest],
    exists: Callable[[str, str], bool],
    registry: KindRegistry,
) -> list[ContentError]:
    """``reference`` errors of ``manifests`` whose ``x-reference`` fields name a resource for
    which ``exists(kind, name)`` is false (the tree checked against lacks it)."""
    errors: list[ContentError] = []
    for manifest in manifests:
        for fld, kind, name in references(manifest, registry):
            if not exists(kind, name):
                errors.append(
                    manifest.error(
                        fld, REFERENCE, f"{fld}: there is no {kind} named {name!r} in this tree"
                    )
                )
    return errors


def referencing_kinds(registry: KindRegistry) -> dict[str, set[str]]:
    """target kind -> kinds whose hub schema has an ``x-reference`` to it."""
    out: dict[str, set[str]] = {}
    for definition in registry:
        for target in _reference_targets(definition.hub.schema):
            out.setdefault(target, set()).add(definition.kind)
    return out


def _reference_targets(schema: object) -> set[str]:
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            ref = node.get("x-reference")
            if isinstance(ref, Mapping) and "kind" in ref:
                found.add(str(ref["kind"]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


# ---------------------------------------------------------------------- the refusal


RULE_LINE = "-" * 49


def refusal_lines(violations: Sequence[Violation], *, max_lines: int = MAX_LINES) -> list[str]:
    """The block git shows as ``remote:`` lines when the push is refused."""
    count = len(violations)
    noun = "problem" if count == 1 else "problems"
    lines = [RULE_LINE, f"❌ POLICY CHECK FAILED  ({count} {noun})", RULE_LINE]
    lines.extend(v.line() for v in shown_violations(violations, max_lines))
    if count > max_lines:
        lines.append(f"… and {count - max_lines} more")
    lines.extend(["Please fix policy violations and push again.", RULE_LINE])
    return lines


def shown_violations(violations: Sequence[Violation], max_lines: int) -> list[Violation]:
    """At most ``max_lines`` of ``violations``, in their order, the first of every rule kept
    (so 60 parse errors cannot hide the one reference problem of the same push)."""
    if len(violations) <= max_lines:
        return list(violations)
    keep: set[int] = set()
    rules: set[str] = set()
    for i, v in enumerate(violations):
        if v.rule not in rules and len(keep) < max_lines:
            rules.add(v.rule)
            keep.add(i)
    for i in range(len(violations)):
        if len(keep) >= max_lines:
            break
        keep.add(i)
    return [v for i, v in enumerate(violations) if i in keep]


def success_line(manifests: int, seconds: float) -> str:
    if manifests == 0:
        return "✓ policy check passed"
    noun = "manifest" if manifests == 1 else "manifests"
    return f"✓ {manifests:,} {noun} validated in {seconds:.1f} s"
