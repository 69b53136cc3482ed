# SPDX-License-Identifier: GPL-2.0
# Guest scenario for KUnit: mark where the test module's KTAP starts, insmod (the
# suites run inside the insmod syscall), unload, and let /init power off.
fault_setup
echo "KHO_RS_KTAP_BEGIN" >/dev/kmsg
insmod /kho_rs_test.ko || echo "kho-rs-kunit: insmod failed" >/dev/kmsg
rmmod kho_rs_test || echo "kho-rs-kunit: rmmod failed" >/dev/kmsg
