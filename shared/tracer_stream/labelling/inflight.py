"""In-flight bookkeeping of a streaming consumer: which records are unfinished, what offset
each partition may commit, and when to pause or resume consumption. Pure: no Kafka, no I/O.

Records of a partition finish in any order; a partition's offset may only be committed up to
its lowest unfinished record (committing an offset means "everything below is done"):

>>> ledger = InFlight()
>>> for offset in (10, 11, 12):
...     ledger.start(("t", 0), offset)
>>> ledger.finish(("t", 0), 11)
True
>>> ledger.commit_point(("t", 0)), ledger.pending()
(10, 2)
>>> ledger.finish(("t", 0), 10)
True
>>> ledger.due()
{('t', 0): 12}
>>> ledger.committed({("t", 0): 12}); ledger.due()
{}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Partition = tuple[str, int]
"""``(topic, partition)``."""


@dataclass(slots=True)
class _Track:
    open: set[int] = field(default_factory=set)
    next_offset: int = 0
    committed: int = -1


class InFlight:
    """Unfinished offsets per partition and the commit point of each."""

    def __init__(self) -> None:
        self._tracks: dict[Partition, _Track] = {}

    def start(self, partition: Partition, offset: int) -> None:
        """A record was consumed and its work begins."""
        track = self._tracks.setdefault(partition, _Track())
        track.open.add(offset)
        track.next_offset = max(track.next_offset, offset + 1)

    def finish(self, partition: Partition, offset: int) -> bool:
        """The record's outcome is acknowledged. False when the partition was revoked or the
        offset is not in flight (a late finish that must not move the commit point)."""
        track = self._tracks.get(partition)
        if track is None or offset not in track.open:
            return False
        track.open.discard(offset)
        return True

    def owns(self, partition: Partition, offset: int) -> bool:
        """Whether the record is still in flight here (not finished, not revoked)."""
        track = self._tracks.get(partition)
        return track is not None and offset in track.open

    def pending(self, partition: Partition | None = None) -> int:
        """Unfinished records of one partition, or of all."""
        if partition is not None:
            track = self._tracks.get(partition)
            return len(track.open) if track else 0
        return sum(len(t.open) for t in self._tracks.values())

    def commit_point(self, partition: Partition) -> int | None:
        """The offset to commit: the lowest unfinished record, else the next one to consume;
        None for a partition nothing was consumed from."""
        track = self._tracks.get(partition)
        if track is None:
            return None
        return min(track.open) if track.open else track.next_offset

    def due(self) -> dict[Partition, int]:
        """Commit points that moved past what was last committed."""
        out = {}
        for partition, track in self._tracks.items():
            point = min(track.open) if track.open else track.next_offset
            if point > track.committed:
                out[partition] = point
        return out

    def committed(self, offsets: dict[Partition, int]) -> None:
        """Record a successful commit."""
        for partition, offset in offsets.items():
            track = self._tracks.get(partition)
            if track is not None:
                track.committed = max(track.committed, offset)

    def revoke(self, partition: Partition) -> set[int]:
        """Forget a partition (revoked or lost); returns the offsets that were unfinished."""
        track = self._tracks.pop(partition, None)
        return set(track.open) if track else set()


class Backpressure:
    """Pause consumption once ``high`` records are unfinished; resume at ``low`` or fewer.

    >>> gate = Backpressure(high=4, low=2)
    >>> [gate.update(n) for n in (3, 4, 3, 2, 1)]
    [None, 'pause', None, 'resume', None]
    """

    def __init__(self, high: int, low: int) -> None:
        if not 0 <= low < high:
            raise ValueError(f"need 0 <= low < high, got low={low}, high={high}")
        self.high = high
        self.low = low
        self.paused = False

    def room(self, pending: int) -> int:
        """How many more records may be taken now."""
        return max(self.high - pending, 0)

    def update(self, pending: int) -> Literal["pause", "resume"] | None:
        """The transition to make for ``pending`` unfinished records, if any."""
        if not self.paused and pending >= self.high:
            self.paused = True
            return "pause"
        if self.paused and pending <= self.low:
            self.paused = False
            return "resume"
        return None


__all__ = ["Backpressure", "InFlight", "Partition"]
