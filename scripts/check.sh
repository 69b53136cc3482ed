#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh [host|kunit|qemu|all]: every kho-rs test, fastest first.
#   host   cargo test of the pure core (unit + property tests), rustfmt --check,
#          10 s of fuzzing per decoder (scripts/fuzz.sh --short)
#   kunit  clippy, build kho_rs.ko, run its KUnit suites with kunit.py under QEMU
#   qemu   the kexec live-update selftest (selftests/kho_rs_kexec.sh) on each
#          kernel, then between 7.2 and 7.3 (selftests/kho_rs_cross.sh)
# `make check` runs scripts/setup.sh first, then this with "all".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
# shellcheck disable=SC1091
[ -f "$KHO_RS_CACHE/env.sh" ] && . "$KHO_RS_CACHE/env.sh"
what=${1:-all}
passed=()
failed=()

stage() {
	local name=$1
	shift
	local t0=$(date +%s)
	echo
	echo "==> check: $name"
	if "$@"; then
		passed+=("$name")
		echo "==> check: $name passed ($(($(date +%s) - t0)) s)"
	else
		failed+=("$name")
		echo "==> check: $name FAILED ($(($(date +%s) - t0)) s)"
	fi
}

host_tests() {
	(cd "$top/rust/host" && cargo test --locked 2>&1)
}
fmt_check() {
	rustfmt --edition 2021 --check $(cd "$top" && git ls-files '*.rs' | sed "s|^|$top/|")
}
module_build() {
	make -C "$top" --no-print-directory modules
}
# Clippy with the kernel's lint set (CLIPPY=1); any warning fails. The normal
# build that follows recompiles without clippy (Kbuild sees the changed command).
clippy_build() {
	local log
	log=$(touch "$top/rust/kho_rs_main.rs" && make -C "$top" --no-print-directory clippy 2>&1) || {
		printf '%s\n' "$log" | tail -30
		return 1
	}
	if printf '%s\n' "$log" | grep -qE "^(warning|error)"; then
		printf '%s\n' "$log" | grep -E "^(warning|error)" -A6 | head -60
		return 1
	fi
}

# Kernels: a KDIR the user passed is tested alone; otherwise every kernel in
# KHO_RS_KERNELS (default: all supported, 7.3 and 7.2), each from the cache.
if [ -n "${KHO_RS_USER_KDIR:-}" ]; then
	kernels=(user)
else
	read -r -a kernels <<<"${KHO_RS_KERNELS:-$SUPPORTED_KERNELS}"
fi

case $what in
host | all)
	stage "host tests (cargo test)" host_tests
	stage "rustfmt" fmt_check
	stage "fuzz (short)" bash "$here/fuzz.sh" --short
	;;
kunit | qemu) ;;
*)
	die "usage: $0 [host|kunit|qemu|all]"
	;;
esac
if [ "$what" != host ]; then
	for k in "${kernels[@]}"; do
		if [ "$k" != user ]; then
			export KERNEL=$k KDIR="$KHO_RS_CACHE/kdir-$k"
		fi
		# Objects of the other kernel must not be reused.
		make -C "$KDIR" M="$top" clean >/dev/null 2>&1 || true
		stage "clippy (CLIPPY=1) [$k]" clippy_build
		stage "module build [$k]" module_build
		if [ "$what" = kunit ] || [ "$what" = all ]; then
			stage "KUnit via kunit.py [$k]" bash "$here/kunit.sh"
		fi
		if [ "$what" = qemu ] || [ "$what" = all ]; then
			stage "kexec selftest [$k]" bash "$top/selftests/kho_rs_kexec.sh"
		fi
	done
	# Live update between the kernels, both ways, when both are tested.
	if { [ "$what" = qemu ] || [ "$what" = all ]; } &&
		[[ " ${kernels[*]} " == *" 7.2 "* ]] && [[ " ${kernels[*]} " == *" 7.3 "* ]]; then
		stage "cross-version kexec selftest [7.2 <-> 7.3]" bash "$top/selftests/kho_rs_cross.sh"
	fi
fi

echo
for s in "${passed[@]}"; do echo "  PASS  $s"; done
for s in "${failed[@]}"; do echo "  FAIL  $s"; done
echo "check: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} = 0 ]
