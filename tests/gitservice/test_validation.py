"""Unit tests of the request checks: paths, ref names, revisions, messages, trailers."""

from __future__ import annotations

import pytest

from gitstore.domain.errors import InvalidArgument
from gitstore.git.v1 import git_service_pb2 as pb
from gitstore.gitservice import metadata, names, paths

BAD_PATHS = {
    "": "must not be empty",
    "../x": "'..'",
    "a/../b": "'..'",
    "./a": "'.'",
    "/abs/file": "relative",
    "a//b": "empty components",
    "dir/": "end with '/'",
    ".git": ".git",
    ".GIT/config": ".git",
    "a/.git/b": ".git",
    "a/.Git": ".git",
    "a/.git./b": ".git",
    "a/.git /b": ".git",
    "GIT~1/x": ".git",
    "a\x00b": "NUL",
    "a\\b": "backslash",
    "a\nb": "control",
    "x" * 4097: "4096",
    "d/" * 64 + "f.yaml": "at most 64 components deep",
}


@pytest.mark.parametrize("path", sorted(BAD_PATHS))
def test_bad_paths_are_refused_naming_the_path(path: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        paths.validate_path(path, "actions[0].path")
    message = info.value.message
    assert BAD_PATHS[path] in message
    assert message.startswith("actions[0].path")
    assert info.value.field == "actions[0].path"


@pytest.mark.parametrize(
    "path", ["a", "products/shoe.yaml", ".gitignore", "a/.github/x", "git", "..a", "a..b", "ü/日本"]
)
def test_good_paths_pass(path: str) -> None:
    assert paths.validate_path(path) == path


def test_depth_and_length_limits_are_inclusive() -> None:
    deepest = "d/" * (paths.MAX_TREE_DEPTH - 1) + "f.yaml"
    assert paths.validate_path(deepest) == deepest
    longest = "x" * paths.MAX_PATH_BYTES
    assert paths.validate_path(longest) == longest


def test_display_escapes_bytes_that_are_not_utf8() -> None:
    name = b"caf\xe9/\xff.yaml".decode("utf-8", "surrogateescape")
    assert paths.display(name) == "caf\\xe9/\\xff.yaml"
    assert paths.display("ü/日本") == "ü/日本"


def test_prefix_allows_root_and_one_trailing_slash() -> None:
    assert paths.validate_prefix("") == ""
    assert paths.validate_prefix("products/") == "products"
    assert paths.validate_prefix("a/b") == "a/b"
    for bad in ("/", "a//", "../", "/a"):
        with pytest.raises(InvalidArgument):
            paths.validate_prefix(bad)


def test_size_limits_name_the_file_and_the_limit() -> None:
    paths.check_sizes([("a", 10), ("b", 10)], 10, 20)
    with pytest.raises(InvalidArgument, match=r"'big' is 11 bytes; the limit is 10"):
        paths.check_sizes([("big", 11)], 10, 100)
    with pytest.raises(InvalidArgument, match=r"21 bytes of content; the limit is 20"):
        paths.check_sizes([("a", 10), ("b", 10), ("c", 1)], 10, 20)


@pytest.mark.parametrize(
    ("name", "full"),
    [("main", "refs/heads/main"), ("refs/heads/feature/x", "refs/heads/feature/x")],
)
def test_branch_names(name: str, full: str) -> None:
    assert names.branch_ref(name) == full


@pytest.mark.parametrize(
    "name", ["", "HEAD", "-x", "a..b", "a b", "a~1", "a^", "a:b", "x.lock", "a/", "@{x}", "a\x00"]
)
def test_bad_branch_and_tag_names(name: str) -> None:
    with pytest.raises(InvalidArgument):
        names.branch_ref(name)
    with pytest.raises(InvalidArgument):
        names.tag_ref(name)


def test_revisions_and_object_ids() -> None:
    assert names.revision("") == "HEAD"
    assert names.revision("main~2") == "main~2"
    for bad in ("-n", "a\nb", "x" * 1025):
        with pytest.raises(InvalidArgument):
            names.revision(bad)
    assert names.expected_head("") is None
    assert names.expected_head("A" * 40) == "a" * 40
    for bad in ("abc", "g" * 40, "0" * 39):
        with pytest.raises(InvalidArgument, match="40-character"):
            names.expected_head(bad)


def test_message_gets_trailers_in_fixed_order_and_round_trips() -> None:
    trailers = pb.Trailers(
        actor="agent:7",
        request_id="req-1",
        schema_version="v2",
        extra={"Zeta": "z", "Alpha": "a", "Empty": ""},
    )
    message = metadata.compose_message("Update prices\n\nLonger body.\n", trailers)
    assert message == (
        "Update prices\n\nLonger body.\n\n"
        "Actor: agent:7\nRequest-Id: req-1\nSchema-Version: v2\nAlpha: a\nZeta: z\n"
    )
    subject, parsed = metadata.split_message(message)
    assert subject == "Update prices\n\nLonger body."
    assert parsed == {
        "Actor": "agent:7",
        "Request-Id": "req-1",
        "Schema-Version": "v2",
        "Alpha": "a",
        "Zeta": "z",
    }
    assert metadata.compose_message("only subject", pb.Trailers()) == "only subject\n"
    assert metadata.split_message("Subject\n\nnot: a trailer block\nplain line\n") == (
        "Subject\n\nnot: a trailer block\nplain line",
        {},
    )


@pytest.mark.parametrize(
    ("trailers", "problem"),
    [
        (pb.Trailers(actor="a\nForged: yes"), "single line"),
        (pb.Trailers(extra={"bad key": "x"}), "trailer key"),
        (pb.Trailers(extra={"actor": "x"}), "its own field"),
        (pb.Trailers(request_id="x" * 1025), "longer than"),
    ],
)
def test_bad_trailers(trailers: pb.Trailers, problem: str) -> None:
    with pytest.raises(InvalidArgument, match=problem):
        metadata.compose_message("m", trailers)


def test_bad_messages_and_signatures() -> None:
    with pytest.raises(InvalidArgument, match="message must not be empty"):
        metadata.compose_message("  \n", pb.Trailers())
    with pytest.raises(InvalidArgument, match="NUL"):
        metadata.compose_message("a\x00b", pb.Trailers())
    with pytest.raises(InvalidArgument, match=r"author\.name is required"):
        metadata.signature(pb.Signature(email="a@b"), "author")
    with pytest.raises(InvalidArgument, match=r"author\.email is required"):
        metadata.signature(pb.Signature(name="A"), "author")
    with pytest.raises(InvalidArgument, match="'<' or '>'"):
        metadata.signature(pb.Signature(name="A <x>", email="a@b"), "author")
    with pytest.raises(InvalidArgument, match="offset_minutes"):
        metadata.signature(pb.Signature(name="A", email="a@b", offset_minutes=9999), "author")
    sig = metadata.signature(
        pb.Signature(name="A", email="a@b", time=1000, offset_minutes=-90), "x"
    )
    assert (sig.name, sig.email, sig.time, sig.offset) == ("A", "a@b", 1000, -90)
