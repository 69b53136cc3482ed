#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kho_rs kexec live-update selftest (kselftest style, TAP output).
#
# Boots the cached kernel under QEMU with the test initramfs, loads kho_rs.ko,
# kexecs into the same kernel with KHO, loads it again and checks the kernel
# log of both boots. Also reports upstream's built-in test_kho as a baseline.
# Exits non-zero if any case fails.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"
out="$top/out/selftest"
mkdir -p "$out"

n=0
pass=0
fail=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		pass=$((pass + 1))
		echo "ok $n - $2"
	else
		fail=$((fail + 1))
		echo "not ok $n - $2"
	fi
}
# check LOG DESC GREP-PATTERN: one TAP line, passing if the pattern is in LOG.
check() {
	grep -q -- "$3" "$1"
	ok $? "$2"
}

# boot NAME SCENARIO [QEMU_MEM]: run a scenario, log in $out/NAME.log.
boot() {
	local name=$1 scenario=$2
	bash "$top/scripts/initramfs.sh" "$out/$name.cpio" "$scenario" --with-kernel ||
		return 1
	QEMU_MEM=${3:-1G} bash "$top/scripts/qemu.sh" "$out/$name.cpio" "$out/$name.log"
}

make -C "$top" --no-print-directory modules >/dev/null || {
	echo "Bail out! kho_rs.ko does not build"
	exit 1
}
echo "TAP version 13"

# no_oops LOG NAME: one TAP line, failing if the kernel log shows an oops,
# BUG, panic or WARNING.
no_oops() {
	if grep -qE "Oops|BUG:|Kernel panic|WARNING:|Call Trace" "$1"; then
		grep -E "Oops|BUG:|Kernel panic|WARNING:" "$1" | head -5 | sed 's/^/# /'
		ok 1 "$2: no oops, panic or warning"
	else
		ok 0 "$2: no oops, panic or warning"
	fi
}

# --- basic: load, kexec, load again; upstream test_kho as the baseline.
log="$out/basic.log"
boot basic "$here/scenarios/basic.sh"
ok $? "basic: QEMU ran to power-off (log $log)"
check "$log" "basic: module loads in the first kernel" "KHO_RS_STEP insmod-1 ok"
check "$log" "basic: first kernel reports KHO enabled, cold boot" \
	"kho_rs: loaded: KHO enabled, cold boot"
check "$log" "basic: module unloads in the first kernel" "KHO_RS_STEP rmmod-1 ok"
check "$log" "basic: kexec reached the second kernel" "kho-rs-init: stage 2"
check "$log" "basic: second kernel reports a KHO boot" "kho_rs: loaded: KHO enabled, KHO boot"
check "$log" "basic: module unloads in the second kernel" "KHO_RS_STEP rmmod-2 ok"
check "$log" "baseline: upstream test_kho restore after kexec" "KHO restore succeeded"
no_oops "$log" basic

# --- workload: the default workload carried across kexec, verified byte for byte.
log="$out/workload.log"
boot workload "$here/scenarios/workload.sh"
ok $? "workload: QEMU ran to power-off (log $log)"
check "$log" "workload: first kernel preserved the workload" "KHO_RS_STEP preserve ok"
sed -n '/KHO_RS_BLOB_BEGIN/,/KHO_RS_BLOB_END/p' "$log" | sed '1d;$d' | tr -d '\r' |
	base64 -d >"$out/kho-rs.dtb" 2>/dev/null
if dtc -I dtb -O dts -o "$out/kho-rs.dts" "$out/kho-rs.dtb" 2>"$out/dtc.err" &&
	[ ! -s "$out/dtc.err" ] && grep -q 'compatible = "kho-rs-v1;block-v1;radix-v1;vmalloc-v1"' "$out/kho-rs.dts"; then
	ok 0 "workload: dtc decodes the registered blob without warnings"
else
	sed 's/^/# dtc: /' "$out/dtc.err" | head -5
	ok 1 "workload: dtc decodes the registered blob without warnings"
fi
check "$log" "workload: second kernel verified every byte (PASS)" "kho_rs: restore: PASS generation 1"
check "$log" "workload: verify step succeeded" "KHO_RS_STEP verify ok"
check "$log" "workload: module unloads after verification" "KHO_RS_STEP rmmod-2 ok"
check "$log" "baseline: upstream test_kho in the workload boots" "KHO restore succeeded"
no_oops "$log" workload
grep -E "kho_rs: (workload|restore):" "$log" | sed 's/^\[ *[0-9.]*\] /# /'

# --- unload before kexec leaves nothing behind.
log="$out/unload.log"
boot unload "$here/scenarios/unload.sh"
ok $? "unload: QEMU ran to power-off (log $log)"
check "$log" "unload: subtree registered while loaded" "KHO_RS_STEP subtree present"
check "$log" "unload: rmmod removes the subtree from KHO debugfs" "KHO_RS_STEP subtree gone"
if grep -q "kho_rs: restore:" "$log"; then
	ok 1 "unload: second kernel finds nothing to restore"
else
	check "$log" "unload: second kernel finds nothing to restore" "kho_rs: loaded: KHO enabled, KHO boot"
fi
no_oops "$log" unload

echo "1..$n"
echo "selftest: $pass passed, $fail failed"
[ "$fail" = 0 ]
