"""The ``tracer-stream`` command line. Each public module in this package adds one command
group through a ``register(subparsers)`` function; :mod:`tracer_stream.cli.main` finds them."""
