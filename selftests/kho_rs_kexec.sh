#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kho_rs kexec live-update selftest (kselftest style, TAP output).
#
# Boots the cached kernel under QEMU with the test initramfs, loads kho_rs.ko,
# kexecs into the same kernel with KHO, loads it again and checks the kernel
# log of both boots. Also reports upstream's built-in test_kho as a baseline.
# Exits non-zero if any case fails.
#
# Environment: KHO_RS_SELFTEST_ONLY=damage runs only the random-damage section
# (what `make stress` does); KHO_RS_DAMAGE_SEEDS (default 20), KHO_RS_DAMAGE_SEED
# (first seed; default from the clock, printed) and KHO_RS_DAMAGE_BYTES (bytes
# damaged per seed, default 1) drive it; KHO_RS_SKIP_1G=1 skips the 1 GiB case.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"
# shellcheck source=selftests/tap.sh
. "$here/tap.sh"
out="$top/out/selftest${KERNEL:+-$KERNEL}"
mkdir -p "$out"

# baseline LOG WHAT PATTERN: upstream's built-in test_kho is a baseline for the
# platform, not a kho_rs test: reported as a comment, never counted as a pass.
baseline() {
	if grep -q -- "$3" "$1"; then
		echo "# baseline (upstream test_kho, not counted): $2: yes"
	else
		echo "# baseline (upstream test_kho, not counted): $2: NO"
	fi
}

# boot NAME SCENARIO [QEMU_MEM]: run a scenario, log in $out/NAME.log.
boot() {
	local name=$1 scenario=$2
	bash "$top/scripts/initramfs.sh" "$out/$name.cpio" "$scenario" --with-kernel ||
		return 1
	QEMU_MEM=${3:-1G} bash "$top/scripts/qemu.sh" "$out/$name.cpio" "$out/$name.log" "${4:-}"
}

# The 4 GiB boots run without KASLR: with a randomly placed kernel, KHO could
# fail to reserve its scratch area at boot ("disabling kexec handover"), seen
# once in four runs of the 1 GiB case; that is the platform, not the module.
BIG_CMDLINE=nokaslr

make -C "$top" --no-print-directory modules >/dev/null || {
	echo "Bail out! kho_rs.ko does not build"
	exit 1
}
echo "TAP version 13"

only=${KHO_RS_SELFTEST_ONLY:-}
case $only in
"" | damage) ;;
*) echo "Bail out! KHO_RS_SELFTEST_ONLY=$only: only 'damage' is known"; exit 1 ;;
esac
small="folios=16 vmalloc_mib=8 block_entries=10000"

if [ "$only" != damage ]; then
# --- basic: load, kexec, load again; upstream test_kho as the baseline.
log="$out/basic.log"
boot basic "$here/scenarios/basic.sh"
ok $? "basic: QEMU ran to power-off (log $log)"
check "$log" "basic: module loads in the first kernel" "KHO_RS_STEP insmod-1 ok"
check "$log" "basic: first kernel reports KHO enabled, cold boot" \
	"kho_rs: loaded: KHO enabled, cold boot"
check "$log" "basic: module unloads in the first kernel" "KHO_RS_STEP rmmod-1 ok"
check "$log" "basic: kexec reached the second kernel" "kho-rs-init: stage 2"
check "$log" "basic: second kernel reports a KHO boot" "kho_rs: loaded: KHO enabled, KHO boot"
check "$log" "basic: module unloads in the second kernel" "KHO_RS_STEP rmmod-2 ok"
baseline "$log" "restore after kexec" "KHO restore succeeded"
no_oops "$log" basic

# --- workload: the default workload carried across kexec, verified byte for byte.
log="$out/workload.log"
boot workload "$here/scenarios/workload.sh"
ok $? "workload: QEMU ran to power-off (log $log)"
check "$log" "workload: first kernel preserved the workload" "KHO_RS_STEP preserve ok"
sed -n '/KHO_RS_BLOB_BEGIN/,/KHO_RS_BLOB_END/p' "$log" | sed '1d;$d' | tr -d '\r' |
	base64 -d >"$out/kho-rs.dtb" 2>/dev/null
