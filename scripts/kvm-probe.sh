#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Prints "kvm" if a guest boots all the way to userspace under KVM here within
# 30 s, else "tcg". On this project's machines /dev/kvm exists but guests hang
# under KVM, so the answer there is "tcg".
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
KDIR=$(default_kdir)
if [ ! -w /dev/kvm ]; then echo tcg; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#!/bin/busybox sh\necho KHO-RS-KVM-PROBE-OK\n/bin/busybox poweroff -f\n' >"$tmp/init"
printf 'dir /dev 755 0 0\nnod /dev/console 600 0 0 c 5 1\ndir /bin 755 0 0\nfile /bin/busybox %s 755 0 0\nfile /init %s 755 0 0\n' \
	"$(command -v busybox)" "$tmp/init" >"$tmp/spec"
"$KDIR/usr/gen_init_cpio" "$tmp/spec" >"$tmp/initrd" 2>/dev/null || { echo tcg; exit 0; }
out=$(timeout -k 2 30 qemu-system-x86_64 -nodefaults -nographic -no-reboot -accel kvm \
	-m 256M -bios qboot.rom -kernel "$KDIR/arch/x86/boot/bzImage" -initrd "$tmp/initrd" \
	-append "console=ttyS0 panic=-1" -serial stdio </dev/null 2>&1)
if printf '%s' "$out" | grep -q KHO-RS-KVM-PROBE-OK; then echo kvm; else echo tcg; fi
