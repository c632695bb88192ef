{{/*
Names and labels.
*/}}
{{- define "tracer-stream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tracer-stream.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of a component's objects: "<fullname>-<component>" (at most 63 characters). */}}
{{- define "tracer-stream.componentName" -}}
{{- printf "%s-%s" (include "tracer-stream.fullname" .root | trunc 54 | trimSuffix "-") .component -}}
{{- end -}}

{{- define "tracer-stream.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tracer-stream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tracer-stream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tracer-stream.labels" -}}
helm.sh/chart: {{ include "tracer-stream.chart" . }}
{{ include "tracer-stream.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tracer-stream
{{- end -}}

{{/* Arguments: dict "root" $ "component" "router" */}}
{{- define "tracer-stream.componentSelectorLabels" -}}
{{ include "tracer-stream.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tracer-stream.componentLabels" -}}
{{ include "tracer-stream.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tracer-stream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tracer-stream.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tracer-stream.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "tracer-stream.secretName" -}}
{{- default (include "tracer-stream.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "tracer-stream.configMapName" -}}
{{- printf "%s-config" (include "tracer-stream.fullname" . | trunc 56 | trimSuffix "-") -}}
{{- end -}}

{{/*
Kafka security.protocol derived from the TLS and SASL switches.
*/}}
{{- define "tracer-stream.kafkaSecurityProtocol" -}}
{{- if and .Values.kafka.sasl.enabled .Values.kafka.tls.enabled -}}SASL_SSL
{{- else if .Values.kafka.sasl.enabled -}}SASL_PLAINTEXT
{{- else if .Values.kafka.tls.enabled -}}SSL
{{- else -}}PLAINTEXT
{{- end -}}
{{- end -}}

{{/* Full topic name for a kind: dict "root" $ "kind" "llm_requests" */}}
{{- define "tracer-stream.topic" -}}
{{- $defaults := dict "requests" "requests" "labels" "labels" "llm_requests" "llm-requests" "traces" "traces" "models" "models" "dead_letter" "dead-letter" -}}
{{- $name := index .root.Values.topics.names .kind | default (index $defaults .kind) -}}
{{- printf "%s%s" .root.Values.topics.prefix $name -}}
{{- end -}}

{{/*
An environment-variable value as a string. Maps and lists become JSON (pydantic-settings
parses complex settings from JSON); whole numbers never use scientific notation.
*/}}
{{- define "tracer-stream.envValue" -}}
{{- $v := . -}}
{{- if or (kindIs "map" $v) (kindIs "slice" $v) -}}
{{- toJson $v -}}
{{- else if kindIs "float64" $v -}}
{{- if eq $v (floor $v) -}}{{- int64 $v -}}{{- else -}}{{- $v -}}{{- end -}}
{{- else if kindIs "invalid" $v -}}
{{- else -}}
{{- $v -}}
{{- end -}}
{{- end -}}

{{/*
Every consistency check that values.schema.json cannot express. Rendered once, from
templates/validate.yaml, so that a bad combination fails the whole release with one message.
*/}}
{{- define "tracer-stream.validate" -}}
{{- range $component := list "router" "worker" -}}
{{- $c := index $.Values $component -}}
{{- if and $c.enabled $c.autoscaling.keda.enabled $c.autoscaling.hpa.enabled -}}
{{- fail (printf "%s.autoscaling: keda.enabled and hpa.enabled are both true. Choose one: KEDA scales the %s on Kafka consumer lag, the HPA on CPU; two autoscalers on one Deployment fight over its replica count." $component $component) -}}
{{- end -}}
{{- end -}}
{{- $url := .Values.redis.url -}}
{{- if regexMatch "^rediss?://[^/@]*:[^/@]+@" $url -}}
{{- fail "redis.url contains a password. Put it in secrets.redisPassword (or your existingSecret) and set redis.auth.enabled=true." -}}
{{- end -}}
{{- if and .Values.redis.tls.enabled (not (hasPrefix "rediss://" $url)) -}}
{{- fail (printf "redis.tls.enabled is true but redis.url (%s) does not start with rediss://" $url) -}}
{{- end -}}
{{- if and (hasPrefix "rediss://" $url) (not .Values.redis.tls.enabled) -}}
{{- fail "redis.url starts with rediss:// (TLS): set redis.tls.enabled=true as well" -}}
{{- end -}}
{{- if and .Values.redis.tls.caSecret (not .Values.redis.tls.enabled) -}}
{{- fail "redis.tls.caSecret is set but redis.tls.enabled is false" -}}
{{- end -}}
{{- $tls := .Values.kafka.tls -}}
{{- if and (or $tls.secretName $tls.certKey $tls.keyKey) (not $tls.enabled) -}}
{{- fail "kafka.tls.secretName/certKey/keyKey are set but kafka.tls.enabled is false" -}}
{{- end -}}
{{- if and $tls.enabled (ne (empty $tls.certKey) (empty $tls.keyKey)) -}}
{{- fail "kafka.tls: set both certKey and keyKey (mutual TLS) or neither" -}}
{{- end -}}
{{- if and $tls.enabled $tls.certKey (not $tls.secretName) -}}
{{- fail "kafka.tls.certKey/keyKey need kafka.tls.secretName (the Secret holding them)" -}}
{{- end -}}
{{- if .Values.kafka.sasl.enabled -}}
{{- if not .Values.kafka.sasl.username -}}
{{- fail "kafka.sasl.enabled is true but kafka.sasl.username is empty" -}}
{{- end -}}
{{- if and (not .Values.secrets.existingSecret) (not .Values.kafka.sasl.password) -}}
{{- fail "kafka.sasl.enabled is true: set kafka.sasl.password or provide it in secrets.existingSecret" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.redis.auth.enabled (not .Values.secrets.existingSecret) (not .Values.secrets.redisPassword) -}}
{{- fail "redis.auth.enabled is true: set secrets.redisPassword or provide it in secrets.existingSecret" -}}
{{- end -}}
{{- range $component := list "router" "worker" -}}
{{- $c := index $.Values $component -}}
{{- range $kind := list "keda" "hpa" -}}
{{- $a := index $c.autoscaling $kind -}}
{{- if and $c.enabled $a.enabled (lt (int $a.maxReplicas) (int $a.minReplicas)) -}}
{{- fail (printf "%s.autoscaling.%s: maxReplicas (%v) is below minReplicas (%v)" $component $kind $a.maxReplicas $a.minReplicas) -}}
{{- end -}}
{{- end -}}
{{- if and $c.enabled $c.pdb.enabled (hasKey $c.pdb "minAvailable") (kindIs "float64" $c.pdb.minAvailable) (not (or $c.autoscaling.keda.enabled $c.autoscaling.hpa.enabled)) (ge (int $c.pdb.minAvailable) (int $c.replicaCount)) -}}
{{- fail (printf "%s.pdb.minAvailable (%v) >= replicaCount (%v): no pod could ever be evicted, so node drains would block. Use maxUnavailable: 1" $component $c.pdb.minAvailable $c.replicaCount) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.trainer.enabled .Values.trainer.persistence.existingClaim (not .Values.trainer.persistence.enabled) -}}
{{- fail "trainer.persistence.existingClaim is set but trainer.persistence.enabled is false" -}}
{{- end -}}
{{- if not .Values.secrets.existingSecret -}}
{{- if and .Values.trainer.enabled (not .Values.secrets.modelSigningKey) -}}
{{- fail "no model signing key: the chart carries and generates none. Set secrets.existingSecret (a Secret with model-signing-key and model-verify-keys), or secrets.modelSigningKey and secrets.modelVerifyKeys from `tracer-stream keys generate` (docs/operations.md#model-signing-keys)" -}}
{{- end -}}
{{- if not .Values.secrets.modelVerifyKeys -}}
{{- fail "no model verify keys: set secrets.modelVerifyKeys (the public key(s) printed by `tracer-stream keys generate`) or secrets.existingSecret (docs/operations.md#model-signing-keys)" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Whether the worker needs the LLM API key (every backend but replay). */}}
{{- define "tracer-stream.workerNeedsApiKey" -}}
{{- if ne (toString (default "openai" .Values.worker.settings.backend)) "replay" -}}true{{- end -}}
{{- end -}}

{{/*
Secret-backed environment variables of a component: the Ed25519 private seed only for the
trainer (it signs models), the public keys for every service (they verify), and the connection
credentials. Arguments: dict "root" $ "component" "router|worker|trainer|topics", optionally
"secretName" (default: the release's Secret or secrets.existingSecret).
*/}}
{{- define "tracer-stream.secretEnv" -}}
{{- $root := .root -}}
{{- $secret := default (include "tracer-stream.secretName" $root) .secretName -}}
{{- $keys := $root.Values.secrets.keys -}}
{{- $external := ne $root.Values.secrets.existingSecret "" -}}
{{- if eq .component "trainer" }}
- name: TRACER_STREAM_MODEL_SIGNING_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.modelSigningKey }}
{{- end }}
{{- if has .component (list "router" "worker" "trainer") }}
- name: TRACER_STREAM_MODEL_VERIFY_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.modelVerifyKeys }}
{{- end }}
{{- if and (eq .component "worker") (include "tracer-stream.workerNeedsApiKey" $root) (or $external $root.Values.secrets.workerApiKey) }}
- name: TRACER_STREAM_WORKER_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.workerApiKey }}
{{- end }}
{{- if $root.Values.kafka.sasl.enabled }}
- name: TRACER_STREAM_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.kafkaSaslPassword }}
{{- end }}
{{- if and $root.Values.kafka.tls.enabled $root.Values.kafka.tls.keyKey (or $external $root.Values.kafka.tls.keyPassword) }}
- name: TRACER_STREAM_KAFKA_SSL_KEY_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.kafkaSslKeyPassword }}
      optional: {{ $external }}
{{- end }}
{{- if and $root.Values.redis.auth.enabled (ne .component "topics") }}
- name: TRACER_STREAM_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.redisPassword }}
{{- end }}
{{- end -}}

