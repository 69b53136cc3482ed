#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh [MASK]: boot QEMU, insmod kho_rs.ko bench=MASK (default 7: radix,
# vmalloc, block), print the "bench:" lines. Rust and C run in the same boot.
# With the vmalloc bit, a second run kexecs to time Rust vs C restore.
# Numbers under TCG are emulated time: compare the Rust/C ratios, not absolutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
mask=${1:-7}
out="$top/out/bench"
mkdir -p "$out"
make -C "$top" --no-print-directory modules >/dev/null
printf 'insmod /kho_rs.ko bench=%s || echo "KHO_RS_BENCH insmod failed"\nrmmod kho_rs\n' "$mask" >"$out/scenario.sh"
bash "$here/initramfs.sh" "$out/initramfs.cpio" "$out/scenario.sh"
QEMU_MEM=${QEMU_MEM:-3G} QEMU_TIMEOUT=${QEMU_TIMEOUT:-1200} \
	bash "$here/qemu.sh" "$out/initramfs.cpio" "$out/console.log"
grep -E "kho_rs: bench:|KHO_RS_BENCH" "$out/console.log" | sed 's/^\[ *[0-9.]*\] //'

# vmalloc restore can only be timed after a kexec: Rust and C restore areas of
# 1, 16 and 256 MiB in the same (second) boot.
if [ $((mask & 2)) != 0 ]; then
	{ echo "vmx_mib=256 vmx_rounds=4"; cat "$top/selftests/scenarios/vmx.sh"; } >"$out/vmx.sh"
	bash "$here/initramfs.sh" "$out/vmx.cpio" "$out/vmx.sh" --with-kernel
	QEMU_MEM=4G bash "$here/qemu.sh" "$out/vmx.cpio" "$out/vmx.log" nokaslr
	grep -E "kho_rs: (bench: vmalloc restore|vmx:)" "$out/vmx.log" | sed 's/^\[ *[0-9.]*\] //'
fi
