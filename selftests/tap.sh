# SPDX-License-Identifier: GPL-2.0
# TAP helpers shared by the kho-rs selftests (sourced, not run). The sourcing
# script sets $out and prints "TAP version 13" itself.

n=0
pass=0
fail=0

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

# no_oops LOG NAME: one TAP line, failing if the kernel log shows an oops,
# BUG, panic or WARNING.
no_oops() {
	if grep -qE "Oops|BUG:|Kernel panic|WARNING:|Call Trace" "$1"; then
		grep -E "Oops|BUG:|Kernel panic|WARNING:" "$1" | head -5 | sed 's/^/# /'
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

# tap_end: the plan line and the summary; the exit status is the verdict.
tap_end() {
	echo "1..$n"
	echo "selftest: $pass passed, $fail failed"
	[ "$fail" = 0 ]
}
