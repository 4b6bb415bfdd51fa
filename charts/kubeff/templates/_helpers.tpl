{{/* Names, labels and shared fragments. */}}

{{- define "kubeff.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The resource name prefix: <release>-kubeff, or the release name when it already says kubeff. */}}
{{- define "kubeff.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kubeff.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every resource; call with (dict "ctx" $ "component" "gateway"). */}}
{{- define "kubeff.labels" -}}
helm.sh/chart: {{ include "kubeff.chart" .ctx }}
{{ include "kubeff.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: kubeff
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "kubeff.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubeff.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* image reference; call with (dict "ctx" $ "image" .Values.gateway.image). */}}
{{- define "kubeff.image" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "kubeff.gatewayName" -}}{{ include "kubeff.fullname" . }}-gateway{{- end -}}
{{- define "kubeff.operatorName" -}}{{ include "kubeff.fullname" . }}-operator{{- end -}}
{{- define "kubeff.workerName" -}}{{ include "kubeff.fullname" . }}-worker{{- end -}}
{{- define "kubeff.natsName" -}}{{ include "kubeff.fullname" . }}-nats{{- end -}}

{{/* The claim mounted at /storage in the gateway and in every worker. */}}
{{- define "kubeff.storageClaim" -}}
{{- default (printf "%s-storage" (include "kubeff.fullname" .)) .Values.storage.existingClaim -}}
{{- end -}}

{{/* The Secret with the API keys (and the webhook signing secret). */}}
{{- define "kubeff.apiKeySecret" -}}
{{- default (printf "%s-api-keys" (include "kubeff.fullname" .)) .Values.apiKeys.existingSecret -}}
{{- end -}}

{{/* The NATS URL every component uses; fails early when neither NATS nor an external URL is set. */}}
{{- define "kubeff.natsUrl" -}}
{{- if .Values.nats.enabled -}}
{{- printf "nats://%s.%s.svc:4222" (include "kubeff.natsName" .) .Release.Namespace -}}
{{- else if .Values.nats.externalUrl -}}
{{- .Values.nats.externalUrl -}}
{{- else -}}
{{- fail "nats.externalUrl is required when nats.enabled is false (the gateway and the operator need NATS in cluster mode)" -}}
{{- end -}}
{{- end -}}

{{/* PriorityClass names of worker pods by job priority, as the operator's KUBEFF_PRIORITY_CLASSES. */}}
{{- define "kubeff.workerPriorityClasses" -}}
{{- $pc := .Values.worker.priorityClasses -}}
{{- $out := dict -}}
{{- range $p := list "high" "normal" "low" -}}
{{- if $pc.create -}}
{{- $_ := set $out $p (printf "%s-%s" (include "kubeff.workerName" $) $p) -}}
{{- else if (get $pc $p) -}}
{{- $_ := set $out $p (get $pc $p) -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* Pod-level security context of the chart's own pods (restricted Pod Security). */}}
{{- define "kubeff.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level security context (restricted Pod Security). */}}
{{- define "kubeff.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
{{- end -}}
