# SPDX-License-Identifier: GPL-2.0
# Scenario "unload": preserve the workload, unload the module before kexec; the
# KHO debugfs must show no kho-rs subtree, and the second kernel must find
# nothing to restore.
case $stage in
1)
	insmod /kho_rs.ko workload=1 vmalloc_mib=4 block_entries=1000 && echo "KHO_RS_STEP preserve ok"
	[ -e /sys/kernel/debug/kho/out/sub_fdts/kho-rs ] && echo "KHO_RS_STEP subtree present"
	rmmod kho_rs && echo "KHO_RS_STEP rmmod-1 ok"
	[ -e /sys/kernel/debug/kho/out/sub_fdts/kho-rs ] || echo "KHO_RS_STEP subtree gone"
	kexec_next
	;;
2)
	insmod /kho_rs.ko workload=1 vmalloc_mib=4 block_entries=1000 && echo "KHO_RS_STEP insmod-2 ok"
	rmmod kho_rs
	;;
esac
