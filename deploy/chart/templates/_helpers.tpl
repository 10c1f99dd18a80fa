{{/*
The namespace the controller runs in and keeps its keys in.
*/}}
{{- define "unseal.namespace" -}}
{{- .Values.namespaceOverride | default .Release.Namespace -}}
{{- end -}}

{{/*
Labels on every object: the two deploy/ sets, then the user's commonLabels.
*/}}
{{- define "unseal.labels" -}}
app.kubernetes.io/name: unseal
app.kubernetes.io/part-of: seal
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
metadata.labels and, when the user set any, metadata.annotations (include with nindent 2).
*/}}
{{- define "unseal.metadata" -}}
labels:
  {{- include "unseal.labels" . | nindent 2 }}
{{- with .Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
The image reference: repository[:tag][@digest]; the tag defaults to the chart's appVersion.
*/}}
{{- define "unseal.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- .Values.image.repository -}}
{{- if $tag }}:{{ $tag }}{{ end -}}
{{- with .Values.image.digest }}@{{ . }}{{ end -}}
{{- end -}}

{{/*
The namespaces whose SealedSecrets are reconciled, refusing the controller's own (the
controller refuses SealedSecrets there: they could overwrite its keys).
*/}}
{{- define "unseal.watchNamespaces" -}}
{{- $own := include "unseal.namespace" . -}}
{{- range .Values.watchNamespaces -}}
{{- if eq . $own -}}
{{- fail (printf "watchNamespaces: %s is the controller's own namespace, where SealedSecrets are refused; list only application namespaces" .) -}}
{{- end -}}
{{- end -}}
{{- join "," (uniq .Values.watchNamespaces) -}}
{{- end -}}

{{/*
The rules that reconciling SealedSecrets needs: in a ClusterRole, or in a Role per watched
namespace.
*/}}
{{- define "unseal.reconcileRules" -}}
- apiGroups: ["seal.dev"]
  resources: ["sealedsecrets"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["seal.dev"]
  resources: ["sealedsecrets/status"]
  verbs: ["get", "patch", "update"]
# Owned Secrets carry blockOwnerDeletion (foreground deletion waits for them); where the
# OwnerReferencesPermissionEnforcement admission plugin runs (OpenShift), setting it needs
# update on the owner's finalizers.
- apiGroups: ["seal.dev"]
  resources: ["sealedsecrets/finalizers"]
  verbs: ["update"]
{{ include "unseal.secretRules" . }}
{{- end -}}

{{/*
Secrets (those the SealedSecrets produce, or the keys) and Events.
*/}}
{{- define "unseal.secretRules" -}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}
