#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh [host|kunit|qemu|all]: every kho-rs test, fastest first.
#   host   cargo test of the pure core (unit + property tests), rustfmt --check,
#          10 s of fuzzing per decoder (scripts/fuzz.sh --short)
#   kunit  build the modules (kho_rs.ko, kho_rs_test.ko, kho_rs_sample.ko) once per
#          kernel with clippy (CLIPPY=1: any warning fails), check that the product
#          and the sample carry nothing of the test harness (scripts/split-check.sh),
#          run the test module's KUnit suites with kunit.py under QEMU
#   qemu   the kexec live-update selftest (selftests/kho_rs_kexec.sh) on each
#          kernel, then between 7.2 and 7.3 (selftests/kho_rs_cross.sh); then the
#          kernel patches of patches/kernel/ (scripts/kernel-patches.sh: they apply,
#          checkpatch is clean, a patched 7.3 kernel passes their KUnit suite)
# `make check` runs scripts/setup.sh deps first, then this with "all".
#
# Kernels: a KDIR the user passed is tested alone; otherwise every kernel in
# KHO_RS_KERNELS (default 7.3 7.2), each built into the cache if it is not there.
# The first kernel is built on every core; the others in the background at low
# priority (nice 10) while the first one is tested, taking what its boots leave. The
# first kernel's selftest runs the random damage seeds of every tested kernel (20
# each, KHO_RS_DAMAGE_SEEDS overrides); the others run only the regression seeds
# (a SKIP line says so). The later kernels' tests and the
# cross-version test run side by side, their output shown when both are done.
# QEMU boots take the slots, two at a time machine-wide.
#
# The last line is always "check: N passed, N failed", counting test cases
# (cargo tests, fuzz targets, KUnit cases, TAP cases; a build or a stage that
# fails before it counts anything counts as one failed case).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
# shellcheck disable=SC1091
[ -f "$KHO_RS_CACHE/env.sh" ] && . "$KHO_RS_CACHE/env.sh"
what=${1:-all}
case $what in
host | kunit | qemu | all) ;;
*) die "usage: $0 [host|kunit|qemu|all]" ;;
esac
logs="$top/out/check"
rm -rf "$logs"
mkdir -p "$logs"
results="$logs/results.tsv"
: >"$results"
rm -f "$top"/out/selftest*/boot-times.txt
t_start=$(date +%s)

# count_cases KIND LOG: "PASSED FAILED" test cases that LOG reports, by KIND.
count_cases() {
	local kind=$1 log=$2
	case $kind in
	cargo)
		# "test result: ok. 119 passed; 0 failed; ..." once per test binary.
		sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$log" |
			awk '{p += $1; f += $2} END {print p + 0, f + 0}'
		;;
	fuzz)
		# One row per target in fuzz.sh's table: "ok" or "FAILED (...)".
		awk '/^target +time/ {t = 1; next} t && NF >= 8 {if ($8 == "ok") p++; else f++}
			END {print p + 0, f + 0}' "$log"
		;;
	kunit)
		# kunit.py: "Testing complete. Ran 39 tests: passed: 39" (, failed: N, ...).
		sed -n 's/.*Testing complete\. Ran \([0-9]*\) tests: passed: \([0-9]*\)\(, failed: \([0-9]*\)\)\{0,1\}.*/\2 \4/p' "$log" |
			awk '{print $1 + 0, $2 + 0}' | tail -n 1
		;;
	tap)
		# ok / not ok lines; a plan other than the number of cases is one more failure.
		awk '/^1\.\.[0-9]+$/ {plan = substr($0, 4); plans++}
			/^ok [0-9]/ {p++} /^not ok [0-9]/ {f++}
			END {if (plans != 1 || plan != p + f) f++; print p + 0, f + 0}' "$log"
		;;
	one) echo "0 0" ;;
	esac
}

# stage NAME KIND CMD...: runs CMD with its output on the terminal and in a log;
# records "NAME<TAB>PASS|FAIL<TAB>SECONDS<TAB>PASSED<TAB>FAILED". KIND says how to
# count its cases (count_cases); "one": the stage is one case.
stage() {
	local name=$1 kind=$2 t0 rc log p f
	shift 2
	log="$logs/$(echo "$name" | tr -c 'A-Za-z0-9.\n-' _).log"
	t0=$(date +%s)
	echo
	echo "==> check: $name"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	read -r p f < <(count_cases "$kind" "$log")
	if [ "$kind" = one ]; then
		if [ "$rc" = 0 ]; then p=1; else f=1; fi
	elif [ "$rc" != 0 ] && [ "${f:-0}" = 0 ]; then
		f=1 # failed without counting a failed case: the stage itself is one
	elif [ "$rc" = 0 ] && [ "${p:-0}" = 0 ]; then
		rc=1 f=1 # a stage that passes having run no case is a failure
		echo "==> check: $name ran no test case"
	fi
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$([ "$rc" = 0 ] && echo PASS || echo FAIL)" \
		$(($(date +%s) - t0)) "${p:-0}" "${f:-0}" >>"$results"
	echo "==> check: $name $([ "$rc" = 0 ] && echo passed || echo FAILED) ($(($(date +%s) - t0)) s)"
	return "$rc"
}

