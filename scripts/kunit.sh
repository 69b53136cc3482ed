#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kunit.sh: run kho_rs's KUnit suites with tools/testing/kunit/kunit.py under
# QEMU. kunit.py boots the cached kernel with our qemu config and initramfs,
# parses the KTAP, prints its results table, and its exit code is the verdict.
# Extra arguments go to kunit.py (e.g. a filter glob: kho_rs_radix.*).
# KHO_RS_MODULE names a module built for this kernel (default: build the tree's).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
KDIR=$(cd "$(default_kdir)" && pwd -P)
export KDIR # the module is built against the tree kunit.py boots
out="$top/out/kunit${KERNEL:+-$KERNEL}"
mkdir -p "$out/bin"

src="$KDIR"
[ -e "$KDIR/source" ] && src=$(cd "$KDIR/source" && pwd -P)
kunit_py="$src/tools/testing/kunit/kunit.py"
[ -f "$kunit_py" ] || die "kunit.py not found in $src"

# KHO_RS_MODULE: a kho_rs.ko built for this kernel (make check's); else build the tree's.
if [ -z "${KHO_RS_MODULE:-}" ]; then
	make -C "$top" --no-print-directory modules || die "module build failed"
fi
bash "$here/initramfs.sh" "$out/initramfs.cpio" "$top/kunit/scenario.sh"
ln -sf "$top/kunit/qemu-wrapper.sh" "$out/bin/qemu-system-x86_64-kho-rs"

export KHO_RS_INITRD="$out/initramfs.cpio"
export KHO_RS_KUNIT_LOG="$out/console.log"
KHO_RS_ACCEL=$(qemu_accel)
export KHO_RS_ACCEL
export PATH="$out/bin:$PATH"
echo "kunit: kunit.py exec (accel $KHO_RS_ACCEL), full console in $KHO_RS_KUNIT_LOG"
# Without arguments: every suite but those that need a kexec (kho_rs_kexec_*, run by the
# kexec selftest).
[ $# -gt 0 ] || set -- 'kho_rs_[!k]*'
rc=0
python3 "$kunit_py" exec --build_dir "$KDIR" \
	--kunitconfig "$top/kunit/kho_rs.kunitconfig" \
	--qemu_config "$top/kunit/qemu_x86_64_kho_rs.py" \
	--timeout "${KUNIT_TIMEOUT:-600}" --json="$out/results.json" "$@" || rc=$?
# What the allocation-failure sweep saw (KUnit kho_rs_faults).
grep -o "kho_rs_faults: preserve: .*" "$KHO_RS_KUNIT_LOG" | tr -d '\r' | sed 's/^/kunit: /' || true
# A WARN panics the guest (panic_on_warn=1) and kunit.py then misses tests; a lockdep
# report, a BUG that does not panic or a stall's stack dump shows only in the console:
# it fails the run too (kernel_trouble; allocation-failure reports are the sweep's).
trouble=$(kernel_trouble "$KHO_RS_KUNIT_LOG")
if [ -n "$trouble" ]; then
	printf '%s\n' "$trouble" | sed 's/^/kunit: FAIL: /'
	echo "kunit: the console shows a warning, BUG, lockdep report or stack dump (full log $KHO_RS_KUNIT_LOG)"
	rc=1
fi
exit $rc
