"""The optional extras: heavy dependencies that not every deployment installs.

``pip install tracer-stream`` is enough for the router, the LLM worker and the client SDK; the
extras add the rest (``pyproject.toml``, README.md "Install"). Code that imports a piece of an
extra does it under :func:`needs_extra`, so a missing extra fails with one line that names it:

>>> try:
...     with needs_extra("trainer", "the drift watch"):
...         import tracer_stream_no_such_module
... except MissingExtraError as exc:
...     print(exc)
the drift watch needs the optional extra 'trainer': pip install 'tracer-stream[trainer]'
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tracer_stream.errors import TracerStreamError

__all__ = ["EXTRAS", "MissingExtraError", "install_hint", "needs_extra"]

EXTRAS: dict[str, str] = {
    "trainer": "the trainer: faust, river, scikit-learn (the 'full' zoo), pyarrow",
    "torch": "torch and the packaged MiniLM model (the 'minilm' embedder, ONNX/static export)",
    "embedded": "the embedded Kafka-protocol broker of `tracer-stream stack` and the demo",
}
"""Every optional extra of ``pyproject.toml`` (besides ``all`` and ``dev``) and what it holds."""


class MissingExtraError(TracerStreamError, ImportError):
    """A feature needs an optional extra that is not installed. An :class:`ImportError` too, so
    code that treats a missing module as "not available" keeps working."""

    def __init__(self, purpose: str, extra: str) -> None:
        super().__init__(f"{purpose} needs the optional extra {extra!r}: {install_hint(extra)}")
        self.extra = extra


def install_hint(extra: str) -> str:
    """The command that installs an extra.

    >>> install_hint("torch")
    "pip install 'tracer-stream[torch]'"
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    return f"pip install 'tracer-stream[{extra}]'"


@contextmanager
def needs_extra(extra: str, purpose: str) -> Iterator[None]:
    """Turn a missing module imported in the block into :class:`MissingExtraError`.

    Only a module that is not installed at all (:class:`ModuleNotFoundError`) is blamed on the
    extra; any other import failure (a broken install) propagates unchanged.
    """
    install_hint(extra)  # an unknown extra is a bug here, not a missing install
    try:
        yield
    except ModuleNotFoundError as exc:
        raise MissingExtraError(purpose, extra) from exc