if dtc -I dtb -O dts -o "$out/kho-rs.dts" "$out/kho-rs.dtb" 2>"$out/dtc.err" &&
	[ ! -s "$out/dtc.err" ] && grep -q 'compatible = "kho-rs-v1;block-v1;radix-v1;vmalloc-v1"' "$out/kho-rs.dts"; then
	ok 0 "workload: dtc decodes the registered blob without warnings"
else
	sed 's/^/# dtc: /' "$out/dtc.err" | head -5
	ok 1 "workload: dtc decodes the registered blob without warnings"
fi
check "$log" "workload: status file in the first kernel: role preserved" "KHO_RS_STATUS-1 role: preserved"
check "$log" "workload: status file counts 100000 preserved block entries" \
	"KHO_RS_STATUS-1 preserved.block: entries=100000 entry_size=32"
check "$log" "workload: status file reports the metadata pages and their share of the data" \
	"KHO_RS_STATUS-1 preserved.metadata: [0-9]* pages (radix nodes [1-9][0-9]*, vmalloc chunks 33, blocks 788, blob 1), [0-9]* bytes, [0-9]* ppm of"
check "$log" "workload: second kernel verified every byte (PASS)" "kho_rs: restore: PASS generation 1"
check "$log" "workload: status file in the second kernel: restored, PASS" \
	"KHO_RS_STATUS-2 restored.result: PASS (0 mismatches)"
check "$log" "workload: verify step succeeded" "KHO_RS_STEP verify ok"
check "$log" "workload: no claimed page left behind after verification" \
	"kho_rs: restore: no claimed pages left behind"
check "$log" "workload: module unloads after verification" "KHO_RS_STEP rmmod-2 ok"
mem_check "$log" "workload"
check "$log" "workload: status counts the claimed pages" "KHO_RS_STATUS-2 restored.claimed_pages: [1-9]"
# The first kernel counts what it preserved, the second what it claimed: equal.
preserved=$(sed -n 's/.*KHO_RS_STATUS-1 preserved.preserved_pages: \([0-9]*\).*/\1/p' "$log" | head -n 1)
claimed=$(sed -n 's/.*KHO_RS_STATUS-2 restored.claimed_pages: \([0-9]*\).*/\1/p' "$log" | head -n 1)
[ -n "$preserved" ] && [ "$preserved" = "$claimed" ]
ok $? "workload: the restore claimed every page the first kernel preserved (${claimed:-?} of ${preserved:-?})"
check "$log" "workload: a second load after the restore is refused" "KHO_RS_STEP second-load refused"
check "$log" "workload: ... saying the state was consumed" "restore blob: state already consumed"
baseline "$log" "workload boots" "KHO restore succeeded"
no_oops "$log" workload
grep -E "kho_rs: (workload|restore):" "$log" | sed 's/^\[ *[0-9.]*\] /# /'

# --- unload before kexec leaves nothing behind.
log="$out/unload.log"
boot unload "$here/scenarios/unload.sh"
ok $? "unload: QEMU ran to power-off (log $log)"
check "$log" "unload: subtree registered while loaded" "KHO_RS_STEP subtree present"
check "$log" "unload: rmmod removes the subtree from KHO debugfs" "KHO_RS_STEP subtree gone"
check "$log" "unload: module loads in the second kernel" "KHO_RS_STEP insmod-2 ok"
if grep -q "kho_rs: restore:" "$log"; then
	ok 1 "unload: second kernel finds nothing to restore"
else
	check "$log" "unload: second kernel finds nothing to restore" "kho_rs: loaded: KHO enabled, KHO boot"
fi
no_oops "$log" unload

# --- chain: the same data carried across 3 kexecs (generations 1 -> 2 -> 3).
cat >"$out/chain.sh" <<EOF
# Generated by selftests/kho_rs_kexec.sh: stages 1-3 preserve (re-preserve), kexec.
insmod /kho_rs.ko workload=1 chain=3 $small && echo "KHO_RS_STEP stage-\$stage ok" || echo "KHO_RS_STEP stage-\$stage FAIL"
[ "\$stage" -lt 4 ] && kexec_next
EOF
log="$out/chain.log"
boot chain "$out/chain.sh"
ok $? "chain: QEMU ran to power-off (log $log)"
for g in 1 2 3; do
	check "$log" "chain: generation $g verified after kexec $g" "kho_rs: restore: PASS generation $g:"
