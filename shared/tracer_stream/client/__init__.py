"""Python client of a tracer-stream deployment: produce classification requests, receive
labels (request/reply by ``request_id``, or a stream of the labels topic); sync and asyncio.

>>> from tracer_stream.client import TracerClient                          # doctest: +SKIP
>>> with TracerClient() as client:                                         # doctest: +SKIP
...     print(client.classify("I lost my card", task="intents"))
"""

from tracer_stream.client.aio import AsyncTracerClient
from tracer_stream.client.inbox import ClassifyTimeout
from tracer_stream.client.sync import TracerClient

__all__ = ["AsyncTracerClient", "ClassifyTimeout", "TracerClient"]
