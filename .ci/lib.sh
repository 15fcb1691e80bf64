# SPDX-License-Identifier: MIT
# Sourced by .ci/steps/*.sh: the repository root as the working directory, the pass/fail counters with
# ok / ko (ok is silent when OK_QUIET is set), a temporary folder $t removed on exit, and finish, which
# prints the closing "N passed, N failed" line and exits non-zero when anything failed.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pass=0; fail=0
ok() { pass=$((pass + 1)); [ -n "${OK_QUIET:-}" ] || echo "ok: $*"; }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
t=$(mktemp -d "${TMPDIR:-/tmp}/fp4ci.XXXXXX")
trap 'rm -rf "$t"' EXIT
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }
