# SPDX-License-Identifier: GPL-2.0
# Scenario "vmx": vmalloc areas of 1, 16 and 256 MiB (and 4 MiB vmalloc_huge()
# areas) preserved by Rust and by C, each to be restored by both implementations
# after kexec (interop in both directions, and the Rust-vs-C restore benchmark,
# which needs two boots: 4 rounds of four areas per size, one of 256 MiB).
case $stage in
1)
	insmod /kho_rs.ko vmx_mib=256 vmx_rounds=4 && echo "KHO_RS_STEP vmx-preserve ok" || echo "KHO_RS_STEP vmx-preserve FAIL"
	kexec_next
	;;
2)
	insmod /kho_rs.ko vmx_mib=256 && echo "KHO_RS_STEP vmx-restore ok" || echo "KHO_RS_STEP vmx-restore FAIL"
	rmmod kho_rs
	;;
esac
