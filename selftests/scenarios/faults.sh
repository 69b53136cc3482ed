# SPDX-License-Identifier: GPL-2.0
# Scenario "faults": an allocation failure at every point of a whole load of the
# test module's workload, one boot per phase and many loads per boot.
#
# The load's k-th allocation fails (fail_nth=k: the task's fail-nth counter, armed
# by the module around its workload), for k = 1, 2, ... until a load runs with no
# failure injected. The module says how each load ended ("fault sweep:
# fail_nth=k: ..."); the host checks every line.
#
# Stage 1 (preserve): every load builds, preserves and publishes a small workload;
# one that succeeds is unloaded again. After the sweep, the workload is published
# as $copies subtrees for stage 2.
# Stage 2 (restore + verify): every load restores one copy (chain=1: nothing is
# preserved again). A load that consumed its copy moves the sweep to the next one;
# one that failed before consuming it leaves it for the next k.
tiny="folios=4 vmalloc_mib=1 block_entries=100"
copies=24
# fault_sweep ARGS: the sweep; prints KHO_RS_FAULT lines for the host.
fault_sweep() {
	local k=1 i=0 line
	while [ $k -le 400 ] && [ $i -lt $copies ]; do
		echo "KHO_RS_FAULT k=$k"
		if insmod /kho_rs_test.ko workload=1 $tiny "$@" instance=$i fail_nth=$k; then
			rmmod kho_rs_test
		fi
		# A subtree left registered after a failed load would be half-published.
		[ -e /sys/kernel/debug/kho/out/sub_fdts/kho-rs ] && echo "KHO_RS_FAULT registered after k=$k"
		# busybox insmod retries a failed init: the first line of k is the sweep's.
		line=$(dmesg | grep "fault sweep: fail_nth=$k:" | head -n 1)
		case $line in
		"") echo "KHO_RS_FAULT no report for k=$k"; break ;;
		*"not injected"*) echo "KHO_RS_FAULT end k=$k"; break ;;
		*"state consumed"*) i=$((i + 1)) ;;
		esac
		k=$((k + 1))
	done
}
case $stage in
1)
	fault_setup
	echo "KHO_RS_MEM before $(mem_used_kb)"
	fault_sweep
	echo "KHO_RS_MEM after $(mem_used_kb)"
	insmod /kho_rs_test.ko workload=1 $tiny copies=$copies && echo "KHO_RS_STEP preserve ok"
	kexec_next
	;;
2)
	fault_setup
	echo "KHO_RS_MEM before $(mem_used_kb)"
	fault_sweep chain=1
	echo "KHO_RS_MEM after $(mem_used_kb)"
	# A consumed copy is refused cleanly; an untouched one restores.
	insmod /kho_rs_test.ko workload=1 $tiny chain=1 instance=0 && echo "KHO_RS_STEP consumed accepted" ||
		echo "KHO_RS_STEP consumed refused"
	insmod /kho_rs_test.ko workload=1 $tiny chain=1 instance=$((copies - 1)) &&
		echo "KHO_RS_STEP last verify ok" && rmmod kho_rs_test
	;;
esac
