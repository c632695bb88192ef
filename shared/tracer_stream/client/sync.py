"""The synchronous client: the asyncio client run on an event loop in a background thread, so
both share one implementation (see :mod:`tracer_stream.client.aio`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Generator, Sequence
from typing import Any, TypeVar

from tracer_stream.client.aio import AsyncTracerClient
from tracer_stream.config import KafkaSettings, TopicSettings
from tracer_stream.contracts import RoutedLabel

T = TypeVar("T")


class TracerClient:
    """Classify texts through a tracer-stream deployment, from any number of threads.

    Replies come back on the application's shared reply topic (``TRACER_STREAM_TOPICS_REPLIES``,
    created by ``tracer-stream topics create``) and are matched by ``request_id``; nothing is
    created or deleted at run time.

    >>> with TracerClient() as client:                                 # doctest: +SKIP
    ...     client.classify("where is my card?", task="intents").label
    'card_arrival'
    """

    def __init__(self, kafka: KafkaSettings | None = None, topics: TopicSettings | None = None,
                 *, reply_topic: str | None = None, max_in_flight: int = 1000) -> None:
        self._client = AsyncTracerClient(kafka, topics, reply_topic=reply_topic,
                                         max_in_flight=max_in_flight)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tracer-client",
                                        daemon=True)
        self._thread.start()

    @property
    def reply_topic(self) -> str:
        return self._client.reply_topic

    def _run(self, call: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(call, self._loop).result()

    def classify(self, text: str, task: str, *, timeout_s: float = 30.0,
                 metadata: dict[str, Any] | None = None,
                 request_id: str | None = None) -> RoutedLabel:
        """Send one request and wait for its label (:class:`ClassifyTimeout` after
        ``timeout_s``)."""
        return self._run(self._client.classify(text, task, timeout_s=timeout_s,
                                               metadata=metadata, request_id=request_id))

    def classify_many(self, texts: Sequence[str], task: str, *, timeout_s: float = 30.0,
                      metadata: dict[str, Any] | None = None,
                      request_ids: Sequence[str] | None = None) -> list[RoutedLabel]:
        """Send all requests at once and return their labels in the order of ``texts``."""
        return self._run(self._client.classify_many(texts, task, timeout_s=timeout_s,
                                                    metadata=metadata,
                                                    request_ids=request_ids))

    def stream_labels(self, *, group_id: str | None = None, from_beginning: bool = False,
                      idle_timeout_s: float | None = None) -> Generator[RoutedLabel, None, None]:
        """Every label on the labels topic (see :meth:`AsyncTracerClient.stream_labels`);
        consumer errors raise :class:`~tracer_stream.errors.BusError`."""
        stream = self._client.stream_labels(group_id=group_id, from_beginning=from_beginning,
                                            idle_timeout_s=idle_timeout_s)
        try:
            while True:
                try:
                    yield self._run(_next(stream))
                except StopAsyncIteration:
                    return
        finally:
            self._run(stream.aclose())

    def close(self) -> None:
        """Stop listening and flush pending requests; the client cannot be used afterwards."""
        if self._loop.is_closed():
            return
        try:
            self._run(self._client.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def __enter__(self) -> TracerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _next(stream: AsyncIterator[T]) -> T:
    return await anext(stream)
