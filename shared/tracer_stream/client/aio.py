"""The asyncio client: the same calls as :class:`TracerClient`, run in worker threads so the
event loop never blocks on confluent-kafka."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from tracer_stream.client.sync import TracerClient
from tracer_stream.config import KafkaSettings, TopicSettings
from tracer_stream.contracts import RoutedLabel


class AsyncTracerClient:
    """``await client.classify(text, task)``; concurrent calls share one reply topic.

    >>> async with AsyncTracerClient() as client:                          # doctest: +SKIP
    ...     labels = await asyncio.gather(*(client.classify(t, "intents") for t in texts))
    """

    def __init__(self, kafka: KafkaSettings | None = None, topics: TopicSettings | None = None,
                 *, reply_topic: str | None = None) -> None:
        self._client = TracerClient(kafka, topics, reply_topic=reply_topic)

    @property
    def reply_topic(self) -> str:
        return self._client.reply_topic

    async def classify(self, text: str, task: str, *, timeout_s: float = 30.0,
                       metadata: dict[str, Any] | None = None,
                       request_id: str | None = None) -> RoutedLabel:
        return await asyncio.to_thread(self._client.classify, text, task, timeout_s=timeout_s,
                                       metadata=metadata, request_id=request_id)

    async def classify_many(self, texts: Sequence[str], task: str, *, timeout_s: float = 30.0,
                            metadata: dict[str, Any] | None = None) -> list[RoutedLabel]:
        return await asyncio.to_thread(self._client.classify_many, texts, task,
                                       timeout_s=timeout_s, metadata=metadata)

    async def stream_labels(self, *, group_id: str | None = None, from_beginning: bool = False,
                            idle_timeout_s: float | None = None) -> AsyncIterator[RoutedLabel]:
        """Labels from the labels topic; each poll runs in a worker thread."""
        stream = self._client.stream_labels(group_id=group_id, from_beginning=from_beginning,
                                            idle_timeout_s=idle_timeout_s)
        done = object()
        try:
            while True:
                label = await asyncio.to_thread(next, stream, done)
                if label is done:
                    return
                assert isinstance(label, RoutedLabel)
                yield label
        finally:
            await asyncio.to_thread(stream.close)

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)

    async def __aenter__(self) -> AsyncTracerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
