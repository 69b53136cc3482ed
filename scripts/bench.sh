#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh [MASK]: boot QEMU, insmod kho_rs_test.ko bench=MASK (default 7: radix,
# vmalloc, block), print the "bench:" lines. Rust and C run in the same boot.
# With the vmalloc bit, a second run kexecs to time Rust vs C restore.
# Numbers under TCG are emulated time: compare the Rust/C ratios, not absolutes.
#
# The kernel is the bench profile's (KHO_RS_PROFILE=bench, the default here):
# kernel.config with kernel-bench.config on top, no debug options and -O2, like a
# distribution's kernel, built and cached as kdir-bench-<KERNEL> (make bench does
# that; KHO_RS_PROFILE=test benches the debug test kernel, whose lockdep makes C's
# mutexes dearer). A KDIR you pass is used as it is. The profile and the options
# that matter are printed first.
#
# The run fails, saying why, if KHO is disabled in a boot (the 4 GiB boot runs
# with nokaslr, which keeps KHO's scratch reservation from failing), if a row is
# skipped, or if a row of scripts/bench-rows.txt (the rows a full run of MASK 7
# prints) is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
# shellcheck disable=SC1091
[ -f "$KHO_RS_CACHE/env.sh" ] && . "$KHO_RS_CACHE/env.sh"
mask=${1:-7}
export KHO_RS_PROFILE=${KHO_RS_PROFILE:-bench}
KERNEL=${KERNEL:-$DEFAULT_KERNEL}
if [ -z "${KHO_RS_USER_KDIR:-}" ]; then
	bash "$here/setup.sh" kernel "$KERNEL"
	KDIR="$KHO_RS_CACHE/$(kdir_name "$KERNEL")"
fi
export KDIR
out="$top/out/bench"
mkdir -p "$out"
make -C "$top" --no-print-directory modules KDIR="$KDIR" MO="$out/build" >"$out/build.log" 2>&1 || {
	tail -20 "$out/build.log"
	die "module build failed (log $out/build.log)"
}
export KHO_RS_MODULE="$out/build/kho_rs.ko"

# The profile: what the kernel is built with, as far as the ratios care.
cfg="$KDIR/.config"
opts=""
for o in CC_OPTIMIZE_FOR_PERFORMANCE CC_OPTIMIZE_FOR_SIZE PROVE_LOCKING DEBUG_PAGEALLOC \
	DEBUG_VM DEBUG_VIRTUAL DEBUG_LIST KFENCE SLUB_DEBUG DEBUG_ATOMIC_SLEEP \
	RUST_DEBUG_ASSERTIONS RUST_OVERFLOW_CHECKS KEXEC_HANDOVER_DEBUG; do
	if grep -qx "CONFIG_$o=y" "$cfg"; then opts+=" $o=y"; else opts+=" $o=n"; fi
done
echo "bench: profile $KHO_RS_PROFILE, Linux $(cat "$KDIR/include/config/kernel.release" 2>/dev/null || echo '?'), $KDIR"
echo "bench: options:$opts"

# bench_row_keys: the "bench:" rows of a console log on stdin, one key per row: the
# row with its measured numbers replaced by '#' (sizes, n=, size=, off=, len=,
# stride= and MiB counts stay), so that a missing row shows, whatever it measured.
bench_row_keys() {
	perl -ne 'next unless s/.*kho_rs_test: (bench: )/$1/; s/\r//; next if /^bench: (start|done)\b/;
		s/(?<!n=)(?<!size=)(?<!off=)(?<!len=)(?<!stride=)(?<![\w.])\d++(?:\.\d++)?(?! MiB)/#/g;
		print'
}

fail=0
# verdict LOG: KHO must be on in the boot, no row skipped.
verdict() {
	if grep -qE "disabling kexec handover|KHO: Failed to reserve scratch|kho_rs_test: loaded: KHO disabled" "$1"; then
		grep -E "KHO: |kho_rs_test: loaded" "$1" | head -3 | sed 's/^/bench: FAIL: /'
		echo "bench: FAIL: KHO is disabled in this boot ($1): its rows are missing"
		fail=1
	fi
	if grep -q "kho_rs_test: bench: .*skipped" "$1"; then
		grep "kho_rs_test: bench: .*skipped" "$1" | sed 's/^\[ *[0-9.]*\] //; s/^/bench: FAIL: /'
		fail=1
	fi
}

printf 'insmod /kho_rs_test.ko bench=%s || echo "KHO_RS_BENCH insmod failed"\nrmmod kho_rs_test\n' "$mask" >"$out/scenario.sh"
bash "$here/initramfs.sh" "$out/initramfs.cpio" "$out/scenario.sh"
QEMU_MEM=${QEMU_MEM:-3G} QEMU_TIMEOUT=${QEMU_TIMEOUT:-1200} \
	bash "$here/qemu.sh" "$out/initramfs.cpio" "$out/console.log" nokaslr
grep -E "kho_rs_test: bench:|KHO_RS_BENCH" "$out/console.log" | sed 's/^\[ *[0-9.]*\] //'
verdict "$out/console.log"
grep -q "kho_rs_test: bench: done" "$out/console.log" || {
	echo "bench: FAIL: the bench did not finish (log $out/console.log)"
	fail=1
}
cat "$out/console.log" >"$out/all.log"

# vmalloc restore can only be timed after a kexec: Rust and C restore areas of
# 1, 16 and 256 MiB in the same (second) boot.
if [ $((mask & 2)) != 0 ]; then
	{ echo "vmx_mib=256 vmx_rounds=4"; cat "$top/selftests/scenarios/vmx.sh"; } >"$out/vmx.sh"
	bash "$here/initramfs.sh" "$out/vmx.cpio" "$out/vmx.sh" --with-kernel
	QEMU_MEM=4G QEMU_TIMEOUT=${QEMU_TIMEOUT:-1200} bash "$here/qemu.sh" "$out/vmx.cpio" "$out/vmx.log" nokaslr
	grep -E "kho_rs_test: (bench: vmalloc restore|vmx:)" "$out/vmx.log" | sed 's/^\[ *[0-9.]*\] //'
	verdict "$out/vmx.log"
	cat "$out/vmx.log" >>"$out/all.log"
fi

# Every row a full run prints must be there (for MASK 7; other masks are partial).
if [ "$mask" = 7 ]; then
	[ -s "$here/bench-rows.txt" ] || die "no $here/bench-rows.txt: the rows a full run must print"
	missing=$(bench_row_keys <"$out/all.log" | sort -u | comm -13 - <(grep -v "^#" "$here/bench-rows.txt" | sort -u))
	if [ -n "$missing" ]; then
		printf 'bench: FAIL: row missing: %s\n' "$missing" | head -20
		fail=1
	fi
fi
[ "$fail" = 0 ] || die "bench failed (see FAIL lines above)"
echo "bench: every row present, KHO enabled in every boot"
