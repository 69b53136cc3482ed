#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu-system-x86_64-plain: what kunit.py runs for qemu_x86_64_plain.py. It
# removes "-accel kvm" unless KVM works here (KHO_RS_ACCEL=kvm, from
# scripts/kvm-probe.sh): kunit.py always lists it first, and KVM hangs guests on
# these machines.
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
exec qemu-system-x86_64 "${args[@]}"
