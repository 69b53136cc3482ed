#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# demo.sh: boot the cached kernel under QEMU, preserve the default workload
# with kho_rs (folios in the Rust radix tree, 64 MiB vmalloc, 100,000 block
# entries), kexec with KHO into the same kernel, verify every byte there, and
# print a short report.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
out="$top/out/demo"
mkdir -p "$out"
log="$out/console.log"
bash "$here/initramfs.sh" "$out/initramfs.cpio" "$top/selftests/scenarios/workload.sh" --with-kernel
echo "demo: booting under QEMU ($(qemu_accel)); full console log: $log"
t0=$(date +%s)
rc=0
bash "$here/qemu.sh" "$out/initramfs.cpio" "$log" || rc=$?
t1=$(date +%s)
echo
echo "---------------------------------------------------------------- report"
grep -E "kho-rs-init: (stage|kexec)|kho_rs: (loaded|workload|restore|unloaded)|kho_rs:.*(failed|error)|KHO_RS_STEP|test_kho:|kexec-load:" "$log" |
	sed 's/^\[ *[0-9.]*\] //'
echo "------------------------------------------------------------------------"
if [ $rc = 0 ] && grep -q "kho_rs: restore: PASS" "$log"; then
	echo "demo: PASS (preserve, kexec, restore and verify: two boots in $((t1 - t0)) s of QEMU)"
else
	echo "demo: FAIL (see $log)"
	exit 1
fi
