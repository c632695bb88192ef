"""B2 — the router: throughput and latency on the embedded stack (BENCHMARKS.md, B2).

Starts a Tansu broker and Redis on free ports, one router and one LLM worker with the replay
teacher (``--llm-latency-ms``, default 300), and a task whose certified model was fitted on the
Banking77 train split (gold teacher). Then, in one run:

1. ``--rounds`` interleaved rounds of the raw embedder alone (in this process, at the router's
   batch size: the physical limit) and a burst of unseen Banking77 test texts sent as fast as
   possible (cold embedding cache; ``--n`` texts in all): router throughput (request produced
   → router output read back), end-to-end label throughput, CPU per request of the router
   process, and the ratio router/embedder per round (median reported);
2. the same ``--n`` texts again with new request ids (warm embedding cache);
3. a fixed offered load at ``--load-fraction`` (default ½) of the cold burst throughput for
   ``--duration`` seconds, cold and then warm: latency p50/p95/p99 from produce to label,
   separately for handled (surrogate) and deferred (LLM) requests, with the router's own
   share (from its latency histogram) and one broker hop at the same rate for comparison.

    python bench/b2_router.py [--n 2000] [--duration 10] [--embedder minilm-onnx]

Prints a table and writes bench/results/b2_router.json. All Kafka clients use
``fetch.wait.max.ms=10``: Tansu does not wake a waiting fetch when data arrives, so each hop
costs about half the fetch wait on the embedded broker; real Kafka does not have this floor.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import confluent_kafka
import httpx
import numpy as np
import orjson
from _common import add_common_args, bench_cache, embeddings, load_dataset, machine, write_json

from tracer_stream.bus import Producer
from tracer_stream.config import KafkaSettings, TopicSettings
from tracer_stream.embed import load_embedder
from tracer_stream.learn import Artefact, FitConfig, fit
from tracer_stream.registry import Registry
from tracer_stream.signing import VERIFY_KEYS_ENV, SigningKey, VerifyKeys
from tracer_stream.stack import EmbeddedStack, free_port
from tracer_stream.tasks import Task
from tracer_stream.tasks.binding import binding_for

FETCH_WAIT_MS = "10"


def bench_key() -> SigningKey:
    """The benchmark's own model key, made once and kept (mode 0600) in the bench cache, so
    that the cached model verifies on the next run."""
    path = bench_cache() / "b2-model-signing-key"
    if not path.is_file():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(SigningKey.generate().seed_b64)
    return SigningKey.parse(path.read_text())


KEY = bench_key()


def fitted_model(ds: Any, spec: str, alpha: float) -> Artefact:
    """The certified Banking77 model, fitted once per embedder and α and cached on disk."""
    embedder = load_embedder(spec)
    path = bench_cache() / f"b2-model-{embedder.identity.id.replace('/', '_')}-{alpha}.bin"
    if path.is_file():
        return Artefact.from_bytes(path.read_bytes(), VerifyKeys.parse(KEY.public_b64))
    train = ds.subset(ds.split == "train")
    print(f"fitting the Banking77 model ({len(train.texts)} traces, {spec}) ...", flush=True)
    art = fit(embeddings(train, embedder), train.gold.tolist(), embedder=embedder.identity,
              config=FitConfig(zoo="fast", alphas=(alpha,), target_alpha=alpha))
    path.write_bytes(art.to_bytes(KEY))
    return art


class Watcher(threading.Thread):
    """Reads the labels and llm-requests topics; remembers when each request's router output
    (a label, or the LLM request that answers the requester) and its label arrived."""

    def __init__(self, kafka: KafkaSettings, topics: TopicSettings) -> None:
        super().__init__(daemon=True)
        conf = kafka.consumer_config(f"b2-watch-{uuid.uuid4().hex[:6]}")
        conf.pop("partition.assignment.strategy")
        self.consumer = confluent_kafka.Consumer(conf)
        self.labels_topic = topics.name("labels")
        parts = []
        for name in (self.labels_topic, topics.name("llm_requests")):
            meta = self.consumer.list_topics(name, timeout=10).topics[name]
            parts += [confluent_kafka.TopicPartition(name, p, confluent_kafka.OFFSET_BEGINNING)
                      for p in meta.partitions]
        self.consumer.assign(parts)
        self.routed: dict[str, float] = {}
        self.labelled: dict[str, tuple[float, str]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            first = self.consumer.poll(0.05)  # returns at the first message, unlike consume()
            if first is None:
                continue
            for msg in [first, *self.consumer.consume(500, timeout=0)]:
                if msg.error() is not None:
                    continue
                at, doc = time.perf_counter(), orjson.loads(msg.value() or b"{}")
                rid = doc["request_id"]
                if msg.topic() == self.labels_topic:
                    self.labelled.setdefault(rid, (at, doc["source"]))
                    self.routed.setdefault(rid, at)
                elif doc.get("answer_requester"):
                    self.routed.setdefault(rid, at)
        self.consumer.close()

    def wait(self, ids: list[str], what: dict[str, Any], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not all(i in what for i in ids):
            if time.monotonic() > deadline:
                missing = sum(i not in what for i in ids)
                sys.exit(f"error: {missing} of {len(ids)} requests unanswered after {timeout_s} s")
            time.sleep(0.02)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None}
    p = np.percentile(np.asarray(values) * 1000.0, [50, 95, 99])
    return {"n": len(values), "p50_ms": round(float(p[0]), 1), "p95_ms": round(float(p[1]), 1),
            "p99_ms": round(float(p[2]), 1)}


class Driver:
    """Produces requests and turns what the watcher saw into figures."""

    def __init__(self, kafka: KafkaSettings, topics: TopicSettings, task: str,
                 watcher: Watcher, router_pid: int, router_port: int) -> None:
        self.producer = Producer(kafka, **{"linger.ms": 1})
        self.topic, self.task, self.watcher = topics.name("requests"), task, watcher
        self.pid, self.port = router_pid, router_port

    def inside_router(self) -> dict[str, tuple[float, float]]:
        """``path → (sum s, count)`` of the router's own latency histogram (receipt of the
        batch to acknowledgement of its outputs)."""
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        out: dict[str, list[float]] = {}
        for family in text_string_to_metric_families(text):
            if family.name != "tracer_stream_router_latency_seconds":
                continue
            for sample in family.samples:
                slot = out.setdefault(sample.labels["path"], [0.0, 0.0])
                if sample.name.endswith("_sum"):
                    slot[0] = sample.value
                elif sample.name.endswith("_count"):
                    slot[1] = sample.value
        return {k: (v[0], v[1]) for k, v in out.items()}

    def _send(self, rid: str, text: str) -> None:
        self.producer.send_raw(self.topic, orjson.dumps({
            "schema_version": 1, "request_id": rid, "task": self.task, "text": text,
            "created_at": time.time()}), key=rid)

    def one_hop(self, labels_topic: str, rate: float, n: int) -> dict[str, Any]:
        """The broker's share: messages produced straight to the labels topic at ``rate`` and
        read back by the watcher — one hop, where a routed request takes two."""
        ids = [f"hop-{i}-{uuid.uuid4().hex[:6]}" for i in range(n)]
        sent: dict[str, float] = {}
        start = time.perf_counter()
        for k, rid in enumerate(ids):
            delay = start + k / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent[rid] = time.perf_counter()
            self.producer.send_raw(labels_topic, orjson.dumps(
                {"request_id": rid, "source": "probe"}), key=rid)
        self.producer.flush_or_raise()
        self.watcher.wait(ids, self.watcher.labelled, 60)
        return percentiles([self.watcher.labelled[i][0] - sent[i] for i in ids])

    def burst(self, texts: list[str], name: str) -> dict[str, Any]:
        ids = [f"{name}-{i}-{uuid.uuid4().hex[:6]}" for i in range(len(texts))]
        cpu0, start = cpu_seconds(self.pid), time.perf_counter()
        for rid, text in zip(ids, texts, strict=True):
            self._send(rid, text)
        self.producer.flush_or_raise()
        self.watcher.wait(ids, self.watcher.routed, 600)
        routed_s = max(self.watcher.routed[i] for i in ids) - start
        cpu = cpu_seconds(self.pid) - cpu0
        self.watcher.wait(ids, self.watcher.labelled, 600)
        labelled_s = max(self.watcher.labelled[i][0] for i in ids) - start
        handled = sum(self.watcher.labelled[i][1] == "surrogate" for i in ids)
        return {"phase": name, "requests": len(ids), "router_req_per_s": len(ids) / routed_s,
                "e2e_labels_per_s": len(ids) / labelled_s, "coverage": handled / len(ids),
                "router_cpu_ms_per_req": 1000.0 * cpu / len(ids)}

    def paced(self, texts: list[str], rate: float, duration_s: float, name: str
              ) -> dict[str, Any]:
        n = max(1, min(len(texts), int(rate * duration_s)))
        ids = [f"{name}-{i}-{uuid.uuid4().hex[:6]}" for i in range(n)]
        sent: dict[str, float] = {}
        inside_before = self.inside_router()
        start = time.perf_counter()
        for k, (rid, text) in enumerate(zip(ids, texts, strict=False)):
            delay = start + k / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent[rid] = time.perf_counter()
            self._send(rid, text)
        self.producer.flush_or_raise()
        self.watcher.wait(ids, self.watcher.labelled, 600)
        lat: dict[str, list[float]] = {"surrogate": [], "llm": []}
        for rid in ids:
            at, source = self.watcher.labelled[rid]
            lat.setdefault(source, []).append(at - sent[rid])
        inside = self.inside_router()
        mean_inside = {}
        for path in ("handled", "deferred"):
            total, count = (inside.get(path, (0.0, 0.0))[i]
                            - inside_before.get(path, (0.0, 0.0))[i] for i in (0, 1))
            mean_inside[path] = round(1000.0 * total / count, 1) if count else None
        return {"phase": name, "offered_req_per_s": rate, "requests": n,
                "handled": percentiles(lat["surrogate"]), "deferred": percentiles(lat["llm"]),
                "router_internal_mean_ms": mean_inside}


def raw_embedder(embedder: Any, texts: list[str], batch: int) -> float:
    """Texts/s of the embedder alone, called with the router's batch size."""
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        embedder.embed(texts[i:i + batch])
    return len(texts) / (time.perf_counter() - start)