# skip_stage NAME WHY: a stage that does not run, said out loud; not a pass.
skip_stage() {
	echo
	echo "==> check: SKIP $1: $2"
	printf '%s\tSKIP\t0\t0\t0\t%s\n' "$1" "$2" >>"$results"
}

host_tests() {
	(cd "$top/rust/host" && cargo test --locked 2>&1)
}
fmt_check() {
	rustfmt --edition 2021 --check $(cd "$top" && git ls-files '*.rs' | sed "s|^|$top/|")
}
# The module for kernel K, once, with clippy (CLIPPY=1 W=1): clippy-driver emits the
# object, so the clippy build is the build. Any warning or error fails it.
module_build() {
	local k=$1 dir="$top/out/build-$1" log
	rm -rf "$dir"
	log=$(make -C "$top" --no-print-directory modules KDIR="$(kdir_for "$k")" MO="$dir" CLIPPY=1 2>&1) || {
		printf '%s\n' "$log" | tail -30
		return 1
	}
	if printf '%s\n' "$log" | grep -qE "^(warning|error)"; then
		printf '%s\n' "$log" | grep -E "^(warning|error)" -A6 | head -60
		return 1
	fi
	local m
	for m in kho_rs kho_rs_test kho_rs_sample; do
		[ -f "$dir/$m.ko" ] || { echo "no $dir/$m.ko after the build"; return 1; }
	done
	echo "built kho_rs.ko, kho_rs_test.ko and kho_rs_sample.ko in $dir"
}

kdir_for() {
	if [ "$1" = user ]; then echo "$KDIR"; else echo "$KHO_RS_CACHE/$(kdir_name "$1")"; fi
}

