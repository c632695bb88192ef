"""The Grafana dashboard shipped with the chart (dashboards/tracer-stream.json) and the alert rules
(files/alerts.yml), checked against the metrics the services really register.

The registered series come from the services' own metrics classes, instantiated against fresh
``prometheus_client`` registries: a query that names a metric, a label or a suffix no service
exports (a counter without ``_total``, ``le`` on a gauge, ``by (model)`` where the label is
``version``) fails here instead of drawing an empty panel or never firing.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from .conftest import CHART_DIR, REPO, VALUES_DIR, Manifests, by_kind, load_values, strip_private

pytestmark = pytest.mark.unit

DASHBOARD = CHART_DIR / "dashboards" / "tracer-stream.json"
ALERTS = CHART_DIR / "files" / "alerts.yml"
TASK_QUERY = "label_values(tracer_stream_router_requests_total, task)"
# Labels Prometheus attaches to every scraped series (scrape config, ServiceMonitor targets).
TARGET_LABELS = frozenset({"instance", "job", "namespace", "pod", "service", "container",
                           "endpoint"})
# Series Prometheus makes itself, or a standard exporter exports (kafka_exporter, which Strimzi's
# Kafka Exporter mirrors), with the labels they carry.
SYNTHETIC = {"up": frozenset(),
             "kafka_consumergroup_lag": frozenset({"consumergroup", "topic", "partition"})}
# The suffixes each metric type exports (prometheus_client's text exposition).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}
AGGREGATIONS = ("sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk",
                "bottomk", "quantile", "count_values")
FUNCTIONS = frozenset(AGGREGATIONS) | {
    "rate", "irate", "increase", "delta", "idelta", "histogram_quantile", "clamp_min",
    "clamp_max", "vector", "scalar", "abs", "absent", "label_values", "changes", "resets",
    "max_over_time", "min_over_time", "avg_over_time", "time", "timestamp", "deriv",
}
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                      "and", "or", "unless", "offset", "inf", "nan"})


@dataclass(frozen=True)
class Series:
    family: str
    kind: str
    labels: frozenset[str]


@dataclass
class Query:
    """What one PromQL expression refers to."""

    selectors: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # name, matchers
    groupings: list[tuple[frozenset[str], list[str]]] = field(default_factory=list)
    functions: set[str] = field(default_factory=set)
    aggregated: bool = False  # an aggregation (which drops the labels it does not group by)


class _RecordingRegistry(CollectorRegistry):
    """A fresh registry that also remembers its collectors (for their label names)."""

    def __init__(self) -> None:
        super().__init__()
        self.collectors: list[Any] = []

    def register(self, collector: Any) -> None:
        super().register(collector)
        self.collectors.append(collector)


@functools.cache
def registered_series() -> dict[str, Series]:
    """Every sample name the three services can export → its family, type and label names."""
    from tracer_stream.routing.metrics import RouterMetrics
    from tracer_stream_trainer.metrics import TrainerMetrics
    from tracer_stream_worker.metrics import WorkerMetrics

    series: dict[str, Series] = {}
    for build in (RouterMetrics, WorkerMetrics, TrainerMetrics):
        registry = _RecordingRegistry()
        build(registry)
        labels: dict[str, frozenset[str]] = {}
        for collector in registry.collectors:
            # prometheus_client keeps a metric's label names only on the wrapper (no public
            # accessor); families of labelled metrics without children carry no samples.
            names = getattr(collector, "_labelnames", None)
            if names is not None:
                for family in collector.describe():
                    labels[family.name] = frozenset(names)
        families = list(registry.collect())
        assert families, f"{build.__name__} registered nothing"
        for family in families:
            for suffix in SUFFIXES[family.type]:
                name = family.name + suffix
                assert name not in series, f"{name} registered twice"
                series[name] = Series(family.name, family.type,
                                      labels.get(family.name, frozenset()))
    return series


def _closing(expr: str, start: int) -> int:
    """Index of the parenthesis that closes the one at ``start``."""
    depth = 0
    for i in range(start, len(expr)):
        depth += {"(": 1, ")": -1}.get(expr[i], 0)
        if depth == 0:
            return i
    raise AssertionError(f"unbalanced parentheses in {expr!r}")


def _label_list(text: str) -> frozenset[str]:
    return frozenset(n.strip() for n in text.split(",") if n.strip())


_SELECTOR = re.compile(r"([a-zA-Z_:][\w:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(r'\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_IDENT = re.compile(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)(\s*\()?")


def parse(expr: str) -> Query:
    """The metric selectors, grouping clauses and functions of a PromQL expression.

    Not a full parser: enough for the expressions this chart ships (selectors with matchers,
    ranges, aggregations with ``by``/``without`` before or after their argument, functions and
    binary operators). Anything it does not recognise makes the checks fail loudly.
    """
    q = Query()
    # Aggregations and the metrics their grouping labels apply to.
    agg = re.compile(rf"\b({'|'.join(AGGREGATIONS)})\s*(?:(by|without)\s*\(([^)]*)\)\s*)?\(")
    for m in agg.finditer(expr):
        q.aggregated = True
        open_at = m.end() - 1
        close_at = _closing(expr, open_at)
        clause = m.group(3)
        if clause is None:
            post = re.match(r"\s*(by|without)\s*\(([^)]*)\)", expr[close_at + 1:])
            clause = post.group(2) if post else None
        if clause is not None:
            body = parse(expr[open_at + 1:close_at])
            q.groupings.append((_label_list(clause), [name for name, _ in body.selectors]))
    # Vector matching: its labels must exist on the series of the expression.
    for m in re.finditer(r"\b(?:on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr):
        q.groupings.append((_label_list(m.group(1)), []))
    rest = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    # Selectors with matchers, then bare metric names.
    for m in _SELECTOR.finditer(rest):
        body = m.group(2)
        matchers = {mm.group(1): mm.group(3) for mm in _MATCHER.finditer(body)}
        consumed = "".join(mm.group(0) for mm in _MATCHER.finditer(body))
        assert consumed.strip() == body.strip(), f"cannot read the matchers {{{body}}}"
        name = m.group(1) or matchers.pop("__name__", None)
        assert name, f"selector without a metric name in {expr!r}"
        q.selectors.append((name, matchers))
    rest = _SELECTOR.sub(" ", rest)
    rest = re.sub(r'"(?:[^"\\]|\\.)*"', " ", rest)  # strings outside selectors
    rest = re.sub(r"\[[^\]]*\]", " ", rest)  # ranges
    for m in _IDENT.finditer(rest):
        word, call = m.group(1), m.group(2)
        if call:
            q.functions.add(word)
        elif word.lower() not in KEYWORDS:
            q.selectors.append((word, {}))
    return q


def check_expr(expr: str, *, legend: str = "") -> list[str]:
    """Every problem of ``expr`` against the registered series (empty: fine)."""
    known = registered_series()
    problems: list[str] = []

    def labels_of(name: str) -> frozenset[str] | None:
        if name in SYNTHETIC:
            return SYNTHETIC[name] | TARGET_LABELS
        if name not in known:
            return None
        s = known[name]
        return s.labels | TARGET_LABELS | ({"le"} if name.endswith("_bucket") else set())

    q = parse(expr)
    if not q.selectors:
        problems.append("names no series")
    for fn in sorted(q.functions - FUNCTIONS):
        problems.append(f"unknown function {fn}()")
    names = [name for name, _ in q.selectors]
    for name, matchers in q.selectors:
        have = labels_of(name)
        if have is None:
            base = re.sub(r"_(total|bucket|sum|count|created|info)$", "", name)
            family = next((s for s in known.values() if s.family == base), None)
            hint = (f" ({base} is a {family.kind}: use "
                    f"{' / '.join(base + x for x in SUFFIXES[family.kind])})" if family else "")
            problems.append(f"{name} is registered by no service{hint}")
            continue
        for label in sorted(set(matchers) - have):
            problems.append(f"{name} has no label {label!r}")
    for labels, scope in q.groupings:
        if scope:  # an aggregation: every series it aggregates has the labels
            for name in scope:
                missing = labels - (labels_of(name) or labels)
                if missing:
                    problems.append(f"grouping by {sorted(missing)}: not labels of {name}")
        elif not any(labels <= (labels_of(n) or set()) for n in names):  # vector matching
            problems.append(f"matching on {sorted(labels)}: no series has these labels")
    shown = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend))
    if q.aggregated:
        kept: set[str] = set().union(*(labels for labels, _ in q.groupings))
    else:
        kept = set().union(*(labels_of(n) or set() for n in names))
    for label in sorted(shown - kept):
        problems.append(f"legend shows {{{{{label}}}}}, which the query does not keep")
    return problems


# ------------------------------------------------------------------------------ the checker


def test_registered_series_are_read_from_the_services() -> None:
    series = registered_series()
    assert series["tracer_stream_router_requests_total"].labels == {"task", "outcome"}
    assert series["tracer_stream_router_latency_seconds_bucket"].kind == "histogram"
    assert series["tracer_stream_worker_llm_tokens_total"].labels == {"task", "kind"}
    assert series["tracer_stream_trainer_live_agreement_lower"].labels == {"task"}
    assert "tracer_stream_router_requests" not in series  # a counter only exports _total


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("rate(tracer_stream_router_requests[5m])", "use tracer_stream_router_requests_total"),
        ("tracer_stream_router_gate_open_total", "registered by no service"),
        ('sum(rate(tracer_stream_router_requests_total{model="x"}[5m]))', "no label 'model'"),
        ("sum by (task) (rate(tracer_stream_router_dead_letters_total[5m]))",
         "grouping by ['task']"),
        ("sum(rate(tracer_stream_router_cache_hits_total[5m])) by (reason)", "registered by no"),
        ("histogram_quantile(0.5, sum by (le) (tracer_stream_router_gate_open))",
         "grouping by ['le']"),
        ("sum(rate(tracer_stream_worker_llm_calls_total[5m]))", "{{outcome}}"),
        ("rated(tracer_stream_worker_llm_calls_total[5m])", "unknown function rated()"),
    ],
)
def test_the_checker_catches_wrong_queries(expr: str, problem: str) -> None:
    legend = "{{outcome}}" if "{{" in problem else ""
    problems = check_expr(expr, legend=legend)
    assert any(problem in p for p in problems), problems


# -------------------------------------------------------------------------------- dashboard


@functools.cache
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _targets() -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in _panels(dashboard()["panels"]) for t in p.get("targets", [])]


def test_dashboard_is_grafana_json_with_unique_panel_ids() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 36
    assert board["uid"] == "tracer-stream"
    panels = list(_panels(board["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    assert all(isinstance(i, int) for i in ids)
    # The grid: inside 24 columns, no two panels on the same cells.
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine
    for p in panels:
        if p["type"] != "row":
            assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
            assert p["targets"], p["title"]
            refs = [t["refId"] for t in p["targets"]]
            assert len(refs) == len(set(refs)), p["title"]


def test_dashboard_variables() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    task = variables["task"]
    assert task["type"] == "query"
    assert task["datasource"]["uid"] == "${datasource}"
    query = task["query"]["query"] if isinstance(task["query"], dict) else task["query"]
    assert query == task["definition"] == TASK_QUERY
    metric, label = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query).groups()
    assert not check_expr(metric, legend=f"{{{{{label}}}}}")
    assert task["includeAll"] and task["multi"]


def test_dashboard_queries_use_registered_series_and_labels() -> None:
    problems = [
        f"{title} / {t['refId']}: {problem}"
        for title, t in _targets()
        for problem in check_expr(t["expr"], legend=t.get("legendFormat", ""))
    ]
    assert not problems, "\n".join(problems)


def test_dashboard_shows_what_the_operations_guide_promises() -> None:
    """The series each part of the dashboard is built on (docs/operations.md, "Dashboard")."""
    used = {name for _, t in _targets() for name, _ in parse(t["expr"]).selectors}
    families = {registered_series()[n].family for n in used}
    p = "tracer_stream_"
    expected = {
        f"{p}router_requests", f"{p}router_deferred", f"{p}router_latency_seconds",
        f"{p}router_batch_size", f"{p}router_embedding_cache_hits",
        f"{p}router_embedding_cache_misses", f"{p}router_dead_letters",
        f"{p}router_gate_open", f"{p}router_model_info", f"{p}router_audit_rate",
        f"{p}router_redis_up", f"{p}worker_llm_calls", f"{p}worker_llm_tokens",
        f"{p}worker_llm_cost_usd", f"{p}worker_dead_letters", f"{p}worker_in_flight",
        f"{p}worker_llm_retries", f"{p}trainer_live_agreement",
        f"{p}trainer_live_agreement_lower", f"{p}trainer_drift_alarms", f"{p}trainer_refits",
    }
    assert expected <= families, sorted(expected - families)
    # Every panel filtered by task uses the variable the same way (multi-value, "All").
    for title, t in _targets():
        for _, matchers in parse(t["expr"]).selectors:
            if "task" in matchers:
                assert re.search(r'task\s*=~\s*"\$task"', t["expr"]), title


def test_there_is_one_copy_of_the_dashboard() -> None:
    assert not (REPO / "deploy" / "grafana").exists(), (
        "the dashboard lives in helm/tracer-stream/dashboards/ only (read with .Files.Get)"
    )


# ------------------------------------------------------------------------------------ chart


def test_dashboard_configmap_for_the_grafana_sidecar(manifests: Manifests) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    values = load_values(VALUES_DIR / "keda.yaml")["grafana"]["dashboard"]
    assert values["enabled"] is True
    configmaps = by_kind(manifests("keda"), "ConfigMap")
    (name,) = [n for n in configmaps if n.endswith("-dashboard")]
    configmap = configmaps[name]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == values["annotations"]
    (text,) = configmap["data"].values()
    assert json.loads(text) == dashboard()
    obj = strip_private(configmap)
    kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
    # Off by default.
    assert not [n for n in by_kind(manifests("defaults"), "ConfigMap") if n.endswith("-dashboard")]


def test_dashboard_values_defaults(chart: Any) -> None:
    assert chart.values["grafana"]["dashboard"]["enabled"] is False
    assert chart.values["grafana"]["dashboard"]["labels"] == {"grafana_dashboard": "1"}


# ------------------------------------------------------------------------------------ alerts


def test_alert_rules_use_registered_series_and_labels() -> None:
    """The same check as the dashboard's, on files/alerts.yml (the text-based check in
    test_helm_chart.py only looks at metric names)."""
    rules = yaml.safe_load(ALERTS.read_text())
    problems = []
    for group in rules["groups"]:
        for rule in group["rules"]:
            shown = " ".join(str(v) for v in rule["annotations"].values())
            legend = " ".join(re.findall(r"\{\{\s*\$labels\.(\w+)\s*\}\}", shown))
            problems += [
                f"{rule['alert']}: {problem}"
                for problem in check_expr(rule["expr"],
                                          legend=" ".join(f"{{{{{x}}}}}" for x in legend.split()))
            ]
    assert not problems, "\n".join(problems)
