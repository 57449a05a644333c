#!/usr/bin/env bash
# Runs tests/clients/python/client_test.py, a Python client generated from proto/ with
# grpcio-tools (pinned below, installed from PyPI into a cached virtualenv), against the
# quickstart's sagad (scripts/run in the background); then metrics_test.py, which parses
# /metrics with prometheus-client's text-format parser (pinned below too).
source "$(dirname "$0")/../quickstart/background_run.sh"

GRPCIO_VERSION=1.85.1
PROMETHEUS_CLIENT_VERSION=0.21.1
venv="$SAGAD_CACHE/python-grpcio-$GRPCIO_VERSION"
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import grpc_tools' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv" || fail "python3 -m venv failed (install python3-venv)"
  "$venv/bin/pip" install -q "grpcio==$GRPCIO_VERSION" "grpcio-tools==$GRPCIO_VERSION" ||
    fail "pip could not install grpcio $GRPCIO_VERSION"
fi
if ! "$venv/bin/python" -c 'import prometheus_client' 2>/dev/null; then
  "$venv/bin/pip" install -q "prometheus-client==$PROMETHEUS_CLIENT_VERSION" ||
    fail "pip could not install prometheus-client $PROMETHEUS_CLIENT_VERSION"
fi
out="$run_state/python"
mkdir -p "$out"
(cd "$SAGAD_ROOT/proto" && "$venv/bin/python" -m grpc_tools.protoc -I . \
  --python_out="$out" --grpc_python_out="$out" saga/v1/*.proto) || fail "protoc for Python failed"
touch "$out/saga/__init__.py" "$out/saga/v1/__init__.py"
PYTHONPATH="$out" "$venv/bin/python" "$SAGAD_ROOT/tests/clients/python/client_test.py" \
  --addr "$SAGAD_GRPC_ADDR" || fail "the Python client's checks failed"
PYTHONPATH="$out" "$venv/bin/python" "$SAGAD_ROOT/tests/clients/python/metrics_test.py" \
  --addr "$SAGAD_GRPC_ADDR" --http "$SAGAD_HTTP_ADDR" --root "$SAGAD_ROOT" ||
  fail "the /metrics checks failed"
