"""Model keys: no built-in key anywhere, one clear line naming the missing setting, Ed25519 key
pairs from ``tracer-stream keys``, the trainer trusting its own public key."""

from __future__ import annotations

import base64

import pytest

from tracer_stream.cli.main import main
from tracer_stream.config import RouterSettings, TrainerSettings, WorkerSettings
from tracer_stream.errors import ConfigError
from tracer_stream.signing import SIGNING_KEY_ENV, VERIFY_KEYS_ENV, SigningKey, VerifyKeys

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    monkeypatch.delenv(VERIFY_KEYS_ENV, raising=False)


def test_no_service_has_a_built_in_key() -> None:
    with pytest.raises(ConfigError, match=VERIFY_KEYS_ENV):
        RouterSettings().verify_keys()
    with pytest.raises(ConfigError, match=SIGNING_KEY_ENV):
        TrainerSettings().signing_key()
    with pytest.raises(ConfigError, match=SIGNING_KEY_ENV):
        TrainerSettings().verify_keys()
    assert "model_signing_key" not in RouterSettings.model_fields
    assert "model_signing_key" not in WorkerSettings.model_fields


@pytest.mark.parametrize(("command", "setting"), [(["router"], VERIFY_KEYS_ENV),
                                                  (["trainer"], SIGNING_KEY_ENV)])
def test_a_service_without_its_key_refuses_to_start_with_one_line(
        command: list[str], setting: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(command) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and setting in err[0]
    assert "tracer-stream keys generate" in err[0]


@pytest.mark.parametrize("value", ["not-base64!", base64.b64encode(b"short").decode(),
                                   base64.b64encode(bytes(33)).decode()])
def test_malformed_keys_are_refused_naming_the_setting(value: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VERIFY_KEYS_ENV, value)
    monkeypatch.setenv(SIGNING_KEY_ENV, value)
    with pytest.raises(ConfigError, match=VERIFY_KEYS_ENV):
        RouterSettings().verify_keys()
    with pytest.raises(ConfigError, match=SIGNING_KEY_ENV):
        TrainerSettings().signing_key()


def test_routers_hold_public_keys_only_and_trainers_trust_their_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    trainer_key, old_key = SigningKey.generate(), SigningKey.generate()
    monkeypatch.setenv(VERIFY_KEYS_ENV, f"{old_key.public_b64},{trainer_key.public_b64}")
    router = RouterSettings().verify_keys()
    assert router.ids == [old_key.key_id.hex(), trainer_key.key_id.hex()]
    monkeypatch.setenv(VERIFY_KEYS_ENV, old_key.public_b64)
    monkeypatch.setenv(SIGNING_KEY_ENV, trainer_key.seed_b64)
    trainer = TrainerSettings().verify_keys()
    assert trainer.ids == [old_key.key_id.hex(), trainer_key.key_id.hex()]
    trainer.verify(trainer_key.key_id, trainer_key.sign(b"m"), b"m")


def test_keys_generate_prints_a_working_pair(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["keys", "generate"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    values = dict(line.split("=", 1) for line in lines)
    assert list(values) == [SIGNING_KEY_ENV, VERIFY_KEYS_ENV]
    key = SigningKey.parse(values[SIGNING_KEY_ENV])
    VerifyKeys.parse(values[VERIFY_KEYS_ENV]).verify(key.key_id, key.sign(b"x"), b"x")
    assert values[SIGNING_KEY_ENV] not in repr(key)
    monkeypatch.setenv(SIGNING_KEY_ENV, values[SIGNING_KEY_ENV])
    assert main(["keys", "public"]) == 0
    assert capsys.readouterr().out.strip() == f"{VERIFY_KEYS_ENV}={values[VERIFY_KEYS_ENV]}"


def test_two_generated_keys_differ(capsys: pytest.CaptureFixture[str]) -> None:
    main(["keys", "generate"])
    main(["keys", "generate"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] != lines[2] and lines[1] != lines[3]
