"""tracer-stream: certified LLM-to-surrogate routing for classification traffic.

The installed package ``tracer_stream`` is this folder (``shared/`` in the repository): the
library every service uses. The services themselves live in ``tracer_stream.services``.
"""

__version__ = "0.1.0"
