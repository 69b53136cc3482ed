// SPDX-License-Identifier: GPL-2.0

//! KUnit suites `kho_rs_faults` and `kho_rs_kexec_faults`: allocation failure at every
//! point of the library's preserve and restore paths.
//!
//! The sweep arms the task's fault-injection counter (`fail-nth`, see
//! [`crate::glue::kho::FailNth`]) with k = 1, 2, ... around one whole operation, so that
//! its k-th allocation fails (`kmalloc()` through failslab, the page allocator through
//! fail_page_alloc; the guest sets their debugfs attributes so that sleeping allocations
//! and order 0 are eligible, and silences their reports), until an operation runs with no
//! failure injected: then every allocation point of it has failed once. At every k the
//! operation must either fail with an errno or succeed despite the failure, and leave
//! nothing behind: no page owned by the module, no subtree registered, and no WARN (the
//! test kernel runs with `panic_on_warn=1`).
//!
//! * `kho_rs_faults` (cold boot): build and publish a state ([`fault_state`]): folios,
//!   a vmalloc area, entries and the subtree.
//! * `kho_rs_kexec_faults` (run by the kexec selftest's `claim` case): the first kernel
//!   publishes [`FAULT_STATES`] such states (module parameter `claim_prep`); after the
//!   kexec the sweep restores state k-1 at step k, since a restore consumes its state.
//!
//! KHO's `kho_add_subtree()` WARNs when it cannot create the subtree's debugfs file, so
//! the shim pauses the counter across that call (see `patches/`).

use kernel::prelude::*;
use kernel::str::CString;

use crate::glue::kho::FailNth;
use crate::glue::mem::KernelMem;
use crate::glue::subtree::outgoing_subtree_exists;
use crate::kho::{Folio, Outgoing, Published, Restored, VmallocArea};

/// States the first kernel publishes for the restore sweep (one per injection point, and
/// one more for the run without a failure).
pub(crate) const FAULT_STATES: u64 = 24;

/// Steps a sweep may take before it is called endless.
const MAX_STEPS: u32 = 2000;

/// Folio orders of a fault state.
const ORDERS: [u32; 3] = [0, 1, 2];

/// Entries of a fault state.
const ENTRIES: u64 = 100;

/// Size of a fault state's vmalloc area.
const VMALLOC_BYTES: usize = 32 << 10;

/// Name of fault state `n`.
pub(crate) fn fault_name(n: u64) -> Result<CString> {
    CString::try_from_fmt(fmt!("kho-rs-f{n}"))
}

/// Byte `i` of the data `d` of fault state `n`.
fn byte(n: u64, d: u64, i: usize) -> u8 {
    (n.wrapping_mul(31) ^ d.wrapping_mul(7) ^ i as u64 ^ (i as u64 >> 8)) as u8
}

/// Entry `i` of fault state `n`.
fn entry(n: u64, i: u64) -> [u64; 4] {
    [n, i, !i, n ^ i.wrapping_mul(0x9e37_79b9)]
}

/// Builds and publishes fault state `n`.
pub(crate) fn fault_state(n: u64) -> Result<Published<[u64; 4]>> {
    let mut out = Outgoing::<[u64; 4]>::new(&fault_name(n)?)?;
    for (d, &order) in ORDERS.iter().enumerate() {
        let mut folio = Folio::new(order)?;
        for (i, b) in folio.as_mut_slice().iter_mut().enumerate() {
            *b = byte(n, d as u64, i);
        }
        out.add_folio(folio)?;
    }
    let mut area = VmallocArea::new(VMALLOC_BYTES)?;
    for (i, b) in area.as_mut_slice().iter_mut().enumerate() {
        *b = byte(n, 99, i);
    }
    out.set_vmalloc(area)?;
    for i in 0..ENTRIES {
        out.push(entry(n, i))?;
    }
    out.publish(1)
}

/// Checks a restored fault state `n` byte for byte.
pub(crate) fn check_state(n: u64, state: &Restored<[u64; 4]>) -> bool {
    let entries_ok = state.entries().len() as u64 == ENTRIES
        && state
            .entries()
            .iter()
            .enumerate()
            .all(|(i, e)| *e == entry(n, i as u64));
    let folios_ok = state.folios().len() == ORDERS.len()
        && state.folios().iter().all(|f| {
            // Address order, not build order: find the data by the folio's order.
            let d = ORDERS.iter().position(|&o| o == f.order()).unwrap_or(0) as u64;
            f.as_slice()
                .iter()
                .enumerate()
                .all(|(i, &b)| b == byte(n, d, i))
        });
    let vmalloc_ok = state.vmalloc().is_some_and(|v| {
        v.len() == VMALLOC_BYTES && v.iter().enumerate().all(|(i, &b)| b == byte(n, 99, i))
    });
    entries_ok && folios_ok && vmalloc_ok
}

