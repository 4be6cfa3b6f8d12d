#!/usr/bin/env bash
# A local cluster: one redis-server and three Skirmish nodes on one machine, for trying the
# cluster out (open http://127.0.0.1:8081, :8082 and :8083 in three tabs: one lobby, players
# sent to whichever node holds their room). Ctrl-C stops everything.
#
# Usage: scripts/cluster.sh [NODES] [extra server flags...]     (NODES defaults to 3)
# Env: REDIS_PORT (default 6390), BASE_PORT (8081), SKIRMISH (the server binary; built with
# cargo build --release if not given).
set -euo pipefail
cd "$(dirname "$0")/.."

nodes="${1:-3}"
shift || true
redis_port="${REDIS_PORT:-6390}"
base_port="${BASE_PORT:-8081}"

if ! command -v redis-server >/dev/null; then
  echo "redis-server is not installed: sudo apt-get install redis-server" >&2
  exit 1
fi
if [ -z "${SKIRMISH:-}" ]; then
  cargo build --release --quiet
  SKIRMISH=target/release/skirmish
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
pids+=($!)
for _ in $(seq 50); do
  if (echo > "/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then break; fi
  sleep 0.1
done

for i in $(seq "$nodes"); do
  port=$((base_port + i - 1))
  "$SKIRMISH" --addr "127.0.0.1:$port" --redis-url "redis://127.0.0.1:$redis_port" \
    --node-id "n$i" --public-url "http://127.0.0.1:$port" "$@" &
  pids+=($!)
done
echo "redis on 127.0.0.1:$redis_port; nodes on http://127.0.0.1:$base_port and up. Ctrl-C to stop." >&2
wait -n "${pids[@]}"
