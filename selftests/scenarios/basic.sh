# SPDX-License-Identifier: GPL-2.0
# Scenario "basic": load kho_rs in the first kernel, kexec with KHO, load it
# again in the second kernel, unload, power off. Lines starting with
# "KHO_RS_STEP" are what selftests/kho_rs_kexec.sh checks.
case $stage in
1)
	insmod /kho_rs.ko && echo "KHO_RS_STEP insmod-1 ok" || echo "KHO_RS_STEP insmod-1 FAIL"
	rmmod kho_rs && echo "KHO_RS_STEP rmmod-1 ok" || echo "KHO_RS_STEP rmmod-1 FAIL"
	kexec_next
	;;
2)
	insmod /kho_rs.ko && echo "KHO_RS_STEP insmod-2 ok" || echo "KHO_RS_STEP insmod-2 FAIL"
	rmmod kho_rs && echo "KHO_RS_STEP rmmod-2 ok" || echo "KHO_RS_STEP rmmod-2 FAIL"
	;;
esac
