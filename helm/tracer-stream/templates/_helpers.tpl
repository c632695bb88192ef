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
{{- if and .Values.trainer.enabled .Values.trainer.persistence.existingClaim (not .Values.trainer.persistence.enabled) -}}
{{- fail "trainer.persistence.existingClaim is set but trainer.persistence.enabled is false" -}}
{{- end -}}
{{- end -}}

{{/* Whether the worker needs the LLM API key (every backend but replay). */}}
{{- define "tracer-stream.workerNeedsApiKey" -}}
{{- if ne (toString (default "openai" .Values.worker.settings.backend)) "replay" -}}true{{- end -}}
{{- end -}}

{{/*
Secret-backed environment variables of a component.
Arguments: dict "root" $ "component" "router|worker|trainer|topics"
*/}}
{{- define "tracer-stream.secretEnv" -}}
{{- $root := .root -}}
{{- $secret := include "tracer-stream.secretName" $root -}}
{{- $keys := $root.Values.secrets.keys -}}
{{- $external := ne $root.Values.secrets.existingSecret "" -}}
{{- if has .component (list "router" "trainer") }}
- name: TRACER_STREAM_MODEL_SIGNING_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $keys.modelSigningKey }}
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
