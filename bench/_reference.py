"""The reference, ``tracer-llm==0.3.3``, in its own virtual environment under the cache root.

The venv is created on first use (``python -m venv`` + ``pip install tracer-llm==0.3.3``);
jobs are handed to ``_ref_worker.py`` as ``.npy`` files and JSON and answered with JSON.
B1 results are cached by job content (the reference's own randomness is fixed, so a job's
answer does not change), fit timings are always measured fresh.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from _common import bench_cache

VERSION = "0.3.3"
WORKER = Path(__file__).resolve().parent / "_ref_worker.py"


def venv_python() -> Path:
    """The reference venv's interpreter, creating the venv if needed."""
    venv = bench_cache() / f"ref-venv-tracer-llm-{VERSION}"
    python = venv / "bin" / "python"
    if not (venv / ".installed").is_file():
        print(f"creating the reference venv in {venv} (tracer-llm=={VERSION})", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        f"tracer-llm=={VERSION}"], check=True)
        (venv / ".installed").write_text(VERSION)
    return python


def run_job(job: dict[str, Any], arrays: dict[str, np.ndarray], cache: bool) -> dict[str, Any]:
    """Run one worker job; ``arrays`` are saved as .npy and passed by path under their key."""
    key = None
    if cache:
        h = hashlib.sha256(WORKER.read_bytes())
        h.update(json.dumps(job, sort_keys=True).encode())
        for name in sorted(arrays):
            h.update(name.encode() + np.ascontiguousarray(arrays[name]).tobytes())
        key = bench_cache() / "ref-results" / f"{h.hexdigest()[:32]}.json"
        if key.is_file():
            out: dict[str, Any] = json.loads(key.read_text())
            out["cached"] = True
            return out
    python = venv_python()
    with tempfile.TemporaryDirectory() as tmp:
        full = dict(job)
        for name, arr in arrays.items():
            path = Path(tmp) / f"{name}.npy"
            np.save(path, np.asarray(arr, dtype=np.float32))
            full[name] = str(path)
        job_path, out_path = Path(tmp) / "job.json", Path(tmp) / "out.json"
        job_path.write_text(json.dumps(full))
        subprocess.run([str(python), str(WORKER), str(job_path), str(out_path)], check=True,
                       cwd=tmp)
        out = json.loads(out_path.read_text())
    if key is not None:
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_text(json.dumps(out))
    out["cached"] = False
    return out
