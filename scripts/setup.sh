#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# setup.sh - install everything kho-rs needs and build (or reuse) the cached
# Rust+KHO kernel.  Idempotent: every step checks before it acts, so it is safe
# to re-run.  Prints what it does.
#
# Usage: scripts/setup.sh [deps|kernel|all]      (default: all)
#   KDIR=/path/to/built/tree   skip the kernel download and build entirely
#
# Environment written for the other scripts: $KHO_RS_CACHE/env.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

step() { printf '\n==> %s\n' "$*"; }

# ---------------------------------------------------------------- packages
APT_PKGS="flex bison bc libelf-dev libssl-dev cpio qemu-system-x86 busybox-static
device-tree-compiler make gcc libc6-dev python3 xz-utils dwarves kmod rsync file"

need_apt() {
	local p missing=""
	for p in $APT_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing="$missing $p"
	done
	echo "$missing"
}

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_apt() {
	local missing
	missing=$(need_apt)
	if [ -z "$missing" ]; then
		echo "Debian packages: all present"
		return
	fi
	step "apt-get install:$missing"
	sudo_ apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq --no-install-recommends $missing
}

install_rust() {
	if ! command -v rustup >/dev/null; then
		die "rustup not found: install a rustup Rust toolchain (stable >= 1.85) first"
	fi
	if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
		step "rustup component add rust-src"
		rustup component add rust-src
	else
		echo "rust-src: present"
	fi
	if [ "$(bindgen --version 2>/dev/null | awk '{print $2}')" != "$BINDGEN_VERSION" ]; then
		step "cargo install --locked bindgen-cli@$BINDGEN_VERSION"
		cargo install --locked "bindgen-cli@$BINDGEN_VERSION"
	else
		echo "bindgen $BINDGEN_VERSION: present"
	fi
}

install_libclang() {
	if [ -n "$(libclang_dir)" ]; then
		echo "libclang: $(libclang_dir)"
		return
	fi
	step "pip install libclang==$LIBCLANG_VERSION"
	python3 -m pip install --quiet --disable-pip-version-check "libclang==$LIBCLANG_VERSION" ||
		python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
			"libclang==$LIBCLANG_VERSION"
	[ -n "$(libclang_dir)" ] || die "libclang wheel installed but clang/native not found"
}

# ---------------------------------------------------------------- kernel source
# Adds the suites that carry linux-source-7.x in a sources file of its own,
# reusing the URIs of the machine's own Debian sources, pinned so that nothing
# is ever installed from them (we only 'apt-get download').
EXTRA_SOURCES=/etc/apt/sources.list.d/kho-rs-extra.sources
EXTRA_PREFS=/etc/apt/preferences.d/kho-rs-extra

add_extra_suites() {
	[ -f "$EXTRA_SOURCES" ] && return 0
	local base=/etc/apt/sources.list.d/debian.sources uri
	[ -f "$base" ] || die "$base not found: pass KDIR= to a built kernel tree instead"
	uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$base")
	[ -n "$uri" ] || die "no URIs: line in $base"
	step "adding suites trixie-backports and sid (download only) in $EXTRA_SOURCES"
	sudo_ tee "$EXTRA_SOURCES" >/dev/null <<SRC
# Added by kho-rs scripts/setup.sh: only used to 'apt-get download' linux-source-7.x.
Types: deb
URIs: $uri
Suites: trixie-backports sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	sudo_ tee "$EXTRA_PREFS" >/dev/null <<PREF
# Added by kho-rs scripts/setup.sh: never install from these suites.
Package: *
Pin: release n=trixie-backports
Pin-Priority: 1

Package: *
Pin: release n=sid
Pin-Priority: 1
PREF
	sudo_ apt-get update -qq
}

