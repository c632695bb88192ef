{{/*
The Deployment of one service. Arguments: dict "root" $ "component" "router|worker|trainer".
The container runs `tracer-stream <component>` (the image's ENTRYPOINT is `tracer-stream`).
*/}}
{{- define "tracer-stream.deployment" -}}
{{- $root := .root -}}
{{- $component := .component -}}
{{- $c := index $root.Values $component -}}
{{- $name := include "tracer-stream.componentName" . -}}
{{- $trainer := eq $component "trainer" -}}
{{- $autoscaled := and (not $trainer) (or $c.autoscaling.keda.enabled $c.autoscaling.hpa.enabled) -}}
{{- $probes := mergeOverwrite (deepCopy $root.Values.probes) (default dict $c.probes) -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "tracer-stream.componentLabels" . | nindent 4 }}
spec:
  {{- if $trainer }}
  # One trainer owns the trace store: never two at once, not even during a rollout.
  replicas: 1
  strategy:
    type: Recreate
  {{- else }}
  {{- if not $autoscaled }}
  replicas: {{ $c.replicaCount }}
  {{- end }}
  {{- with $c.strategy }}
  strategy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "tracer-stream.componentSelectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "tracer-stream.componentLabels" . | nindent 8 }}
        {{- with $c.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        checksum/secret: {{ toJson (list $root.Values.secrets $root.Values.kafka.sasl $root.Values.kafka.tls) | sha256sum }}
        {{- with $c.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "tracer-stream.serviceAccountName" $root }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $c.terminationGracePeriodSeconds }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      {{- if $root.Values.embedderCache.seedFromImage }}
      initContainers:
        {{- if $root.Values.embedderCache.seedFromImage }}
        # Copy the derived embedder files baked into the image into the writable cache volume.
        - name: seed-embedder-cache
          image: {{ include "tracer-stream.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: ["/bin/sh", "-c", "cp -R /opt/tracer-stream/cache/. /var/cache/tracer-stream/ 2>/dev/null; exit 0"]
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          resources:
            requests:
              cpu: 50m
              memory: 64Mi
            limits:
              cpu: 500m
              memory: 128Mi
          volumeMounts:
            - name: embedder-cache
              mountPath: /var/cache/tracer-stream
        {{- end }}
      {{- end }}
      containers:
        - name: {{ $component }}
          image: {{ include "tracer-stream.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: [{{ $component | quote }}]
          workingDir: /var/lib/tracer-stream
          ports:
            - name: http
              containerPort: {{ $c.httpPort }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "tracer-stream.configMapName" $root }}
            - configMapRef:
                name: {{ $name }}
          env:
            - name: TRACER_STREAM_KAFKA_CLIENT_ID
              value: {{ printf "%s-%s" $root.Release.Name $component | quote }}
            {{- include "tracer-stream.secretEnv" . | trim | nindent 12 }}
            {{- with $c.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- with $probes.startup }}
          startupProbe:
            httpGet:
              path: {{ .path }}
              port: http
            periodSeconds: {{ .periodSeconds }}
            timeoutSeconds: {{ .timeoutSeconds }}
            failureThreshold: {{ .failureThreshold }}
          {{- end }}
          {{- with $probes.liveness }}
          livenessProbe:
            httpGet:
              path: {{ .path }}
              port: http
            periodSeconds: {{ .periodSeconds }}
            timeoutSeconds: {{ .timeoutSeconds }}
            failureThreshold: {{ .failureThreshold }}
          {{- end }}
          {{- with $probes.readiness }}
          readinessProbe:
            httpGet:
              path: {{ .path }}
              port: http
            periodSeconds: {{ .periodSeconds }}
            timeoutSeconds: {{ .timeoutSeconds }}
            failureThreshold: {{ .failureThreshold }}
          {{- end }}
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            {{- include "tracer-stream.commonVolumeMounts" $root | nindent 12 }}
            - name: state
              mountPath: /var/lib/tracer-stream
            {{- with $c.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        {{- include "tracer-stream.commonVolumes" $root | nindent 8 }}
        {{- if and $trainer $c.persistence.enabled }}
        - name: state
          persistentVolumeClaim:
            claimName: {{ default (printf "%s-state" $name) $c.persistence.existingClaim }}
        {{- else }}
        - name: state
          emptyDir: {}
        {{- end }}
        {{- with $c.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $c.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}
