{{/* Names, labels and the pieces every component shares. */}}

{{- define "clawplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every object name: the release name when it already contains the chart
name ("clawplane" gives clawplane-controller), else <release>-<chart>. Capped so that the
longest suffix ("-controller-leader-election") still fits in 63 characters. */}}
{{- define "clawplane.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 36 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "clawplane.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 36 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 36 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "clawplane.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object (clawplane.labels), without the instance label
(clawplane.baseLabels) for the component labels that add it with their selector. */}}
{{- define "clawplane.baseLabels" -}}
helm.sh/chart: {{ include "clawplane.chart" . }}
app.kubernetes.io/part-of: clawplane
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "clawplane.labels" -}}
{{ include "clawplane.baseLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component: include with (dict "ctx" $ "component" "controller").
app.kubernetes.io/name is clawplane-<component>: the controller's per-runtime
NetworkPolicies select the apiserver and modelproxy pods by exactly these names. */}}
{{- define "clawplane.componentLabels" -}}
{{ include "clawplane.baseLabels" .ctx }}
{{ include "clawplane.selectorLabels" . }}
{{- end -}}

{{- define "clawplane.selectorLabels" -}}
app.kubernetes.io/name: clawplane-{{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Object names. */}}
{{- define "clawplane.controller.name" -}}{{ include "clawplane.fullname" . }}-controller{{- end -}}
{{- define "clawplane.apiserver.name" -}}{{ include "clawplane.fullname" . }}-apiserver{{- end -}}
{{- define "clawplane.modelproxy.name" -}}{{ include "clawplane.fullname" . }}-modelproxy{{- end -}}
{{- define "clawplane.postgresql.name" -}}{{ include "clawplane.fullname" . }}-postgresql{{- end -}}

{{/* image reference: include with (dict "image" .Values.x.image "ctx" $) */}}
{{- define "clawplane.image" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The model proxy's in-cluster base URL (OpenAI-compatible, ends in /v1). */}}
{{- define "clawplane.modelproxy.url" -}}
{{- printf "http://%s.%s.svc:%d/v1" (include "clawplane.modelproxy.name" .) .Release.Namespace (int .Values.modelproxy.service.port) -}}
{{- end -}}

{{/* The bundled PostgreSQL's password Secret: created by the platform team, never by the
chart (a generated password would change with every render). */}}
{{- define "clawplane.postgresql.secret" -}}
{{- default (printf "%s-postgresql" (include "clawplane.fullname" .)) .Values.postgresql.bundled.existingSecret -}}
{{- end -}}

{{/* The container env items that give the apiserver and the model proxy their database:
external, DATABASE_URL from the named Secret; bundled, a URL without password and the
password in PGPASSWORD (libpq reads it), from the PostgreSQL Secret. */}}
{{- define "clawplane.database.env" -}}
{{- if .Values.postgresql.bundled.enabled -}}
{{- $b := .Values.postgresql.bundled -}}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "clawplane.postgresql.secret" . }}
      key: {{ $b.passwordKey }}
- name: DATABASE_URL
  value: {{ printf "postgres://%s@%s.%s.svc:5432/%s?sslmode=disable" $b.username (include "clawplane.postgresql.name" .) .Release.Namespace $b.database | quote }}
{{- else -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "postgresql: set postgresql.external.existingSecret (a Secret holding a libpq URL) or postgresql.bundled.enabled=true" .Values.postgresql.external.existingSecret }}
      key: {{ .Values.postgresql.external.urlKey }}
{{- end -}}
{{- end -}}

{{- define "clawplane.bootstrapAdmin.secret" -}}
{{- default (printf "%s-bootstrap-admin" (include "clawplane.fullname" .)) .Values.apiserver.bootstrapAdmin.existingSecret -}}
{{- end -}}

