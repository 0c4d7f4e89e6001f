"""``gitstore worker`` flags and start-up errors (in process, through ``cli.main``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitstore.cli.main import main


def test_help_lists_the_worker_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["worker", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--data-dir",
        "--queue-url",
        "--kv-url",
        "--git-grpc-uri",
        "--metrics-port",
        "--concurrency",
    ):
        assert flag in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--concurrency", "0"], "--concurrency: Input should be greater than or equal to 1"),
        (["--metrics-port", "70000"], "--metrics-port: Input should be less than or equal"),
        (["--kv-url", "foo://x"], "unsupported kv URL 'foo://x'"),
        (["--queue-url", "bogus://x"], "unsupported queue URL 'bogus://x'"),
    ],
)
def test_bad_flags_fail_with_a_clear_message(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["worker", "--data-dir", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err


def test_bad_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITSTORE_WORKER__BATCH_SIZE", "0")
    assert main(["worker", "--data-dir", str(tmp_path)]) == 2
    assert "GITSTORE_WORKER__BATCH_SIZE" in capsys.readouterr().err
