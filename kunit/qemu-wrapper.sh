#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu-system-x86_64-kho-rs: what kunit.py runs for kho_rs (see
# qemu_x86_64_kho_rs.py). It
#  - removes "-accel kvm" unless KVM works here (scripts/kvm-probe.sh), because
#    kunit.py always lists it first and KVM hangs guests on these machines;
#  - writes the whole console to $KHO_RS_KUNIT_LOG;
#  - passes on to kunit.py only what follows the marker line that /init writes
#    right before insmod, so kunit.py parses the module's KTAP document rather
#    than the empty "1..0" document of the built-in KUnit run at boot.
# Without $KHO_RS_KUNIT_LOG (scripts/kernel-patches.sh, as
# qemu-system-x86_64-plain for qemu_x86_64_plain.py: an in-kernel suite) it only
# does the first.
set -uo pipefail
args=()
while [ $# -gt 0 ]; do
	if [ "$1" = -accel ] && [ "${2:-}" = kvm ] && [ "${KHO_RS_ACCEL:-tcg}" != kvm ]; then
		shift 2
		continue
	fi
	args+=("$1")
	shift
done
[ -n "${KHO_RS_KUNIT_LOG:-}" ] || exec qemu-system-x86_64 "${args[@]}"
qemu-system-x86_64 "${args[@]}" | tee "$KHO_RS_KUNIT_LOG" |
	sed -u -n '/KHO_RS_KTAP_BEGIN/,$p' | sed -u 1d
