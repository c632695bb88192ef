"""tracer-stream: certified LLM-to-surrogate routing for classification traffic.

``tracer_stream`` is the library every service uses (this folder, ``shared/tracer_stream``).
The three services are thin shells beside it: ``tracer_stream_router``,
``tracer_stream_worker`` and ``tracer_stream_trainer`` under ``services/``. ARCHITECTURE.md
draws the rooms.
"""

__version__ = "0.1.0"
