"""Strict answer parsing and Retry-After / backoff arithmetic."""

from __future__ import annotations

import random
from email.utils import formatdate

import httpx
import pytest

from tracer_stream.llm import RetryPolicy, corrective_prompt, parse_label, parse_retry_after
from tracer_stream.llm.retry import is_retryable_status

LABELS = ("refund", "cancel_order", "Billing Question")


@pytest.mark.parametrize(("answer", "expected"), [
    ("refund", "refund"),
    ("  Refund.\n", "refund"),
    ('"REFUND"', "refund"),
    ("**cancel_order**", "cancel_order"),
    ("`cancel_order`!", "cancel_order"),
    ("billing   question", "Billing Question"),
    ("“Billing Question”.", "Billing Question"),
    ("refund or cancel_order", None),
    ("The label is refund", None),
    ("refunds", None),
    ("", None),
    ("...", None),
])
def test_answers_are_matched_exactly_after_normalisation(answer: str, expected: str | None
                                                         ) -> None:
    assert parse_label(answer, LABELS) == expected


def test_labels_that_collide_after_normalisation_only_match_exactly() -> None:
    labels = ("Yes", "yes", "no")
    assert parse_label("Yes", labels) == "Yes"
    assert parse_label("yes", labels) == "yes"
    assert parse_label("YES", labels) is None
    assert parse_label("No.", labels) == "no"


def test_the_corrective_prompt_lists_every_label_and_echoes_the_answer() -> None:
    text = corrective_prompt("I'd say refund" + "!" * 500, LABELS)
    assert "I'd say refund" in text and len(text) < 400
    assert all(f"- {label}" in text for label in LABELS)


def test_retryable_statuses() -> None:
    assert all(is_retryable_status(s) for s in (408, 429, 500, 502, 503, 504, 529))
    assert not any(is_retryable_status(s) for s in (400, 401, 403, 404, 422))


def test_backoff_is_full_jitter_capped_and_retry_after_wins() -> None:
    policy = RetryPolicy(max_retries=10, base_s=0.5, max_s=4.0)
    rng = random.Random(1)
    for retry in range(10):
        ceiling = min(4.0, 0.5 * 2**retry)
        draws = [policy.delay(retry, None, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling / 2
    assert policy.delay(0, 3.0, rng) == 3.0
    assert policy.delay(0, 60.0, rng) == 4.0


def test_retry_after_headers() -> None:
    assert parse_retry_after(httpx.Headers({"Retry-After": "7"})) == 7.0
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250", "Retry-After": "1"})
                             ) == 0.25
    date = formatdate(1_000_030.0, usegmt=True)
    assert parse_retry_after(httpx.Headers({"Retry-After": date}), now=1_000_000.0) == 30.0
    assert parse_retry_after(httpx.Headers({"Retry-After": "soon"})) is None
    assert parse_retry_after(httpx.Headers({})) is None
