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

echo "== tests"
if (($#)); then
  files=("$@")
else
  mapfile -t files < <(find test -name '*.test.ts' | sort)
fi
# Media tests run in real time and mostly wait, so several files share the two cores; each test
# carries its own time limit and the global one catches anything that hangs.
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=900000 "${files[@]}"
