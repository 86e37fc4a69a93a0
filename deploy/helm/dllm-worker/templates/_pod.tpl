{{/*
The pod template shared by the Deployment and the StatefulSet.
Configuration reaches the worker as:
  - DLLM_* variables from the chart's ConfigMap (envFrom) for everything non-secret;
  - DLLM_* variables set here where they depend on the pod (instance id) or on secrets
    (Redis URL with password, composed by Kubernetes' $(VAR) expansion);
  - --kafka-prop arguments for librdkafka properties (security, SASL credentials via
    $(VAR) expansion, TLS file paths, session timeout, client id, user properties).
*/}}
{{- define "dllm-worker.podTemplate" -}}
{{- $v := .Values -}}
{{- $gpus := int (include "dllm-worker.gpuCount" .) -}}
{{- $k := $v.kafka -}}
{{- $r := $v.redis -}}
metadata:
  labels:
    {{- include "dllm-worker.selectorLabels" . | nindent 4 }}
    app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
    app.kubernetes.io/component: worker
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- if include "dllm-worker.createsSecret" . }}
    checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
    {{- end }}
    {{- if $v.metrics.podAnnotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ $v.worker.httpPort | quote }}
    prometheus.io/path: /metrics
    {{- end }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "dllm-worker.serviceAccountName" . }}
  automountServiceAccountToken: {{ $v.serviceAccount.automountServiceAccountToken }}
  terminationGracePeriodSeconds: {{ include "dllm-worker.gracePeriod" . }}
  enableServiceLinks: false
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.runtimeClassName }}
  runtimeClassName: {{ . }}
  {{- end }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with $v.schedulerName }}
  schedulerName: {{ . }}
  {{- end }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if $v.affinity }}
  affinity:
    {{- toYaml $v.affinity | nindent 4 }}
  {{- else if and $v.gpu.products (gt $gpus 0) }}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
          - matchExpressions:
              - key: {{ $v.gpu.productLabel }}
                operator: In
                values:
                  {{- toYaml $v.gpu.products | nindent 18 }}
  {{- end }}
  {{- if $v.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- range $v.topologySpreadConstraints }}
    {{- $c := deepCopy . }}
    {{- if not (hasKey $c "labelSelector") }}
    {{- $_ := set $c "labelSelector" (dict "matchLabels" (include "dllm-worker.selectorLabels" $ | fromYaml)) }}
    {{- end }}
    - {{ toYaml $c | indent 6 | trim }}
    {{- end }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  {{- if or (eq $v.model.source "initContainer") $v.extraInitContainers }}
  initContainers:
    {{- if eq $v.model.source "initContainer" }}
    {{- $ic := $v.model.initContainer }}
    - name: model-fetch
      image: {{ $ic.image }}
      imagePullPolicy: {{ $ic.imagePullPolicy }}
      command:
        {{- toYaml $ic.command | nindent 8 }}
      {{- with $ic.args }}
      args:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      env:
        - name: DLLM_MODEL_DIR
          value: {{ include "dllm-worker.modelPath" . | quote }}
        {{- with $ic.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $ic.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $ic.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      volumeMounts:
        - name: model
          mountPath: {{ $v.model.mountPath }}
        - name: tmp
          mountPath: /tmp
    {{- end }}
    {{- with $v.extraInitContainers }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  containers:
    - name: worker
      image: {{ include "dllm-worker.image" . }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command:
        - {{ $v.worker.command }}
      args:
        - --kafka-prop
        - security.protocol={{ include "dllm-worker.securityProtocol" . }}
        - --kafka-prop
        - client.id=$(POD_NAME)
        {{- if $k.sasl.enabled }}
        - --kafka-prop
        - sasl.mechanism={{ $k.sasl.mechanism }}
        - --kafka-prop
        - sasl.username=$(KAFKA_SASL_USERNAME)
        - --kafka-prop
        - sasl.password=$(KAFKA_SASL_PASSWORD)
        {{- end }}
        {{- if and $k.tls.enabled $k.tls.existingSecret }}
        - --kafka-prop
        - ssl.ca.location=/etc/dllm/kafka-tls/{{ $k.tls.caKey }}
        {{- if $k.tls.clientCertificate }}
        - --kafka-prop
        - ssl.certificate.location=/etc/dllm/kafka-tls/{{ $k.tls.certKey }}
        - --kafka-prop
        - ssl.key.location=/etc/dllm/kafka-tls/{{ $k.tls.keyKey }}
        {{- end }}
        {{- end }}
        {{- if $k.staticMembership.enabled }}
        - --kafka-prop
        - session.timeout.ms={{ int $k.staticMembership.sessionTimeoutMs }}
        {{- end }}
        {{- range $key, $val := $k.properties }}
        - --kafka-prop
        - {{ printf "%s=%v" $key $val | quote }}
        {{- end }}
        {{- with $v.worker.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      envFrom:
        - configMapRef:
            name: {{ include "dllm-worker.fullname" . }}
        {{- with $v.worker.extraEnvFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        {{- if $k.existingConfigMap }}
        - name: DLLM_BOOTSTRAP
          valueFrom:
            configMapKeyRef:
              name: {{ $k.existingConfigMap }}
              key: {{ $k.bootstrapServersKey }}
        {{- end }}
        {{- if $k.staticMembership.enabled }}
        {{- if $k.staticMembership.instanceIdPrefix }}
        - name: DLLM_GROUP_INSTANCE_ID
          value: {{ printf "%s$(POD_NAME)" $k.staticMembership.instanceIdPrefix | quote }}
        {{- else }}
        - name: DLLM_GROUP_INSTANCE_ID
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- end }}
        {{- end }}
        {{- if $k.sasl.enabled }}
        - name: KAFKA_SASL_USERNAME
          valueFrom:
            secretKeyRef:
              name: {{ include "dllm-worker.kafkaSaslSecret" . }}
              key: {{ include "dllm-worker.kafkaSaslUsernameKey" . }}
        - name: KAFKA_SASL_PASSWORD
          valueFrom:
            secretKeyRef:
              name: {{ include "dllm-worker.kafkaSaslSecret" . }}
              key: {{ include "dllm-worker.kafkaSaslPasswordKey" . }}
        {{- end }}
        {{- if $r.enabled }}
        {{- if and $r.existingSecret $r.urlKey }}
        - name: DLLM_REDIS
          valueFrom:
            secretKeyRef:
              name: {{ $r.existingSecret }}
              key: {{ $r.urlKey }}
        {{- else }}
        {{- if $r.existingConfigMap }}
        - name: REDIS_HOST
          valueFrom:
            configMapKeyRef:
              name: {{ $r.existingConfigMap }}
              key: {{ $r.hostKey }}
        - name: REDIS_PORT
          valueFrom:
            configMapKeyRef:
              name: {{ $r.existingConfigMap }}
              key: {{ $r.portKey }}
        {{- else }}
        - name: REDIS_HOST
          value: {{ $r.host | quote }}
        - name: REDIS_PORT
          value: {{ $r.port | quote }}
        {{- end }}
        {{- $pwKey := include "dllm-worker.redisPasswordKey" . }}
        {{- if $pwKey }}
        - name: REDIS_PASSWORD
          valueFrom:
            secretKeyRef:
              name: {{ include "dllm-worker.redisSecret" . }}
              key: {{ $pwKey }}
        - name: DLLM_REDIS
          value: {{ printf "redis://:$(REDIS_PASSWORD)@$(REDIS_HOST):$(REDIS_PORT)/%d" (int $r.db) | quote }}
        {{- else }}
        - name: DLLM_REDIS
          value: {{ printf "redis://$(REDIS_HOST):$(REDIS_PORT)/%d" (int $r.db) | quote }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- with $v.worker.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: http
          containerPort: {{ $v.worker.httpPort }}
          protocol: TCP
      startupProbe:
        httpGet:
          path: {{ $v.probes.startup.path }}
          port: http
        periodSeconds: {{ $v.probes.startup.periodSeconds }}
        failureThreshold: {{ $v.probes.startup.failureThreshold }}
        timeoutSeconds: {{ $v.probes.startup.timeoutSeconds }}
      livenessProbe:
        httpGet:
          path: {{ $v.probes.liveness.path }}
          port: http
        periodSeconds: {{ $v.probes.liveness.periodSeconds }}
        failureThreshold: {{ $v.probes.liveness.failureThreshold }}
        timeoutSeconds: {{ $v.probes.liveness.timeoutSeconds }}
      readinessProbe:
        httpGet:
          path: {{ $v.probes.readiness.path }}
          port: http
        periodSeconds: {{ $v.probes.readiness.periodSeconds }}
        failureThreshold: {{ $v.probes.readiness.failureThreshold }}
        timeoutSeconds: {{ $v.probes.readiness.timeoutSeconds }}
      {{- if $v.preStop.enabled }}
      lifecycle:
        preStop:
          exec:
            command: ["/bin/sleep", {{ $v.preStop.sleepSeconds | quote }}]
      {{- end }}
      resources:
        {{- $res := deepCopy $v.resources }}
        {{- if gt $gpus 0 }}
        {{- $req := default (dict) $res.requests }}
        {{- $lim := default (dict) $res.limits }}
        {{- $_ := set $req $v.gpu.resourceName $gpus }}
        {{- $_ := set $lim $v.gpu.resourceName $gpus }}
        {{- $_ := set $res "requests" $req }}
        {{- $_ := set $res "limits" $lim }}
        {{- end }}
        {{- toYaml $res | nindent 8 }}
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if $v.shm.enabled }}
        - name: dshm
          mountPath: /dev/shm
        {{- end }}
        {{- if ne $v.model.source "bundled" }}
        - name: model
          mountPath: {{ $v.model.mountPath }}
          readOnly: true
        {{- end }}
        {{- if and $k.tls.enabled $k.tls.existingSecret }}
        - name: kafka-tls
          mountPath: /etc/dllm/kafka-tls
          readOnly: true
        {{- end }}
        {{- with $v.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- with $v.sidecars }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $v.tmpSizeLimit }}
    {{- if $v.shm.enabled }}
    - name: dshm
      emptyDir:
        medium: Memory
        sizeLimit: {{ $v.shm.sizeLimit }}
    {{- end }}
    {{- if eq $v.model.source "pvc" }}
    - name: model
      persistentVolumeClaim:
        claimName: {{ $v.model.pvc.claimName }}
        readOnly: true
    {{- else if eq $v.model.source "initContainer" }}
    - name: model
      emptyDir:
        sizeLimit: {{ $v.model.initContainer.sizeLimit }}
    {{- end }}
    {{- if and $k.tls.enabled $k.tls.existingSecret }}
    - name: kafka-tls
      projected:
        defaultMode: 288  # 0440 octal: owner and group (fsGroup) read
        sources:
          - secret:
              name: {{ $k.tls.existingSecret }}
              items:
                - key: {{ $k.tls.caKey }}
                  path: {{ $k.tls.caKey }}
          {{- if $k.tls.clientCertificate }}
          - secret:
              name: {{ include "dllm-worker.kafkaClientCertSecret" . }}
              items:
                - key: {{ $k.tls.certKey }}
                  path: {{ $k.tls.certKey }}
                - key: {{ $k.tls.keyKey }}
                  path: {{ $k.tls.keyKey }}
          {{- end }}
    {{- end }}
    {{- with $v.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}
