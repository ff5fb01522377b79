#!/usr/bin/env bash
# The multi-process key cache proof (docs/xcrypt.md §5.7): core/examples/cache_stress.rs
# with 50 processes for 20 s, key lifetime 2 s, SIGKILLs every 40 ms (every other one
# aimed at the process holding the cache's lock). It must pass. Then the same checks on
# workers that use the file the old way (--legacy: 20 processes, 5 s), which must fail:
# the checks can see two key pairs in one lifetime.
#
#   bash scripts/cache_stress.sh [--no-build] [options for the passing run...]
# Costs 20 s + 5 s of runs beside the build (31 s of wall time measured with an
# incremental build, on a 2-core AMD EPYC Zen 3; the workers mostly sleep). In .ci/run
# the example is already built by `cargo test --workspace`.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
if [ "${1:-}" = --no-build ]; then build=0; shift; fi
if [ "$build" = 1 ]; then
  # The dev profile (opt-level 2 here): `cargo test --workspace` has built it already.
  cargo build --locked -p ssmail-core --features std --example cache_stress
fi
bin=target/debug/examples/cache_stress

"$bin" "$@"

echo
echo "--- the checks must catch the old way of using the file (--legacy):"
legacy_dir=target/cache-stress-legacy
if "$bin" --legacy --procs 20 --secs 5 --dir "$legacy_dir" >target/cache-stress-legacy.log 2>&1; then
  cat target/cache-stress-legacy.log
  echo "cache_stress --legacy passed: the checks cannot see two key pairs in one lifetime" >&2
  exit 1
fi
grep -E '^(logs|secrets|file|kills|cache_stress):' target/cache-stress-legacy.log
grep -q 'interleaved with another' target/cache-stress-legacy.log
rm -rf "$legacy_dir"
echo "cache_stress --legacy failed, as it must"
