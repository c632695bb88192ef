"""``tracer-stream keys generate | public``: Ed25519 keys that sign and verify model artefacts.

* ``generate`` prints a new key pair, one ``NAME=value`` line each, ready for an env file::

      TRACER_STREAM_MODEL_SIGNING_KEY=<base64 of the 32-byte private seed>
      TRACER_STREAM_MODEL_VERIFY_KEYS=<base64 of the 32-byte public key>

  The private line goes to standard output only (redirect it into a file or a secret store);
  nothing is logged. Give the signing key to the trainer (and the offline ``fit``), the verify
  key to routers, workers and the trainer.
* ``public`` prints the public key of the private key in ``$TRACER_STREAM_MODEL_SIGNING_KEY``
  (to add it to the verify keys when rotating, see ``docs/security.md``).
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("keys", help="create the Ed25519 keys that sign and verify models")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("generate", help="print a new signing key and its verify key")
    actions.add_parser("public", help="print the verify key of $TRACER_STREAM_MODEL_SIGNING_KEY")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import os

    from tracer_stream.errors import ConfigError
    from tracer_stream.signing import SIGNING_KEY_ENV, VERIFY_KEYS_ENV, SigningKey

    if args.action == "generate":
        key = SigningKey.generate()
        print(f"{SIGNING_KEY_ENV}={key.seed_b64}")
    elif os.environ.get(SIGNING_KEY_ENV):
        key = SigningKey.parse(os.environ[SIGNING_KEY_ENV])
    else:
        raise ConfigError(f"{SIGNING_KEY_ENV} is not set: nothing to derive a public key from")
    print(f"{VERIFY_KEYS_ENV}={key.public_b64}")
    return 0
