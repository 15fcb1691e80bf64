#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One test under Valgrind memcheck (`make valgrind`: tests/test_hostile.c at -O1 -g; any invalid read or
# write, use of uninitialised memory or definite leak fails). Installs valgrind where it is missing.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
if ! command -v valgrind >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind) >/dev/null 2>&1 ||
    { echo "valgrind is missing and could not be installed"; echo "0 passed, 1 failed"; exit 1; }
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if make -s BUILD="${BUILD:-build}" valgrind >"$out" 2>&1; then rc=0; else rc=1; fi
tail -n 20 "$out"
# the test's own count line; a memcheck error (exit 99) or a build failure counts as one more failure
l=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
p=${l%% passed*}; f=${l#*passed, }; f=${f%% failed*}
[ -n "$l" ] || { p=0; f=0; }
[ $rc -eq 0 ] || f=$((f + 1))
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
