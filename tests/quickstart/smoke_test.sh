#!/usr/bin/env bash
# Checks command one of the README end to end: scripts/run leaves sagad serving, grpcurl lists
# the saga.v1 services through reflection, the health check answers SERVING, the README's
# grpcurl commands work (a definition registers, an order completes, an out-of-stock order
# compensates), and Ctrl-C (SIGINT) stops sagad, the participants and the local PostgreSQL.
# Run by ctest (label quickstart) with free ports and a state directory of its own.
source "$(dirname "$0")/../../scripts/lib/common.sh"

# A port nothing listens on now, picked at random from a high range.
free_port() {
  local p
  while :; do
    p=$(shuf -i 20000-60999 -n 1)
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
state=$(mktemp -d /var/tmp/sagad-smoke-XXXXXX)
export SAGAD_STATE_DIR=$state SAGAD_PG_PORT=$(free_port)
export SAGAD_GRPC_ADDR=127.0.0.1:$(free_port) SAGAD_HTTP_ADDR=127.0.0.1:$(free_port)
export SAGAD_SHOP_PORT=$(free_port)
export SAGAD_BUILD_KIND=${SAGAD_BUILD_KIND:-Debug}
log="$state/run.log"

setsid "$SAGAD_ROOT/scripts/run" >"$log" 2>&1 &
run_pid=$!
cleanup() {
  kill -INT -- -"$run_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- -"$run_pid" 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- scripts/run output:"; tail -n 40 "$log"; exit 1; }

for _ in $(seq 600); do
  grpcurl -plaintext "$SAGAD_GRPC_ADDR" grpc.health.v1.Health/Check 2>/dev/null | grep -q SERVING && break
  kill -0 "$run_pid" 2>/dev/null || fail "scripts/run exited early"
  sleep 0.5
done
grpcurl -plaintext "$SAGAD_GRPC_ADDR" grpc.health.v1.Health/Check | grep -q '"SERVING"' ||
  fail "the health check does not answer SERVING"
services=$(grpcurl -plaintext "$SAGAD_GRPC_ADDR" list)
for s in saga.v1.SagaService saga.v1.TccService saga.v1.OutboxService saga.v1.AdminService grpc.health.v1.Health; do
  grep -qx "$s" <<<"$services" || fail "grpcurl list does not show $s: $services"
done
sed "s/127.0.0.1:7001/127.0.0.1:$SAGAD_SHOP_PORT/" "$SAGAD_ROOT/examples/definitions/gift_order.json" |
  grpcurl -plaintext -d @ "$SAGAD_GRPC_ADDR" saga.v1.SagaService/RegisterDefinition |
  grep -q '"version": 1' || fail "the example definition did not register as version 1"
start() {
  grpcurl -plaintext -max-time 20 -d "$1" "$SAGAD_GRPC_ADDR" saga.v1.SagaService/StartSaga
}
start '{"definition_name":"order","wait_for_completion":true}' | grep -q SAGA_STATE_COMPLETED ||
  fail "an order did not complete"
start '{"definition_name":"order","wait_for_completion":true,"payloads":{"reserve_stock":"CgxvdXQtb2Ytc3RvY2sQAQ=="}}' |
  grep -q SAGA_STATE_COMPENSATED || fail "an out-of-stock order did not compensate"
start '{"definition_name":"order","wait_for_completion":true,"payloads":{"charge":"CKDCHg=="}}' |
  grep -q SAGA_STATE_COMPENSATED || fail "a declined charge did not compensate"
start '{"definition_name":"gift_order","wait_for_completion":true}' | grep -q SAGA_STATE_COMPLETED ||
  fail "a gift order did not complete"
curl -fsS "http://$SAGAD_HTTP_ADDR/readyz" | grep -q ready || fail "/readyz is not ready"

kill -INT -- -"$run_pid"
for _ in $(seq 200); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$run_pid" 2>/dev/null && fail "scripts/run still runs 20 s after Ctrl-C"
grep -q '"sagad stopped"' "$log" || fail "sagad did not log an orderly stop"
echo "quickstart smoke test: 1 passed, 0 failed"
