{{- define "pgmask.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pgmask.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "pgmask.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pgmask.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "pgmask.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "pgmask.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "pgmask.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pgmask.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding token.key and hash.key, if any. */}}
{{- define "pgmask.keysSecret" -}}
{{- if .Values.keys.existingSecret }}
{{- .Values.keys.existingSecret }}
{{- else if or .Values.keys.tokenKey .Values.keys.hashKey }}
{{- printf "%s-keys" (include "pgmask.fullname" .) }}
{{- end }}
{{- end }}

{{/* pgmask.yaml: one key per line, as `pgmask serve --config` reads it. */}}
{{- define "pgmask.config" -}}
listen: "0.0.0.0:{{ .Values.ports.sql }}"
admin: "0.0.0.0:{{ .Values.ports.admin }}"
upstream: "{{ .Values.upstream.host }}:{{ .Values.upstream.port }}"
threads: {{ .Values.config.threads }}
max_client_conn: {{ .Values.config.maxClientConn }}
startup_timeout: {{ .Values.config.startupTimeout }}
connect_timeout: {{ .Values.config.connectTimeout }}
shutdown_grace: {{ .Values.config.shutdownGrace }}
log_level: {{ .Values.config.logLevel }}
log_format: {{ .Values.config.logFormat }}
policy: /etc/pgmask/policy/policy.yaml
policy_poll: {{ .Values.config.policyPoll }}
{{- if or .Values.keys.existingSecret .Values.keys.tokenKey }}
token_key_file: /etc/pgmask/keys/token.key
{{- end }}
{{- if or .Values.keys.existingSecret .Values.keys.hashKey }}
hash_key_file: /etc/pgmask/keys/hash.key
{{- end }}
{{- range $k, $v := .Values.extraConfig }}
{{ $k }}: {{ $v | toJson }}
{{- end }}
{{- end }}
