"""Run `flask --app wsgi ...` (or a module of the tests) in a real process on the test database, to kill it
with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

FLASK = Path(sys.executable).with_name("flask")
PROJECT = Path(__file__).resolve().parents[1]


def worker_env(database_url: str, instance_dir: Path, **settings: object) -> dict[str, str]:
    """The environment of a worker process on the suite's database (its own dev thread disabled)."""
    env = dict(os.environ)
    env.pop("TEST_DATABASE_URL", None)
    env.update(
        WINBACK_ENV="development",
        DATABASE_URL=database_url,
        WINBACK_INSTANCE_DIR=str(instance_dir),
        SECRET_KEY="kill-test-secret-key-" + "x" * 32,
        WINBACK_DISABLE_WORKER_THREAD="1",
        PYTHONUNBUFFERED="1",
    )
    env.update({name: str(value) for name, value in settings.items()})
    return env


def start_flask(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 (our own venv's flask, fixed arguments)
            [str(FLASK), "--app", "wsgi", *args],
            cwd=PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def start_module(module: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`python -m module` from the project, in the test's own interpreter (a process the test can kill)."""
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 (our own interpreter, a module of the project)
            [sys.executable, "-m", module], cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def run_flask(args: list[str], env: dict[str, str], *, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our own venv's flask, fixed arguments)
        [str(FLASK), "--app", "wsgi", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def kill9(process: subprocess.Popen) -> None:
    """SIGKILL: no handler, no finally, no atexit runs in the process."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def wait_for(condition: Callable[[], bool], *, timeout: float, process: subprocess.Popen, log: Path) -> None:
    """Poll `condition` until it holds; fail with the process's output if it dies or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
