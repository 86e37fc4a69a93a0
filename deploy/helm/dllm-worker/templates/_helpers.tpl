{{/*
Helpers of the dllm-worker chart. Templates are kept Helm 3 compatible (tested with
Helm 4.1.4, see tests/helm/run.sh).
*/}}

{{/* Chart name, overridable. */}}
{{- define "dllm-worker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: <release>-<name>, or the release name when it already contains the name.
StatefulSet pod names add "-<ordinal>", so this stays within 52 characters. */}}
{{- define "dllm-worker.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "dllm-worker.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: stable across upgrades (never add to them). */}}
{{- define "dllm-worker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dllm-worker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dllm-worker.labels" -}}
helm.sh/chart: {{ include "dllm-worker.chart" . }}
{{ include "dllm-worker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: worker
app.kubernetes.io/part-of: dllm
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "dllm-worker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dllm-worker.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "dllm-worker.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* StatefulSet when static membership is on (stable pod names = stable instance ids). */}}
{{- define "dllm-worker.workloadKind" -}}
{{- if .Values.kafka.staticMembership.enabled -}}StatefulSet{{- else -}}Deployment{{- end -}}
{{- end -}}

{{- define "dllm-worker.headlessName" -}}
{{- printf "%s-headless" (include "dllm-worker.fullname" .) -}}
{{- end -}}

{{/* GPUs per pod: the TP size on cuda, none on cpu. */}}
{{- define "dllm-worker.gpuCount" -}}
{{- if eq .Values.worker.backend "cuda" -}}{{ int .Values.worker.tensorParallelSize }}{{- else -}}0{{- end -}}
{{- end -}}

{{- define "dllm-worker.devices" -}}
{{- if .Values.worker.devices -}}
{{- .Values.worker.devices -}}
{{- else -}}
{{- $ids := list -}}
{{- range $i := until (int .Values.worker.tensorParallelSize) -}}{{- $ids = append $ids (toString $i) -}}{{- end -}}
{{- join "," $ids -}}
{{- end -}}
{{- end -}}

{{- define "dllm-worker.modelPath" -}}
{{- if eq .Values.model.source "bundled" -}}
{{- printf "%s/share/dllm/models/%s" (trimSuffix "/" .Values.model.bundled.prefix) .Values.model.bundled.name -}}
{{- else if .Values.model.subPath -}}
{{- printf "%s/%s" (trimSuffix "/" .Values.model.mountPath) (trimPrefix "/" .Values.model.subPath) -}}
{{- else -}}
{{- .Values.model.mountPath -}}
{{- end -}}
{{- end -}}

{{- define "dllm-worker.autoscaled" -}}
{{- if or .Values.autoscaling.keda.enabled .Values.autoscaling.hpa.enabled -}}true{{- end -}}
{{- end -}}

{{/* librdkafka security.protocol from the sasl/tls switches. */}}
{{- define "dllm-worker.securityProtocol" -}}
{{- $k := .Values.kafka -}}
{{- if and $k.sasl.enabled $k.tls.enabled -}}SASL_SSL
{{- else if $k.sasl.enabled -}}SASL_PLAINTEXT
{{- else if $k.tls.enabled -}}SSL
{{- else -}}PLAINTEXT
{{- end -}}
{{- end -}}

{{/* KEDA's name of the SASL mechanism. */}}
{{- define "dllm-worker.kedaSasl" -}}
{{- $m := .Values.kafka.sasl.mechanism -}}
{{- if eq $m "PLAIN" -}}plaintext{{- else if eq $m "SCRAM-SHA-256" -}}scram_sha256{{- else -}}scram_sha512{{- end -}}
{{- end -}}

{{/* The Secret the chart creates for development credentials (never for existing ones). */}}
{{- define "dllm-worker.credentialsSecretName" -}}
{{- printf "%s-credentials" (include "dllm-worker.fullname" .) -}}
{{- end -}}

{{- define "dllm-worker.kafkaSaslSecret" -}}
{{- default (include "dllm-worker.credentialsSecretName" .) .Values.kafka.sasl.existingSecret -}}
{{- end -}}
{{- define "dllm-worker.kafkaSaslUsernameKey" -}}
{{- if .Values.kafka.sasl.existingSecret -}}{{ .Values.kafka.sasl.usernameKey }}{{- else -}}kafka-sasl-username{{- end -}}
{{- end -}}
{{- define "dllm-worker.kafkaSaslPasswordKey" -}}
{{- if .Values.kafka.sasl.existingSecret -}}{{ .Values.kafka.sasl.passwordKey }}{{- else -}}kafka-sasl-password{{- end -}}
{{- end -}}

{{- define "dllm-worker.kafkaClientCertSecret" -}}
{{- default .Values.kafka.tls.existingSecret .Values.kafka.tls.clientSecret -}}
{{- end -}}

{{- define "dllm-worker.redisSecret" -}}
{{- default (include "dllm-worker.credentialsSecretName" .) .Values.redis.existingSecret -}}
{{- end -}}
{{/* Key of the Redis password, or empty when Redis needs none. */}}
{{- define "dllm-worker.redisPasswordKey" -}}
{{- if .Values.redis.existingSecret -}}{{ .Values.redis.passwordKey }}{{- else if .Values.redis.password -}}redis-password{{- end -}}
{{- end -}}

{{/* Does the chart create the credentials Secret? */}}
{{- define "dllm-worker.createsSecret" -}}
{{- $k := .Values.kafka -}}
{{- $r := .Values.redis -}}
{{- if or (and $k.sasl.enabled (not $k.sasl.existingSecret)) (and $r.enabled (not $r.existingSecret) $r.password) -}}true{{- end -}}
{{- end -}}