done
check "$log" "chain: last kernel loaded cleanly" "KHO_RS_STEP stage-4 ok"
no_oops "$log" chain

# reserved_check LOG NAME WANT: the rejection says how many of the state's
# preserved pages stay reserved. WANT=counted: claimed + reserved = what the blob
# declares, some reserved; WANT=unknown (the blob itself is rejected): the line
# says the number is unknown.
reserved_check() {
	local log=$1 name=$2 want=$3 line claimed left declared
	line=$(grep -o "restore: state rejected: .*" "$log" | head -n 1)
	if [ "$want" = unknown ]; then
		case $line in
		*"stay reserved (how many is unknown: the blob was rejected"*) ok 0 "$name: the log says the number of reserved pages is unknown (blob rejected)" ;;
		*) ok 1 "$name: the log says the number of reserved pages is unknown (blob rejected)" ;;
		esac
		return
	fi
	claimed=$(echo "$line" | sed -n 's/.*rejected: \([0-9]*\) pages claimed and freed; [0-9]* of the [0-9]* pages .* stay reserved.*/\1/p')
	left=$(echo "$line" | sed -n 's/.*freed; \([0-9]*\) of the .*/\1/p')
	declared=$(echo "$line" | sed -n 's/.* of the \([0-9]*\) pages the previous kernel preserved.*/\1/p')
	[ -n "$claimed" ] && [ -n "$left" ] && [ -n "$declared" ] &&
		[ "$left" -gt 0 ] && [ $((claimed + left)) = "$declared" ]
	ok $? "$name: the log says ${left:-?} of ${declared:-?} preserved pages stay reserved (${claimed:-?} claimed and freed)"
}

# --- corrupted input: the first kernel damages its own state on purpose; the
# second must reject it with the message specific to the damage, keep nothing
# it claimed, never WARN (panic_on_warn=1), and refuse a second load cleanly.
corrupt_case() {
	local mode=$1 name=$2 pattern=$3
	cat >"$out/corrupt-$mode.sh" <<EOF
# Generated by selftests/kho_rs_kexec.sh: damage $mode ($name).
case \$stage in
1) insmod /kho_rs.ko workload=1 corrupt=$mode $small && echo "KHO_RS_STEP preserve ok"; kexec_next ;;
2) echo "KHO_RS_MEM before \$(mem_used_kb)"
   insmod /kho_rs.ko workload=1 $small && echo "KHO_RS_STEP verify accepted" || echo "KHO_RS_STEP verify rejected"
   insmod /kho_rs.ko workload=1 $small && echo "KHO_RS_STEP second-load accepted" || echo "KHO_RS_STEP second-load refused"
   echo "KHO_RS_MEM after \$(mem_used_kb)"
   echo "KHO_RS_STEP alive" ;;
