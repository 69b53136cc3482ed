#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# fuzz.sh [--short] [TARGET...]: coverage-guided fuzzing of every decoder of data from the
# previous kernel (rust/host/fuzz/: cargo-fuzz and libFuzzer on the stable toolchain with
# --sanitizer none; see Documentation/fuzzing.rst).
#
#   FUZZ_SECONDS=N   seconds per target (default 60)
#   --short          10 s per target, whatever FUZZ_SECONDS says (make check's host stage)
#   TARGET...        only these targets (default: all of `cargo fuzz list`)
#
# Inputs that reach new coverage go to rust/host/fuzz/work/<target>/ (not committed); the
# committed seeds in rust/host/fuzz/corpus/<target>/ are only read. A panic (a broken
# invariant), an input running longer than 10 s or more than 2 GiB of memory is saved in
# rust/host/fuzz/artifacts/<target>/ and makes this script exit 1. Everything runs under
# `nice -n 19`. Logs: out/fuzz/<target>.log.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

seconds=${FUZZ_SECONDS:-60}
targets=()
for a in "$@"; do
	case $a in
	--short) seconds=10 ;;
	-*) die "usage: $0 [--short] [TARGET...]" ;;
	*) targets+=("$a") ;;
	esac
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "FUZZ_SECONDS must be a positive number of seconds"

ensure_cargo_fuzz || die "cannot install cargo-fuzz (scripts/setup.sh deps)"
fuzz=$top/rust/host/fuzz
logs=$top/out/fuzz
mkdir -p "$logs"
cd "$fuzz" || die "no $fuzz"
# Debug assertions and overflow checks on: an overflow is a panic in the kernel too.
flags=(--sanitizer none --debug-assertions)

echo "==> fuzz: building the targets"
nice -n 19 cargo fuzz build "${flags[@]}" >"$logs/build.log" 2>&1 || {
	tail -30 "$logs/build.log"
	die "fuzz build failed (log: $logs/build.log)"
}
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
# No target is no test: fail rather than pass on nothing.
[ ${#targets[@]} -gt 0 ] || die "no fuzz target found (cargo fuzz list is empty)"

failed=()
rows=()
for t in "${targets[@]}"; do
	[ -d "corpus/$t" ] || die "unknown target '$t' (no rust/host/fuzz/corpus/$t)"
	mkdir -p "work/$t" "artifacts/$t"
	log=$logs/$t.log
	echo "==> fuzz: $t for ${seconds}s"
	nice -n 19 cargo fuzz run "${flags[@]}" "$t" "work/$t" "corpus/$t" -- \
		-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
		-len_control=0 -print_final_stats=1 >"$log" 2>&1
	rc=$?
	execs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$log")
	rate=$(awk '/^stat::average_exec_per_sec:/ {print $2}' "$log")
	last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\) .*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
	if [ "$rc" = 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc)"
		failed+=("$t")
		grep -m1 -A2 "panicked at" "$log"
		grep -E "Test unit written|^SUMMARY" "$log" | head -2
		echo "    log: $log"
	fi
	rows+=("$(printf '%-14s %5ss %11s %9s %6s %7s %6s  %s' "$t" "$seconds" "${execs:-?}" \
		"${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")")
done

echo
printf '%-14s %6s %11s %9s %6s %7s %6s  %s\n' target time execs exec/s cov ft corpus result
printf '%s\n' "${rows[@]}" | tee "$logs/summary.txt"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}; crashing inputs are in rust/host/fuzz/artifacts/<target>/"
	echo "fuzz: reproduce with: cd rust/host/fuzz && cargo fuzz run ${flags[*]} <target> <artifact>"
	exit 1
fi
echo "fuzz: ${#targets[@]} targets, no failure"
