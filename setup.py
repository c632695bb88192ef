"""Maps the repository folders onto the installed ``tracer_stream`` package.

``shared/`` is the library (``tracer_stream``), ``services/`` the service wiring
(``tracer_stream.services``) and ``schemas/`` the JSON Schemas (``tracer_stream.schemas``).
Everything else lives in pyproject.toml.
"""

from setuptools import find_packages, setup

_LAYOUT = {"tracer_stream": "shared", "tracer_stream.services": "services"}


def _packages() -> list[str]:
    found = ["tracer_stream.schemas"]
    for name, folder in _LAYOUT.items():
        found.append(name)
        found.extend(f"{name}.{sub}" for sub in find_packages(folder))
    return found


setup(
    packages=_packages(),
    package_dir={**_LAYOUT, "tracer_stream.schemas": "schemas"},
)