# lane_env K FIRST: the environment of kernel K's tests (full scope if FIRST=1).
lane_env() {
	KDIR=$(kdir_for "$1")
	if [ "$1" = user ]; then KERNEL=; else KERNEL=$1; fi
	KHO_RS_MODULE="$top/out/build-$1/kho_rs.ko"
	KHO_RS_SELFTEST_SCOPE=core
	[ "$2" != 1 ] || KHO_RS_SELFTEST_SCOPE=full
	# The random damage seeds of every tested kernel (20 each) run on the first.
	KHO_RS_DAMAGE_SEEDS=${KHO_RS_DAMAGE_SEEDS:-$((20 * ${#kernels[@]}))}
	export KDIR KERNEL KHO_RS_MODULE KHO_RS_SELFTEST_SCOPE KHO_RS_DAMAGE_SEEDS
}

# build_lane K: kernel K's module; on failure, its tests are skipped (said so).
build_lane() {
	stage "module build, clippy (CLIPPY=1) [$1]" one module_build "$1" &&
		stage "module split: product, test, sample [$1]" tap bash "$here/split-check.sh" \
			"$top/out/build-$1" && return
	skip_stage "KUnit and kexec selftest [$1]" "the modules did not build, or not apart"
	return 1
}

# test_lane K FIRST: kernel K's KUnit and kexec selftest (in a subshell: own env).
test_lane() (
	local ok=0
	lane_env "$1" "$2"
	if [ "$what" = kunit ] || [ "$what" = all ]; then
		stage "KUnit via kunit.py [$1]" kunit with_slot bash "$here/kunit.sh" || ok=1
	fi
	if [ "$what" = qemu ] || [ "$what" = all ]; then
		stage "kexec selftest [$1]" tap bash "$top/selftests/kho_rs_kexec.sh" || ok=1
	fi
	exit $ok
)

# The kernels.
if [ -n "${KHO_RS_USER_KDIR:-}" ]; then
	kernels=(user)
else
	read -r -a kernels <<<"${KHO_RS_KERNELS:-$SUPPORTED_KERNELS}"
fi

fuzz_pid=
if [ "$what" = host ] || [ "$what" = all ]; then
	if [ "$what" = all ]; then
		# In the background from the start (fuzz.sh runs under nice), beside the host
		# tests and then the first kernel's boots; shown at the end.
		echo "==> check: fuzz (short) runs in the background (log $logs/lane-fuzz.out)"
		stage "fuzz (short)" fuzz bash "$here/fuzz.sh" --short >"$logs/lane-fuzz.out" 2>&1 &
		fuzz_pid=$!
	fi
	stage "host tests (cargo test)" cargo host_tests
	stage "rustfmt" one fmt_check
	[ "$what" = all ] || stage "fuzz (short)" fuzz bash "$here/fuzz.sh" --short
fi

if [ "$what" != host ]; then
	declare -A build_pid=()
	if [ "${kernels[0]}" != user ]; then
		# The first kernel on every core, now; the others in the background at low
		# priority (nice 10), so that the first kernel's tests take the cores first and
		# the build every cycle they leave, all of them once those tests are done.
		stage "kernel build [${kernels[0]}]" one bash "$here/setup.sh" kernel "${kernels[0]}"
		for k in "${kernels[@]:1}"; do
			echo "==> check: building kernel $k in the background at nice 10 (log $logs/kernel-$k.log)"
			t_build=$(date +%s)
			(
				nice -n 10 bash "$here/setup.sh" kernel "$k" >"$logs/kernel-$k.log" 2>&1
				rc=$?
				printf '%s\t%s\t%s\t%s\t%s\n' "kernel build [$k] (background, nice 10)" \
					"$([ $rc = 0 ] && echo PASS || echo FAIL)" $(($(date +%s) - t_build)) \
					$((rc == 0)) $((rc != 0)) >>"$results"
				exit $rc
			) &
			build_pid[$k]=$!
		done
	fi
	built=()
	! build_lane "${kernels[0]}" || {
		built+=("${kernels[0]}")
		test_lane "${kernels[0]}" 1
	}
	# The other kernels, and the cross-version test once both 7.2 and 7.3 are there,
	# side by side; each writes to its own log, shown when all (and the fuzz run) are
	# done.
	pids=()
	[ -z "$fuzz_pid" ] || pids+=("$fuzz_pid:lane-fuzz")
	for k in "${kernels[@]:1}"; do
		wait "${build_pid[$k]}"
		if [ $? != 0 ]; then
			tail -20 "$logs/kernel-$k.log"
			skip_stage "tests of kernel $k" "the kernel did not build (log $logs/kernel-$k.log)"
			continue
		fi
		build_lane "$k" || continue
		built+=("$k")
		test_lane "$k" 0 >"$logs/lane-$k.out" 2>&1 &
		pids+=("$!:lane-$k")
	done
	if [ "$what" = qemu ] || [ "$what" = all ]; then
		if [[ " ${built[*]} " == *" 7.2 "* ]] && [[ " ${built[*]} " == *" 7.3 "* ]]; then
			KHO_RS_CROSS_MODULES="$top/out" stage "cross-version kexec selftest [7.2 <-> 7.3]" tap \
				bash "$top/selftests/kho_rs_cross.sh" >"$logs/lane-cross.out" 2>&1 &
			pids+=("$!:lane-cross")
		else
			skip_stage "cross-version kexec selftest" "needs modules of both 7.2 and 7.3; built: ${built[*]:-none} (kernels listed: ${kernels[*]})"
		fi
	fi
	for p in "${pids[@]}"; do
		wait "${p%%:*}"
		cat "$logs/${p#*:}.out"
	done
	# The kernel patches (patches/kernel/): they apply to both kernels' sources,
	# checkpatch is clean, and a patched 7.3 kernel passes their KUnit suite.
	if [ "$what" = qemu ] || [ "$what" = all ]; then
		if [ "${kernels[0]}" = user ]; then
			skip_stage "kernel patches" "KDIR was given: the patches are tested against the cached sources only"
		else
			stage "kernel patches: apply, checkpatch, KUnit" tap bash "$here/kernel-patches.sh"
		fi
	fi
fi

# The summary: per stage, then per boot, then the total of cases.
echo
echo "check: stages (wall seconds; cases passed/failed)"
awk -F'\t' '{printf "  %-4s %5ss  %4s/%-3s %s%s\n", $2, $3, $4, $5, $1, ($6 != "" ? "  (" $6 ")" : "")}' "$results"
for f in "$top"/out/selftest*/boot-times.txt; do
	[ -f "$f" ] || continue
	echo "check: QEMU seconds per boot, $(basename "$(dirname "$f")"): $(sort -k2 -nr "$f" |
		awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}')"
done
echo "check: wall time $(($(date +%s) - t_start)) s"
awk -F'\t' '{p += $4; f += $5} END {printf "check: %d passed, %d failed\n", p, f}' "$results"
! awk -F'\t' '$2 == "FAIL" {bad = 1} END {exit !bad}' "$results"
