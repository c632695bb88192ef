"""What the command line prints when things go wrong: one ``error:`` line within 10 s naming
the address it tried and the setting that changes it (a dead broker, a dead Redis), nothing
on a closed pipe, and a help text for every option and sub-command.

The dead addresses are loopback ports nothing listens on: no service is needed."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracer_stream.cli.main import build_parser

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def dead_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACER_STREAM_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "shared"), str(REPO / "services")])
    env["TRACER_STREAM_KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{_closed_port()}"
    env["TRACER_STREAM_REDIS_URL"] = f"redis://:not-printed@127.0.0.1:{_closed_port()}/0"
    return env


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tracer_stream.cli.main", *args], env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=10)


@pytest.mark.parametrize(("args", "needs"), [
    (["classify", "hello", "--task", "intents"], "kafka"),
    (["topics", "create"], "kafka"),
    (["task", "list"], "redis"),
    (["model", "list", "intents"], "redis"),
    (["status"], "redis"),
    (["trainer", "refit", "intents"], "redis"),
])
def test_unreachable_service_is_one_line_within_10s(args: list[str], needs: str,
                                                    dead_env: dict[str, str]) -> None:
    result = _cli(args, dead_env)  # raises TimeoutExpired after 10 s
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr[-2000:]
    line = lines[0]
    assert line.startswith("error: ")
    if needs == "kafka":
        assert dead_env["TRACER_STREAM_KAFKA_BOOTSTRAP_SERVERS"] in line
        assert "TRACER_STREAM_KAFKA_BOOTSTRAP_SERVERS" in line
    else:
        port = dead_env["TRACER_STREAM_REDIS_URL"].rsplit(":", 1)[1].split("/")[0]
        assert f"127.0.0.1:{port}" in line and "TRACER_STREAM_REDIS_URL" in line
        assert "not-printed" not in line
    assert result.stdout == ""


def test_closed_pipe_ends_quietly(dead_env: dict[str, str]) -> None:
    """``tracer-stream config reference | head -1``: no BrokenPipeError."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tracer_stream.cli.main", "config", "reference"],
            env=dead_env, stdout=write, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write)
    assert result.stderr == ""
    assert result.returncode == 141


Parsers = Iterator[tuple[str, argparse.ArgumentParser]]


def _parsers(parser: argparse.ArgumentParser, path: str) -> Parsers:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {a.dest for a in action._choices_actions}
            for name, child in action.choices.items():
                assert name in helped, f"{path} {name}: sub-command without help"
                yield from _parsers(child, f"{path} {name}")


def test_every_option_and_sub_command_has_help() -> None:
    missing = []
    for path, parser in _parsers(build_parser(), "tracer-stream"):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            if not action.help:
                missing.append(f"{path}: {'/'.join(action.option_strings) or action.dest}")
    assert not missing, "arguments without help:\n" + "\n".join(missing)
