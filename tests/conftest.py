"""Marks every test by its folder: ``tests/unit`` → ``unit``, ``tests/integration`` →
``integration``. Select with ``-m unit`` or ``-m integration``."""

from __future__ import annotations

from pathlib import Path

import pytest

_ROOT = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        kind = Path(str(item.fspath)).relative_to(_ROOT).parts[0]
        if kind in ("unit", "integration"):
            item.add_marker(getattr(pytest.mark, kind))