esac
EOF
	log="$out/corrupt-$mode.log"
	boot "corrupt-$mode" "$out/corrupt-$mode.sh"
	local rc=$?
	grep -q "KHO_RS_STEP verify rejected" "$log" && grep -q "KHO_RS_STEP alive" "$log" && [ $rc = 0 ]
	ok $? "corrupt $mode: $name: rejected, system alive"
	grep -qF -- "$pattern" "$log"
	ok $? "corrupt $mode: $name: the damage's own message ($pattern)"
	grep -q "kho_rs: restore: no claimed pages left behind" "$log" && ! grep -q "left behind (leak)" "$log"
	ok $? "corrupt $mode: $name: module's own count: no claimed page left behind"
	mem_check "$log" "corrupt $mode: $name"
	case $mode in
	2 | 9) reserved_check "$log" "corrupt $mode: $name" unknown ;;
	*) reserved_check "$log" "corrupt $mode: $name" counted ;;
	esac
	grep -q "KHO_RS_STEP second-load refused" "$log"
	ok $? "corrupt $mode: $name: a second load is refused cleanly"
	grep -E "kho_rs: .*(restore|incompatible|malformed|consumed)" "$log" | grep -v "restore: PASS" |
		head -3 | sed 's/^\[ *[0-9.]*\] /#   /'
	no_oops "$log" "corrupt $mode: $name"
}
corrupt_case 1 "wrong compat version of one component" "incompatible subtree: component 'vmalloc' has version v2, expected v1"
corrupt_case 2 "truncated blob" "malformed subtree: fdt: totalsize larger than blob"
corrupt_case 3 "chain loop in blocks" "restore block: block: chain has a loop"
corrupt_case 4 "chain loop in vmalloc chunks" "vmalloc restore: vmalloc: chunk chain has a loop"
corrupt_case 5 "pointer to unpreserved memory" "restore radix: radix: node page not preserved or reached twice"
# Case 5 must name the page: the first kernel printed the unpreserved root's address.
decoy=$(sed -n 's/.*workload: damage: radix root -> unpreserved page \(0x[0-9a-f]*\).*/\1/p' "$out/corrupt-5.log" | head -n 1)
grep -qF -- "node page not preserved or reached twice (${decoy:-MISSING})" "$out/corrupt-5.log"
ok $? "corrupt 5: the rejection names the unpreserved page (${decoy:-not printed})"
corrupt_case 6 "block count over capacity" "restore block: block: block count exceeds entries per block"
corrupt_case 7 "stray bit in a radix leaf (key of an unpreserved folio)" "restore folio: page not preserved by the previous kernel or claimed already"
corrupt_case 8 "vmalloc entry aliasing another preserved page (the next chunk)" "vmalloc restore: vmalloc: chunk not preserved by the previous kernel or claimed already"
corrupt_case 9 "generation u64::MAX (cannot be carried on)" "malformed subtree: subtree: generation out of range (0xffffffffffffffff)"
fi

# --- random damage: the first kernel publishes a small workload, then flips
# KHO_RS_DAMAGE_BYTES random bytes (chosen from the seed: a structure uniformly,
# then a page, then a byte) of its blob, radix nodes and leaves, vmalloc chunks
# or blocks. The second kernel must reject with an errno naming the structure,
# detect the damage in its byte-for-byte verification, or find it harmless; in
# every case stay alive, leave no claimed page behind, refuse a second load
# cleanly, and never WARN or oops. One boot pair per seed.
damage_seeds=${KHO_RS_DAMAGE_SEEDS:-20}
damage_bytes=${KHO_RS_DAMAGE_BYTES:-1}
damage_base=${KHO_RS_DAMAGE_SEED:-$(date +%s)$(printf '%03d' $((RANDOM % 1000)))}
declare -A dmg_rejected=() dmg_detected=() dmg_harmless=() dmg_failed=() dmg_by=()
dmg_seconds=0
# damage_case SEED [EXPECTED]: one boot pair; with EXPECTED (regression cases),
# the outcome line must also contain it.
damage_case() {
	local seed=$1 expected=${2:-} t0 name log rc line outcome what structure
	t0=$(date +%s.%N)
	name="damage-$seed"
	cat >"$out/$name.sh" <<EOF
# Generated by selftests/kho_rs_kexec.sh: random damage, seed $seed, $damage_bytes byte(s).
case \$stage in
1) insmod /kho_rs.ko workload=1 damage_seed=$seed damage_bytes=$damage_bytes $small && echo "KHO_RS_STEP preserve ok"; kexec_next ;;
2) echo "KHO_RS_MEM before \$(mem_used_kb)"
   if insmod /kho_rs.ko workload=1 damage_seed=$seed $small; then echo "KHO_RS_STEP verify accepted"; rmmod kho_rs; else echo "KHO_RS_STEP verify rejected"; fi
   if insmod /kho_rs.ko workload=1 $small; then echo "KHO_RS_STEP second-load accepted"; rmmod kho_rs; else echo "KHO_RS_STEP second-load refused"; fi
   echo "KHO_RS_MEM after \$(mem_used_kb)"
   echo "KHO_RS_STEP alive" ;;
