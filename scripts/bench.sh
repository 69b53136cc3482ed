#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh [MASK]: boot QEMU, insmod kho_rs.ko bench=MASK (default 7: radix,
# vmalloc, block), print the "bench:" lines. Rust and C run in the same boot.
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