{{- define "dllm-worker.gracePeriod" -}}
{{- $stop := 0 -}}
{{- if .Values.preStop.enabled -}}{{- $stop = int .Values.preStop.sleepSeconds -}}{{- end -}}
{{- if gt (int .Values.terminationGracePeriodSeconds) 0 -}}
{{- int .Values.terminationGracePeriodSeconds -}}
{{- else -}}
{{- add (int .Values.worker.drainTimeoutSeconds) $stop 30 -}}
{{- end -}}
{{- end -}}

{{/*
Cross-field checks the JSON schema cannot express. Called once from the workload
template; each failure names the values to change.
*/}}
{{- define "dllm-worker.validate" -}}
{{- $v := .Values -}}
{{- if and $v.autoscaling.keda.enabled $v.autoscaling.hpa.enabled -}}
{{- fail "autoscaling.keda.enabled and autoscaling.hpa.enabled are exclusive: KEDA creates its own HPA" -}}
{{- end -}}
{{- if gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas) -}}
{{- fail (printf "autoscaling.minReplicas (%d) exceeds autoscaling.maxReplicas (%d)" (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- if and (include "dllm-worker.autoscaled" .) (gt (int $v.autoscaling.maxReplicas) (int $v.kafka.requestsTopicPartitions)) (not $v.autoscaling.keda.allowIdleConsumers) -}}
{{- fail (printf "autoscaling.maxReplicas (%d) exceeds kafka.requestsTopicPartitions (%d): consumers beyond the partition count idle; lower maxReplicas or add partitions" (int $v.autoscaling.maxReplicas) (int $v.kafka.requestsTopicPartitions)) -}}
{{- end -}}
{{- if and (not $v.kafka.bootstrapServers) (not $v.kafka.existingConfigMap) -}}
{{- fail "kafka.bootstrapServers is required (or kafka.existingConfigMap with kafka.bootstrapServersKey)" -}}
{{- end -}}
{{- if and $v.kafka.sasl.enabled (not $v.kafka.sasl.existingSecret) (or (not $v.kafka.sasl.username) (not $v.kafka.sasl.password)) -}}
{{- fail "kafka.sasl.enabled needs kafka.sasl.existingSecret (recommended) or kafka.sasl.username and kafka.sasl.password" -}}
{{- end -}}
{{- if and $v.kafka.tls.clientCertificate (not $v.kafka.tls.existingSecret) -}}
{{- fail "kafka.tls.clientCertificate needs kafka.tls.existingSecret (the CA), and the certificate and key there or in kafka.tls.clientSecret" -}}
{{- end -}}
{{- if $v.redis.enabled -}}
{{- if and (not $v.redis.host) (not $v.redis.existingConfigMap) (not (and $v.redis.existingSecret $v.redis.urlKey)) -}}
{{- fail "redis.enabled needs redis.host, redis.existingConfigMap, or redis.existingSecret with redis.urlKey (or set redis.enabled=false)" -}}
{{- end -}}
{{- if and $v.redis.urlKey (not $v.redis.existingSecret) -}}
{{- fail "redis.urlKey names a key of redis.existingSecret, which is empty" -}}
{{- end -}}
{{- end -}}
{{- if and (eq $v.model.source "pvc") (not $v.model.pvc.claimName) -}}
{{- fail "model.source=pvc needs model.pvc.claimName (a ReadOnlyMany/ReadWriteMany claim holding the model)" -}}
{{- end -}}
{{- if and (eq $v.model.source "initContainer") (or (not $v.model.initContainer.image) (not $v.model.initContainer.command)) -}}
{{- fail "model.source=initContainer needs model.initContainer.image and model.initContainer.command" -}}
{{- end -}}
{{- $budget := mul (int $v.probes.startup.periodSeconds) (int $v.probes.startup.failureThreshold) -}}
{{- if lt (int $budget) 1200 -}}
{{- fail (printf "the startup probe budget (probes.startup.periodSeconds x failureThreshold = %d s) is below 1200 s; loading 16 GB of weights can take that long" (int $budget)) -}}
{{- end -}}
{{- $stop := 0 -}}
{{- if $v.preStop.enabled -}}{{- $stop = int $v.preStop.sleepSeconds -}}{{- end -}}
{{- if and (gt (int $v.terminationGracePeriodSeconds) 0) (le (int $v.terminationGracePeriodSeconds) (add (int $v.worker.drainTimeoutSeconds) $stop)) -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed worker.drainTimeoutSeconds + preStop.sleepSeconds (%d)" (int $v.terminationGracePeriodSeconds) (add (int $v.worker.drainTimeoutSeconds) $stop)) -}}
{{- end -}}
{{- if and $v.autoscaling.keda.allowIdleConsumers $v.autoscaling.keda.limitToPartitionsWithLag -}}
{{- fail "autoscaling.keda: allowIdleConsumers and limitToPartitionsWithLag cannot both be true (KEDA rejects it)" -}}
{{- end -}}
{{- if and $v.worker.devices (eq $v.worker.backend "cuda") (ne (len (splitList "," $v.worker.devices)) (int $v.worker.tensorParallelSize)) -}}
{{- fail (printf "worker.devices (%s) must list worker.tensorParallelSize (%d) devices" $v.worker.devices (int $v.worker.tensorParallelSize)) -}}
{{- end -}}
{{- end -}}