esac
EOF
	log="$out/$name.log"
	boot "$name" "$out/$name.sh"
	rc=$?
	rm -f "$out/$name.cpio"
	grep -E "kho_rs: workload: damage seed" "$log" | sed 's/^\[ *[0-9.]*\] //; s/^/#   /'
	what=$(sed -n 's/.*kho_rs: workload: damage seed [0-9]*: \([a-z-]*\) page.*/\1/p' "$log" | sort -u | paste -sd+ -)
	[ "$(grep -c "kho_rs: workload: damage seed $seed:" "$log")" = "$damage_bytes" ] &&
		grep -q "KHO_RS_STEP preserve ok" "$log"
	ok $? "damage seed $seed: first kernel preserved the workload and damaged $damage_bytes byte(s) (${what:-none})"
	line=$(grep -m1 -o "kho_rs: damage outcome: .*" "$log" | tr -d '\r')
	outcome=$(echo "$line" | awk '{print $4}')
	structure=
	case $outcome in
	rejected)
		structure=$(echo "$line" | sed -n 's/.*rejected (\([a-z-]*\), errno -[1-9][0-9]*)$/\1/p')
		case $structure in
		blob-subtree | block | radix | vmalloc) grep -q "KHO_RS_STEP verify rejected" "$log" ;;
		*) false ;;
		esac
		;;
	detected)
		echo "$line" | grep -qE "detected \(verification found [1-9][0-9]* mismatches\)" &&
			grep -q "kho_rs: restore: FAIL" "$log" && grep -q "KHO_RS_STEP verify rejected" "$log"
		;;
	harmless)
		grep -q "kho_rs: restore: PASS generation" "$log" && grep -q "KHO_RS_STEP verify accepted" "$log"
		;;
	*) false ;;
	esac
	[ $? = 0 ] && case $line in *"$expected"*) true ;; *) false ;; esac
	ok $? "damage seed $seed: ${what:-?}: outcome ${line#kho_rs: damage outcome: }${expected:+ (expected: $expected)}"
	grep -E "kho_rs: .*(restore|incompatible|malformed)" "$log" | grep -vE "restore: (PASS|no claimed|state rejected)" |
		head -2 | sed 's/^\[ *[0-9.]*\] //; s/^/#   /'
	grep -q "KHO_RS_STEP alive" "$log" && [ "$rc" = 0 ]
	ok $? "damage seed $seed: system alive"
	grep -q "kho_rs: restore: no claimed pages left behind" "$log" && ! grep -q "left behind (leak)" "$log"
	ok $? "damage seed $seed: module's own count: no claimed page left behind"
	mem_check "$log" "damage seed $seed"
	grep -q "KHO_RS_STEP second-load accepted" "$log" ||
		{ grep -q "KHO_RS_STEP second-load refused" "$log" &&
			grep -q "restore blob: state already consumed" "$log"; }
	ok $? "damage seed $seed: a second load is refused cleanly (state already consumed)"
	no_oops "$log" "damage seed $seed"
	# One count per damaged structure: a seed that damaged several counts in each row.
	for what in $(echo "${what:-none}" | tr + ' '); do
		case $outcome in
		rejected)
			dmg_rejected[$what]=$((${dmg_rejected[$what]:-0} + 1))
			dmg_by[$what]="${dmg_by[$what]:-}${dmg_by[$what]:+,}$structure"
			;;
		detected) dmg_detected[$what]=$((${dmg_detected[$what]:-0} + 1)) ;;
		harmless) dmg_harmless[$what]=$((${dmg_harmless[$what]:-0} + 1)) ;;
		*) dmg_failed[$what]=$((${dmg_failed[$what]:-0} + 1)) ;;
		esac
	done
	dmg_seconds=$(echo "$dmg_seconds + $(date +%s.%N) - $t0" | bc)
}
if [ "$damage_seeds" -gt 0 ]; then
	echo "# random damage: $damage_seeds seeds from $damage_base, $damage_bytes byte(s) each;" \
		"reproduce one with KHO_RS_DAMAGE_SEED=<seed> KHO_RS_DAMAGE_BYTES=$damage_bytes make stress SEEDS=1"
	for ((i = 0; i < damage_seeds; i++)); do
		damage_case $((damage_base + i))
	done
	echo "# random damage report: $damage_seeds seeds from $damage_base, $damage_bytes byte(s) each," \
		"$(echo "scale=1; $dmg_seconds / $damage_seeds" | bc) s per seed; seeds per damaged structure" \
		"(a seed that damaged several structures counts in each of their rows):"
	for what in $(printf '%s\n' "${!dmg_rejected[@]}" "${!dmg_detected[@]}" "${!dmg_harmless[@]}" "${!dmg_failed[@]}" | sort -u); do
		by=$(printf '%s\n' "${dmg_by[$what]:-}" | tr , '\n' | sed '/^$/d' | sort | uniq -c |
			awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}')
		printf '#   %-16s rejected %3d  detected %3d  harmless %3d  no outcome %3d%s\n' "$what" \
			"${dmg_rejected[$what]:-0}" "${dmg_detected[$what]:-0}" "${dmg_harmless[$what]:-0}" \
			"${dmg_failed[$what]:-0}" "${by:+  (rejected by: $by)}"
	done