def interleaved(driver: Driver, spec: str, texts: list[str], batch: int, rounds: int
                ) -> dict[str, Any]:
    """Rounds of (raw embedder on 512 texts, cold router burst on a fresh share of ``texts``):
    the machine is shared and its speed drifts, so each ratio compares neighbours in time."""
    embedder = load_embedder(spec)
    embedder.embed(texts[:batch])  # warm-up
    rows = []
    cpu, routed = 0.0, 0
    for k, chunk in enumerate(np.array_split(np.asarray(texts, dtype=object), rounds)):
        raw = raw_embedder(embedder, texts[:512], batch)
        burst = driver.burst([str(t) for t in chunk], f"burst_cold_{k + 1}")
        rows.append({"round": k + 1, "raw_embedder_texts_per_s": raw, **burst,
                     "ratio": burst["router_req_per_s"] / raw})
        cpu += burst["router_cpu_ms_per_req"] * burst["requests"]
        routed += burst["requests"]
    return {"rounds": rows,
            "router_req_per_s": float(np.median([r["router_req_per_s"] for r in rows])),
            "raw_embedder_texts_per_s": float(np.median([r["raw_embedder_texts_per_s"]
                                                         for r in rows])),
            "router_over_embedder": float(np.median([r["ratio"] for r in rows])),
            "router_cpu_ms_per_req": cpu / routed,
            "coverage": float(np.mean([r["coverage"] for r in rows])),
            "e2e_labels_per_s": float(np.median([r["e2e_labels_per_s"] for r in rows]))}


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tracer_stream.cli.main", *args], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"error: a service exited; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit(f"error: service not ready after 120 s; see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(parser)
    parser.add_argument("--n", type=int, default=2000, help="texts per burst")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per paced run")
    parser.add_argument("--load-fraction", type=float, default=0.5)
    parser.add_argument("--llm-latency-ms", type=float, default=300.0)
    parser.add_argument("--alpha", type=float, default=0.95)
    parser.add_argument("--batch", type=int, default=64, help="router batch_max_size")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds of raw embedder and cold router burst")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the services on the way out

    ds = load_dataset(args.data_dir, "banking77")
    test = ds.subset(ds.split == "test")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(test.texts))
    burst_texts = [test.texts[i] for i in order[:args.n]]
    train_texts = [ds.texts[i] for i in np.flatnonzero(ds.split == "train")]
    paced_texts = [train_texts[i] for i in rng.permutation(len(train_texts))]
    model = fitted_model(ds, args.embedder, args.alpha)
    print(f"model: {model.manifest['family']}, certified={model.certified}, calibration "
          f"coverage {model.manifest['coverage']:.3f} at alpha {args.alpha}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="b2-"))
    topics = TopicSettings(prefix="b2.")
    stack = EmbeddedStack(tmp / "stack", free_port(), free_port(), topics)
    stack.up()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        registry = Registry.from_settings(stack.redis)
        labels = sorted(set(ds.gold.tolist()))
        task = Task(name="banking77", labels=labels, alpha=args.alpha, embedder=args.embedder)
        registry.put_task(task)
        model = model.with_binding(binding_for(task, embedder=model.embedder.id,
                                               delta_k=model.delta,
                                               traces={"n": model.manifest["n_traces"]}))
        version = registry.add_version("banking77", model.to_bytes(KEY), model.manifest)
        registry.set_current("banking77", version)
        replay = tmp / "replay.jsonl"
        replay.write_text("".join(orjson.dumps({"text": t, "label": y}).decode() + "\n"
                                  for t, y in zip(ds.texts, ds.gold.tolist(), strict=True)))
        ports = {"router": free_port(), "worker": free_port()}
        env = {**os.environ, **stack.env(), VERIFY_KEYS_ENV: KEY.public_b64,
               "TRACER_STREAM_KAFKA_FETCH_WAIT_MAX_MS": FETCH_WAIT_MS,
               "TRACER_STREAM_ROUTER_HTTP_PORT": str(ports["router"]),
               "TRACER_STREAM_ROUTER_BATCH_MAX_SIZE": str(args.batch),
               "TRACER_STREAM_WORKER_HTTP_PORT": str(ports["worker"]),
               "TRACER_STREAM_WORKER_REPLAY_LATENCY_MS": str(args.llm_latency_ms),
               "TRACER_STREAM_WORKER_MAX_CONCURRENCY": "512",
               "TRACER_STREAM_WORKER_BATCH_MAX_SIZE": "512", "HF_HUB_OFFLINE": "1"}
        worker = start(["worker", "--backend", "replay", "--replay-file", str(replay)], env,
                       tmp / "worker.log")
        router = start(["router"], env, tmp / "router.log")
        procs += [worker, router]
        wait_ready(ports["worker"], worker, tmp / "worker.log")
        wait_ready(ports["router"], router, tmp / "router.log")
        watcher = Watcher(stack.kafka, topics)
        watcher.start()
        driver = Driver(stack.kafka, topics, "banking77", watcher, router.pid, ports["router"])
        driver.burst(paced_texts[-200:], "warmup")

        cold = interleaved(driver, args.embedder, burst_texts, args.batch, args.rounds)
        warm = driver.burst(burst_texts, "burst_warm")
        rate = args.load_fraction * cold["router_req_per_s"]
        paced_cold = driver.paced(paced_texts, rate, args.duration, "paced_cold")
        paced_warm = driver.paced(paced_texts, rate, args.duration, "paced_warm")
        hop = driver.one_hop(topics.name("labels"), rate, max(50, int(rate * 5)))
        watcher.stop.set()
        result = {
            "benchmark": "B2", "machine": machine(), "embedder": args.embedder,
            "alpha": args.alpha, "router_batch_max_size": args.batch,
            "llm_latency_ms": args.llm_latency_ms, "fetch_wait_max_ms": int(FETCH_WAIT_MS),
            "raw_embedder_texts_per_s": cold["raw_embedder_texts_per_s"],
            "router_over_embedder": cold["router_over_embedder"],
            "cold": cold, "warm": warm, "paced": [paced_cold, paced_warm], "one_broker_hop": hop,
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        stack.down()
    out = write_json("b2_router.json", result)
    report(result)
    print(f"\nraw results: {out}; service logs in {tmp}")


def report(r: dict[str, Any]) -> None:
    print(f"\nB2 router — {r['embedder']}, batch {r['router_batch_max_size']}, "
          f"LLM latency {r['llm_latency_ms']:.0f} ms, load avg {r['machine']['load_avg_1m']}")
    print(f"router/embedder {r['router_over_embedder']:.2f} (median of the rounds)")
    print(f"{'cold burst':12} {'n':>5} {'embedder/s':>10} {'router/s':>9} {'ratio':>6} "
          f"{'labels/s':>9} {'coverage':>9} {'cpu ms/req':>10}")
    for b in r["cold"]["rounds"]:
        print(f"{'round ' + str(b['round']):12} {b['requests']:>5} "
              f"{b['raw_embedder_texts_per_s']:>10.0f} {b['router_req_per_s']:>9.0f} "
              f"{b['ratio']:>6.2f} {b['e2e_labels_per_s']:>9.0f} {b['coverage']:>9.3f} "
              f"{b['router_cpu_ms_per_req']:>10.2f}")
    w = r["warm"]
    print(f"{'warm cache':12} {w['requests']:>5} {'':>10} {w['router_req_per_s']:>9.0f} "
          f"{'':>6} {w['e2e_labels_per_s']:>9.0f} {w['coverage']:>9.3f} "
          f"{w['router_cpu_ms_per_req']:>10.2f}")
    print(f"{'paced':12} {'offered/s':>9} {'path':>9} {'n':>5} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'p99 ms':>7} {'in router':>9}")
    for p in r["paced"]:
        for path in ("handled", "deferred"):
            s = p[path]
            inside = p["router_internal_mean_ms"][path]
            print(f"{p['phase']:12} {p['offered_req_per_s']:>9.0f} {path:>9} {s['n']:>5} "
                  f"{s['p50_ms'] or 0:>7} {s['p95_ms'] or 0:>7} {s['p99_ms'] or 0:>7} "
                  f"{inside if inside is not None else '-':>9}")
    hop = r["one_broker_hop"]
    print(f"{'one hop':12} {r['paced'][0]['offered_req_per_s']:>9.0f} {'broker':>9} "
          f"{hop['n']:>5} {hop['p50_ms']:>7} {hop['p95_ms']:>7} {hop['p99_ms']:>7}")
    print("(latency: request produced → label read back, two broker hops; 'in router': mean "
          "from the batch's receipt to the acknowledgement of its outputs; 'one hop': a message "
          "produced and read back, the broker's share)")


if __name__ == "__main__":
    main()
