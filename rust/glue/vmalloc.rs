// SPDX-License-Identifier: GPL-2.0

//! vmalloc areas owned by the module, their preservation and restore (not written yet).
