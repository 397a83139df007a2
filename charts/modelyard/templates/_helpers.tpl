{{/* Name of the chart, overridable. */}}
{{- define "modelyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every resource name: the release name, plus the chart name when they differ. */}}
{{- define "modelyard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "modelyard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "modelyard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "modelyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelyard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "modelyard.operatorServiceAccount" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (printf "%s-operator" (include "modelyard.fullname" .)) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* An image reference; the tag defaults to the chart's appVersion. Args: dict "image" "root". */}}
{{- define "modelyard.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* Namespaces where worker Jobs run (JSON list): the watched ones, or the release namespace
plus worker.namespaces in cluster-wide mode. */}}
{{- define "modelyard.workerNamespaces" -}}
{{- if .Values.watchNamespaces -}}
{{- .Values.watchNamespaces | uniq | toJson -}}
{{- else -}}
{{- prepend .Values.worker.namespaces .Release.Namespace | uniq | toJson -}}
{{- end -}}
{{- end -}}

{{/* The hardware profiles file, in the format of modelyard.workloads.profiles.load_profiles. */}}
{{- define "modelyard.profiles" -}}
{{- $profiles := dict -}}
{{- range $name, $profile := .Values.profiles -}}
{{- $body := omit $profile "image" -}}
{{- range $key, $value := $profile -}}
{{- if kindIs "invalid" $value -}}
{{- $_ := unset $body $key -}}
{{- end -}}
{{- end -}}
{{- $_ := set $body "image" (include "modelyard.image" (dict "image" $profile.image "root" $)) -}}
{{- $_ := set $profiles $name $body -}}
{{- end -}}
{{- toYaml $profiles -}}
{{- end -}}

{{/* The RBAC rules of the operator inside the namespaces it watches. */}}
{{- define "modelyard.namespacedRules" -}}
# The reconciled kinds: watch, reconcile, create converted and trained versions, delete a
# Model's versions.
- apiGroups: [modelyard.dev]
  resources: [models, modelversions, conversionjobs, evaluationjobs, trainingjobs, modeldeployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [modelyard.dev]
  resources: [models/status, modelversions/status, conversionjobs/status, evaluationjobs/status, trainingjobs/status, modeldeployments/status]
  verbs: [get, patch]
# Owner references with blockOwnerDeletion need update on the owner's finalizers.
- apiGroups: [modelyard.dev]
  resources: [models/finalizers, modelversions/finalizers, conversionjobs/finalizers, evaluationjobs/finalizers, trainingjobs/finalizers, modeldeployments/finalizers]
  verbs: [update]
# What a TrainingJob reads: its algorithm and template (nothing is written to them).
- apiGroups: [modelyard.dev]
  resources: [algorithms, trainingtemplates]
  verbs: [get, list, watch]
# Worker Jobs: created and watched, a training Job suspended and resumed (patch); garbage
# collection (owner references, TTL) deletes them.
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, patch]
# Worker pods: termination messages and failure reasons; a training worker's log tail carries
# its progress.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
# A ModelDeployment's servers (one Deployment per variant, one Service whose selector moves
# traffic, an autoscaler) and a TrainingJob's TensorBoard; pods are listed to check each new
# replica's live parity (get: a 409 on create is ours only when the existing one's owner is us).
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [services]
  verbs: [get, create, patch, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, create, patch, delete]
{{- if .Values.rbac.kserve }}
# ModelDeployment backend kserve: its InferenceService (the ServiceAccount that carries the
# store's credentials for KServe's storage initializer is the platform's, named in the values:
# the operator never reads or writes Secrets or ServiceAccounts).
- apiGroups: [serving.kserve.io]
  resources: [inferenceservices]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
# Events on the four kinds (the operator's and Kopf's); Warning events of worker Jobs and
# pods are read to say why a worker does not start (FailedCreate, FailedMount).
- apiGroups: [""]
  resources: [events]
  verbs: [create, list]
{{- if .Values.rbac.kubeflow }}
# ModelVersion source `trainingJob` may name a Kubeflow job.
- apiGroups: [kubeflow.org]
  resources: [pytorchjobs, tfjobs]
  verbs: [get]
{{- end }}
{{- end -}}
