{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "neon-checkpoints.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; the release name alone when it already contains the chart name. */}}
{{- define "neon-checkpoints.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "neon-checkpoints.selectorLabels" -}}
app.kubernetes.io/name: {{ include "neon-checkpoints.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "neon-checkpoints.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "neon-checkpoints.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "neon-checkpoints.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "neon-checkpoints.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "neon-checkpoints.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if hasPrefix "@" $tag }}
{{- printf "%s%s" .Values.image.repository $tag }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
What the operator does to the objects it reconciles, in a namespace (Role) or everywhere (ClusterRole):
exactly the calls kopf and operator/src/neon_checkpoints make (runtime/kube.py). Secrets are not here:
rbac.yaml grants them per namespace.
*/}}
{{- define "neon-checkpoints.operatorRules" -}}
# kopf lists and watches the resources and patches them (finalizers, progress annotations). Checkpoints also:
# get (a restore reads its Checkpoint), create (a schedule's runs), delete (retention and ttl expiry).
- apiGroups: [neoncheckpoints.dev]
  resources: [checkpoints]
  verbs: [get, list, watch, patch, create, delete]
# list on restores: a schedule's retention keeps Checkpoints that a restore still needs. get on all three:
# a status write reads the conditions the server holds and merges its own into them (runtime/kube.py).
- apiGroups: [neoncheckpoints.dev]
  resources: [checkpointrestores, checkpointschedules]
  verbs: [get, list, watch, patch]
- apiGroups: [neoncheckpoints.dev]
  resources: [checkpoints/status, checkpointrestores/status, checkpointschedules/status]
  verbs: [patch]
# An Event per phase change (kopf posts them).
- apiGroups: [""]
  resources: [events]
  verbs: [create]
# --- kopf peering (issue 16), only with replicas > 1: replicas record themselves in the peering object.
{{- if gt (int .Values.replicas) 1 }}
- apiGroups: [kopf.dev]
  resources: [kopfpeerings, clusterkopfpeerings]
  verbs: [get, list, watch, patch]
{{- end }}
{{- end }}

{{/* Namespaces where the operator may get credentialsSecretRef Secrets (a JSON list): the value, else the
watched namespaces (none when it watches every namespace). */}}
{{- define "neon-checkpoints.credentialsNamespaces" -}}
{{- if kindIs "slice" .Values.secrets.credentialsNamespaces }}
{{- .Values.secrets.credentialsNamespaces | toJson }}
{{- else }}
{{- .Values.watchNamespaces | toJson }}
{{- end }}
{{- end }}

{{/* Namespaces where Preview restores may write their connection-URI Secret (a JSON list): the value, else
the watched namespaces. */}}
{{- define "neon-checkpoints.previewNamespaces" -}}
{{- if kindIs "slice" .Values.secrets.previewNamespaces }}
{{- .Values.secrets.previewNamespaces | toJson }}
{{- else }}
{{- .Values.watchNamespaces | toJson }}
{{- end }}
{{- end }}
