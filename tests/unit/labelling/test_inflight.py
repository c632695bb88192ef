"""In-flight bookkeeping: commit points below the lowest unfinished record, revocation, and
the backpressure that pauses and resumes consumption."""

from __future__ import annotations

import pytest

from tracer_stream.labelling import Backpressure, InFlight

P0, P1 = ("t", 0), ("t", 1)


def test_a_slow_record_holds_back_only_its_own_partitions_commit_point() -> None:
    ledger = InFlight()
    for offset in range(5):
        ledger.start(P0, offset)
        ledger.start(P1, 100 + offset)
    for offset in (1, 2, 3, 4):  # offset 0 is the slow one
        assert ledger.finish(P0, offset)
    for offset in range(100, 105):
        assert ledger.finish(P1, offset)
    assert ledger.commit_point(P0) == 0
    assert ledger.commit_point(P1) == 105
    assert ledger.due() == {P0: 0, P1: 105}
    assert ledger.pending() == 1 and ledger.pending(P0) == 1 and ledger.pending(P1) == 0
    ledger.finish(P0, 0)
    assert ledger.commit_point(P0) == 5


def test_commit_points_skip_offset_gaps_and_move_only_forward() -> None:
    ledger = InFlight()
    for offset in (7, 9, 12):  # gaps: compaction or transaction markers
        ledger.start(P0, offset)
    ledger.finish(P0, 9)
    assert ledger.commit_point(P0) == 7
    ledger.finish(P0, 7)
    assert ledger.commit_point(P0) == 12
    ledger.committed({P0: 12})
    assert ledger.due() == {}
    ledger.finish(P0, 12)
    assert ledger.due() == {P0: 13}
    assert ledger.commit_point(("t", 9)) is None


def test_finishing_twice_or_after_revocation_changes_nothing() -> None:
    ledger = InFlight()
    ledger.start(P0, 3)
    ledger.start(P0, 4)
    assert ledger.finish(P0, 4) and not ledger.finish(P0, 4)
    assert not ledger.finish(P0, 99)
    assert ledger.revoke(P0) == {3}
    assert not ledger.owns(P0, 3)
    assert not ledger.finish(P0, 3)
    assert ledger.pending() == 0 and ledger.commit_point(P0) is None and ledger.due() == {}
    ledger.start(P0, 3)  # the partition comes back: the record is consumed again
    assert ledger.owns(P0, 3) and ledger.commit_point(P0) == 3


def test_backpressure_pauses_at_the_high_mark_and_resumes_at_the_low_one() -> None:
    gate = Backpressure(high=8, low=6)
    assert gate.room(5) == 3 and gate.room(9) == 0
    assert [gate.update(n) for n in (7, 8, 9, 7, 6, 7, 8)] == [
        None, "pause", None, None, "resume", None, "pause"]
    assert gate.paused
    with pytest.raises(ValueError, match="low < high"):
        Backpressure(high=4, low=4)