/// What a sweep saw.
#[derive(Default)]
struct Sweep {
    /// Allocation points (steps that injected a failure).
    points: u32,
    /// Of which the operation failed with an errno.
    failed: u32,
    /// Of which the operation succeeded all the same (the failure was absorbed).
    absorbed: u32,
}

impl Sweep {
    /// Counts a step whose operation succeeded (`ok`) or failed; returns whether the sweep
    /// goes on: it ends at the first step that injected nothing.
    fn next(&mut self, injected: bool, ok: bool) -> bool {
        if !injected {
            return false;
        }
        self.points += 1;
        if ok {
            self.absorbed += 1;
        } else {
            self.failed += 1;
        }
        true
    }

    /// Logs what the sweep `what` saw.
    fn report(&self, what: &str) {
        pr_info!(
            "{}: {} allocation points: {} failed with an errno, {} absorbed; nothing left behind at any\n",
            what,
            self.points,
            self.failed,
            self.absorbed
        );
    }
}

#[kunit_tests(kho_rs_faults)]
mod tests {
    use super::*;

    /// Every allocation of building and publishing a state fails once, in turn.
    #[test]
    fn preserve_sweep() -> Result {
        let name = fault_name(1000)?;
        let owned = KernelMem::owned_pages();
        let mut s = Sweep::default();
        let mut k = 1;
        loop {
            assert!(k <= MAX_STEPS);
            let fail = FailNth::arm(k)?;
            let res = fault_state(1000);
            let injected = fail.disarm();
            let ok = res.is_ok();
            match res {
                Ok(published) => {
                    assert!(outgoing_subtree_exists(&name));
                    drop(published);
                }
                Err(e) => {
                    // Only an injected failure may make it fail, and with an errno.
                    assert!(injected);
                    assert!(e.to_errno() < 0);
                }
            }
            // Nothing left behind, at every step.
            assert!(!outgoing_subtree_exists(&name));
            assert_eq!(KernelMem::owned_pages(), owned);
            if !s.next(injected, ok) {
                break;
            }
            k += 1;
        }
        s.report("kho_rs_faults: preserve");
        // A state has folios, a vmalloc area, blocks, radix nodes and a blob: a sweep
        // that found (almost) nothing to fail did not run.
        assert!(s.points >= 10);
        Ok(())
    }
}

#[kunit_tests(kho_rs_kexec_faults)]
mod kexec_tests {
    use super::*;

    /// Every allocation of restoring a state fails once, in turn: state k-1 at step k.
    #[test]
    fn restore_sweep() -> Result {
        let owned = KernelMem::owned_pages();
        let mut s = Sweep::default();
        let mut k: u32 = 1;
        loop {
            let n = u64::from(k - 1);
            if n >= FAULT_STATES {
                pr_err!(
                    "kho_rs_kexec_faults: more allocation points than the {} states the first kernel published\n",
                    FAULT_STATES
                );
                return Err(ENOSPC);
            }
            // The name is made before the counter is armed: only the restore's own
            // allocations count.
            let name = fault_name(n)?;
            let fail = FailNth::arm(k)?;
            let res = Restored::<[u64; 4]>::retrieve(&name);
            let injected = fail.disarm();
            let ok = res.is_ok();
            match res {
                Ok(Some(state)) => assert!(check_state(n, &state)),
                Ok(None) => {
                    pr_err!("kho_rs_kexec_faults: no state {}: run through the kexec selftest (case claim)\n", n);
                    return Err(ENOENT);
                }
                Err(e) => {
                    assert!(injected);
                    assert!(e.to_errno() < 0);
                    // Consumed by the failed restore (refused again, with an errno and
                    // no WARN), or, if it failed before the blob was claimed, intact.
                    match Restored::<[u64; 4]>::retrieve(&name) {
                        Err(_) => {}
                        Ok(Some(state)) => assert!(check_state(n, &state)),
                        Ok(None) => assert!(false),
                    }
                }
            }
            assert_eq!(KernelMem::owned_pages(), owned);
            if !s.next(injected, ok) {
                break;
            }
            k += 1;
        }
        s.report("kho_rs_kexec_faults: restore");
        assert!(s.points >= 3);
        Ok(())
    }
}
