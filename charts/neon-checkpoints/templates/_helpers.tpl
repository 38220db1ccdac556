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
What the operator does to the objects it reconciles, in a namespace (Role) or everywhere (ClusterRole).
Each rule says which code path needs it.
*/}}
{{- define "neon-checkpoints.operatorRules" -}}
# kopf watches the resources, patches finalizers and its progress annotations, and writes status.
- apiGroups: [neoncheckpoints.dev]
  resources: [checkpoints, checkpointrestores, checkpointschedules]
  verbs: [get, list, watch, patch, update]
- apiGroups: [neoncheckpoints.dev]
  resources: [checkpoints/status, checkpointrestores/status, checkpointschedules/status]
  verbs: [get, patch, update]
# Preview Secrets carry an ownerReference with blockOwnerDeletion to their CheckpointRestore; apiservers with
# OwnerReferencesPermissionEnforcement require update on the owner's finalizers for that.
- apiGroups: [neoncheckpoints.dev]
  resources: [checkpointrestores/finalizers]
  verbs: [update]
# An Event per phase change (kopf posts them with create; repeats are patched).
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
# Read: a Checkpoint's credentialsSecretRef. Write: the connection-URI Secret of a Preview restore.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, patch, update, delete]
{{- end }}
