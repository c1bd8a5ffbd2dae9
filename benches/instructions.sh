#!/usr/bin/env bash
# Instructions the client side executes per `get` call, through the SDK and through the
# reqwest + serde_json baseline, counted by callgrind.
#
# Instruction counts do not depend on what else the machine is doing, so this complements the
# wall-clock figures of `cargo bench --bench overhead` on a shared or noisy machine. Each arm runs
# twice with a different number of sequential calls; the difference divided by the difference in
# calls is the cost of one call, with start-up work (building clients, loading TLS roots)
# cancelled out. The loopback server's thread is left out of the count.
#
# Usage: benches/instructions.sh [CASE...]
#   (default: "golem get_plugin sequential" "confluent get_plugin sequential")
#   A case naming "64 tasks" runs 64 tasks of 6 and of 22 calls each (384 and 1,408 calls).
# Needs valgrind. Takes about half a minute per case.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -eq 0 ]; then
  set -- "golem get_plugin sequential" "confluent get_plugin sequential"
fi
small=400
large=1400
per_task_small=6
per_task_large=22
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

exe="$(cargo bench --bench overhead --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -n1)"
if [ -z "$exe" ] || [ ! -x "$exe" ]; then
  echo "could not build the overhead benchmark" >&2
  exit 1
fi

# Client-side instructions of one run: every thread except the one running the hyper server.
client_instructions() {
  local filter="$1" arm="$2" calls="$3" total=0 file
  rm -f "$out"/cg.*
  BENCH_ONLY="$arm" BENCH_ROUNDS=1 BENCH_SEQUENTIAL_CALLS="$calls" BENCH_CALLS_PER_TASK="$((calls / 64))" \
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/cg.%p" \
    "$exe" "$filter" >/dev/null 2>&1
  for file in "$out"/cg.*-*; do
    if grep -q 'hyper::server::conn' "$file"; then
      continue
    fi
    total=$((total + $(sed -n 's/^totals: *//p' "$file")))
  done
  echo "$total"
}

echo "client instructions per call, counted by callgrind (the difference between two runs)"
echo
echo "| case | SDK | reqwest + serde_json | ratio |"
echo "|---|---:|---:|---:|"
for filter in "$@"; do
  declare -A per_call=()
  if [[ "$filter" == *tasks* ]]; then
    # Calls per run: 64 tasks times the calls per task (the argument is divided by 64).
    lo=$((64 * per_task_small)) hi=$((64 * per_task_large))
  else
    lo=$small hi=$large
  fi
  for arm in sdk baseline; do
    a="$(client_instructions "$filter" "$arm" "$lo")"
    b="$(client_instructions "$filter" "$arm" "$hi")"
    per_call[$arm]=$(((b - a) / (hi - lo)))
  done
  awk -v f="$filter" -v s="${per_call[sdk]}" -v b="${per_call[baseline]}" \
    'BEGIN { printf "| %s | %d | %d | %.3f |\n", f, s, b, s / b }'
done