fi
# Regressions: fixed seeds (1 byte each, the small workload) whose damage once
# found a bug; each must end in the outcome given. Seeds that hit the blob, a
# vmalloc chunk or a block damage the same byte on every boot.
damage_bytes=1
# The high byte of vmalloc total_pages in the blob (0x800 -> 0xdb000800 pages):
# the page list was preallocated from it, kvmalloc() > INT_MAX WARNed. The host
# test pinned_seed_hits_the_high_byte_of_total_pages keeps the seed on that byte.
damage_case 1057 "rejected (vmalloc, errno -22)"
# A byte of a filler record's unused pa field (block entry 15): the
# verification checked only kind and sum, so the damage passed as harmless.
damage_case 1003 "detected (verification found 1 mismatches)"

if [ "$only" != damage ]; then

# --- claim: the KUnit suite kho_rs_kexec_claim needs pages KHO really marked, so
# it runs here: the first kernel preserves its fixture, the second runs only
# that suite at insmod, and kunit.py parse judges the KTAP.
cat >"$out/claim.sh" <<'EOF'
# Generated by selftests/kho_rs_kexec.sh: the kho_rs_kexec_claim KUnit suite.
case $stage in
1) insmod /kho_rs.ko claim_prep=1 && echo "KHO_RS_STEP fixture ok"
   kexec_next "kunit.enable=1 kunit.filter_glob=kho_rs_kexec_claim" ;;
2) echo "KHO_RS_KTAP_BEGIN" >/dev/kmsg
   insmod /kho_rs.ko && echo "KHO_RS_STEP insmod-2 ok"
   rmmod kho_rs ;;
esac
EOF
log="$out/claim.log"
boot claim "$out/claim.sh"
ok $? "claim: QEMU ran to power-off (log $log)"
check "$log" "claim: fixture preserved in the first kernel" "KHO_RS_STEP fixture ok"
kdir_src=$(cd "${KDIR:-$KHO_RS_CACHE/kdir}" && pwd -P)
[ -e "$kdir_src/source" ] && kdir_src=$(cd "$kdir_src/source" && pwd -P)
sed -n '/KHO_RS_KTAP_BEGIN/,$p' "$log" | sed 1d >"$out/claim.ktap"
if python3 "$kdir_src/tools/testing/kunit/kunit.py" parse "$out/claim.ktap" >"$out/claim.parse" 2>&1 &&
	grep -q "Ran 1 test.*passed: 1" "$out/claim.parse"; then
	ok 0 "claim: KUnit kho_rs_kexec_claim passed (mark layout, wrong order refused, claim, consumed page refused, 2^k accounting)"
else
	grep -E "ASSERTION|FAILED|Ran|ERROR|kho_rs_kexec_claim:" "$out/claim.parse" | head -5 | sed 's/^/# /'
	ok 1 "claim: KUnit kho_rs_kexec_claim passed"
fi
no_oops "$log" claim

# --- vmalloc exchange: Rust and C each restore what the other preserved.
log="$out/vmx.log"
boot vmx "$here/scenarios/vmx.sh" 4G "$BIG_CMDLINE"
ok $? "vmx: QEMU ran to power-off (log $log)"
for mib in 1 16 256; do
	check "$log" "vmx: C kho_restore_vmalloc accepts the Rust-written $mib MiB descriptor" \
		"vmx: $mib MiB: C restored the Rust-written descriptor"
done
check "$log" "vmx: C kho_restore_vmalloc accepts the Rust-written 4 MiB vmalloc_huge() descriptor (2 MiB blocks)" \
	"vmx: 4 MiB huge: C restored the Rust-written descriptor"
