#!/usr/bin/env bash
# The Helm chart (helm/sagad) and its monitoring files, checked offline:
#   - helm lint --strict, for the default values and for ci/production-values.yaml (TLS with
#     client certificates, tokens, three replicas and an autoscaler, an external PostgreSQL and
#     Kafka, ServiceMonitor, PrometheusRule and dashboard);
#   - helm template of both, validated by manifestcheck (tests/helm/manifestcheck: strict decoding
#     into the Kubernetes 1.37 API types and their OpenAPI-derived schema, the API server's
#     common checks, and the references between the objects); manifestcheck's own tests show it
#     catches each kind of breakage;
#   - values that cannot work are refused with a message that says what to set;
#   - promtool check rules on the alerting rules and on the PrometheusRule the chart renders, and
#     promtool test rules (alerts_test.yaml): each alert fires on sagad's series after its `for`.
# helm and promtool are installed by scripts/install-deps (pinned in scripts/lib/common.sh).
source "$(dirname "$0")/../../scripts/lib/common.sh"

chart="$SAGAD_ROOT/helm/sagad"
kube_version=1.31.0  # a helm built by `go install` otherwise assumes Kubernetes 1.20
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in helm promtool; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/install-deps"
done
go=$(go_bin)

say "manifestcheck: its tests, then build"
(cd "$SAGAD_ROOT/tests/helm/manifestcheck" && GOFLAGS=-modcacherw "$go" test ./... &&
  GOFLAGS=-modcacherw "$go" build -o "$work/manifestcheck" .) || fail "manifestcheck"

declare -A values=([default]="" [production]="$chart/ci/production-values.yaml")
for name in default production; do
  args=(--kube-version "$kube_version")
  [[ -n ${values[$name]} ]] && args+=(-f "${values[$name]}")
  say "helm lint and template: $name values"
  helm lint --strict "${args[@]}" "$chart" || fail "helm lint ($name values)"
  helm template sagad "$chart" --namespace saga "${args[@]}" >"$work/$name.yaml" ||
    fail "helm template ($name values)"
  mkdir -p "$work/rules-$name"
  "$work/manifestcheck" --rules-dir "$work/rules-$name" "$work/$name.yaml" ||
    fail "the $name release is not valid"
done

# What each values file must have produced, beyond being valid.
grep -q '^kind: HorizontalPodAutoscaler' "$work/production.yaml" || fail "production: no HPA"
grep -q 'SAGAD_TLS_CLIENT_CA_FILE' "$work/production.yaml" || fail "production: no mutual TLS"
grep -q '^kind: ServiceMonitor' "$work/production.yaml" || fail "production: no ServiceMonitor"
grep -q '^kind: PrometheusRule' "$work/production.yaml" || fail "production: no PrometheusRule"
grep -q 'SAGAD_KAFKA_BROKERS: "kafka-0' "$work/production.yaml" || fail "production: Kafka"
grep -q 'helm.sh/hook: pre-install,pre-upgrade' "$work/default.yaml" || fail "no migration hook"
grep -q '^kind: ServiceMonitor' "$work/default.yaml" && fail "default: ServiceMonitor is opt-in"

say "values that cannot work are refused"
refused() {  # expected-message helm-args...
  local want=$1
  shift
  if helm template sagad "$chart" --kube-version "$kube_version" "$@" >"$work/out" 2>&1; then
    fail "helm template $* rendered; it should have refused"
  fi
  grep -q -- "$want" "$work/out" || { cat "$work/out"; fail "refusal of $* does not say: $want"; }
  echo "refused $*: $(grep -m1 -- "$want" "$work/out" | sed 's/^Error: //' | cut -c1-150)"
}
refused "need an external Kafka" --set replicaCount=3
refused "need an external Kafka" --set autoscaling.enabled=true
refused "mutual TLS) needs TLS" --set tls.clientCA.secretName=ca
refused "additional properties 'replicas' not allowed" --set replicas=3
refused "got number, want string" --set saga.leaseTtl=10
refused "value must be one of" --set saga.logLevel=verbose

say "promtool: the alerting rules"
promtool check rules "$chart/alerts/sagad-rules.yaml" "$work"/rules-production/*.yaml ||
  fail "promtool check rules"
promtool test rules "$SAGAD_ROOT/tests/helm/alerts_test.yaml" || fail "promtool test rules"
echo "chart_test: passed"
