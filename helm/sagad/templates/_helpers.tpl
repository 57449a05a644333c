{{/* Names and labels shared by every template. */}}
{{- define "sagad.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sagad.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sagad.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sagad.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sagad.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "sagad.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "sagad.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sagad.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sagad.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Settings that cannot work together fail the render with what to change. */}}
{{- define "sagad.checkValues" -}}
{{- if and (not .Values.kafka.brokers) (or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled) -}}
{{- fail "several replicas (replicaCount > 1 or autoscaling.enabled) need an external Kafka: set kafka.brokers; the in-process Kafka lives inside one pod" -}}
{{- end -}}
{{- if and .Values.tls.clientCA.secretName (not .Values.tls.secretName) -}}
{{- fail "tls.clientCA.secretName (mutual TLS) needs TLS: set tls.secretName to a kubernetes.io/tls Secret" -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) -}}
{{- fail "autoscaling.maxReplicas must be at least autoscaling.minReplicas" -}}
{{- end -}}
{{- end -}}

{{/* The database connection, for sagad and for the migration Job (which runs before the
     ConfigMap exists on a first install, so it is spelled out here rather than shared). */}}
{{- define "sagad.databaseEnv" -}}
{{- if .Values.postgresql.dsnSecret.name }}
- name: SAGAD_PG_DSN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.postgresql.dsnSecret.name }}
      key: {{ .Values.postgresql.dsnSecret.key }}
{{- else }}
- name: SAGAD_PG_DSN
  value: {{ required "postgresql.dsn (or postgresql.dsnSecret.name) is required" .Values.postgresql.dsn | quote }}
{{- if .Values.postgresql.passwordSecret.name }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.postgresql.passwordSecret.name }}
      key: {{ .Values.postgresql.passwordSecret.key }}
{{- end }}
{{- end }}
{{- end -}}
