#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# setup.sh - install everything kho-rs needs and build (or reuse) the cached
# Rust+KHO kernel.  Idempotent: every step checks before it acts, so it is safe
# to re-run.  Prints what it does.
#
# Usage: scripts/setup.sh [deps|kernel|all] [VERSION...]   (default: all 7.3)
#   VERSION                    7.3 and/or 7.2: which kernels to fetch and build
#   KHO_RS_USER_KDIR=/path     a built tree the user passed (make KDIR=...):
#                              skip the kernel download and build entirely
#   KHO_RS_PROFILE=bench       the bench kernel (kernel-bench.config on top: no
#                              debug options, -O2) as kdir-bench-<VERSION>
#   KHO_RS_BUILD_JOBS=N        make -jN for the kernel (default: every core)
#
# Kernel cache ($KHO_RS_CACHE, default ~/.cache/kho-rs):
#   src/<VERSION>/             unpacked linux-source-<VERSION> (.unpacked marks it complete)
#   build/<kver>-<hash>/       O= build; .kho-rs-built is written only after a full build,
#                              a directory without it is a half-built leftover and is redone
#   kdir-<VERSION>             symlink to the finished build of that version
#   kdir-bench-<VERSION>       the same for the bench profile
#   kdir                       symlink to kdir-7.3 (the default kernel)
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
device-tree-compiler make gcc g++ libc6-dev python3 xz-utils dwarves kmod rsync file
patch perl"

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

# The toolchain of rust-toolchain.toml ($RUST_TOOLCHAIN). Where rustup's own stable
# toolchain is that very version (as on this project's machines), it is linked under the
# pinned name instead of downloaded again; otherwise rustup installs it.
ensure_toolchain() {
	if rustup toolchain list 2>/dev/null | grep -q "^$RUST_TOOLCHAIN-"; then
		echo "Rust toolchain $RUST_TOOLCHAIN: present"
	else
		local stable
		stable=$(cd / && rustup run stable rustc --version 2>/dev/null | awk '{print $2}')
		if [ "$stable" = "$RUST_TOOLCHAIN" ]; then
			step "rustup: the stable toolchain is $RUST_TOOLCHAIN; linking it under that name"
			local home=${RUSTUP_HOME:-$HOME/.rustup} triple
			triple=$(cd / && rustup run stable rustc -vV | sed -n 's/^host: //p')
			ln -sfn "$home/toolchains/stable-$triple" "$home/toolchains/$RUST_TOOLCHAIN-$triple"
		else
			step "rustup toolchain install $RUST_TOOLCHAIN (stable is ${stable:-missing})"
			(cd / && rustup toolchain install "$RUST_TOOLCHAIN" --profile minimal)
		fi
	fi
	local c
	for c in rust-src rustfmt clippy; do
		if ! (cd / && rustup component list --toolchain "$RUST_TOOLCHAIN" --installed 2>/dev/null) |
			grep -q "^$c"; then
			step "rustup component add --toolchain $RUST_TOOLCHAIN $c"
			(cd / && rustup component add --toolchain "$RUST_TOOLCHAIN" "$c")
		fi
	done
	local got
	got=$(cd "$top" && rustc --version | awk '{print $2}')
	[ "$got" = "$RUST_TOOLCHAIN" ] ||
		die "rustc in the tree is $got, rust-toolchain.toml pins $RUST_TOOLCHAIN"
	echo "rustc $got (pinned by rust-toolchain.toml)"
}

