#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# initramfs.sh OUT.cpio SCENARIO [--with-kernel]
#
# Builds the test initramfs: static busybox, /init (scripts/guest/init), the
# scenario script as /scenario.sh, the modules kho_rs.ko, kho_rs_test.ko and
# kho_rs_sample.ko, the static kexec loader, and with --with-kernel the bzImage of
# KDIR (needed to kexec). KHO_RS_MODULE names the kho_rs.ko to pack (default: the
# tree's own); the other two come from the same directory. KHO_RS_INITRAMFS_FILES
# adds more files, one "DEST SRC" pair per line (the cross-version selftest puts
# both kernels and a module built for each in). Uses the kernel's own
# usr/gen_init_cpio, so no root privileges are needed for device nodes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

out=$1
scenario=$2
with_kernel=${3:-}
KDIR=$(default_kdir)

busybox=$(command -v busybox || echo /bin/busybox)
file "$busybox" | grep -q 'statically linked' || die "$busybox is not static: install busybox-static"
# KHO_RS_MODULE or the tree's kho_rs.ko, unless KHO_RS_INITRAMFS_FILES brings the modules.
module=
if [ -n "${KHO_RS_MODULE:-}" ]; then
	[ -f "$KHO_RS_MODULE" ] || die "KHO_RS_MODULE=$KHO_RS_MODULE does not exist"
	module=$KHO_RS_MODULE
elif [ -f "$top/kho_rs.ko" ]; then
	module="$top/kho_rs.ko"
elif [ -z "${KHO_RS_INITRAMFS_FILES:-}" ]; then
	die "kho_rs.ko not built: run make"
fi
gen="$KDIR/usr/gen_init_cpio"
[ -x "$gen" ] || make -s -C "$KDIR" usr/gen_init_cpio >/dev/null
[ -x "$gen" ] || die "no $gen: KDIR must be a built tree with BLK_DEV_INITRD=y"

loader="$KHO_RS_CACHE/tools/kexec-load"
if [ ! -x "$loader" ] || [ "$here/guest/kexec-load.c" -nt "$loader" ]; then
	mkdir -p "$(dirname "$loader")"
	# Built aside and renamed: initramfs.sh runs for several boots at once.
	gcc -static -O2 -Wall -o "$loader.$$" "$here/guest/kexec-load.c"
	mv -f "$loader.$$" "$loader"
fi

spec=$(mktemp)
trap 'rm -f "$spec"' EXIT
{
	for d in /dev /proc /sys /tmp /bin /sbin /usr /usr/bin /usr/sbin /root; do
		echo "dir $d 755 0 0"
	done
	echo "nod /dev/console 600 0 0 c 5 1"
	echo "nod /dev/kmsg 644 0 0 c 1 11"
	echo "nod /dev/null 666 0 0 c 1 3"
	echo "file /bin/busybox $busybox 755 0 0"
	echo "file /init $here/guest/init 755 0 0"
	echo "file /scenario.sh $scenario 755 0 0"
	if [ -n "$module" ]; then
		# The product module and, from the same build, the test module and the sample.
		echo "file /kho_rs.ko $module 644 0 0"
		for m in kho_rs_test kho_rs_sample; do
			echo "file /$m.ko $(dirname "$module")/$m.ko 644 0 0"
		done
	fi
	echo "file /kexec-load $loader 755 0 0"
	if [ "$with_kernel" = --with-kernel ]; then
		echo "file /bzImage $KDIR/arch/x86/boot/bzImage 644 0 0"
	fi
	while read -r dest src; do
		[ -n "$dest" ] || continue
		[ -f "$src" ] || die "initramfs: no $src (for $dest)"
		echo "file $dest $src 644 0 0"
	done <<<"${KHO_RS_INITRAMFS_FILES:-}"
} >"$spec"
"$gen" "$spec" >"$out"
