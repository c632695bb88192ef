"""The asyncio client, built on :mod:`aiokafka`: requests are produced to the requests topic,
labels come back on the application's shared reply topic and are matched by ``request_id``.

Nothing is created or deleted at run time: the reply topic (``TRACER_STREAM_TOPICS_REPLIES``,
under an allowed reply prefix) is created once by ``tracer-stream topics create``, so a client
needs only Write on the requests topic and Read/Describe on the reply topic, and a client that
crashes leaves nothing behind. Each client reads every partition of the reply topic by manual
assignment (no consumer group, no commits), from the end the broker reports when it starts,
and keeps only the replies it waits for (see :mod:`tracer_stream.client.inbox`).

Back-pressure: at most ``max_in_flight`` requests of a client wait for their label at once;
more wait for a free slot (their timeout runs meanwhile). Cancelling a ``classify`` call
forgets its request (a late label is dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from tracer_stream.client.inbox import ClassifyTimeout, ReplyInbox
from tracer_stream.config import KafkaSettings, TopicSettings
from tracer_stream.config.kafka_clients import aiokafka_options
from tracer_stream.contracts import ClassificationRequest, RoutedLabel, decode, encode, now
from tracer_stream.errors import BusError, ConfigError, ContractError

log = logging.getLogger(__name__)


class AsyncTracerClient:
    """``await client.classify(text, task)``; any number of concurrent calls and clients share
    the application's reply topic.

    >>> async with AsyncTracerClient() as client:                          # doctest: +SKIP
    ...     labels = await asyncio.gather(*(client.classify(t, "intents") for t in texts))
    """

    def __init__(self, kafka: KafkaSettings | None = None, topics: TopicSettings | None = None,
                 *, reply_topic: str | None = None, max_in_flight: int = 1000,
                 connect_timeout_s: float = 15.0) -> None:
        self.kafka = kafka or KafkaSettings()
        self.topics = topics or TopicSettings()
        self.reply_topic = reply_topic or self.topics.name("replies")
        if not self.reply_topic.startswith(tuple(self.topics.reply_prefixes)):
            raise ConfigError(f"reply topic {self.reply_topic!r} is not under an allowed reply "
                              f"prefix {list(self.topics.reply_prefixes)}: the router would "
                              "refuse every request (TRACER_STREAM_TOPICS_REPLY_PREFIXES)")
        if max_in_flight < 1:
            raise ConfigError("max_in_flight must be at least 1")
        self._max_in_flight = max_in_flight
        self._connect_timeout_s = connect_timeout_s
        self._inbox = ReplyInbox()
        self._slots: asyncio.Semaphore | None = None
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: asyncio.Task[None] | None = None
        self._started: asyncio.Lock | None = None

    # request/reply -----------------------------------------------------------------------
    async def classify(self, text: str, task: str, *, timeout_s: float = 30.0,
                       metadata: dict[str, Any] | None = None,
                       request_id: str | None = None) -> RoutedLabel:
        """Send one request and wait for its label (:class:`ClassifyTimeout` after
        ``timeout_s``)."""
        labels = await self.classify_many([text], task, timeout_s=timeout_s, metadata=metadata,
                                          request_ids=None if request_id is None
                                          else [request_id])
        return labels[0]

    async def classify_many(self, texts: Sequence[str], task: str, *, timeout_s: float = 30.0,
                            metadata: dict[str, Any] | None = None,
                            request_ids: Sequence[str] | None = None) -> list[RoutedLabel]:
        """Send every request and return their labels in the order of ``texts``."""
        ids = list(request_ids) if request_ids is not None else [
            uuid.uuid4().hex for _ in texts]
        if len(ids) != len(texts) or len(set(ids)) != len(ids):
            raise ValueError("one distinct request id per text")
        if not ids:
            return []
        await self.start()
        calls = [asyncio.ensure_future(self._request(i, text, task, metadata))
                 for i, text in zip(ids, texts, strict=True)]
        try:
            done, pending = await asyncio.wait(calls, timeout=timeout_s,
                                               return_when=asyncio.FIRST_EXCEPTION)
            failed = [c for c in done if c.exception() is not None]
            if failed:
                raise failed[0].exception()  # type: ignore[misc]
            if pending:
                missing = [i for i, c in zip(ids, calls, strict=True) if c in pending]
                raise ClassifyTimeout(
                    f"no label for {len(missing)} of {len(ids)} request(s) within {timeout_s} s "
                    "(dead-lettered? see the dead-letter topic)", missing=missing)
            return [c.result() for c in calls]
        finally:
            for call in calls:
                call.cancel()
            await asyncio.gather(*calls, return_exceptions=True)

    async def _request(self, request_id: str, text: str, task: str,
                       metadata: dict[str, Any] | None) -> RoutedLabel:
        assert self._slots is not None and self._producer is not None
        async with self._slots:
            reply = self._inbox.expect(request_id)
            try:
                request = ClassificationRequest(
                    request_id=request_id, task=task, text=text, metadata=metadata,
                    reply_topic=self.reply_topic, created_at=now())
                try:
                    await self._producer.send_and_wait(self.topics.name("requests"),
                                                       encode(request), key=request_id.encode())
                except KafkaError as exc:
                    raise BusError(f"cannot produce the request: {exc}",
                                   request_id=request_id) from None
                return await reply
            finally:
                self._inbox.forget(request_id)

    # lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect (done by the first call if not called): producer, and the reply reader
        positioned before any request is sent."""
        if self._started is None:
            self._started = asyncio.Lock()
        async with self._started:
            if self._reader is not None:
                return
            self._slots = asyncio.Semaphore(self._max_in_flight)
            try:
                async with asyncio.timeout(self._connect_timeout_s):
                    await self._connect()
            except (KafkaError, TimeoutError) as exc:
                await self._disconnect()
                raise BusError(f"cannot reach Kafka at {self.kafka.bootstrap_servers}: "
                               f"{exc!r}") from None
            assert self._consumer is not None
            self._reader = asyncio.create_task(self._read(self._consumer),
                                               name=f"replies:{self.reply_topic}")

    async def _connect(self) -> None:
        kwargs = aiokafka_options(self.kafka.common_config())
        # not idempotent: a rare duplicate of a request is answered once (the router skips
        # request ids it already answered), and the embedded broker has no InitProducerId
        self._producer = AIOKafkaProducer(**kwargs, acks="all", linger_ms=2)
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(**kwargs, group_id=None, enable_auto_commit=False,
                                          auto_offset_reset="latest",
                                          fetch_max_wait_ms=self.kafka.fetch_wait_max_ms)
        await self._consumer.start()
        if self.reply_topic not in await self._consumer.topics():
            raise BusError(f"the reply topic {self.reply_topic!r} does not exist; create it "
                           "with `tracer-stream topics create`", topic=self.reply_topic)
        partitions = self._consumer.partitions_for_topic(self.reply_topic) or set()
        assignment = [TopicPartition(self.reply_topic, p) for p in sorted(partitions)]
        self._consumer.assign(assignment)
        ends = await self._consumer.end_offsets(assignment)
        for tp in assignment:
            self._consumer.seek(tp, ends[tp])
            await self._consumer.position(tp)  # resolved before the first request leaves

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        """Hand every reply to its request until cancelled; a read error fails them all."""
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=500)
                for records in batches.values():
                    for record in records:
                        try:
                            label = decode(RoutedLabel, record.value or b"")
                        except ContractError as exc:
                            log.warning("ignoring an undecodable reply on %s: %s",
                                        record.topic, exc)
                            continue
                        self._inbox.deliver(label)
        except KafkaError as exc:
            log.error("reading the reply topic %s failed: %r", self.reply_topic, exc)
            self._inbox.fail(BusError(f"reading the reply topic failed: {exc!r}",
                                      topic=self.reply_topic))

    async def close(self) -> None:
        """Stop reading and flush pending requests. Idempotent."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        await self._disconnect()

    async def _disconnect(self) -> None:
        for part in (self._consumer, self._producer):
            if part is not None:
                with contextlib.suppress(KafkaError):
                    await part.stop()
        self._consumer = self._producer = None

    async def __aenter__(self) -> AsyncTracerClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # streaming ---------------------------------------------------------------------------
    async def stream_labels(self, *, group_id: str | None = None, from_beginning: bool = False,
                            idle_timeout_s: float | None = None
                            ) -> AsyncGenerator[RoutedLabel, None]:
        """Every label on the labels topic, as a member of consumer group ``group_id``
        (default: a new group). A label's offset is committed when the next one is asked for,
        so a restarted subscriber resumes after the last label it finished with. Stops after
        ``idle_timeout_s`` without labels, if given. A consumer error (topic missing, access
        denied, broker gone for good) raises :class:`BusError`."""
        labels = self.topics.name("labels")
        consumer = AIOKafkaConsumer(
            **aiokafka_options(self.kafka.common_config()),
            group_id=group_id or f"tracer-labels-{uuid.uuid4().hex[:12]}",
            enable_auto_commit=False,
            auto_offset_reset="earliest" if from_beginning else "latest",
            fetch_max_wait_ms=self.kafka.fetch_wait_max_ms,
            session_timeout_ms=max(self.kafka.session_timeout_ms, 6000),
            heartbeat_interval_ms=self.kafka.heartbeat_interval_ms)
        loop = asyncio.get_running_loop()
        try:
            await consumer.start()
            if labels not in await consumer.topics():  # checked first: never auto-created
                raise BusError("the labels topic does not exist (tracer-stream topics create)",
                               topic=labels)
            consumer.subscribe([labels])
            last = loop.time()
            while idle_timeout_s is None or loop.time() - last < idle_timeout_s:
                batches = await consumer.getmany(timeout_ms=200, max_records=100)
                for tp, records in batches.items():
                    for record in records:
                        last = loop.time()
                        try:
                            label = decode(RoutedLabel, record.value or b"")
                        except ContractError as exc:
                            log.warning("skipping an undecodable label: %s", exc)
                        else:
                            yield label
                        await consumer.commit({tp: record.offset + 1})
        except KafkaError as exc:
            raise BusError(f"reading the labels topic failed: {exc!r}", topic=labels) from None
        finally:
            with contextlib.suppress(KafkaError):
                await consumer.stop()
