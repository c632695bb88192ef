"""B6 — the LLM worker: throughput and isolation against a fake LLM with 1 s latency.

Starts a Tansu broker and Redis on free ports, the fake OpenAI-compatible server of
``tests/unit/llm/llm_servers.py`` in a process of its own (``bench/_fake_llm.py``: every call
takes 1 s, a text starting with ``slow`` 60 s), and one worker process per case on a fresh
topic set: the streaming worker of this checkout and, as the baseline measured in the same run,
the batch worker of ``--base`` (that commit's ``shared/``, ``services/`` and ``schemas/``,
unpacked with ``git archive``), given ``max_concurrency = batch_max_size = in-flight``.

1. Throughput, for 64 and 256 calls in flight: ``in-flight × --per-slot`` requests produced at
   once; labels/s between the 10th and the 90th percentile of label arrivals; worker CPU
   seconds per label (``/proc``). Both through the OpenAI backend and HTTP (``http``) and with
   the replay teacher answering after 1 s (``replay``: no HTTP client, the loop's own cost).
2. Isolation, at 64 in flight: a steady ``--rate`` requests/s for 75 s; at 10 s one request
   whose call takes 60 s. End-to-end latency (produce → label read back) of every *other*
   request sent before the slow one (5-10 s) and while it is in flight (10-70 s); the growth
   is how much longer than the median request before it the slowest (and the 99th
   percentile) request sent during the slow call took.

    nice -n 10 python bench/b6_worker.py [--base 4fb0d93] [--per-slot 5] [--rate 10]

Prints a table and writes bench/results/b6_worker.json. All Kafka clients use
``fetch.wait.max.ms=10`` (the embedded broker answers a waiting fetch only when it expires).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from io import BytesIO
from pathlib import Path
from typing import Any

import confluent_kafka
import httpx
import numpy as np
import orjson
from _common import REPO, machine, write_json

from tracer_stream.bus import Producer, ensure_topics
from tracer_stream.config import KafkaSettings, TopicSettings
from tracer_stream.contracts import LLMRequest, encode
from tracer_stream.registry import Registry
from tracer_stream.stack import EmbeddedStack, free_port
from tracer_stream.tasks import Task

FETCH_WAIT_MS = "10"
SLOW_AT_S, SLOW_CALL_S, ISOLATION_S = 10.0, 60.0, 75.0
REPLAY_TEXTS = 5000


class Labels(threading.Thread):
    """Reads the labels topic from the start; remembers when each request's label arrived."""

    def __init__(self, kafka: KafkaSettings, topics: TopicSettings) -> None:
        super().__init__(daemon=True)
        conf = kafka.consumer_config(f"b5-watch-{uuid.uuid4().hex[:6]}")
        conf.pop("partition.assignment.strategy")
        self.consumer = confluent_kafka.Consumer(conf)
        name = topics.name("labels")
        meta = self.consumer.list_topics(name, timeout=10).topics[name]
        self.consumer.assign([confluent_kafka.TopicPartition(name, p,
                                                             confluent_kafka.OFFSET_BEGINNING)
                              for p in meta.partitions])
        self.at: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            first = self.consumer.poll(0.05)
            if first is None:
                continue
            for msg in [first, *self.consumer.consume(500, timeout=0)]:
                if msg.error() is None:
                    self.at.setdefault(orjson.loads(msg.value() or b"{}")["request_id"],
                                       time.perf_counter())
        self.consumer.close()

    def wait(self, ids: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not all(i in self.at for i in ids):
            if time.monotonic() > deadline:
                missing = sum(i not in self.at for i in ids)
                sys.exit(f"error: {missing} of {len(ids)} requests unlabelled after {timeout_s} s")
            time.sleep(0.05)


class Bench:
    """The stack, the fake LLM and a registered task, shared by every case."""

    def __init__(self, stack: EmbeddedStack, llm_url: str, base_tree: Path, tmp: Path) -> None:
        self.stack, self.llm_url, self.base_tree = stack, llm_url, base_tree
        self.replay_file = tmp / "replay.jsonl"
        self.replay_file.write_bytes(b"".join(
            orjson.dumps({"text": f"text {i}", "label": "positive"}) + b"\n"
            for i in range(REPLAY_TEXTS)))
        self.kafka = KafkaSettings(**{**stack.kafka.model_dump(),
                                      "fetch_wait_max_ms": int(FETCH_WAIT_MS)})
        self.task = f"b5-{uuid.uuid4().hex[:6]}"
        registry = Registry.from_settings(stack.redis)
        # a legacy {text} placeholder: the baseline's task model requires it, today's accepts it
        registry.put_task(Task(name=self.task, labels=["positive", "negative"],
                               prompt_template="Classify the text for '{task}'. Labels: {labels}"
                                               "\nText: {text}"))
        registry.close()

    def start_worker(self, which: str, teacher: str, in_flight: int, topics: TopicSettings
                     ) -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        tree = REPO if which == "streaming" else self.base_tree
        env = {**os.environ, **self.stack.env(), "PYTHONPATH": f"{tree}/shared:{tree}/services",
               "TRACER_STREAM_TOPICS_PREFIX": topics.prefix,
               "TRACER_STREAM_KAFKA_FETCH_WAIT_MAX_MS": FETCH_WAIT_MS,
               "TRACER_STREAM_WORKER_GROUP_ID": f"b5-{uuid.uuid4().hex[:6]}",
               "TRACER_STREAM_WORKER_BASE_URL": self.llm_url,
               "TRACER_STREAM_WORKER_MAX_CONCURRENCY": str(in_flight),
               "TRACER_STREAM_WORKER_BATCH_MAX_SIZE": str(in_flight),  # the batch worker's
               "TRACER_STREAM_WORKER_TIMEOUT_S": "90",  # the 60 s call is answered, not retried
               "TRACER_STREAM_WORKER_HTTP_PORT": str(port)}
        if teacher == "replay":  # no HTTP: the worker loop's own capacity
            env |= {"TRACER_STREAM_WORKER_BACKEND": "replay",
                    "TRACER_STREAM_WORKER_REPLAY_FILE": str(self.replay_file),
                    "TRACER_STREAM_WORKER_REPLAY_LATENCY_MS": "1000"}
        log = open(Path(tempfile.gettempdir()) / f"b5-worker-{which}-{teacher}-{in_flight}.log",  # noqa: SIM115
                   "wb")
        proc = subprocess.Popen([sys.executable, "-m", "tracer_stream.cli.main", "worker"],
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    return proc, port
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        proc.kill()
        sys.exit(f"error: the {which} worker did not become ready (log: {log.name})")

    def case(self, which: str, teacher: str, in_flight: int, run: Any) -> dict[str, Any]:
        topics = TopicSettings(prefix=f"b5{uuid.uuid4().hex[:6]}.")
        ensure_topics(self.kafka, topics)
        labels = Labels(self.kafka, topics)
        labels.start()
        proc, _port = self.start_worker(which, teacher, in_flight, topics)
        producer = Producer(self.kafka, **{"linger.ms": 1})
        cpu0 = cpu_seconds(proc.pid)
        try:
            result: dict[str, Any] = run(producer, topics.name("llm_requests"), labels)
            result["worker_cpu_s"] = round(cpu_seconds(proc.pid) - cpu0, 2)
        finally:
            proc.terminate()
            proc.wait(60)
            labels.stop.set()
        if "requests" in result:
            result["worker_cpu_ms_per_label"] = round(result["worker_cpu_s"] * 1000
                                                      / result["requests"], 1)
        return {"worker": which, "teacher": teacher, "in_flight": in_flight, **result}

    def request(self, text: str) -> LLMRequest:
        return LLMRequest(request_id=f"b5-{uuid.uuid4().hex}", task=self.task, text=text,
                          answer_requester=True, audit=False, gate_accepted=False)


def throughput(bench: Bench, n: int) -> Any:
    def run(producer: Producer, topic: str, labels: Labels) -> dict[str, Any]:
        requests = [bench.request(f"text {i}") for i in range(n)]
        for request in requests:
            producer.send_raw(topic, encode(request), key=request.request_id)
        producer.flush_or_raise()
        ids = [r.request_id for r in requests]
        labels.wait(ids, timeout_s=n / 5 + 60)
        arrivals = np.sort([labels.at[i] for i in ids])
        lo, hi = arrivals[int(0.1 * n)], arrivals[int(0.9 * n) - 1]
        return {"requests": n, "labels_per_s": round((int(0.9 * n) - int(0.1 * n) - 1)
                                                     / (hi - lo), 1)}
    return run


def isolation(bench: Bench, rate: float) -> Any:
    def run(producer: Producer, topic: str, labels: Labels) -> dict[str, Any]:
        sent: dict[str, float] = {}
        slow = bench.request("slow call")
        start, i, slow_sent, slow_at = time.perf_counter(), 0, False, 0.0
        while (elapsed := time.perf_counter() - start) < ISOLATION_S:
            if not slow_sent and elapsed >= SLOW_AT_S:
                producer.send_raw(topic, encode(slow), key=slow.request_id)
                slow_sent, slow_at = True, time.perf_counter()
            if i < elapsed * rate:
                request = bench.request(f"text {i}")
                producer.send_raw(topic, encode(request), key=request.request_id)
                sent[request.request_id] = time.perf_counter()
                i += 1
            else:
                time.sleep(0.002)
        producer.flush_or_raise()
        labels.wait([*sent, slow.request_id], timeout_s=300)
        before = [labels.at[r] - t for r, t in sent.items()
                  if 5.0 <= t - start < SLOW_AT_S]
        during = [labels.at[r] - t for r, t in sent.items()
                  if SLOW_AT_S <= t - start < SLOW_AT_S + SLOW_CALL_S]
        return {"rate": rate, "slow_request_latency_s": round(labels.at[slow.request_id]
                                                              - slow_at, 3),
                "before": stats(before), "during_slow_call": stats(during),
                **growth(stats(before), stats(during))}
    return run


def growth(before: dict[str, float], during: dict[str, float]) -> dict[str, float]:
    """How much longer than a typical request before the slow call (its median) the slowest
    and the 99th-percentile request sent during the slow call took."""
    return {"max_growth_s": round(during["max_s"] - before["p50_s"], 3),
            "p99_growth_s": round(during["p99_s"] - before["p50_s"], 3)}


def stats(values: list[float]) -> dict[str, float]:
    p = np.percentile(values, [50, 99])
    return {"n": len(values), "p50_s": round(float(p[0]), 3), "p99_s": round(float(p[1]), 3),
            "max_s": round(max(values), 3)}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def unpack(commit: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", commit, "shared", "services", "schemas"], cwd=REPO,
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="4fb0d93", help="commit of the baseline worker")
    parser.add_argument("--per-slot", type=int, default=5,
                        help="requests per in-flight slot in the throughput runs")
    parser.add_argument("--rate", type=float, default=10.0,
                        help="offered requests/s in the isolation run")
    parser.add_argument("--teachers", nargs="+", choices=["http", "replay"],
                        default=["http", "replay"],
                        help="http: the fake server through the OpenAI backend; replay: the "
                             "replay teacher with 1 s latency (no HTTP client)")
    parser.add_argument("--workers", nargs="+", choices=["streaming", "batch"],
                        default=["streaming", "batch"],
                        help="streaming: this checkout's worker; batch: the --base worker")
    parser.add_argument("--skip-isolation", action="store_true")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the stack on kill
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        stack = EmbeddedStack(Path(tmp) / "stack", kafka_port=free_port(),
                              redis_port=free_port(), topics=TopicSettings(prefix="b5."))
        llm = subprocess.Popen([sys.executable, str(REPO / "bench" / "_fake_llm.py")],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert llm.stdout is not None
            llm_url = f"http://127.0.0.1:{int(llm.stdout.readline().split()[-1])}/v1"
            stack.up()
            bench = Bench(stack, llm_url, unpack(args.base, Path(tmp) / "base"), Path(tmp))
            for which in args.workers:
                for teacher in args.teachers:
                    for in_flight in (64, 256):
                        n = in_flight * args.per_slot
                        results.append(bench.case(which, teacher, in_flight,
                                                  throughput(bench, n)))
                        print(results[-1], flush=True)
                if not args.skip_isolation:
                    results.append(bench.case(which, "http", 64, isolation(bench, args.rate)))
                    print(results[-1], flush=True)
        finally:
            stack.down()
            llm.communicate(b"", timeout=10)
    out = write_json("b6_worker.json", {"machine": machine(), "base": args.base,
                                        "results": results})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
