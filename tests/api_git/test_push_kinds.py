"""Custom kinds over a stock ``git push`` (Smart HTTP): a kind and its resources in one push
are accepted; removing a kind that still has resources is refused with ``remote:`` lines
naming them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.kinds import brand_kind

from .harness import GitStack

KIND = brand_kind(required=("title",))


def brand(name: str) -> str:
    return json.dumps(
        {
            "apiVersion": "acme.example/v1",
            "kind": "Brand",
            "metadata": {"name": name},
            "spec": {"title": name.title()},
        }
    )


def test_a_kind_and_its_resources_pushed_together(stack: GitStack, tmp_path: Path) -> None:
    alice = stack.person()
    repo = stack.new_repo(alice)
    url = stack.url(repo, alice.username, stack.pat(alice))
    work = tmp_path / "work"
    stack.git("init", "-q", "-b", "main", str(work))
    (work / "kinds").mkdir()
    (work / "brands").mkdir()
    (work / "kinds" / "brands.json").write_text(json.dumps(KIND))
    (work / "brands" / "acme.json").write_text(brand("acme"))
    stack.git("add", "-A", cwd=work)
    stack.git("commit", "-q", "-m", "Brand kind and a brand", cwd=work)
    pushed = stack.git("push", url, "main", cwd=work)
    assert "main -> main" in pushed.stderr

    # a brand that breaks the pushed schema is refused, naming the file
    (work / "brands" / "bad.json").write_text(brand("bad").replace('"Bad"', "7"))
    stack.git("add", "-A", cwd=work)
    stack.git("commit", "-q", "-m", "bad brand", cwd=work)
    refused = stack.git("push", url, "main", cwd=work, check=False)
    assert refused.returncode != 0
    assert "remote:" in refused.stderr and "brands/bad.json" in refused.stderr
    stack.git("reset", "-q", "--hard", "HEAD~1", cwd=work)

    # removing the kind while brands/acme.json remains is refused, naming it
    stack.git("rm", "-q", "kinds/brands.json", cwd=work)
    stack.git("commit", "-q", "-m", "drop the kind", cwd=work)
    refused = stack.git("push", url, "main", cwd=work, check=False)
    assert refused.returncode != 0
    assert "kind Brand is removed but 1 resource (brands/acme.json) still uses it" in (
        refused.stderr
    )
