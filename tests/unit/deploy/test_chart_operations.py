"""The chart's operational promises (issue 16): topics are created by one hook Job (not an
init container in every pod), the NetworkPolicy opens the ports the services are configured
with, and the chart carries no usable model key (the trainer alone gets the private seed)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import (
    NAMESPACE,
    RELEASE,
    SERVICES,
    VALUES_DIR,
    Manifests,
    by_kind,
    component_of,
    load_values,
)

pytestmark = pytest.mark.unit

KEYS = {"modelSigningKey": "dGVzdC1maXh0dXJlLXNlZWQtbmV2ZXItdXNlLWl0ISE=",
        "modelVerifyKeys": "dGVzdC1maXh0dXJlLXB1YmxpYy1rZXktbm90LXJlYWw="}


def _objects(chart: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
    import yaml

    rendered = chart.render({"secrets": KEYS, **values}, name=RELEASE, namespace=NAMESPACE)
    return [doc for name, text in rendered.items() if not name.endswith(".txt")
            for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.parametrize("fixture", ["defaults", "external-secrets", "keda", "tls-sasl"])
def test_topics_are_created_by_one_hook_job_not_in_every_pod(
        manifests: Manifests, fixture: str) -> None:
    objects = manifests(fixture)
    (job,) = by_kind(objects, "Job").values()
    hooks = job["metadata"]["annotations"]
    assert hooks["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "hook-succeeded" in hooks["helm.sh/hook-delete-policy"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["topics", "create"]
    # Hooks run before the release's ConfigMap exists: the Job's own comes with it, as a hook.
    config = container["envFrom"][0]["configMapRef"]["name"]
    hook_config = by_kind(objects, "ConfigMap")[config]
    assert int(hook_config["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0
    assert hook_config["data"]["TRACER_STREAM_TOPICS_PREFIX"]
    for dep in by_kind(objects, "Deployment").values():
        for init in dep["spec"]["template"]["spec"].get("initContainers", []):
            assert "topics" not in init.get("args", []), dep["metadata"]["name"]
    # No model key in the topic Job.
    names = {v["name"] for v in container.get("env", [])}
    assert not names & {"TRACER_STREAM_MODEL_SIGNING_KEY", "TRACER_STREAM_MODEL_VERIFY_KEYS"}


def test_sasl_password_reaches_the_hook_job_from_a_hook_secret(manifests: Manifests) -> None:
    objects = manifests("tls-sasl")
    (job,) = by_kind(objects, "Job").values()
    env = {v["name"]: v for v in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    ref = env["TRACER_STREAM_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
    secret = by_kind(objects, "Secret")[ref["name"]]
    assert secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert ref["key"] in secret["data"]
    assert "model-signing-key" not in secret["data"]


def test_no_topic_job_when_topics_are_managed_elsewhere(manifests: Manifests) -> None:
    assert load_values(VALUES_DIR / "hpa.yaml")[
        "topics"]["createOnStart"] is False
    assert not by_kind(manifests("hpa"), "Job")


def test_network_policy_ports_follow_the_configured_addresses(chart: Any) -> None:
    objects = _objects(chart, {
        "networkPolicy": {"enabled": True},
        "kafka": {"bootstrapServers": "b-1.kafka:9096,b-2.kafka:9096,b-3.kafka:9097"},
        "redis": {"url": "redis://cache.data:6380/1"}})
    policies = by_kind(objects, "NetworkPolicy")
    assert {component_of(p) for p in policies.values()} == set(SERVICES)
    for policy in policies.values():
        egress = policy["spec"]["egress"]
        ports = [sorted(p["port"] for p in rule["ports"]) for rule in egress]
        assert [9096, 9097] in ports and [6380] in ports
        assert not {9092, 9093, 6379} & {p for rule in ports for p in rule}
    # A Redis URL without a port means 6379; explicit lists win over the addresses.
    objects = _objects(chart, {
        "networkPolicy": {"enabled": True, "egress": {"kafkaPorts": [19092]}},
        "redis": {"url": "rediss://cache.data/0", "tls": {"enabled": True}}})
    for policy in by_kind(objects, "NetworkPolicy").values():
        ports = [sorted(p["port"] for p in r["ports"]) for r in policy["spec"]["egress"]]
        assert [19092] in ports and [6379] in ports


def test_only_the_trainer_gets_the_private_key(manifests: Manifests) -> None:
    for dep in by_kind(manifests("defaults"), "Deployment").values():
        env = {v["name"]: v for v in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
        component = component_of(dep)
        assert ("TRACER_STREAM_MODEL_SIGNING_KEY" in env) == (component == "trainer")
        ref = env["TRACER_STREAM_MODEL_VERIFY_KEYS"]["valueFrom"]["secretKeyRef"]
        assert ref["key"] == "model-verify-keys"


def test_the_chart_carries_no_key_of_its_own(chart: Any, helm_sdk: Any) -> None:
    """Without keys the release is refused; the chart's files hold no key material."""
    with pytest.raises(helm_sdk.HelmRenderError, match="no model signing key"):
        chart.render({}, name=RELEASE, namespace=NAMESPACE)
    assert chart.values["secrets"]["modelSigningKey"] == ""
    assert chart.values["secrets"]["modelVerifyKeys"] == ""


def test_settings_that_merely_mention_tokens_are_not_taken_for_credentials(chart: Any) -> None:
    chart.validate_schema({"worker": {
        "env": {"TRACER_STREAM_WORKER_PRICE_PER_1K_INPUT_TOKENS_USD": "0.15"},
        "extraEnv": [{"name": "TRACER_STREAM_WORKER_PRICE_PER_1K_OUTPUT_TOKENS_USD",
                      "value": "0.6"}]}})
