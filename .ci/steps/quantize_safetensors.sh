#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/quantize_safetensors on a tiny generated model (tests/safetensors_gen.c): f32, bf16 and f16
# tensors are quantized, a 1-D, an I64 and a too-narrow tensor are skipped, malformed files are refused,
# and the written file round-trips (read back by the example, then compared byte for byte with a
# direct fp4.h quantization). Ends with "N passed, N failed".
. "$(dirname "$0")/../lib.sh"
B=${BUILD:-build}
make -s "$B/examples/quantize_safetensors" >"$t/log" 2>&1 || { cat "$t/log"; ko "build the example"; finish; }
ex=$B/examples/quantize_safetensors
if ! cc -std=c99 -O1 -Wall -Wextra -Wpedantic -Werror -I. tests/safetensors_gen.c -o "$t/gen" -lm 2>"$t/log"; then
  cat "$t/log"; ko "build tests/safetensors_gen.c"; finish
fi
"$t/gen" gen "$t" && ok "generate tiny model" || ko "generate tiny model"

# run_case RULE HADAMARD SIGNS BF16 QUANTIZED SKIPPED
run_case() {
  local rule=$1 h=$2 signs=$3 bf=$4 nq=$5 ns=$6 args="-r $1" o="$t/out_$1_$2.safetensors"
  [ "$h" -gt 0 ] && args="$args -H $h --signs $signs"
  [ "$bf" = 1 ] && args="$args --bf16-rotate"
  # shellcheck disable=SC2086
  if "$ex" $args -o "$o" "$t/tiny.safetensors" >"$t/run" 2>&1; then ok "$args runs"; else ko "$args exits non-zero"; cat "$t/run"; return; fi
  grep -q "$nq tensors quantized, $ns skipped" "$t/run" && ok "$args: $nq quantized, $ns skipped" ||
    { ko "$args: expected $nq quantized, $ns skipped"; cat "$t/run"; }
  grep -q 'read back: bytes and dequantized values match' "$t/run" && ok "$args: written file reads back" ||
    { ko "$args: round trip"; cat "$t/run"; }
  for n in layer.0.weight layer.1.weight layer.2.weight; do
    grep -Eq "^\| $n +\| (F32|BF16|F16) +\| \[[0-9,]+\] +\| +[0-9]\.[0-9]{4}e-0[1-3] \|" "$t/run" && ok "$args: $n has a relative MSE" ||
      { ko "$args: no plausible relative MSE for $n"; grep "$n" "$t/run"; }
  done
  grep -q '^| layer.0.bias .*skipped: not 2-D' "$t/run" && ok "$args: 1-D tensor skipped" || ko "$args: 1-D tensor not skipped"
  grep -q '^| position_ids .*skipped: not f32/bf16/f16' "$t/run" && ok "$args: I64 tensor skipped" || ko "$args: I64 tensor not skipped"
  "$t/gen" check "$o" "$t/tiny.safetensors" "$rule" "$h" "$signs" "$bf" >"$t/check" 2>&1
  local l; l=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$t/check")
  if [ -n "$l" ]; then
    local p=${l%% passed*} f=${l#*passed, }; f=${f%% failed*}
    pass=$((pass + p)); fail=$((fail + f)); echo "check $args: $l"
    [ "$f" -eq 0 ] || cat "$t/check"
  else ko "check $args"; cat "$t/check"; fi
  # the output is a valid safetensors file too: nothing in it is quantizable (U8 codes, 1-element amax)
  "$ex" "$o" >"$t/run2" 2>&1 && grep -q ' 0 tensors quantized' "$t/run2" && ok "$args: output parses as input" ||
    { ko "$args: output does not parse as input"; cat "$t/run2"; }
}
run_case nv_6 0 none 0 4 2                 # the 48-wide tensor fits NVFP4's 16-blocks
run_case nv_4over6_mse 16 rht16 1 4 2
run_case mx_ocp 0 none 0 3 3               # ... but not MXFP4's 32-blocks
run_case mx_quest 32 none 0 3 3
run_case mx_absmax3 0 none 0 3 3

if "$ex" --all "$t/tiny.safetensors" >"$t/run" 2>&1 && [ "$(grep -c '^| [MN][XV]FP4' "$t/run")" -ge 19 ]; then ok "--all prints every recipe"
else ko "--all"; cat "$t/run"; fi
for bad in bad_json bad_offsets short; do
  if "$ex" "$t/$bad.safetensors" >"$t/run" 2>&1; then ko "$bad.safetensors accepted"
  elif grep -q 'not a valid safetensors file' "$t/run"; then ok "$bad.safetensors refused: $(grep -o 'file: .*' "$t/run")"
  else ko "$bad.safetensors: no message"; cat "$t/run"; fi
done
"$ex" -r nosuch "$t/tiny.safetensors" >/dev/null 2>&1 && ko "unknown rule accepted" || ok "unknown rule refused"
"$ex" -f mxfp4 -r nv_6 "$t/tiny.safetensors" >/dev/null 2>&1 && ko "format/rule mismatch accepted" || ok "format/rule mismatch refused"
finish