fetch_kernel_source() {
	if [ -f "$KHO_RS_CACHE/src/.unpacked" ]; then
		echo "kernel source: $(cat "$KHO_RS_CACHE/src/.unpacked")"
		return
	fi
	add_extra_suites
	local pkg ver
	pkg=linux-source-7.3
	if ! apt-cache show "$pkg" >/dev/null 2>&1; then
		pkg=$(apt-cache pkgnames linux-source-7. 2>/dev/null | sort -V | tail -n 1)
		[ -n "$pkg" ] || die "no linux-source-7.x package offered by the configured suites"
		echo "NOTE: linux-source-7.3 is not offered any more; falling back to $pkg"
	fi
	mkdir -p "$KHO_RS_CACHE/deb" "$KHO_RS_CACHE/src"
	step "apt-get download $pkg"
	(cd "$KHO_RS_CACHE/deb" && rm -f ./*.deb && apt-get download "$pkg")
	ver=$(dpkg-deb -f "$KHO_RS_CACHE"/deb/*.deb Version)
	step "unpacking $pkg $ver"
	rm -rf "$KHO_RS_CACHE/deb/x"
	dpkg-deb -x "$KHO_RS_CACHE"/deb/*.deb "$KHO_RS_CACHE/deb/x"
	local tarball
	tarball=$(find "$KHO_RS_CACHE/deb/x/usr/src" -maxdepth 1 -name 'linux-source-*.tar.*' | head -n 1)
	[ -n "$tarball" ] || die "no tarball inside $pkg"
	rm -rf "$KHO_RS_CACHE/src"
	mkdir -p "$KHO_RS_CACHE/src"
	tar -xf "$tarball" -C "$KHO_RS_CACHE/src" --strip-components=1
	rm -rf "$KHO_RS_CACHE/deb/x"
	echo "$pkg $ver" >"$KHO_RS_CACHE/src/.unpacked"
}

# ---------------------------------------------------------------- kernel build
build_kernel() {
	local src="$KHO_RS_CACHE/src" key out
	key=$(kernel_cache_key "$src")
	out="$KHO_RS_CACHE/build/$key"
	if [ -f "$out/.kho-rs-built" ]; then
		echo "kernel: cached build $out"
	else
		step "building kernel in $out (first time: ~5 min on 2 cores)"
		rm -rf "$out"
		mkdir -p "$out"
		make -s -C "$src" O="$out" LLVM= tinyconfig >/dev/null
		"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
			"$top/kernel.config" >/dev/null
		make -s -C "$src" O="$out" olddefconfig
		check_config "$out/.config"
		make -s -C "$src" O="$out" -j"$(nproc)" bzImage modules
		touch "$out/.kho-rs-built"
	fi
	ln -sfn "$out" "$KHO_RS_CACHE/kdir"
}

check_config() {
	local cfg=$1 opt bad=0
	for opt in $(grep -E '^CONFIG_[A-Z0-9_]+=y' "$top/kernel.config" | cut -d= -f1); do
		if ! grep -qx "$opt=y" "$cfg"; then
			echo "ERROR: $opt=y requested by kernel.config but missing after olddefconfig" >&2
			bad=1
		fi
	done
	[ $bad = 0 ] || die "kernel config is missing required options (see above)"
	echo "kernel config: all required options present"
}

main() {
	local what=${1:-all}
	case $what in deps | kernel | all) ;; *) die "usage: $0 [deps|kernel|all]" ;; esac
	install_apt
	install_rust
	install_libclang
	write_env
	[ "$what" = deps ] && return
	if [ -n "${KDIR:-}" ]; then
		echo "KDIR=$KDIR given: not downloading or building a kernel"
		return
	fi
	fetch_kernel_source
	# shellcheck disable=SC1091
	. "$KHO_RS_CACHE/env.sh"
	(cd "$KHO_RS_CACHE/src" && make -s rustavailable) || die "make rustavailable failed"
	build_kernel
	echo
	echo "kernel tree ready: $KHO_RS_CACHE/kdir -> $(readlink "$KHO_RS_CACHE/kdir")"
}

main "$@"
