"""The Helm chart, offline: lint, render every values fixture, validate every manifest against the
Kubernetes schemas, and check the properties the chart promises (issue 7, item 3)."""

from __future__ import annotations

import base64
import functools
import os
import re
from typing import Any

import pytest
import yaml

from .conftest import (
    BROKEN_DIR,
    CHART_DIR,
    GOOD_FIXTURES,
    NAMESPACE,
    NON_SETTINGS_ENV,
    RELEASE,
    SERVICES,
    VALUES_DIR,
    Manifest,
    Manifests,
    Render,
    by_kind,
    component_of,
    load_values,
    settings_env_names,
    strip_private,
)

pytestmark = pytest.mark.unit

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="needs the dev extra (kubernetes-validate)"
)



@pytest.fixture(scope="module", autouse=True)
def _cached_kubernetes_schemas() -> Any:
    """kubernetes-validate re-reads its multi-megabyte definitions file on every call; the files
    never change during a run, so read each once."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            kubernetes_validate.utils,
            "schema_contents",
            functools.cache(kubernetes_validate.utils.schema_contents),
        )
        yield


# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest bundled one.
KUBE_VERSIONS = ("1.25", kubernetes_validate.latest_version())
# Custom resources: no bundled schema, checked structurally below.
CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule"}

# Broken values fixtures → the words the user must see in the error.
BROKEN = {
    "wrong-types": ["/router/replicaCount", "want integer"],
    "pdb-100-percent": ["/router/pdb/minAvailable"],
    "pdb-max-unavailable-zero": ["/worker/pdb/maxUnavailable"],
    "secret-in-extra-env": ["/worker/extraEnv/0/value", "use valueFrom.secretKeyRef"],
    "password-in-config-env": ["/config/extraEnv/MY_DB_PASSWORD", "credentials go in secrets"],
    "short-signing-key": ["/secrets/modelSigningKey"],
    "short-verify-key": ["/secrets/modelVerifyKeys"],
    "unknown-key": ["routr", "not allowed"],
    "secret-in-settings": ["/worker/settings/api_key", "credentials go in secrets"],
    "bad-backend": ["/worker/settings/backend", "openai", "anthropic", "replay"],
    "dashboard-not-boolean": ["/grafana/dashboard/enabled", "want boolean"],
}


def _containers(deployment: Manifest, *, init: bool = True) -> list[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    return list(spec["containers"]) + (list(spec.get("initContainers", [])) if init else [])


def _main_container(deployment: Manifest) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


# ------------------------------------------------------------------------------------- lint


@pytest.mark.parametrize("fixture", GOOD_FIXTURES)
def test_chart_lints_clean(helm_sdk: Any, fixture: str) -> None:
    values = load_values(VALUES_DIR / f"{fixture}.yaml")
    report = helm_sdk.lint(str(CHART_DIR), values, strict=True, namespace=NAMESPACE)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


# ------------------------------------------------------------------------------- validation


@pytest.mark.parametrize("fixture", GOOD_FIXTURES)
def test_every_manifest_validates(manifests: Manifests, fixture: str) -> None:
    objects = manifests(fixture)
    assert objects, "nothing rendered"
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(strip_private(obj), version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = ".".join(str(p) for p in exc.path)
                pytest.fail(
                    f"{obj['_template']}: {obj['kind']}/{obj['metadata']['name']} is invalid "
                    f"for Kubernetes {version} at {where}: {exc.message}"
                )
    unknown = {o["kind"] for o in objects} - CRD_KINDS - {
        "ConfigMap", "Secret", "ServiceAccount", "Service", "Deployment", "PersistentVolumeClaim",
        "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy", "Job",
    }
    assert not unknown, f"kinds nobody checks: {unknown}"


@pytest.mark.parametrize("fixture", GOOD_FIXTURES)
def test_names_are_unique_and_labelled(
    manifests: Manifests, fixture: str
) -> None:
    seen: set[tuple[str, str]] = set()
    for obj in manifests(fixture):
        key = (obj["kind"], obj["metadata"]["name"])
        assert key not in seen, f"{key} rendered twice"
        seen.add(key)
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/name"] == "tracer-stream"


# ------------------------------------------------------------------------------ deployments


@pytest.mark.parametrize("fixture", GOOD_FIXTURES)
def test_pods_are_hardened(manifests: Manifests, fixture: str) -> None:
    for name, dep in by_kind(manifests(fixture), "Deployment").items():
        pod = dep["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod["automountServiceAccountToken"] is False, name
        mounted = {m["mountPath"] for c in _containers(dep) for m in c.get("volumeMounts", [])}
        assert {"/tmp", "/var/cache/tracer-stream", "/var/lib/tracer-stream"} <= mounted, name
        for container in _containers(dep):
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert sc["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert sc["capabilities"]["drop"] == ["ALL"], (name, container["name"])
            assert container["resources"]["requests"], (name, container["name"])
            assert container["resources"]["limits"]["memory"], (name, container["name"])


@pytest.mark.parametrize("fixture", GOOD_FIXTURES)
def test_services_have_probes_on_their_endpoints(
    manifests: Manifests, fixture: str
) -> None:
    values = load_values(VALUES_DIR / f"{fixture}.yaml")
    defaults = {"router": 8081, "worker": 8082, "trainer": 8083}
    for dep in by_kind(manifests(fixture), "Deployment").values():
        component = component_of(dep)
        container = _main_container(dep)
        port = values.get(component, {}).get("httpPort", defaults[component])
        assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("fixture", GOOD_FIXTURES)
def test_trainer_is_a_single_recreated_replica_with_its_store(
    manifests: Manifests, fixture: str
) -> None:
    objects = manifests(fixture)
    values = load_values(VALUES_DIR / f"{fixture}.yaml")
    persistence = values.get("trainer", {}).get("persistence", {})
    deployments = by_kind(objects, "Deployment").values()
    trainer = next(d for d in deployments if component_of(d) == "trainer")
    assert trainer["spec"]["replicas"] == 1
    assert trainer["spec"]["strategy"] == {"type": "Recreate"}
    state = next(v for v in trainer["spec"]["template"]["spec"]["volumes"] if v["name"] == "state")
    pvcs = by_kind(objects, "PersistentVolumeClaim")
    if persistence.get("enabled", True) is False:
        assert state == {"name": "state", "emptyDir": {}}
        assert not pvcs
    elif persistence.get("existingClaim"):
        assert state["persistentVolumeClaim"]["claimName"] == persistence["existingClaim"]
        assert not pvcs
    else:
        claim = state["persistentVolumeClaim"]["claimName"]
        assert claim in pvcs
        assert pvcs[claim]["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    # Nothing scales or disrupts the trainer on the chart's behalf.
    for kind in ("HorizontalPodAutoscaler", "ScaledObject", "PodDisruptionBudget"):
        assert all(component_of(o) != "trainer" for o in by_kind(objects, kind).values())


@pytest.mark.parametrize("fixture", GOOD_FIXTURES)
def test_keda_and_hpa_never_target_the_same_deployment(
    manifests: Manifests, fixture: str
) -> None:
    objects = manifests(fixture)
    deployments = by_kind(objects, "Deployment")
    def targets(kind: str) -> set[str]:
        return {o["spec"]["scaleTargetRef"]["name"] for o in by_kind(objects, kind).values()}

    hpa, keda = targets("HorizontalPodAutoscaler"), targets("ScaledObject")
    assert not hpa & keda
    assert (hpa | keda) <= set(deployments)
    for name, dep in deployments.items():
        # An autoscaled Deployment leaves its replica count to the autoscaler.
        assert ("replicas" in dep["spec"]) == (name not in hpa | keda), name


def test_keda_and_hpa_together_fail_with_a_clear_message(chart: Any, helm_sdk: Any) -> None:
    values = load_values(BROKEN_DIR / "keda-and-hpa.yaml")
    chart.validate_schema(values)  # valid values, an invalid combination
    with pytest.raises(helm_sdk.HelmRenderError) as caught:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    message = str(caught.value)
    assert "router.autoscaling: keda.enabled and hpa.enabled are both true" in message
    assert "Choose one" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"redis": {"url": "redis://:hunter2@redis:6379/0"}}, "redis.url contains a password"),
        ({"redis": {"tls": {"enabled": True}}}, "does not start with rediss://"),
        ({"redis": {"url": "rediss://redis:6380/0"}}, "set redis.tls.enabled=true"),
        ({"kafka": {"sasl": {"enabled": True, "username": "u"}}}, "set kafka.sasl.password"),
        ({"kafka": {"sasl": {"enabled": True, "password": "p"}}}, "kafka.sasl.username is empty"),
        ({"kafka": {"tls": {"enabled": True, "secretName": "s", "certKey": "tls.crt"}}},
         "set both certKey and keyKey"),
        ({"redis": {"auth": {"enabled": True}}}, "set secrets.redisPassword"),
        ({"router": {"autoscaling": {"hpa": {"enabled": True, "minReplicas": 6,
                                             "maxReplicas": 3}}}},
         "router.autoscaling.hpa: maxReplicas (3) is below minReplicas (6)"),
        ({"worker": {"autoscaling": {"keda": {"enabled": True, "minReplicas": 4,
                                              "maxReplicas": 2}}}},
         "worker.autoscaling.keda: maxReplicas (2) is below minReplicas (4)"),
        ({"router": {"replicaCount": 2, "pdb": {"enabled": True, "minAvailable": 2}}},
         "router.pdb.minAvailable (2) >= replicaCount (2)"),
        ({}, "no model signing key: the chart carries and generates none"),
        ({"secrets": {"modelSigningKey": "dGVzdC1maXh0dXJlLXNlZWQtbmV2ZXItdXNlLWl0ISE="}},
         "no model verify keys"),
    ],
)
def test_inconsistent_settings_fail_at_render(
    chart: Any, helm_sdk: Any, change: dict[str, Any], expected: str
) -> None:
    with pytest.raises(helm_sdk.HelmRenderError) as caught:
        chart.render(change, name=RELEASE, namespace=NAMESPACE)
    assert expected in str(caught.value)


# ----------------------------------------------------------------------------------- schema


@pytest.mark.parametrize("fixture", sorted(BROKEN))
def test_broken_values_are_rejected_by_the_schema(
    chart: Any, helm_sdk: Any, fixture: str
) -> None:
    values = load_values(BROKEN_DIR / f"{fixture}.yaml")
    with pytest.raises(helm_sdk.HelmValuesError) as caught:
        chart.validate_schema(values)
    for words in BROKEN[fixture]:
        assert words in str(caught.value), str(caught.value)
    # A render (what `helm install` does) is refused with the same message.
    with pytest.raises(helm_sdk.HelmValuesError) as rendered:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert BROKEN[fixture][0] in str(rendered.value)


def test_every_broken_fixture_has_an_expectation() -> None:
    assert {p.stem for p in BROKEN_DIR.glob("*.yaml")} == set(BROKEN) | {"keda-and-hpa"}


@pytest.mark.parametrize("fixture", GOOD_FIXTURES)
def test_good_fixtures_pass_the_schema(chart: Any, fixture: str) -> None:
    chart.validate_schema(load_values(VALUES_DIR / f"{fixture}.yaml"))


def test_schema_covers_every_default_value(chart: Any) -> None:
    """values.yaml and values.schema.json describe the same tree (no undocumented keys)."""
    schema = chart.schema
    assert schema is not None

    def walk(value: Any, node: dict[str, Any], path: str) -> None:
        if "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
        if isinstance(value, dict) and "properties" in node:
            for key, sub in value.items():
                if key in node["properties"]:
                    walk(sub, node["properties"][key], f"{path}.{key}")
                else:
                    assert node.get("additionalProperties", True) is not False, f"{path}.{key}"

    walk(chart.values, schema, "")


# ------------------------------------------------------------------------- settings and env


def _pod_env(objects: list[Manifest], deployment: Manifest) -> dict[str, str]:
    """The environment the main container starts with (secrets as placeholders)."""
    configmaps = by_kind(objects, "ConfigMap")
    container = _main_container(deployment)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]]["data"])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            env[var["name"]] = f"secret:{var['valueFrom']['secretKeyRef']['key']}"
    return env


@pytest.mark.parametrize("fixture", GOOD_FIXTURES)
def test_rendered_environment_is_read_by_the_settings(
    manifests: Manifests, fixture: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every TRACER_STREAM_* variable the chart sets is a real setting, and the services'
    settings classes accept the rendered values."""
    from tracer_stream import config

    objects = manifests(fixture)
    values = load_values(VALUES_DIR / f"{fixture}.yaml")
    known = settings_env_names() | NON_SETTINGS_ENV
    classes = {"router": config.RouterSettings, "worker": config.WorkerSettings,
               "trainer": config.TrainerSettings}
    for dep in by_kind(objects, "Deployment").values():
        component = component_of(dep)
        env = _pod_env(objects, dep)
        unknown = {k for k in env if k.startswith("TRACER_STREAM_")} - known
        assert not unknown, f"{component}: no setting reads {sorted(unknown)}"
        for name in [n for n in os.environ if n.startswith("TRACER_STREAM_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = classes[component]()
        assert settings.http_host == "0.0.0.0"
        assert settings.kafka.bootstrap_servers == values.get("kafka", {}).get(
            "bootstrapServers", "kafka:9092"
        )
        assert settings.topics.prefix == values.get("topics", {}).get("prefix", "tracer.")
        assert str(settings.state_dir) == "/var/lib/tracer-stream"
        # Only the trainer holds the private key; every service holds the public keys.
        assert ("TRACER_STREAM_MODEL_SIGNING_KEY" in env) == (component == "trainer")
        assert env["TRACER_STREAM_MODEL_VERIFY_KEYS"].startswith("secret:")


@pytest.mark.parametrize("fixture", GOOD_FIXTURES)
def test_secrets_never_reach_a_configmap(
    manifests: Manifests, fixture: str
) -> None:
    values = load_values(VALUES_DIR / f"{fixture}.yaml")
    plain = [
        values.get("secrets", {}).get("workerApiKey"),
        values.get("secrets", {}).get("modelSigningKey"),
        values.get("secrets", {}).get("redisPassword"),
        values.get("kafka", {}).get("sasl", {}).get("password"),
        values.get("kafka", {}).get("tls", {}).get("keyPassword"),
    ]
    plain = [p for p in plain if p]
    text = yaml.safe_dump_all([strip_private(o) for o in manifests(fixture)])
    for secret in plain:
        assert secret not in text
    secrets = {name: o for name, o in by_kind(manifests(fixture), "Secret").items()
               if "helm.sh/hook" not in o["metadata"]["annotations"]}
    existing = values.get("secrets", {}).get("existingSecret")
    if existing:
        assert not secrets
    else:
        (secret,) = secrets.values()
        decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        assert set(plain) <= set(decoded.values())
        assert decoded["model-signing-key"]


def test_external_secret_is_referenced_with_its_keys(
    manifests: Manifests,
) -> None:
    objects = manifests("external-secrets")
    refs = {
        (component_of(dep), var["name"]): var["valueFrom"]["secretKeyRef"]
        for dep in by_kind(objects, "Deployment").values()
        for var in _main_container(dep).get("env", [])
        if "valueFrom" in var
    }
    assert {ref["name"] for ref in refs.values()} == {"tracer-stream-credentials"}
    assert refs[("worker", "TRACER_STREAM_WORKER_API_KEY")]["key"] == "OPENAI_API_KEY"
    assert refs[("trainer", "TRACER_STREAM_MODEL_SIGNING_KEY")]["key"] == "model-signing-key"
    assert ("router", "TRACER_STREAM_MODEL_SIGNING_KEY") not in refs
    assert ("worker", "TRACER_STREAM_MODEL_SIGNING_KEY") not in refs
    for component in SERVICES:
        assert refs[(component, "TRACER_STREAM_MODEL_VERIFY_KEYS")]["key"] == "model-verify-keys"
    for component in SERVICES:
        assert (component, "TRACER_STREAM_KAFKA_SASL_PASSWORD") in refs
        assert (component, "TRACER_STREAM_REDIS_PASSWORD") in refs


def test_tls_material_is_mounted_where_the_settings_point(
    manifests: Manifests,
) -> None:
    objects = manifests("tls-sasl")
    common = by_kind(objects, "ConfigMap")[f"{RELEASE}-tracer-stream-config"]["data"]
    assert common["TRACER_STREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert common["TRACER_STREAM_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert common["TRACER_STREAM_REDIS_URL"].startswith("rediss://")
    for dep in by_kind(objects, "Deployment").values():
        mounts = {m["name"]: m["mountPath"] for m in _main_container(dep)["volumeMounts"]}
        volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
        assert volumes["kafka-tls"]["secret"]["secretName"] == "kafka-client-tls"
        assert volumes["redis-tls"]["secret"]["secretName"] == "redis-ca"
        for setting, key in (
            ("TRACER_STREAM_KAFKA_SSL_CA_LOCATION", "ca.crt"),
            ("TRACER_STREAM_KAFKA_SSL_CERTIFICATE_LOCATION", "tls.crt"),
            ("TRACER_STREAM_KAFKA_SSL_KEY_LOCATION", "tls.key"),
        ):
            assert common[setting] == f"{mounts['kafka-tls']}/{key}"
        assert common["TRACER_STREAM_REDIS_SSL_CA_CERTS"] == f"{mounts['redis-tls']}/ca.crt"
        assert common["TRACER_STREAM_REDIS_SSL_CERTFILE"] == f"{mounts['redis-tls']}/tls.crt"
        assert common["TRACER_STREAM_REDIS_SSL_KEYFILE"] == f"{mounts['redis-tls']}/tls.key"
    assert common["TRACER_STREAM_REDIS_USERNAME"] == "tracer"


# --------------------------------------------------------------------- custom resources


@pytest.mark.parametrize("fixture", GOOD_FIXTURES)
def test_scaled_objects_watch_the_groups_the_services_use(
    manifests: Manifests, fixture: str
) -> None:
    objects = manifests(fixture)
    configmaps = by_kind(objects, "ConfigMap")
    common = configmaps[f"{RELEASE}-tracer-stream-config"]["data"]
    auths = by_kind(objects, "TriggerAuthentication")
    topic_kind = {"router": "REQUESTS", "worker": "LLM_REQUESTS"}
    default_topic = {"router": "requests", "worker": "llm-requests"}
    for name, scaled in by_kind(objects, "ScaledObject").items():
        assert scaled["apiVersion"] == "keda.sh/v1alpha1"
        component = component_of(scaled)
        assert component in topic_kind
        assert scaled["spec"]["scaleTargetRef"]["name"] == name
        assert 0 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        own = configmaps[name]["data"]
        assert meta["consumerGroup"] == own[f"TRACER_STREAM_{component.upper()}_GROUP_ID"]
        override = f"TRACER_STREAM_TOPICS_{topic_kind[component]}"
        topic = common.get(override, default_topic[component])
        assert meta["topic"] == common["TRACER_STREAM_TOPICS_PREFIX"] + topic
        assert meta["bootstrapServers"] == common["TRACER_STREAM_KAFKA_BOOTSTRAP_SERVERS"]
        assert int(meta["lagThreshold"]) >= 1
        assert all(isinstance(v, str) for v in meta.values()), "KEDA metadata values are strings"
        if "authenticationRef" in trigger:
            assert trigger["authenticationRef"]["name"] in auths
        protocol = common["TRACER_STREAM_KAFKA_SECURITY_PROTOCOL"]
        assert ("sasl" in meta) == protocol.startswith("SASL_")
        assert ("tls" in meta) == protocol.endswith("SSL")
        if "sasl" in meta:
            assert "authenticationRef" in trigger


@pytest.mark.parametrize("fixture", GOOD_FIXTURES)
def test_monitoring_objects_select_what_exists(
    manifests: Manifests, fixture: str
) -> None:
    objects = manifests(fixture)
    services = by_kind(objects, "Service")
    for monitor in by_kind(objects, "ServiceMonitor").values():
        selector = monitor["spec"]["selector"]["matchLabels"]
        selected = [
            s for s in services.values() if selector.items() <= s["metadata"]["labels"].items()
        ]
        assert {component_of(s) for s in selected} == {component_of(s) for s in services.values()}
        ports = {e["port"] for e in monitor["spec"]["endpoints"]}
        assert all(ports <= {p["name"] for p in s["spec"]["ports"]} for s in selected)
        assert monitor["spec"]["namespaceSelector"]["matchNames"] == [NAMESPACE]
    for rule in by_kind(objects, "PrometheusRule").values():
        alerts = [r for g in rule["spec"]["groups"] for r in g["rules"]]
        assert alerts
        assert all({"alert", "expr", "labels", "annotations"} <= r.keys() for r in alerts)


def test_network_policies_open_only_the_http_port(
    manifests: Manifests,
) -> None:
    policies = by_kind(manifests("keda"), "NetworkPolicy")
    assert {component_of(p) for p in policies.values()} == set(SERVICES)
    for policy in policies.values():
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        for rule in policy["spec"]["ingress"]:
            assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
        egress_ports = {p["port"] for r in policy["spec"]["egress"] for p in r.get("ports", [])}
        assert {53, 9092, 6379} <= egress_ports
        assert (443 in egress_ports) == (component_of(policy) == "worker")


# ------------------------------------------------------------------------------------ notes


@pytest.mark.parametrize("fixture", GOOD_FIXTURES)
def test_notes_explain_a_first_request(render: Render, fixture: str) -> None:
    notes = render(fixture)["tracer-stream/templates/NOTES.txt"]
    values = load_values(VALUES_DIR / f"{fixture}.yaml")
    prefix = values.get("topics", {}).get("prefix", "tracer.")
    assert "tracer-stream classify" in notes
    assert "tracer-stream task apply" in notes
    assert "kcat" in notes
    assert f"-P -t {prefix}requests" in notes
    assert f"-C -t {prefix}labels" in notes
    if values.get("kafka", {}).get("sasl", {}).get("enabled"):
        assert "-X security.protocol=SASL_" in notes


def test_default_notes_warn_about_missing_credentials(render: Render) -> None:
    notes = render("defaults")["tracer-stream/templates/NOTES.txt"]
    assert "no LLM API key" in notes
    keda_notes = render("keda")["tracer-stream/templates/NOTES.txt"]
    assert "WARNING" not in keda_notes and "NOTE:" not in keda_notes


def test_rules_file_is_valid_prometheus_rules() -> None:
    rules = yaml.safe_load((CHART_DIR / "files" / "alerts.yml").read_text())
    names = [r["alert"] for g in rules["groups"] for r in g["rules"]]
    assert len(names) == len(set(names))
    assert {
        "TracerStreamGateClosedByLiveMonitor",
        "TracerStreamDriftAlarm",
        "TracerStreamDeadLetterRateHigh",
        "TracerStreamLLMErrorRateHigh",
    } <= set(names)
    guide = (CHART_DIR.parents[1] / "docs" / "operations.md").read_text()
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", guide, flags=re.MULTILINE)}
    for group in rules["groups"]:
        for rule in group["rules"]:
            anchor = rule["annotations"]["runbook"].split("#", 1)[1]
            assert anchor in anchors, f"docs/operations.md: no section #{anchor} ({rule['alert']})"


def test_alerts_use_series_the_services_define() -> None:
    """Every tracer_stream_* series an alert names is defined in a service's metrics module
    (read as text: importing the services would pull in the whole learning stack)."""
    rules = yaml.safe_load((CHART_DIR / "files" / "alerts.yml").read_text())
    exprs = " ".join(r["expr"] for g in rules["groups"] for r in g["rules"])
    series = set(re.findall(r"\btracer_stream_[a-z0-9_]+", exprs))
    assert series
    repo = CHART_DIR.parents[1]
    modules = [
        p.read_text() for d in ("shared", "services") for p in (repo / d).rglob("*metrics.py")
    ]
    for name in sorted(series):
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        match = re.fullmatch(r"tracer_stream_(router|worker|trainer)_(\w+)", base)
        assert match, f"{name}: not a tracer_stream_<service>_ series"
        service, metric = match.groups()
        defined = [
            text for text in modules
            if f"tracer_stream_{service}" in text and re.search(rf'["{{}}_]{metric}"', text)
        ]
        assert defined, f"alerts.yml uses {name}, which no {service} metrics module defines"


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")