check "$log" "vmx: every area restored by the other implementation, every byte verified" \
	"kho_rs: vmx: PASS"
no_oops "$log" vmx
grep -E "kho_rs: (bench: vmalloc restore|vmx: [0-9])" "$log" | sed 's/^\[ *[0-9.]*\] /# /'

# --- block exchange: upstream's kho_block.c (the oracle compiled into kho_rs.ko)
# and Rust each restore the chains the other wrote before the kexec.
log="$out/blockx.log"
boot blockx "$here/scenarios/blockx.sh"
ok $? "blockx: QEMU ran to power-off (log $log)"
check "$log" "blockx: first kernel preserved C-written and Rust-written chains" \
	"KHO_RS_STEP blockx-preserve ok"
for size in 8 32 64 4080; do
	check "$log" "blockx: Rust restores the C-written chain of $size-byte entries, every entry verified, every block claimed and freed" \
		"kho_rs: blockx: C->Rust $size: Rust restored the C-written chain"
	check "$log" "blockx: C kho_block_set_restore restores the Rust-written chain of $size-byte entries, every entry verified, every block restored and freed" \
		"kho_rs: blockx: Rust->C $size: C kho_block_set_restore restored the Rust-written chain"
done
check "$log" "blockx: no block left claimed or preserved" "kho_rs: blockx: PASS"
check "$log" "blockx: module unloads after the exchange" "KHO_RS_STEP rmmod-2 ok"
# No mem_check here: the chains are 24 pages (96 kB), far below its 1 MiB tolerance,
# while module unload noise sometimes exceeds it. The module's own counts (pages
# claimed and freed, C's kho_restore_free() calls, KHO's mark) are exact.
no_oops "$log" blockx
# As TAP comments, whether or not the console lines carry printk timestamps.
grep -E "kho_rs: blockx: (C->Rust|Rust->C|FAIL)" "$log" | sed -e 's/^\[ *[0-9.]*\] //' -e 's/^/# /'

# --- 1 GiB workload (QEMU gets 4 GiB).
if [ "${KHO_RS_SKIP_1G:-0}" != 1 ]; then
	# A vmalloc_huge() area, preserved in 2 MiB blocks, and only the records the data
	# needs (block_entries=0: one per folio and per MiB): the metadata's share at scale.
	cat >"$out/big.sh" <<'EOF'
# Generated by selftests/kho_rs_kexec.sh: a 1 GiB vmalloc workload.
args="workload=1 vmalloc_mib=1024 vmalloc_huge=1 block_entries=0"
case $stage in
1) insmod /kho_rs.ko $args && echo "KHO_RS_STEP preserve ok"
   sed 's/^/KHO_RS_STATUS-1 /' /sys/kernel/debug/kho_rs/status; kexec_next ;;
2) insmod /kho_rs.ko $args && echo "KHO_RS_STEP verify ok"; rmmod kho_rs ;;
esac
EOF
	log="$out/big.log"
	boot big "$out/big.sh" 4G "$BIG_CMDLINE"
	ok $? "1GiB: QEMU ran to power-off (log $log)"
	check "$log" "1GiB: the area is preserved in 2 MiB blocks (order 9)" \
		"kho_rs: workload: preserved generation 1: 64 folios in the radix tree, 1024 MiB vmalloc in order-9 blocks, 1088 block entries (9 blocks)"
	# 512 blocks: a full chunk of 511 and one more; 1088 records of 32 bytes, 127 a block.
	check "$log" "1GiB: metadata: 2 vmalloc chunks, 9 blocks, 1 blob page" \
		"KHO_RS_STATUS-1 preserved.metadata: [0-9]* pages (radix nodes [1-9][0-9]*, vmalloc chunks 2, blocks 9, blob 1), [0-9]* bytes, [0-9]* ppm of"
	check "$log" "1GiB: 1024 MiB vmalloc workload verified after kexec" \
		"kho_rs: restore: PASS generation 1: 64 folios, 1024 MiB vmalloc"
	check "$log" "1GiB: no claimed page left behind" "kho_rs: restore: no claimed pages left behind"
	no_oops "$log" 1GiB
	grep -E "kho_rs: (workload|restore):" "$log" | sed 's/^\[ *[0-9.]*\] /# /'
fi
fi

tap_end
