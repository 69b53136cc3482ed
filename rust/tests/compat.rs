// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the compat component (not written yet).
