#!/usr/bin/env bash
# Build cost of the crate, and of the code generation in build.rs.
#
# 1. A clean build of the library and everything it depends on (dev profile, `cargo build`), in
#    a fresh target directory, with cargo's timing report. From the report and `cargo tree`:
#    the wall time, the CPU time of every compiled unit, and the part that exists only for
#    code generation: compiling the crates that only build.rs needs, compiling build.rs, and
#    running it. Also how long the library waited for the generator after its own
#    dependencies were ready (the generator's cost on the critical path).
# 2. A rebuild of this crate alone (`cargo clean -p cloud-plugin-sdk`), same split.
# 3. `touch src/lib.rs`: the rebuild must not run build-script-build (checked in `cargo build -v`
#    output); `touch spec/golem-plugins.yaml`: it must.
#
# Usage: benches/build_cost.sh [TARGET_DIR]   (default: a new temporary directory, removed after)
# Needs python3. The clean build takes several minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -ge 1 ]; then
  target="$1"
  keep=1
else
  target="$(mktemp -d)"
  keep=0
fi
cleanup() { if [ "$keep" = 0 ]; then rm -rf "$target"; fi; }
trap cleanup EXIT
export CARGO_TARGET_DIR="$target"
export CARGO_TERM_COLOR=never

mkdir -p "$target"
cargo fetch --quiet
# The library's dependency tree; the root's own build-dependencies come after the
# "[build-dependencies]" line at the left margin.
cargo tree --edges normal,build --format '{p}' >"$target/tree.txt"

now() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Summarises the latest timing report: total, the generation-only part, the critical path.
summarise() {
  python3 - "$target/cargo-timings/cargo-timing.html" "$target/tree.txt" <<'PY'
import json, re, sys

html = open(sys.argv[1]).read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\s*\n", html, re.S).group(1))
tree = open(sys.argv[2]).read().split("\n[build-dependencies]\n", 1)
package = re.compile(r"([A-Za-z0-9_-]+) v([0-9][^\s]*)")
library_deps = set(package.findall(tree[0]))
generator_deps = set(package.findall(tree[1])) if len(tree) > 1 else set()
generation_only = generator_deps - library_deps

ours = [u for u in units if u["name"] == "cloud-plugin-sdk"]
others = [u for u in units if u["name"] != "cloud-plugin-sdk"]
def end(u):
    return u["start"] + u["duration"]

built = [u for u in units if u["duration"] > 0]
total_cpu = sum(u["duration"] for u in built)
wall = max(end(u) for u in units)
generator_units = [
    u for u in others if (u["name"], u["version"]) in generation_only and u["duration"] > 0
]
gen_crates = sum(u["duration"] for u in generator_units)
script_compile = sum(u["duration"] for u in ours if u["target"].strip() == "build-script")
script_run = sum(u["duration"] for u in ours if u["mode"] == "run-custom-build")
lib = [u for u in ours if u["target"].strip() == ""]
lib_time = sum(u["duration"] for u in lib)
generation = gen_crates + script_compile + script_run

print(f"  wall time (cargo's report)            {wall:7.1f} s")
print(f"  CPU time, all units built             {total_cpu:7.1f} s  ({len(built)} units)")
names = ", ".join(sorted({u["name"] for u in generator_units}))
print(f"  compiling crates only build.rs needs  {gen_crates:7.1f} s  "
      f"({len(generator_units)} units{': ' + names if names else ''})")
print(f"  compiling build.rs                    {script_compile:7.1f} s")
print(f"  running build.rs (the generator)      {script_run:7.2f} s")
print(f"  compiling the library                 {lib_time:7.1f} s")
print(f"  generation, all told                  {generation:7.1f} s  "
      f"= {100 * generation / total_cpu:.0f}% of the CPU time")
if lib and others:
    lib_start = lib[0]["start"]
    ready = max((end(u) for u in others if (u["name"], u["version"]) in library_deps), default=0.0)
    waited = max(0.0, lib_start - ready)
    print(f"  the library waited for the generator  {waited:7.1f} s  after its own dependencies "
          f"were built ({100 * waited / wall:.0f}% of the wall time)")
PY
}

echo "== clean build (dev profile, fresh target directory: $target)"
start="$(now)"
cargo build --timings --quiet 2>/dev/null
echo "  measured wall time                    $(seconds_since "$start") s"
summarise

echo
echo "== rebuild of this crate only (cargo clean -p cloud-plugin-sdk && cargo build)"
cargo clean -p cloud-plugin-sdk --quiet
start="$(now)"
cargo build --timings --quiet 2>/dev/null
echo "  measured wall time                    $(seconds_since "$start") s"
summarise

echo
echo "== touch src/lib.rs && cargo build -v"
touch src/lib.rs
start="$(now)"
log="$(cargo build -v 2>&1)"
echo "  measured wall time                    $(seconds_since "$start") s"
if grep -q 'Running `.*cloud-plugin-sdk-[0-9a-f]*/build-script-build`' <<<"$log"; then
  echo "  FAIL: the generator ran after a change in src/"
  exit 1
fi
grep -E 'cloud-plugin-sdk|cloud_plugin_sdk' <<<"$log" | sed -E 's/^ +/  /; s/(Running `[^ ]* [^ ]* [^ ]* [^ ]*).*/\1 …`/' | head -n 5
echo "  ok: no 'Running …/build-script-build' line; the generator did not run"

echo
echo "== touch spec/golem-plugins.yaml && cargo build -v (the generator must run)"
touch spec/golem-plugins.yaml
start="$(now)"
log="$(cargo build -v 2>&1)"
echo "  measured wall time                    $(seconds_since "$start") s"
if ! grep -q 'Running `.*cloud-plugin-sdk-[0-9a-f]*/build-script-build`' <<<"$log"; then
  echo "  FAIL: the generator did not run after a spec changed"
  exit 1
fi
echo "  ok: build-script-build ran"
