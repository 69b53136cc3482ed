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
echo "1..8"

log="$out/basic.log"
start=$(date +%s)
boot basic "$here/scenarios/basic.sh"
ok $? "basic: QEMU ran to power-off ($(($(date +%s) - start)) s, log $log)"
check "$log" "basic: module loads in the first kernel" "KHO_RS_STEP insmod-1 ok"
check "$log" "basic: first kernel reports KHO enabled, cold boot" \
	"kho_rs: loaded: KHO enabled, cold boot"
check "$log" "basic: module unloads in the first kernel" "KHO_RS_STEP rmmod-1 ok"
check "$log" "basic: kexec reached the second kernel" "kho-rs-init: stage 2"
check "$log" "basic: second kernel reports a KHO boot" "kho_rs: loaded: KHO enabled, KHO boot"
check "$log" "basic: module unloads in the second kernel" "KHO_RS_STEP rmmod-2 ok"
check "$log" "baseline: upstream test_kho restore after kexec" "KHO restore succeeded"

if grep -qE "Oops|BUG:|Kernel panic|WARNING:" "$log"; then
	echo "# kernel log of 'basic' shows an oops/panic/warning:"
	grep -E "Oops|BUG:|Kernel panic|WARNING:" "$log" | sed 's/^/#   /'
	fail=$((fail + 1))
fi
echo "selftest: $pass passed, $fail failed"
[ "$fail" = 0 ]
