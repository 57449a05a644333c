# Starts command one of the README (scripts/run) in the background on free ports, with a state
# directory of its own, and waits until sagad answers its health check. Source it; it defines
#   SAGAD_GRPC_ADDR, SAGAD_HTTP_ADDR, SAGAD_SHOP_PORT, SAGAD_BANK_PORTS, run_pid, run_log,
#   fail MESSAGE      prints the message and the tail of scripts/run's output, exits 1
#   stop_run          Ctrl-C to scripts/run (its process group), then waits up to 20 s
# and removes everything on exit.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/common.sh"

# Six different ports nothing listens on now, picked at random below the kernel's ephemeral
# range (32768-60999), so that no outgoing connection can take one before its server binds it.
# (Each pick must differ from the others too: none listens yet when the next is picked; once
# the PostgreSQL port came out again as sagad's gRPC port.)
ports=()
while ((${#ports[@]} < 6)); do
  p=$(shuf -i 20000-32767 -n 1)
  [[ " ${ports[*]} " == *" $p "* ]] && continue
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || ports+=("$p")
done
run_state=$(mktemp -d /var/tmp/sagad-run-XXXXXX)
export SAGAD_STATE_DIR=$run_state SAGAD_PG_PORT=${ports[0]}
export SAGAD_GRPC_ADDR=127.0.0.1:${ports[1]} SAGAD_HTTP_ADDR=127.0.0.1:${ports[2]}
export SAGAD_SHOP_PORT=${ports[3]}
export SAGAD_BANK_PORTS="${ports[4]} ${ports[5]}"
export SAGAD_BUILD_KIND=${SAGAD_BUILD_KIND:-Debug}
run_log="$run_state/run.log"

setsid "$SAGAD_ROOT/scripts/run" >"$run_log" 2>&1 &
run_pid=$!

stop_run() {
  kill -INT -- -"$run_pid" 2>/dev/null || true
  for _ in $(seq 200); do kill -0 "$run_pid" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}
cleanup_run() {
  stop_run || kill -KILL -- -"$run_pid" 2>/dev/null || true
  rm -rf "$run_state"
}
trap cleanup_run EXIT
fail() { echo "FAIL: $*"; echo "--- scripts/run output:"; tail -n 40 "$run_log"; exit 1; }

for _ in $(seq 600); do
  grpcurl -plaintext "$SAGAD_GRPC_ADDR" grpc.health.v1.Health/Check 2>/dev/null | grep -q SERVING && break
  kill -0 "$run_pid" 2>/dev/null || fail "scripts/run exited early"
  sleep 0.5
done
