"""LLM client transport: labels/s and client CPU per call at high concurrency.

Compares, against the fake LLM server of the tests (``tests/unit/llm/llm_servers.py``, on
its asyncio server, in its own process) answering every call after a fixed latency:

- ``raw-httpx``: the baseline, a bare ``httpx.AsyncClient`` POST + JSON decode (what the
  hand-built backends did before the SDKs, without their prompt and parsing work);
- ``openai/httpx`` and ``openai/aiohttp``: :class:`~tracer_stream.llm.Teacher` on the
  ``openai`` SDK with its default httpx2 client or its aiohttp client;
- ``anthropic/httpx`` and ``anthropic/aiohttp``: the same on the ``anthropic`` SDK.

Each run keeps ``concurrency`` calls in flight (as the worker does), first one warm-up wave
that opens the connections, then ``waves * concurrency`` measured calls. CPU is the client
process's ``time.process_time`` (all threads) over the measured calls.

    nice -n 10 python3 bench/llm_transport.py --concurrency 64 256 --latency 1.0 --waves 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from tracer_stream.llm import AnthropicBackend, ClientSettings, OpenAIBackend, Teacher
from tracer_stream.llm.sdk import Transport

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
LABELS = ("positive", "negative", "neutral")
INSTRUCTIONS = "Classify the sentiment of product reviews."
CONFIGS = ["raw-httpx", "openai/httpx", "openai/aiohttp", "anthropic/httpx",
           "anthropic/aiohttp"]

Call = Callable[[int], Awaitable[object]]


class FakeServer:
    """The fake LLM server of the tests (asyncio variant), in a subprocess."""

    def __init__(self, protocol: str, latency_s: float) -> None:
        self.protocol = protocol
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.unit.llm.llm_servers", protocol,
             "--delay", str(latency_s)], cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline().split()[1])

    @property
    def base_url(self) -> str:
        root = f"http://127.0.0.1:{self.port}"
        return root + "/v1" if self.protocol == "openai" else root

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


async def run(call: Call, concurrency: int, waves: int) -> dict[str, float]:
    async def wave(start: int, count: int) -> None:
        await asyncio.gather(*(call(start + i) for i in range(count)))

    await wave(0, concurrency)
    total = concurrency * waves
    slots = asyncio.Semaphore(concurrency)

    async def bounded(i: int) -> None:
        async with slots:
            await call(i)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(bounded(concurrency + i) for i in range(total)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"calls": total, "wall_s": round(wall, 3), "labels_per_s": round(total / wall, 1),
            "cpu_ms_per_call": round(cpu / total * 1000, 3)}


async def measure(config: str, server: FakeServer, concurrency: int,
                  waves: int) -> dict[str, float]:
    if config == "raw-httpx":
        limits = httpx.Limits(max_connections=concurrency,
                              max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
            url = server.base_url + "/chat/completions"

            async def post(i: int) -> object:
                body = {"model": "m", "temperature": 0, "messages": [
                    {"role": "user", "content": f"{INSTRUCTIONS}\nText: review {i}"}]}
                response = await client.post(url, json=body)
                return response.json()["choices"][0]["message"]["content"]

            return await run(post, concurrency, waves)
    provider, transport = config.split("/")
    cls = OpenAIBackend if provider == "openai" else AnthropicBackend
    chosen: Transport = "aiohttp" if transport == "aiohttp" else "httpx"
    settings = ClientSettings(base_url=server.base_url, api_key="bench-key", timeout_s=30.0,
                              max_retries=0, max_connections=concurrency, transport=chosen)
    teacher = Teacher(cls(model="m", client=settings))

    async def label(i: int) -> object:
        return await teacher.label(INSTRUCTIONS, LABELS, text=f"review {i}")

    try:
        return await run(label, concurrency, waves)
    finally:
        await teacher.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--latency", type=float, default=1.0, help="server latency (s)")
    parser.add_argument("--waves", type=int, default=4)
    parser.add_argument("--configs", nargs="+", default=CONFIGS, choices=CONFIGS)
    parser.add_argument("--out", type=Path, default=RESULTS / "llm_transport.json")
    args = parser.parse_args()
    servers = {p: FakeServer(p, args.latency) for p in ("openai", "anthropic")}
    rows: list[dict[str, Any]] = []
    try:
        for concurrency in args.concurrency:
            for config in args.configs:
                server = servers["anthropic" if config.startswith("anthropic") else "openai"]
                row = asyncio.run(measure(config, server, concurrency, args.waves))
                rows.append({"config": config, "concurrency": concurrency, **row})
                print(json.dumps(rows[-1]), flush=True)
    finally:
        for server in servers.values():
            server.stop()
    baselines = {r["concurrency"]: r["cpu_ms_per_call"] for r in rows
                 if r["config"] == "raw-httpx"}
    for row in rows:
        base = baselines.get(row["concurrency"])
        row["cpu_vs_raw_httpx"] = round(row["cpu_ms_per_call"] / base, 2) if base else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"latency_s": args.latency, "waves": args.waves,
                                    "rows": rows}, indent=2) + "\n")
    print("| in flight | client | labels/s | CPU ms/call | CPU vs raw httpx |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['concurrency']} | {row['config']} | {row['labels_per_s']} | "
              f"{row['cpu_ms_per_call']} | {row['cpu_vs_raw_httpx']}x |")


if __name__ == "__main__":
    main()