install_rust() {
	if ! command -v rustup >/dev/null; then
		die "rustup not found: install rustup (https://rustup.rs) first; the toolchain itself is pinned by rust-toolchain.toml"
	fi
	ensure_toolchain
	# cargo install runs outside the tree, with the pinned toolchain.
	if [ "$(bindgen --version 2>/dev/null | awk '{print $2}')" != "$BINDGEN_VERSION" ]; then
		step "cargo install --locked bindgen-cli@$BINDGEN_VERSION"
		(cd / && RUSTUP_TOOLCHAIN=$RUST_TOOLCHAIN cargo install --locked "bindgen-cli@$BINDGEN_VERSION")
	else
		echo "bindgen $BINDGEN_VERSION: present"
	fi
	# libFuzzer for the host fuzz targets (its C++ part is built with g++).
	ensure_cargo_fuzz
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
	if [ -f "$EXTRA_SOURCES" ] && apt-cache show linux-source-7.3 linux-source-7.2 >/dev/null 2>&1; then
		return 0
	fi
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

# fetch_kernel_source VERSION: $KHO_RS_CACHE/src/VERSION, unpacked once.
fetch_kernel_source() {
	local v=$1 src="$KHO_RS_CACHE/src/$1" deb="$KHO_RS_CACHE/deb/$1" pkg ver tarball pin
	pkg=linux-source-$v
	pin=$(kernel_pkg_version "$v")
	if [ -f "$src/.unpacked" ] && [ "$(cat "$src/.unpacked")" = "$pkg $pin" ]; then
		echo "kernel source $v: $pkg $pin"
		return
	fi
	[ ! -f "$src/.unpacked" ] || echo "kernel source $v: cached $(cat "$src/.unpacked"), pinned $pin: fetching the pin"
	add_extra_suites
	apt-cache madison "$pkg" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep -qxF "$pin" ||
		die "$pkg $pin (pinned in scripts/lib.sh) is not offered by the configured suites; offered: $(apt-cache madison "$pkg" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); printf "%s ", $2}')"
	rm -rf "$deb" "$src"
	mkdir -p "$deb" "$src"
	step "apt-get download $pkg=$pin"
	(cd "$deb" && apt-get download "$pkg=$pin")
	ver=$(dpkg-deb -f "$deb"/*.deb Version)
	[ "$ver" = "$pin" ] || die "downloaded $pkg $ver, pinned $pin"
	step "unpacking $pkg $ver"
	dpkg-deb -x "$deb"/*.deb "$deb/x"
	tarball=$(find "$deb/x/usr/src" -maxdepth 1 -name 'linux-source-*.tar.*' | head -n 1)
	[ -n "$tarball" ] || die "no tarball inside $pkg"
	tar -xf "$tarball" -C "$src" --strip-components=1
	rm -rf "$deb"
	echo "$pkg $ver" >"$src/.unpacked"
}

# ---------------------------------------------------------------- kernel build
# build_kernel VERSION: tinyconfig + kernel.config (+ kernel-VERSION.config if
# present), every requested option checked, cached by key. The "built" marker
# is written last, so an interrupted build is never taken for a finished one.
build_kernel() {
	local v=$1 src="$KHO_RS_CACHE/src/$1" key out t0
	key=$(kernel_cache_key "$src" "$v")
	out="$KHO_RS_CACHE/build/$key"
	if [ -f "$out/.kho-rs-built" ]; then
		echo "kernel $v: cached build $out"
	else
		if [ -d "$out" ]; then
			echo "kernel $v: removing half-built $out (no .kho-rs-built marker)"
		fi
		step "building kernel $v in $out (first time: ~7 min on 2 cores)"
		t0=$(date +%s)
		rm -rf "$out"
		mkdir -p "$out"
		make -s -C "$src" O="$out" LLVM= tinyconfig >/dev/null
		# shellcheck disable=SC2046
		"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
			$(kernel_fragments "$v") >/dev/null
		make -s -C "$src" O="$out" olddefconfig
		check_config "$out/.config" $(kernel_fragments "$v")
		make -s -C "$src" O="$out" -j"${KHO_RS_BUILD_JOBS:-$(nproc)}" bzImage modules
		echo "kernel $v: built in $(($(date +%s) - t0)) s"
		touch "$out/.kho-rs-built"
	fi
	ln -sfn "build/$key" "$KHO_RS_CACHE/$(kdir_name "$v")"
	if [ "$v" = "$DEFAULT_KERNEL" ] && [ "${KHO_RS_PROFILE:-test}" = test ]; then
		ln -sfn "kdir-$v" "$KHO_RS_CACHE/kdir"
	fi
}

# check_config CONFIG FRAGMENT...: every option the fragments set (=y) or unset
# ("is not set") is so in CONFIG; where several fragments name an option, the last
# one's word counts, as in merge_config.sh.
check_config() {
	local cfg=$1 opt want bad=0
	shift
	while read -r opt want; do
		if [ "$want" = y ] && ! grep -qx "$opt=y" "$cfg"; then
			echo "ERROR: $opt=y requested by the config fragments but missing after olddefconfig" >&2
			bad=1
		elif [ "$want" = n ] && grep -q "^$opt=" "$cfg"; then
			echo "ERROR: $opt requested off by the config fragments but set after olddefconfig" >&2
			bad=1
		fi
	done < <(cat "$@" | sed -n -e 's/^\(CONFIG_[A-Z0-9_]*\)=y$/\1 y/p' \
		-e 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1 n/p' |
		awk '{want[$1] = $2; if (!($1 in seen)) {seen[$1] = 1; order[++n] = $1}}
			END {for (i = 1; i <= n; i++) print order[i], want[order[i]]}')
	[ $bad = 0 ] || die "kernel config is missing required options (see above)"
	echo "kernel config: all required options present"
}

main() {
	local what=${1:-all} v
	case $what in deps | kernel | all) ;; *) die "usage: $0 [deps|kernel|all] [VERSION...]" ;; esac
	shift || true
	local versions=("$@")
	[ ${#versions[@]} -gt 0 ] || versions=("$DEFAULT_KERNEL")
	for v in "${versions[@]}"; do
		case " $SUPPORTED_KERNELS " in *" $v "*) ;; *) die "unsupported kernel '$v' (supported: $SUPPORTED_KERNELS)" ;; esac
	done
	if [ "$what" != kernel ]; then
		install_apt
		install_rust
		install_libclang
		write_env
	fi
	[ "$what" = deps ] && return
	if [ -n "${KHO_RS_USER_KDIR:-}" ]; then
		echo "KDIR=$KHO_RS_USER_KDIR given: not downloading or building a kernel"
		return
	fi
	# shellcheck disable=SC1091
	. "$KHO_RS_CACHE/env.sh"
	mkdir -p "$KHO_RS_CACHE"
	# One setup at a time per cache: a second one waits instead of racing.
	exec 9>"$KHO_RS_CACHE/.setup.lock"
	flock 9
	for v in "${versions[@]}"; do
		fetch_kernel_source "$v"
		(cd "$KHO_RS_CACHE/src/$v" && make -s rustavailable) || die "make rustavailable failed ($v)"
		build_kernel "$v"
		echo "kernel tree $v ready: $KHO_RS_CACHE/$(kdir_name "$v") -> $(readlink "$KHO_RS_CACHE/$(kdir_name "$v")")"
	done
}

main "$@"
