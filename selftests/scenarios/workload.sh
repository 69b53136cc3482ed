# SPDX-License-Identifier: GPL-2.0
# Scenario "workload": the first kernel preserves the default workload (folios
# in the Rust radix tree, 64 MiB vmalloc, 100,000 block entries) and registers
# the kho-rs subtree; its blob is dumped (base64) for dtc on the host; kexec;
# the second kernel verifies every byte and frees everything.
case $stage in
1)
	insmod /kho_rs.ko workload=1 && echo "KHO_RS_STEP preserve ok" || echo "KHO_RS_STEP preserve FAIL"
	sed 's/^/KHO_RS_STATUS-1 /' /sys/kernel/debug/kho_rs/status
	echo "KHO_RS_BLOB_BEGIN"
	base64 /sys/kernel/debug/kho/out/sub_fdts/kho-rs
	echo "KHO_RS_BLOB_END"
	kexec_next
	;;
2)
	echo "KHO_RS_MEM before $(mem_used_kb)"
	# A bad parameter must fail the load before the state is touched (it can be
	# restored only once): the verification right after must still find it. Both
	# modules read this state: the test module (a bad test parameter) and the
	# product (a bad value of its own).
	insmod /kho_rs_test.ko workload=1 vmx_rounds=9 && echo "KHO_RS_STEP bad-param accepted" ||
		echo "KHO_RS_STEP bad-param refused"
	insmod /kho_rs.ko workload=2 && echo "KHO_RS_STEP bad-workload accepted" ||
		echo "KHO_RS_STEP bad-workload refused"
	insmod /kho_rs.ko workload=1 && echo "KHO_RS_STEP verify ok" || echo "KHO_RS_STEP verify FAIL"
	sed 's/^/KHO_RS_STATUS-2 /' /sys/kernel/debug/kho_rs/status
	rmmod kho_rs && echo "KHO_RS_STEP rmmod-2 ok" || echo "KHO_RS_STEP rmmod-2 FAIL"
	echo "KHO_RS_MEM after $(mem_used_kb)"
	# The state is consumed: a second load must refuse it cleanly.
	insmod /kho_rs.ko workload=1 && echo "KHO_RS_STEP second-load accepted" ||
		echo "KHO_RS_STEP second-load refused"
	;;
esac
