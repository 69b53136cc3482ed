// SPDX-License-Identifier: GPL-2.0

//! TODO(compat): placeholder while the module is written.
