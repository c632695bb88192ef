"""A fake OpenAI-compatible LLM in a process of its own, for bench/b6_worker.py: the
server of tests/unit/llm/llm_servers.py answering ``positive`` after ``--latency-s``, or after
``--slow-s`` for a text that starts with ``slow``. Prints its port, serves until stdin closes.

    python bench/_fake_llm.py --latency-s 1 --slow-s 60
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.unit.llm import llm_servers
from tests.unit.llm.llm_servers import Reply, prompt_text, running


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-s", type=float, default=1.0)
    parser.add_argument("--slow-s", type=float, default=60.0)
    args = parser.parse_args()

    def reply(body: dict[str, Any]) -> Reply:
        slow = prompt_text(body).startswith("slow")
        return Reply("positive", delay_s=args.slow_s if slow else args.latency_s)

    # Hundreds of connections open at once: the socketserver default backlog of 5 would make
    # the kernel drop SYNs and the client retry them a second later.
    llm_servers._QuietServer.request_queue_size = 1024
    with running("openai", reply) as server:
        print(server.port, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
