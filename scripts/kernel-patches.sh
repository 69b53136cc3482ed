#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kernel-patches.sh: tests the kernel patches of patches/kernel/ (TAP).
#
#   - every patch applies, in order, to the cached sources of each supported
#     kernel (7.3.4 and 7.2.13);
#   - scripts/checkpatch.pl --strict finds nothing in any of them, except the two
#     things only their submitter can settle: the Signed-off-by (a developer's
#     own certificate of origin) and a MAINTAINERS line for a new file (covered
#     by kexec handover's "F: kernel/liveupdate/kexec_handover*");
#   - a 7.3.4 kernel with every patch applied builds, and its KUnit suite
#     kexec_handover (0002: kho_try_restore_pages()) passes under kunit.py,
#     with panic_on_warn=1.
#
# The patched source and its build are cached in $KHO_RS_CACHE/patched/, keyed by
# the patches' contents, and reused between runs. Drafts (patches/kernel/draft/)
# are not applied.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"
# shellcheck source=selftests/tap.sh
. "$top/selftests/tap.sh"

patches=("$top"/patches/kernel/*.patch)
versions=(7.3 7.2)
tap_plan $((${#versions[@]} + ${#patches[@]} + 2))

key=$(cat "${patches[@]}" "$top/kunit/kexec_handover.kunitconfig" "$top/kunit/qemu_x86_64_plain.py" |
	sha256sum | cut -c1-12)
for v in "${versions[@]}"; do
	src="$KHO_RS_CACHE/src/$v"
	if [ ! -f "$src/.unpacked" ]; then
		ok 1 "patches apply to $v (no cached source: scripts/setup.sh kernel $v first)"
		continue
	fi
	bad=
	tmp=$(mktemp -d)
	# A throwaway copy of the files the patches touch, patched in order.
	for p in "${patches[@]}"; do
		sed -n 's|^+++ b/||p' "$p" |
			while read -r f; do
				[ -e "$src/$f" ] && mkdir -p "$tmp/$(dirname "$f")" && cp "$src/$f" "$tmp/$f"
			done
	done
	for p in "${patches[@]}"; do
		(cd "$tmp" && patch -p1 -s --dry-run <"$p" >/dev/null && patch -p1 -s <"$p" >/dev/null) ||
			bad="$bad $(basename "$p")"
	done
	rm -rf "$tmp"
	[ -z "$bad" ]
	ok $? "every patch applies, in order, to $(cat "$src/.unpacked" | awk '{print $2}')${bad:+ (fails:$bad)}"
done

src73="$KHO_RS_CACHE/src/7.3"
for p in "${patches[@]}"; do
	out=$(perl "$src73/scripts/checkpatch.pl" --strict --no-tree --ignore MISSING_SIGN_OFF,FILE_PATH_CHANGES "$p" 2>&1)
	echo "$out" | grep -qE '^total: 0 errors, 0 warnings, 0 checks'
	rc=$?
	[ $rc = 0 ] || echo "$out" | grep -E '^(ERROR|WARNING|CHECK)' | head -5 | sed 's/^/# /'
	ok $rc "checkpatch --strict: $(basename "$p")"
done

dir="$KHO_RS_CACHE/patched/7.3-$key"
if [ ! -f "$dir/.applied" ]; then
	rm -rf "$KHO_RS_CACHE/patched"
	mkdir -p "$dir"
	echo "# kernel-patches: copying $src73 to $dir/src and applying the patches"
	cp -a "$src73" "$dir/src" && rm -f "$dir/src/.unpacked"
	applied=1
	for p in "${patches[@]}"; do
		(cd "$dir/src" && patch -p1 -s <"$p") || applied=0
	done
	[ $applied = 1 ] && date >"$dir/.applied"
fi
bin=$(mktemp -d)
ln -s "$top/kunit/qemu-wrapper.sh" "$bin/qemu-system-x86_64-plain"
KHO_RS_ACCEL=$(qemu_accel)
export KHO_RS_ACCEL
# Without a console log to write, the wrapper only drops "-accel kvm".
unset KHO_RS_KUNIT_LOG
cp "$top/kunit/qemu_x86_64_plain.py" "$dir/src/tools/testing/kunit/qemu_configs/kho_rs_plain.py"
log="$dir/kunit.log"
echo "# kernel-patches: kunit.py run (build: $dir/build; log $log)"
(cd "$dir/src" && PATH="$bin:$PATH" python3 tools/testing/kunit/kunit.py run \
	--build_dir "$dir/build" --kunitconfig "$top/kunit/kexec_handover.kunitconfig" \
	--qemu_config tools/testing/kunit/qemu_configs/kho_rs_plain.py \
	--jobs "$(nproc)" --timeout 900 'kexec_handover') >"$log" 2>&1
rc=$?
rm -rf "$bin"
grep -E '\[(PASSED|FAILED|CRASHED|SKIPPED)\]|Testing complete' "$log" | sed 's/^/# /'
[ $rc = 0 ] && [ -f "$dir/build/vmlinux" ]
ok $? "7.3.4 with every patch applied builds (kunit.py, log $log)"
grep -qE 'Testing complete\. Ran [1-9][0-9]* tests: passed: [1-9][0-9]*$' "$log" &&
	grep -q 'PASSED\] kexec_handover' "$log" && ! kernel_trouble "$log" | grep -q .
ok $? "KUnit suite kexec_handover (kho_try_restore_pages()) passes, no WARN"
tap_end
