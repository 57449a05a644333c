#!/usr/bin/env bash
# Checks command one of the README end to end: scripts/run leaves sagad serving, grpcurl lists
# the saga.v1 services through reflection, the health check answers SERVING, the README's
# grpcurl commands work (a definition registers, an order completes, an out-of-stock order
# compensates, an order paid over Kafka completes and a declined one compensates, a money
# transfer commits and is confirmed and one above the balance is cancelled), the web console and
# its HTTP API answer, and Ctrl-C (SIGINT) stops sagad, the participants and the local PostgreSQL.
# Run by ctest (label quickstart) with free ports and a state directory of its own
# (background_run.sh).
source "$(dirname "$0")/background_run.sh"

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
# A step over Kafka: the charge goes to examples/kafka_payments through sagad's outbox and the
# embedded Kafka; its reply comes back through the payments outbox, relayed by sagad.
sed "s/127.0.0.1:7001/127.0.0.1:$SAGAD_SHOP_PORT/" "$SAGAD_ROOT/examples/definitions/order_kafka_payment.json" |
  grpcurl -plaintext -d @ "$SAGAD_GRPC_ADDR" saga.v1.SagaService/RegisterDefinition |
  grep -q '"version": 1' || fail "the Kafka example definition did not register as version 1"
start '{"definition_name":"order_kafka_payment","wait_for_completion":true}' |
  grep -q SAGA_STATE_COMPLETED || fail "an order paid over Kafka did not complete"
start '{"definition_name":"order_kafka_payment","wait_for_completion":true,"payloads":{"charge":"ZGVjbGluZQ=="}}' |
  grep -q SAGA_STATE_COMPENSATED || fail "an order whose charge over Kafka was declined did not compensate"
# A money transfer as a TCC transaction (examples/bank): committed and confirmed on both
# account services; one above the balance is refused by its Try, rolled back and cancelled.
read -r bank_a bank_b <<<"$SAGAD_BANK_PORTS"
transfer() {
  "$SAGAD_ROOT/build/${SAGAD_BUILD_KIND,,}/examples/bank_transfer" --sagad "$SAGAD_GRPC_ADDR" \
    --from "127.0.0.1:$bank_a/acct-1" --to "127.0.0.1:$bank_b/acct-2" --amount_cents "$1"
}
tcc_state() {
  grpcurl -plaintext -d "{\"global_id\":\"$1\"}" "$SAGAD_GRPC_ADDR" saga.v1.TccService/GetTransaction |
    grep -o 'TCC_STATE_[A-Z]*' | head -n 1
}
wait_tcc() {
  for _ in $(seq 100); do [[ $(tcc_state "$1") == "$2" ]] && return 0; sleep 0.1; done
  return 1
}
out=$(transfer 500) || fail "bank_transfer failed: $out"
grep -q '"COMMIT"' <<<"$out" || fail "a transfer of 500 cents did not commit: $out"
gid=$(sed -n 's/.*"global_id":"\([^"]*\)".*/\1/p' <<<"$out")
wait_tcc "$gid" TCC_STATE_CONFIRMED || fail "transfer $gid was not confirmed: $(tcc_state "$gid")"
out=$(transfer 100000000 2>/dev/null) || fail "bank_transfer failed: $out"
grep -q '"ROLLBACK"' <<<"$out" || fail "a transfer above the balance did not roll back: $out"
gid=$(sed -n 's/.*"global_id":"\([^"]*\)".*/\1/p' <<<"$out")
wait_tcc "$gid" TCC_STATE_CANCELLED || fail "transfer $gid was not cancelled: $(tcc_state "$gid")"
curl -fsS "http://$SAGAD_HTTP_ADDR/readyz" | grep -q ready || fail "/readyz is not ready"
# The web console and its HTTP API, as the README shows them.
curl -fsSL "http://$SAGAD_HTTP_ADDR/" | grep -q '<title>sagad console</title>' ||
  fail "the web console is not served at /console/"
curl -fsS -X POST -H 'Content-Type: application/json' -d '{"states": ["SAGA_STATE_COMPLETED"]}' \
  "http://$SAGAD_HTTP_ADDR/api/saga.v1.SagaService/ListSagas" | grep -q '"SAGA_STATE_COMPLETED"' ||
  fail "the HTTP API does not list the completed sagas"

stop_run || fail "scripts/run still runs 20 s after Ctrl-C"
grep -q '"sagad stopped"' "$run_log" || fail "sagad did not log an orderly stop"
echo "quickstart smoke test: 1 passed, 0 failed"
