# SPDX-License-Identifier: GPL-2.0
# Scenario "blockx": block-v1 chains of entry sizes 8, 32, 64 and 4080 bytes,
# one written by upstream's kho_block.c (compiled into kho_rs_test.ko as the oracle)
# and one by Rust for each size; kexec; the second kernel restores each chain
# with the other implementation, checks every entry byte for byte and frees
# everything.
case $stage in
1)
	insmod /kho_rs_test.ko blockx=1 && echo "KHO_RS_STEP blockx-preserve ok" || echo "KHO_RS_STEP blockx-preserve FAIL"
	kexec_next
	;;
2)
	insmod /kho_rs_test.ko blockx=1 && echo "KHO_RS_STEP blockx-restore ok" || echo "KHO_RS_STEP blockx-restore FAIL"
	rmmod kho_rs_test && echo "KHO_RS_STEP rmmod-2 ok" || echo "KHO_RS_STEP rmmod-2 FAIL"
	;;
esac