{{/* Volumes every pod has (tmp, cache, TLS material). */}}
{{- define "tracer-stream.commonVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmp.sizeLimit }}
- name: embedder-cache
  emptyDir:
    sizeLimit: {{ .Values.embedderCache.sizeLimit }}
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.secretName }}
- name: kafka-tls
  secret:
    secretName: {{ .Values.kafka.tls.secretName }}
    defaultMode: 0440
{{- end }}
{{- if and .Values.redis.tls.enabled .Values.redis.tls.caSecret }}
- name: redis-tls
  secret:
    secretName: {{ .Values.redis.tls.caSecret }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "tracer-stream.commonVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: embedder-cache
  mountPath: /var/cache/tracer-stream
{{- if and .Values.kafka.tls.enabled .Values.kafka.tls.secretName }}
- name: kafka-tls
  mountPath: /etc/tracer-stream/kafka-tls
  readOnly: true
{{- end }}
{{- if and .Values.redis.tls.enabled .Values.redis.tls.caSecret }}
- name: redis-tls
  mountPath: /etc/tracer-stream/redis-tls
  readOnly: true
{{- end }}
{{- end -}}

{{/*
The settings every container shares, as a YAML map of environment variables (the ConfigMap of
templates/configmap.yaml and the topic Job's hook ConfigMap render it).
*/}}
{{- define "tracer-stream.commonEnvData" -}}
{{- $tls := .Values.kafka.tls -}}
{{- $data := dict
  "TRACER_STREAM_KAFKA_BOOTSTRAP_SERVERS" .Values.kafka.bootstrapServers
  "TRACER_STREAM_KAFKA_SECURITY_PROTOCOL" (include "tracer-stream.kafkaSecurityProtocol" .)
  "TRACER_STREAM_KAFKA_SESSION_TIMEOUT_MS" (include "tracer-stream.envValue" .Values.kafka.sessionTimeoutMs)
  "TRACER_STREAM_KAFKA_HEARTBEAT_INTERVAL_MS" (include "tracer-stream.envValue" .Values.kafka.heartbeatIntervalMs)
  "TRACER_STREAM_KAFKA_FETCH_WAIT_MAX_MS" (include "tracer-stream.envValue" .Values.kafka.fetchWaitMaxMs)
  "TRACER_STREAM_TOPICS_PREFIX" .Values.topics.prefix
  "TRACER_STREAM_TOPICS_PARTITIONS" (include "tracer-stream.envValue" .Values.topics.partitions)
  "TRACER_STREAM_TOPICS_REPLICATION_FACTOR" (include "tracer-stream.envValue" .Values.topics.replicationFactor)
  "TRACER_STREAM_REDIS_URL" .Values.redis.url
  "TRACER_STREAM_REDIS_KEY_PREFIX" .Values.redis.keyPrefix
  "TRACER_STREAM_REDIS_SOCKET_TIMEOUT_S" (include "tracer-stream.envValue" .Values.redis.socketTimeoutS)
  "TRACER_STREAM_LIMITS_MAX_MESSAGE_BYTES" (include "tracer-stream.envValue" .Values.limits.maxMessageBytes)
  "TRACER_STREAM_LIMITS_MAX_TEXT_CHARS" (include "tracer-stream.envValue" .Values.limits.maxTextChars)
  "TRACER_STREAM_STATE_DIR" "/var/lib/tracer-stream"
  "TRACER_STREAM_CACHE_DIR" "/var/cache/tracer-stream"
  "XDG_CACHE_HOME" "/var/cache/tracer-stream/xdg"
  "HF_HUB_OFFLINE" "1"
  "TRANSFORMERS_OFFLINE" "1"
-}}
{{- if .Values.kafka.sasl.enabled }}
{{- $_ := set $data "TRACER_STREAM_KAFKA_SASL_MECHANISM" .Values.kafka.sasl.mechanism }}
{{- $_ := set $data "TRACER_STREAM_KAFKA_SASL_USERNAME" .Values.kafka.sasl.username }}
{{- end }}
{{- if and $tls.enabled $tls.secretName }}
{{- $_ := set $data "TRACER_STREAM_KAFKA_SSL_CA_LOCATION" (printf "/etc/tracer-stream/kafka-tls/%s" $tls.caKey) }}
{{- if $tls.certKey }}
{{- $_ := set $data "TRACER_STREAM_KAFKA_SSL_CERTIFICATE_LOCATION" (printf "/etc/tracer-stream/kafka-tls/%s" $tls.certKey) }}
{{- $_ := set $data "TRACER_STREAM_KAFKA_SSL_KEY_LOCATION" (printf "/etc/tracer-stream/kafka-tls/%s" $tls.keyKey) }}
{{- end }}
{{- end }}
{{- with .Values.kafka.extra }}
{{- $_ := set $data "TRACER_STREAM_KAFKA_EXTRA" (include "tracer-stream.envValue" .) }}
{{- end }}
{{- range $kind, $name := .Values.topics.names }}
{{- $_ := set $data (printf "TRACER_STREAM_TOPICS_%s" (upper $kind)) $name }}
{{- end }}
{{- with .Values.topics.retentionMs }}
{{- $_ := set $data "TRACER_STREAM_TOPICS_RETENTION_MS" (include "tracer-stream.envValue" .) }}
{{- end }}
{{- if and .Values.redis.tls.enabled .Values.redis.tls.caSecret }}
{{- $_ := set $data "TRACER_STREAM_REDIS_SSL_CA_CERTS" (printf "/etc/tracer-stream/redis-tls/%s" .Values.redis.tls.caKey) }}
{{- if .Values.redis.tls.certKey }}
{{- $_ := set $data "TRACER_STREAM_REDIS_SSL_CERTFILE" (printf "/etc/tracer-stream/redis-tls/%s" .Values.redis.tls.certKey) }}
{{- $_ := set $data "TRACER_STREAM_REDIS_SSL_KEYFILE" (printf "/etc/tracer-stream/redis-tls/%s" .Values.redis.tls.keyKey) }}
{{- end }}
{{- end }}
{{- if and .Values.redis.auth.enabled .Values.redis.auth.username }}
{{- $_ := set $data "TRACER_STREAM_REDIS_USERNAME" .Values.redis.auth.username }}
{{- end }}
{{- range $name, $value := .Values.config.extraEnv }}
{{- $_ := set $data $name (include "tracer-stream.envValue" $value) }}
{{- end }}
{{ toYaml $data }}
{{- end -}}
