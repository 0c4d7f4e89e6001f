"""Catalogue repositories for the benchmarks, built with ``git fast-import``.

A :class:`Layout` says what a repository of N holds (a name, a version and the files of a
repository of N): ``_products.CONTENT`` is the catalogue the product writes (real manifests
of the built-in kinds at the content model's ``path_for`` paths). The whole repository is one
commit on ``refs/heads/main`` (HEAD), generated as a fast-import stream in Python and piped
into ``git fast-import`` in a fresh bare repository. Built repositories are cached under
``bench/.cache/`` keyed by size, layout name and version; benchmarks work on copies
(:func:`copy_repo`). Names of products come from :func:`name_of`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

LAYOUT_VERSION = 1
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
BRANCH = "main"
EPOCH = 1_700_000_000

_ADJECTIVES = (
    "amber", "arctic", "bold", "brisk", "cedar", "coral", "crisp", "dusk", "ember", "fern",
    "frost", "golden", "graphite", "harbor", "indigo", "ivory", "jade", "lunar", "maple",
    "misty", "noble", "ocean", "onyx", "pearl", "quartz", "rustic", "sage", "slate", "solar",
    "velvet", "willow", "zephyr",
)  # fmt: skip
_NOUNS = (
    "backpack", "blanket", "bottle", "candle", "chair", "clock", "cup", "desk", "jacket",
    "kettle", "lamp", "mirror", "mug", "notebook", "pillow", "planter", "rug", "scarf",
    "sneaker", "sofa", "speaker", "table", "teapot", "towel", "tray", "umbrella", "vase",
    "wallet",
)  # fmt: skip
_BRANDS = ("acme", "northwind", "contoso", "fabrikam", "tailspin", "wingtip")


def name_of(index: int) -> str:
    adjective = _ADJECTIVES[(index * 7) % len(_ADJECTIVES)]
    noun = _NOUNS[(index * 13) % len(_NOUNS)]
    return f"{adjective}-{noun}-{index:06d}"


@dataclass(frozen=True)
class Layout:
    """How a fixture repository of ``count`` is made: ``files(count)`` yields (path, content)
    pairs, ``total(count)`` says how many; the cache key is ``name`` + ``version``."""

    name: str
    version: int
    files: Callable[[int], Iterable[tuple[str, bytes]]]
    total: Callable[[int], int] = lambda count: count


def _fast_import_stream(
    files: Iterable[tuple[str, bytes]], total: int
) -> Iterator[tuple[bytes, int]]:
    """Blocks of the fast-import stream, each with the number of files written so far."""
    message = f"Import {total} catalogue manifests\n".encode()
    ident = f"Bench <bench@example.com> {EPOCH} +0000"
    header = f"commit refs/heads/{BRANCH}\nauthor {ident}\ncommitter {ident}\n"
    yield header.encode() + f"data {len(message)}\n".encode() + message, 0
    chunk: list[bytes] = []
    written = 0
    for path, content in files:
        chunk.append(f"M 100644 inline {path}\ndata {len(content)}\n".encode())
        chunk.append(content)
        chunk.append(b"\n")
        written += 1
        if len(chunk) >= 3000:
            yield b"".join(chunk), written
            chunk = []
    chunk.append(b"\ndone\n")
    yield b"".join(chunk), written


def _git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def build_repo(
    count: int,
    dest: Path,
    progress: Callable[[int, int], None] | None = None,
    *,
    layout: Layout,
) -> None:
    """Create a bare repository of ``count`` manifests at ``dest`` (must not exist)."""
    total = layout.total(count)
    _git("init", "--quiet", "--bare", f"--initial-branch={BRANCH}", str(dest))
    with subprocess.Popen(
        ["git", "fast-import", "--quiet", "--done"],
        cwd=dest,
        env={**os.environ, "GIT_DIR": str(dest)},
        stdin=subprocess.PIPE,
    ) as proc:
        assert proc.stdin is not None
        for block, written in _fast_import_stream(layout.files(count), total):
            proc.stdin.write(block)
            if progress is not None:
                progress(written, total)
        proc.stdin.close()
        if proc.wait() != 0:
            raise RuntimeError(f"git fast-import failed with exit code {proc.returncode}")
    files = _git("--git-dir", str(dest), "ls-tree", "-r", "--name-only", BRANCH).count("\n") + 1
    if files != total:
        raise RuntimeError(f"fixture {dest} holds {files} files, expected {total}")


def cached_repo(count: int, progress: Callable[[int, int], None] | None, layout: Layout) -> Path:
    """The cached bare repository of ``count`` manifests in ``layout``, built on first use."""
    path = CACHE_DIR / f"catalog-{layout.name}{layout.version}-{count}.git"
    if path.is_dir():  # only ever created by an atomic rename of a complete build
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"build-{count}-", dir=CACHE_DIR))
    try:
        build_repo(count, staging / "repo.git", progress, layout=layout)
        shutil.rmtree(path, ignore_errors=True)
        (staging / "repo.git").rename(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def copy_repo(source: Path, dest: Path) -> Path:
    """A private copy of a cached repository (benchmarks write to it).

    All 256 ``objects/xx`` fan-out directories are created up front, as the git service
    does for its repositories, so no way of committing pays for ``mkdir`` while measured.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, dest)
    for i in range(256):
        (dest / "objects" / f"{i:02x}").mkdir(exist_ok=True)
    return dest


def import_commit(
    repo: Path, ref: str, parent: str, files: Iterable[tuple[str, bytes]], message: str
) -> str:
    """Write one commit (``parent`` + ``files`` upserted) into ``repo`` with ``git
    fast-import`` (one pack, no loose objects), point ``ref`` at it, return its id.

    ``ref`` should be a ref nothing else uses (e.g. ``refs/bench/bulk``); moving a branch is
    the caller's business."""
    ident = f"Bench <bench@example.com> {EPOCH} +0000"
    text = message.encode()
    chunks = [
        f"commit {ref}\nauthor {ident}\ncommitter {ident}\ndata {len(text)}\n".encode(),
        text,
        f"\nfrom {parent}\n".encode(),
    ]
    for path, content in files:
        chunks.append(f"M 100644 inline {path}\ndata {len(content)}\n".encode())
        chunks.append(content)
        chunks.append(b"\n")
    chunks.append(b"\ndone\n")
    subprocess.run(
        ["git", "fast-import", "--quiet", "--done", "--force"],
        input=b"".join(chunks),
        env={**os.environ, "GIT_DIR": str(repo)},
        check=True,
        capture_output=True,
    )
    return _git("--git-dir", str(repo), "rev-parse", ref)
