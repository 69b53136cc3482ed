# SPDX-License-Identifier: GPL-2.0
# Shared settings and helpers for the kho-rs scripts (sourced, not run).

KHO_RS_CACHE=${KHO_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kho-rs}
BINDGEN_VERSION=0.71.1
# cargo-fuzz drives libFuzzer for rust/host/fuzz/ (scripts/fuzz.sh); stable toolchain,
# --sanitizer none, so no nightly is needed.
CARGO_FUZZ_VERSION=0.13.2
LIBCLANG_VERSION=18.1.1
# Kernels kho-rs supports; the first is the default (KERNEL=, make's kdir).
SUPPORTED_KERNELS="7.3 7.2"
DEFAULT_KERNEL=7.3
# The Debian package version of each kernel's source, pinned so that every machine builds
# the same tree. To move one: `apt-cache madison linux-source-7.3` lists what the suites
# offer; change the line here and run `make check` (the source and kernel caches follow
# the pin: a different pin is downloaded and built afresh).
KERNEL_PKG_VERSION_7_3="7.3.4-1~bpo13+1"
KERNEL_PKG_VERSION_7_2="7.2.13-1"
# The Rust toolchain, pinned in rust-toolchain.toml at the top of the tree (the version
# the kernels, clippy and the host tests were last tested with).
RUST_TOOLCHAIN=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../rust-toolchain.toml")
export PATH="$HOME/.cargo/bin:$PATH"

die() { echo "ERROR: $*" >&2; exit 1; }

# kernel_pkg_version VERSION: the pinned Debian version of linux-source-VERSION.
kernel_pkg_version() {
	local var="KERNEL_PKG_VERSION_${1//./_}"
	echo "${!var:?no pinned package version for kernel $1 in scripts/lib.sh}"
}

# with_slot CMD...: runs CMD while holding one of KHO_RS_JOBS (default: the number of
# cores, at most 2) machine-wide slots, so that the QEMU guests of every test running at
# the same time (selftest boots, kunit.py) share the cores instead of overloading them.
# The slots are lock files under $KHO_RS_CACHE/slots; a slot is free again when CMD
# and everything it started have exited.
with_slot() {
	local dir="$KHO_RS_CACHE/slots" n=${KHO_RS_JOBS:-$(($(nproc) < 2 ? 1 : 2))} i fd rc
	mkdir -p "$dir"
	while :; do
		for ((i = 0; i < n; i++)); do
			exec {fd}>"$dir/slot$i"
			if flock -n "$fd"; then
				"$@"
				rc=$?
				exec {fd}>&-
				return $rc
			fi
			exec {fd}>&-
		done
		sleep 0.3
	done
}

# The kernel tree the scripts use: $KDIR if set, else the cached build of
# $KERNEL (7.3 or 7.2, default $DEFAULT_KERNEL), as in the Makefile.
default_kdir() {
	echo "${KDIR:-$KHO_RS_CACHE/kdir-${KERNEL:-$DEFAULT_KERNEL}}"
}

# Installs cargo-fuzz $CARGO_FUZZ_VERSION with `cargo install --locked` unless that version
# is already there (setup.sh's deps step and fuzz.sh both call this; idempotent).
ensure_cargo_fuzz() {
	if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" = "$CARGO_FUZZ_VERSION" ]; then
		echo "cargo-fuzz $CARGO_FUZZ_VERSION: present"
		return 0
	fi
	printf '\n==> %s\n' "cargo install --locked cargo-fuzz@$CARGO_FUZZ_VERSION"
	cargo install --locked "cargo-fuzz@$CARGO_FUZZ_VERSION"
}

# Directory of the PyPI libclang wheel's shared library, or empty.
libclang_dir() {
	python3 - <<'PY' 2>/dev/null
import importlib.util, os
spec = importlib.util.find_spec("clang")
if spec and spec.submodule_search_locations:
    d = os.path.join(list(spec.submodule_search_locations)[0], "native")
    if os.path.exists(os.path.join(d, "libclang.so")):
        print(d)
PY
}

# Writes $KHO_RS_CACHE/env.sh with LIBCLANG_PATH and PATH for kernel builds.
write_env() {
	mkdir -p "$KHO_RS_CACHE"
	cat >"$KHO_RS_CACHE/env.sh" <<ENV
export LIBCLANG_PATH="$(libclang_dir)"
export PATH="$HOME/.cargo/bin:\$PATH"
# Kernel builds run in the kernel tree, outside this one: pin their rustc too.
export RUSTUP_TOOLCHAIN="$RUST_TOOLCHAIN"
ENV
}

# Config fragments for kernel VERSION: kernel.config, plus kernel-VERSION.config
# where that version needs more, plus kernel-bench.config in the bench profile
# (KHO_RS_PROFILE=bench: no debug options, optimized for speed; see make bench).
kernel_fragments() {
	local top
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	echo "$top/kernel.config"
	[ ! -f "$top/kernel-$1.config" ] || echo "$top/kernel-$1.config"
	[ "${KHO_RS_PROFILE:-test}" != bench ] || echo "$top/kernel-bench.config"
}

# The cache's name for the built kernel VERSION of the current profile.
kdir_name() {
	if [ "${KHO_RS_PROFILE:-test}" = bench ]; then echo "kdir-bench-$1"; else echo "kdir-$1"; fi
}

# Cache key for a kernel build: kernel version + config fragments + rustc.
kernel_cache_key() {
	local src=$1 v=$2 ver
	ver=$(make -s -C "$src" kernelversion 2>/dev/null)
	# shellcheck disable=SC2046
	printf '%s-%s\n' "$ver" "$(cat $(kernel_fragments "$v") <(rustc --version) |
		sha256sum | cut -c1-12)"
}

# Accelerator for QEMU: "kvm" only if a probe boot under KVM has worked on this
# machine (cached), else "tcg". KHO_RS_ACCEL=tcg|kvm overrides.
qemu_accel() {
	if [ -n "${KHO_RS_ACCEL:-}" ]; then
		echo "$KHO_RS_ACCEL"
		return
	fi
	local f="$KHO_RS_CACHE/kvm-probe"
	mkdir -p "$KHO_RS_CACHE"
	# Boots start several at a time: one probes, the others wait for its answer.
	(
		flock 8
		if [ ! -f "$f" ]; then
			bash "$(dirname "${BASH_SOURCE[0]}")/kvm-probe.sh" >"$f.tmp" 2>/dev/null || echo tcg >"$f.tmp"
			mv "$f.tmp" "$f"
		fi
	) 8>"$f.lock"
	cat "$f"
}

# kernel_trouble LOG: prints what in a kernel log shows trouble: an oops, a BUG, a
# panic, a WARNING (lockdep's reports included), or a stack dump (hung task, RCU
# stall, ...) other than an allocation-failure report. warn_alloc() dumps the stack
# of a failed allocation without being a WARN; the fault-injection sweeps cause such
# failures on purpose. Prints nothing if there is none.
kernel_trouble() {
	local traces allocs
	grep -E "Oops|BUG:|Kernel panic|WARNING:" "$1" | head -5
	traces=$(grep -c "Call Trace:" "$1" || true)
	allocs=$(grep -c " warn_alloc+" "$1" || true)
	if [ "${traces:-0}" -gt "${allocs:-0}" ]; then
		echo "$((traces - allocs)) stack dump(s) other than allocation-failure reports"
	fi
}
