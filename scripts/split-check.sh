#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# split-check.sh DIR: checks the three modules of one build (TAP output):
#   - kho_rs.ko, the product, has exactly the parameters a user sets, and none of
#     the test module's symbols: no oracle (upstream's kho_block.c), no claim
#     fixture, no C reference (kho_rs_c_*), no KUnit suite;
#   - kho_rs_test.ko has every test parameter and the oracle;
#   - the sample's own source (rust/sample/) forbids unsafe code and has none.
# Reads the .modinfo section and the symbol table with binutils (objcopy, nm).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
dir=${1:?usage: split-check.sh DIR}
n=0 failed=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}
# params KO: the module's parameter names, sorted, one line.
params() {
	objcopy -O binary --only-section=.modinfo "$1" /dev/stdout 2>/dev/null | tr '\0' '\n' |
		sed -n 's/^parm=\([^:]*\):.*/\1/p' | sort -u | paste -sd' ' -
}
echo "1..7"
product="block_entries chain folios seed vmalloc_huge vmalloc_mib workload"
got=$(params "$dir/kho_rs.ko")
[ "$got" = "$product" ]
ok $? "kho_rs.ko has only the user's parameters ($got)"
test_only="bench blockx claim_prep copies corrupt damage_bytes damage_seed fail_nth instance vmx_mib vmx_rounds"
got=$(params "$dir/kho_rs_test.ko")
missing=$(for p in $product $test_only; do echo " $got " | grep -q " $p " || echo "$p"; done)
[ -z "$missing" ]
ok $? "kho_rs_test.ko has the test parameters too${missing:+ (missing: $missing)}"
bad=$(nm "$dir/kho_rs.ko" 2>/dev/null | grep -E "oracle|fixture|kho_rs_c_|kunit|block_c|bench" | head -5)
# (grep -c, not -q: with pipefail, nm killed by SIGPIPE would fail the pipe.)
[ -z "$bad" ] && [ "$(nm "$dir/kho_rs.ko" | grep -c kho_rs_claim_pages)" != 0 ]
ok $? "kho_rs.ko has no oracle, fixture, C reference, KUnit or bench symbol${bad:+ (found: $(echo $bad))}"
bad=$(nm "$dir/kho_rs_sample.ko" 2>/dev/null | grep -E "oracle|fixture|kho_rs_c_|kunit|block_c|bench" | head -5)
[ -z "$bad" ]
ok $? "kho_rs_sample.ko has no oracle, fixture, C reference, KUnit or bench symbol${bad:+ (found: $(echo $bad))}"
[ "$(nm "$dir/kho_rs_test.ko" | grep -c kho_rs_oracle_available)" != 0 ]
ok $? "kho_rs_test.ko has the block oracle"
grep -qx '#!\[forbid(unsafe_code)\]' "$top/rust/sample/mod.rs"
ok $? "the sample forbids unsafe code (#![forbid(unsafe_code)] in rust/sample/mod.rs)"
bad=$(grep -n '\bunsafe\b' "$top"/rust/sample/*.rs | grep -v 'forbid(unsafe_code)' | grep -v '//' | head -3)
[ -z "$bad" ]
ok $? "the sample's source has no unsafe code${bad:+ ($bad)}"
exit $failed
