#!/usr/bin/env bash
# The whole test suite: installs what is missing, checks format, lint and types, then runs every
# test with Node's test runner. Tests start the servers and browsers they need and stop them.
# Usage: npm test [-- FILE...]   (files default to every test/**/*.test.ts)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
export PATH="$root/.tools/bin:$PATH"

echo "== format, lint and types"
npx prettier --check --log-level warn .
npx eslint --max-warnings 0 .
npx tsc --noEmit -p .

# Tests, demos and benchmarks talk to loopback only. Running them in a private network namespace
# whose only interface is lo makes that a fact rather than a promise: a stray STUN request, mDNS
# announcement or ICE check towards another address fails instead of leaving the machine.
isolated() {
  if [[ -z "${TAPEDECK_HOST_NETWORK:-}" ]] && unshare -n true 2>/dev/null; then
    unshare -n bash -c 'ip link set lo up && exec "$@"' isolated "$@"
  else
    echo "note: tests run in the host's network (unshare -n is not available or TAPEDECK_HOST_NETWORK is set)" >&2
    "$@"
  fi
}

run_tests() { # concurrency file...
  local concurrency=$1 log
  shift
  log=$(mktemp)
  # Each test carries its own time limit and the global one catches anything that hangs.
  set +e
  isolated node --import tsx --test --test-concurrency="$concurrency" --test-timeout=900000 "$@" | tee "$log"
  local status=${PIPESTATUS[0]}
  set -e
  local p f
  p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -n 1)
  f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -n 1)
  rm -f "$log"
  # No summary: the runner ran nothing (a file that does not exist, a crash before the tests).
  if [[ -z "$p" || -z "$f" ]]; then
    echo "the test runner printed no summary (exit $status): nothing was tested" >&2
    return 1
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  return "$status"
}

passed=0 failed=0 status=0
echo "== tests"
if (($#)); then
  run_tests "${TEST_CONCURRENCY:-2}" "$@" || status=$?
else
  # Recordings that use most of the machine by themselves run alone, after the rest.
  # Alone, one at a time: the whole-node tests, and those that hold media to the frame while
  # several hosts are composed (beside another such test on two cores they lost frames).
  heavy_pattern='/cli/demo\.test\.ts$|/orchestration/(livestream-workflows|faults|shared-decode-node|host-tiles-node|held-up-node|av-sync-node)\.test\.ts$|/bench/(soak|system-bench)\.test\.ts$|/ingest/live/(chromium|gstreamer)-hosts\.test\.ts$|/media/(rtp-input|runtime-changes|shared-decode|host-tiles|audio-timing|mixer-start)\.test\.ts$|/e2e/delivery-s3\.test\.ts$'
  mapfile -t heavy < <(find test -name '*.test.ts' | grep -E "$heavy_pattern" | sort)
  mapfile -t files < <(find test -name '*.test.ts' | grep -vE "$heavy_pattern" | sort)
  # The rest run in real time and mostly wait: three files at a time used about one core of the
  # two (7.5 min against 10.3 min for two at a time).
  run_tests "${TEST_CONCURRENCY:-3}" "${files[@]}" || status=$?
  run_tests 1 "${heavy[@]}" || status=$?
fi
echo "tests: $passed passed, $failed failed"
exit "$status"
