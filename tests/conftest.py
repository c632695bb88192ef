"""Marks every test by its folder: ``tests/unit`` → ``unit``, ``tests/integration`` →
``integration``, and the docstring examples of the library and services (collected from
``shared/`` and ``services/`` by ``--doctest-modules``) → ``unit``. Select with ``-m unit`` or
``-m integration``."""

from __future__ import annotations

from pathlib import Path

import pytest

_ROOT = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        kind = path.relative_to(_ROOT).parts[0] if path.is_relative_to(_ROOT) else "unit"
        if kind in ("unit", "integration"):
            item.add_marker(getattr(pytest.mark, kind))
