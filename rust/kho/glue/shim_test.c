// SPDX-License-Identifier: GPL-2.0
/*
 * The C shim of kho_rs_test.ko: kbuild warns about an object linked into more
 * than one module, so each module compiles shim.c through its own file.
 */
#define KHO_RS_TEST
#include "shim.c"
