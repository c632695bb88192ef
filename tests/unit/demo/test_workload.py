"""The synthetic demo workload: deterministic, imbalanced, with ambiguous and out-of-scope
shares, consistent teacher labels, and varied texts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from tracer_stream.demo import (
    Request,
    demo_task,
    generate_workload,
    load_dataset,
    task_for,
    write_replay_file,
)
from tracer_stream.demo.catalog import AMBIGUOUS, INTENTS, OUT_OF_SCOPE_LABEL, SLOTS, template_slots
from tracer_stream.errors import ConfigError
from tracer_stream.llm.replay import load_replay_file

N = 6000


@pytest.fixture(scope="module")
def workload() -> list:
    return generate_workload(N, seed=7)


def test_same_seed_same_requests_and_other_seed_differs(workload: list) -> None:
    assert generate_workload(N, seed=7) == workload
    assert generate_workload(200, seed=8) != workload[:200]


def test_every_label_is_in_the_task_and_most_appear(workload: list) -> None:
    task = demo_task()
    labels = Counter(r.label for r in workload)
    assert set(labels) <= set(task.label_names)
    assert len(task.label_names) == len(INTENTS) + 1 >= 31
    assert len(labels) == len(task.label_names)
    assert all(label.description for label in task.labels)


def test_imbalance_is_zipf_like(workload: list) -> None:
    counts = Counter(r.label for r in workload if r.kind == "intent")
    ranked = [n for _, n in counts.most_common()]
    assert ranked[0] / ranked[-1] > 10  # a heavy head and a thin tail
    head = counts[INTENTS[0].name] / counts.total()
    assert 0.10 < head < 0.30
    assert counts[INTENTS[0].name] > counts[INTENTS[10].name] > counts[INTENTS[-1].name]


def test_ambiguous_and_out_of_scope_shares(workload: list) -> None:
    kinds = Counter(r.kind for r in workload)
    assert abs(kinds["ambiguous"] / N - 0.12) < 0.02
    assert abs(kinds["out_of_scope"] / N - 0.07) < 0.015
    assert all(r.label == OUT_OF_SCOPE_LABEL for r in workload if r.kind == "out_of_scope")
    pairs = {frozenset((a, b)) for a, b, _ in AMBIGUOUS}
    ambiguous = [r for r in workload if r.kind == "ambiguous"]
    # the teacher's pick is one of the pair, and both members of a pair get picked
    assert all(any(r.label in pair for pair in pairs) for r in ambiguous)
    picked = Counter(r.label for r in ambiguous)
    for first, second, _ in AMBIGUOUS:
        assert picked[first] > 0 and picked[second] > 0


def test_texts_vary_without_a_duplicate_explosion(workload: list) -> None:
    texts = [r.text for r in workload]
    assert len(set(texts)) / len(texts) > 0.75
    assert Counter(texts).most_common(1)[0][1] < 0.01 * N
    assert all(t.strip() and "{" not in t for t in texts)


def test_identical_texts_carry_identical_labels(workload: list) -> None:
    seen: dict[str, str] = {}
    for r in workload:
        assert seen.setdefault(r.text, r.label) == r.label


def test_every_template_slot_has_fillers() -> None:
    templates = [t for i in INTENTS for t in i.templates]
    templates += [t for _, _, group in AMBIGUOUS for t in group]
    for template in templates:
        assert all(slot in SLOTS for slot in template_slots(template)), template


def test_replay_file_answers_every_request(workload: list, tmp_path: Path) -> None:
    answers = load_replay_file(write_replay_file(workload, tmp_path / "teacher.jsonl"))
    assert all(answers[r.text] == r.label for r in workload)


def test_dataset_formats_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(x) for x in (
        {"text": "a", "label": "x"}, {"input": "b", "teacher": "y", "gold": "x"},
        {"text": "a", "label": "y"})) + b"\n")
    requests = load_dataset(path)
    assert [(r.text, r.label, r.gold) for r in requests] == [("a", "y", None), ("b", "y", "x"),
                                                             ("a", "y", None)]
    assert task_for([*requests, Request("c", "x")], "t").label_names == ("x", "y")
    with pytest.raises(ConfigError, match="two distinct labels"):
        task_for(requests, "t")
    path.write_text('{"text": "a"}\n')
    with pytest.raises(ConfigError, match=r"traffic.jsonl:1"):
        load_dataset(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_dataset(tmp_path / "missing.jsonl")
