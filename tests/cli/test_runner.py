"""``cli.runner.run_services``: order of start and stop, and a bounded shutdown.

The watchdog test runs a real child process (it ends the process it runs in) that is sent a
real SIGTERM, with a service whose stop leaves a thread blocked, so interpreter exit would
hang without it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from gitstore.cli import runner


class Recorder:
    def __init__(self, name: str, events: list[str], *, hang: bool = False) -> None:
        self.name = name
        self.events = events
        self.hang = hang

    async def start(self) -> None:
        self.events.append(f"start {self.name}")

    async def stop(self) -> None:
        self.events.append(f"stop {self.name}")
        if self.hang:
            await asyncio.Event().wait()


async def test_services_stop_in_reverse_order_and_a_stuck_one_is_left_behind(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(runner, "STOP_TIMEOUT", 0.2)
    events: list[str] = []
    stop = asyncio.Event()
    services = [Recorder("a", events), Recorder("b", events, hang=True), Recorder("c", events)]
    task = asyncio.create_task(runner.run_services(services, stop=stop))
    await asyncio.sleep(0.05)
    stop.set()
    with caplog.at_level(logging.ERROR, logger="gitstore.cli.runner"):
        await asyncio.wait_for(task, 5)
    assert events == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]
    assert "b did not stop within" in caplog.text


CHILD = textwrap.dedent(
    """
    import asyncio, sys, threading, time
    from gitstore.cli import runner

    runner.STOP_TIMEOUT = 0.2

    class Stuck:
        name = "stuck"
        async def start(self):
            print("ready", flush=True)
        async def stop(self):
            # a non-daemon thread that never ends: interpreter exit would wait for it forever
            threading.Thread(target=time.sleep, args=(3600,)).start()

    asyncio.run(runner.run_services([Stuck()], deadline=float(sys.argv[1])))
    """
)


def test_the_watchdog_ends_a_process_whose_exit_hangs() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, "1.0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1
    assert time.monotonic() - started < 20
    assert "still not stopped" in stderr
    assert "Thread" in stderr  # every thread's stack was printed