{{/* The file service: on when images.files names a repository. Its key's Secret. */}}
{{- define "clawplane.files.enabled" -}}
{{- if .Values.images.files.repository }}true{{ end -}}
{{- end -}}
{{- define "clawplane.files.secret" -}}
{{- default (printf "%s-files-key" (include "clawplane.fullname" .)) .Values.files.existingSecret -}}
{{- end -}}

{{/* The args, mount and volume that give a control-plane pod the files key. */}}
{{- define "clawplane.files.keyArg" -}}
- --files-key-file=/etc/clawplane/files/key
{{- end -}}
{{- define "clawplane.files.keyMount" -}}
- {name: files-key, mountPath: /etc/clawplane/files, readOnly: true}
{{- end -}}
{{- define "clawplane.files.keyVolume" -}}
- name: files-key
  secret:
    secretName: {{ include "clawplane.files.secret" . }}
    defaultMode: 0400
    items:
      - {key: {{ .Values.files.secretKey }}, path: key}
{{- end -}}

{{/* Pod-level security context of the control-plane pods (Pod Security "restricted"). */}}
{{- define "clawplane.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "clawplane.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Scheduling fields of a component: include with (dict "v" <its values> "ctx" $
"component" <name>). Replicated components without their own affinity or spread constraints
are spread over nodes (softly: a one-node cluster still schedules them). */}}
{{- define "clawplane.scheduling" -}}
{{- with .v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .v.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml .v.topologySpreadConstraints | nindent 2 }}
{{- else if and (not .v.affinity) (gt (int (default 1 .v.replicaCount)) 1) }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "clawplane.selectorLabels" (dict "ctx" .ctx "component" .component) | nindent 8 }}
{{- end }}
{{- with .v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

{{- define "clawplane.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* NetworkPolicy peers for the runtime pods the controller creates. */}}
{{- define "clawplane.runtimePeers" -}}
- podSelector:
    matchLabels:
      app.kubernetes.io/name: openclaw
      app.kubernetes.io/managed-by: clawplane
  namespaceSelector:
    {{- if .Values.runtimes.watchAllNamespaces }}
    {}
    {{- else }}
    matchLabels:
      kubernetes.io/metadata.name: {{ .Values.runtimes.namespace }}
    {{- end }}
{{- end -}}

{{/* Egress rules every API-talking component gets: DNS and the kube API. */}}
{{- define "clawplane.egress.dnsAndAPI" -}}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 8 }}
  ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
- {{- with .Values.networkPolicy.kubeAPI.cidrs }}
  to:
    {{- range . }}
    - ipBlock: {cidr: {{ . | quote }}}
    {{- end }}
  {{- end }}
  ports:
    {{- range .Values.networkPolicy.kubeAPI.ports }}
    - {port: {{ . }}, protocol: TCP}
    {{- end }}
{{- end -}}

{{/* Egress to PostgreSQL (bundled pods or the external address). */}}
{{- define "clawplane.egress.postgresql" -}}
{{- if .Values.postgresql.bundled.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "clawplane.selectorLabels" (dict "ctx" . "component" "postgresql") | nindent 10 }}
  ports:
    - {port: 5432, protocol: TCP}
{{- else }}
- {{- with .Values.postgresql.external.cidrs }}
  to:
    {{- range . }}
    - ipBlock: {cidr: {{ . | quote }}}
    {{- end }}
  {{- end }}
  ports:
    - {port: {{ .Values.postgresql.external.port }}, protocol: TCP}
{{- end }}
{{- end -}}

{{/* Ingress rules for the HTTP port: the release's `helm test` pods (templates/tests.yaml)
and /metrics scrapers, if any are configured. */}}
{{- define "clawplane.ingress.http" -}}
- from:
    - podSelector:
        matchLabels:
          {{- include "clawplane.selectorLabels" (dict "ctx" . "component" "test") | nindent 10 }}
  ports:
    - {port: http, protocol: TCP}
{{- with .Values.networkPolicy.metricsFrom }}
- from:
    {{- toYaml . | nindent 4 }}
  ports:
    - {port: http, protocol: TCP}
{{- end }}
{{- end -}}
