# SPDX-License-Identifier: GPL-2.0
# Scenario "basic" (with "unload"): load and unload kho_rs; preserve the workload
# and unload the module before kexec, so the KHO debugfs must lose the kho-rs
# subtree; kexec with KHO; in the second kernel load it again (a KHO boot) and
# load the workload, which must find nothing to restore. The sample module
# (kho_rs_sample.ko, the library's safe API only) keeps its state across the
# same kexec: it preserves in the first kernel and verifies in the second. Lines
# starting with "KHO_RS_STEP" are what selftests/kho_rs_kexec.sh checks.
case $stage in
1)
	insmod /kho_rs.ko && echo "KHO_RS_STEP insmod-1 ok" || echo "KHO_RS_STEP insmod-1 FAIL"
	rmmod kho_rs && echo "KHO_RS_STEP rmmod-1 ok" || echo "KHO_RS_STEP rmmod-1 FAIL"
	insmod /kho_rs.ko workload=1 vmalloc_mib=4 block_entries=1000 && echo "KHO_RS_STEP preserve ok"
	[ -e /sys/kernel/debug/kho/out/sub_fdts/kho-rs ] && echo "KHO_RS_STEP subtree present"
	rmmod kho_rs && echo "KHO_RS_STEP rmmod-workload ok"
	[ -e /sys/kernel/debug/kho/out/sub_fdts/kho-rs ] || echo "KHO_RS_STEP subtree gone"
	insmod /kho_rs_sample.ko && echo "KHO_RS_STEP sample-preserve ok"
	kexec_next
	;;
2)
	insmod /kho_rs.ko && echo "KHO_RS_STEP insmod-2 ok" || echo "KHO_RS_STEP insmod-2 FAIL"
	rmmod kho_rs && echo "KHO_RS_STEP rmmod-2 ok" || echo "KHO_RS_STEP rmmod-2 FAIL"
	insmod /kho_rs.ko workload=1 vmalloc_mib=4 block_entries=1000 && echo "KHO_RS_STEP insmod-workload-2 ok"
	rmmod kho_rs
	insmod /kho_rs_sample.ko && echo "KHO_RS_STEP sample-restore ok"
	rmmod kho_rs_sample && echo "KHO_RS_STEP sample-rmmod ok"
	insmod /kho_rs_sample.ko && echo "KHO_RS_STEP sample-second accepted" ||
		echo "KHO_RS_STEP sample-second refused"
	;;
esac
