"""A fake OpenAI-compatible LLM in a process of its own, for bench/b6_worker.py: the
protocol code of tests/unit/llm/llm_servers.py on its asyncio (aiohttp) server, answering
``positive`` after ``--latency-s``, or after ``--slow-s`` for a text that starts with ``slow``.
The threaded server of the tests would itself become the bottleneck at hundreds of calls in
flight. Prints ``port <n>``, serves until stdin closes.

    python bench/_fake_llm.py --latency-s 1 --slow-s 60
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.unit.llm.llm_servers import FakeLLM, Reply, prompt_text, serve_async


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-s", type=float, default=1.0)
    parser.add_argument("--slow-s", type=float, default=60.0)
    args = parser.parse_args()

    def reply(body: dict[str, Any]) -> Reply:
        slow = prompt_text(body).startswith("slow")
        return Reply("positive", delay_s=args.slow_s if slow else args.latency_s)

    def exit_when_stdin_closes() -> None:
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    asyncio.run(serve_async(FakeLLM("openai", reply)))


if __name__ == "__main__":
    main()
