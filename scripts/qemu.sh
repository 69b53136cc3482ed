#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu.sh INITRD LOG [EXTRA_CMDLINE]   (env: QEMU_MEM, QEMU_TIMEOUT, KDIR)
#
# Boots KDIR's bzImage with INITRD under QEMU, serial console to LOG.
# TCG by default: on these machines /dev/kvm exists but guests hang under KVM,
# so KVM is used only if scripts/kvm-probe.sh has shown it to work here.
# KUnit suites are disabled here (kunit.enable=0): scripts/kunit.sh runs them.
# Exits non-zero with a clear message on timeout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
KDIR=$(default_kdir)
initrd=$1
log=$2
extra=${3:-}
mem=${QEMU_MEM:-1G}
tmo=${QEMU_TIMEOUT:-180}

accel=$(qemu_accel)
set +e
timeout --foreground -k 5 "$tmo" qemu-system-x86_64 -nodefaults -nographic -no-reboot \
	-accel "$accel" -m "$mem" -smp 2 -bios qboot.rom \
	-kernel "$KDIR/arch/x86/boot/bzImage" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 oops=panic panic_on_warn=1 loglevel=7 kunit.enable=0 $extra" \
	-serial stdio </dev/null >"$log" 2>&1
rc=$?
set -e
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "ERROR: QEMU did not finish within ${tmo}s (accel $accel); log: $log" >&2
	exit 124
fi
exit "$rc"
