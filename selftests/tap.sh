# SPDX-License-Identifier: GPL-2.0
# TAP helpers shared by the kho-rs selftests (sourced, not run). The sourcing
# script sets $out and $top, sources scripts/lib.sh, and calls tap_plan with the
# number of cases it will run before the first case.

n=0
pass=0
fail=0
planned=

# tap_plan N: the TAP header and the plan, printed before any case runs. tap_end
# fails the run if a different number of cases ran (a section that stopped early
# or lost a case cannot pass unseen).
tap_plan() {
	planned=$1
	echo "TAP version 13"
	echo "1..$planned"
}

# ok STATUS DESC: one TAP line, passing if STATUS is 0.
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		pass=$((pass + 1))
		echo "ok $n - $2"
	else
		fail=$((fail + 1))
		echo "not ok $n - $2"
	fi
}

# check LOG DESC GREP-PATTERN: one TAP line, passing if the pattern is in LOG.
check() {
	grep -q -- "$3" "$1"
	ok $? "$2"
}

# no_oops LOG NAME: one TAP line, failing if the kernel log shows an oops, BUG,
# panic, WARNING or a stack dump other than an allocation-failure report
# (kernel_trouble in scripts/lib.sh).
no_oops() {
	local trouble
	trouble=$(kernel_trouble "$1")
	if [ -n "$trouble" ]; then
		printf '%s\n' "$trouble" | sed 's/^/# /'
		ok 1 "$2: no oops, panic or warning"
	else
		ok 0 "$2: no oops, panic or warning"
	fi
}

# Tolerance of the kernel-reported leak check, in kB: MemTotal - MemFree moves
# by module text, slab and page-table noise across a load/unload; a leak of
# claimed pages of these workloads is larger (every folio, chunk, block and
# node page, 8 MiB of vmalloc in the small cases). 3 MiB: on 7.2 one run in
# about a hundred moved by 2 MiB with nothing left claimed (the module's exact
# count, checked separately, said 0); an exact leak check is the module's own.
MEM_TOLERANCE_KB=${KHO_RS_MEM_TOLERANCE_KB:-3072}

# mem_check LOG DESC: passes if the "used" memory (MemTotal - MemFree, which
# grows when a claimed page is not freed) is within MEM_TOLERANCE_KB after the
# scenario's loads as before them; prints the numbers.
mem_check() {
	local before after d
	before=$(sed -n 's/.*KHO_RS_MEM before \([0-9]*\).*/\1/p' "$1" | tail -n 1)
	after=$(sed -n 's/.*KHO_RS_MEM after \([0-9]*\).*/\1/p' "$1" | tail -n 1)
	if [ -z "$before" ] || [ -z "$after" ]; then
		ok 1 "$2: kernel-reported memory use before and after (no numbers)"
		return
	fi
	d=$((after - before))
	echo "# $2: MemTotal-MemFree before ${before} kB, after ${after} kB, delta ${d} kB (tolerance ${MEM_TOLERANCE_KB} kB)"
	[ "$d" -le "$MEM_TOLERANCE_KB" ] && [ "$d" -ge "-$MEM_TOLERANCE_KB" ]
	ok $? "$2: kernel-reported memory use back to where it was (within ${MEM_TOLERANCE_KB} kB)"
}

# skip WHAT WHY: a part of the selftest that does not run here, said out loud. It is
# not a case: nothing skipped counts as passed.
skip() {
	echo "# SKIP $1: $2"
}

# Boots run in the background, at most $boot_jobs of this script's at a time and
# each holding one of the machine-wide slots (with_slot in scripts/lib.sh), while
# the checks read their logs in order as they finish. A script defines its boots in
# a function of start_boot calls and runs it with launch; the checks then call
# booted or boot_clean per boot. Per boot: $out/NAME.sh is the scenario,
# $out/NAME.log the console, $out/NAME.rc QEMU's exit status (written last),
# $out/NAME.time the seconds QEMU ran, and $out/boot-times.txt collects
# "NAME SECONDS".
boot_jobs=${KHO_RS_JOBS:-2}
launcher=

# qemu_timed NAME QEMU-ARGS...: qemu.sh, its run time in $out/NAME.time.
qemu_timed() {
	local name=$1 t0 rc
	shift
	t0=$(date +%s)
	bash "$top/scripts/qemu.sh" "$@"
	rc=$?
	echo $(($(date +%s) - t0)) >"$out/$name.time"
	return $rc
}

# start_boot NAME STAGES [QEMU_MEM [CMDLINE]]: boots $out/NAME.sh in the
# background (with the kernel image inside, so it can kexec), STAGES being the
# stage whose end the boot must reach. KDIR and KHO_RS_INITRAMFS_FILES, as set
# when it is called, choose the first kernel and extra files. Only in launch's
# function.
start_boot() {
	local name=$1
	echo "$2" >"$out/$name.stages"
	while [ "$(jobs -rp | wc -l)" -ge "$boot_jobs" ]; do
		wait -n
	done
	(
		rc=1
		if bash "$top/scripts/initramfs.sh" "$out/$name.cpio" "$out/$name.sh" --with-kernel \
			>"$out/$name.initramfs.log" 2>&1; then
			QEMU_MEM=${3:-1G} with_slot qemu_timed "$name" "$out/$name.cpio" "$out/$name.log" "${4:-}"
			rc=$?
		fi
		rm -f "$out/$name.cpio"
		echo "$name $(cat "$out/$name.time" 2>/dev/null || echo '?')" >>"$out/boot-times.txt"
		echo "$name $rc" >"$out/$name.rc"
	) &
}

# launch FUNCTION: runs FUNCTION, which calls start_boot for every boot, in the
# background, so that the checks can start on the first boots while the others
# wait for a slot.
launch() {
	("$1"; wait) &
	launcher=$!
}

# boot_clean NAME: waits for NAME's boot; true only if QEMU exited 0 and the
# console shows the last stage's /init reaching its end with no panic (with
# -no-reboot, QEMU exits 0 after a panic too). Prints the run time.
boot_clean() {
	local name=$1 log="$out/$1.log" rc
	while [ ! -f "$out/$name.rc" ] && kill -0 "$launcher" 2>/dev/null; do
		sleep 1
	done
	rc=$(awk '{print $2}' "$out/$name.rc" 2>/dev/null)
	echo "# $name: QEMU ran $(cat "$out/$name.time" 2>/dev/null || echo '?') s, exit ${rc:-none}"
	[ "$rc" = 0 ] && grep -q "kho-rs-init: done (stage $(cat "$out/$name.stages"))" "$log" &&
		! grep -q "Kernel panic" "$log"
}

# booted NAME DESC: one case, passing if boot_clean NAME does.
booted() {
	boot_clean "$1"
	ok $? "$2"
}

# tap_end: the summary; the exit status is the verdict. A run whose number of
# cases differs from its plan fails.
tap_end() {
	echo "selftest: $pass passed, $fail failed"
	if [ "$n" != "$planned" ]; then
		echo "# plan: $planned cases planned, $n ran"
		return 1
	fi
	[ "$fail" = 0 ]
}
