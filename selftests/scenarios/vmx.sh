# SPDX-License-Identifier: GPL-2.0
# Scenario "vmx": vmalloc areas of 1, 16 and 256 MiB (and 4 MiB vmalloc_huge()
# areas) up to $vmx_mib, preserved by Rust and by C, each to be restored by both
# implementations after kexec (interop in both directions, and the Rust-vs-C
# restore benchmark, which needs two boots). The script that packs this scenario
# sets vmx_mib and vmx_rounds above it: the selftest 16 MiB and one round (what
# interop needs), scripts/bench.sh 256 MiB and 4 rounds (steadier timings).
case $stage in
1)
	insmod /kho_rs_test.ko vmx_mib=$vmx_mib vmx_rounds=$vmx_rounds && echo "KHO_RS_STEP vmx-preserve ok" || echo "KHO_RS_STEP vmx-preserve FAIL"
	kexec_next
	;;
2)
	insmod /kho_rs_test.ko vmx_mib=$vmx_mib && echo "KHO_RS_STEP vmx-restore ok" || echo "KHO_RS_STEP vmx-restore FAIL"
	rmmod kho_rs_test
	;;
esac
