"""The offline workflow on files: ``tracer-stream fit | scan | route | report``.

Modules (imported on demand so that the command line stays fast to start):

- :mod:`.traces`: reading trace files (ours and the reference format, gzip, line-numbered errors)
- :mod:`.vectors`: embeddings from ``.npy`` files or an embedder, checked against a model
- :mod:`.models`: signing keys and signed model files
- :mod:`.fitting`: ``fit`` and ``scan``; :mod:`.routing`: ``route`` and ``report``
- :mod:`.summary`: the text the commands print; :mod:`.progress`: progress bars on stderr
- :mod:`.options`: the command-line options the commands share

See ``docs/offline-cli.md``.
"""
