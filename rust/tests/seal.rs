// SPDX-License-Identifier: GPL-2.0

//! KUnit suites `kho_rs_seal` and `kho_rs_kexec_seal`: the seal of a published state on a
//! real kernel.
//!
//! * `kho_rs_seal` (cold boot): the kernel's `crc32c()` is the standard CRC-32C, and the
//!   next kernel's page reads refuse a page KHO did not hand over (one of this kernel's own
//!   pages), claiming nothing.
//! * `kho_rs_kexec_seal` (the kexec selftest's `claim` boot): the last of the states the
//!   first kernel published for `kho_rs_kexec_faults` is checked against its seal on
//!   copies of its pages, with nothing claimed; changed values and digests are refused
//!   with `-EBADMSG`, still with nothing claimed; then the state restores.

use kernel::prelude::*;

use crate::glue::mem::KernelMem;
use crate::glue::seal::{check_incoming, crc32c};
use crate::glue::subtree::IncomingBlob;
use crate::kho::Restored;
use crate::pure::error::errno;
use crate::pure::mem::PageMem;
use crate::pure::seal::Parts;
use crate::pure::subtree::{self, SubtreeInfo};
use crate::tests::faults::{check_state, fault_name, FAULT_STATES};

#[kunit_tests(kho_rs_seal)]
mod tests {
    use super::*;

    /// The standard check value of CRC-32C (the CRC catalogue's), with the seal's
    /// convention: initial `!0`, final complement.
    #[test]
    fn crc32c_is_the_standard_one() {
        assert_eq!(!crc32c(!0, b"123456789"), 0xe306_9283);
        // Two updates are one.
        assert_eq!(
            crc32c(crc32c(!0, b"1234"), b"56789"),
            crc32c(!0, b"123456789")
        );
    }

    /// A page this kernel allocated was not handed over by KHO: the seal does not read it,
    /// fails naming it, and claims nothing.
    #[test]
    fn own_pages_are_not_read() -> Result {
        let mut mem = KernelMem::new();
        let pa = mem.alloc_zeroed().map_err(|_| ENOMEM)?;
        let claimed = KernelMem::claimed_pages();
        let mut info = SubtreeInfo {
            generation: 1,
            radix_root: pa,
            radix_keys: 1,
            ..SubtreeInfo::default()
        };
        // The root's values match: the walk gets to the radix tree.
        info.seal.root = crate::pure::seal::root_digest(&Probe, &info);
        let res = check_incoming(&info, Parts::ALL)?;
        // SAFETY: allocated above, not preserved, not referenced.
        unsafe { mem.free(pa) };
        let e = res.expect_err("an own page was read as the previous kernel's");
        assert_eq!(e.errno, errno::ENOENT);
        assert_eq!(e.value, pa);
        assert_eq!(KernelMem::claimed_pages(), claimed);
        Ok(())
    }
}

/// A seal source that only hashes (for a root digest, which reads no page).
struct Probe;

impl crate::pure::seal::SealSource for Probe {
    fn copy_page(&mut self, pa: u64, _out: &mut [u64]) -> crate::pure::error::Result {
        Err(crate::pure::error::Error::inval("probe reads no page", pa))
    }

    fn crc32c(&self, crc: u32, bytes: &[u8]) -> u32 {
        crc32c(crc, bytes)
    }
}

#[kunit_tests(kho_rs_kexec_seal)]
mod kexec_tests {
    use super::*;

    /// The last fault state: checked on copies, refused when changed, then restored.
    #[test]
    fn checked_before_any_claim() -> Result {
        let n = FAULT_STATES - 1;
        let name = fault_name(n)?;
        let claimed = KernelMem::claimed_pages();
        let Some(blob) = IncomingBlob::retrieve(&name)? else {
            pr_err!(
                "kho_rs_kexec_seal: no state {}: run through the kexec selftest (case claim)\n",
                n
            );
            return Err(ENOENT);
        };
        let inc = subtree::read_granular(blob.bytes(), &subtree::ACCEPT)
            .map_err(|e| Error::from_errno(e.to_errno()))?;
        let info = inc.info;
        check_incoming(&info, Parts::ALL)?
            .map_err(|e| crate::glue::kho::core_err("kho_rs_kexec_seal", e))?;
        assert_eq!(KernelMem::claimed_pages(), claimed);
        let edits: [fn(&mut SubtreeInfo); 5] = [
            |i| i.seed ^= 1,
            |i| i.radix_keys += 1,
            |i| i.vmalloc.total_pages ^= 1,
            |i| i.block_count -= 1,
            |i| i.seal.block ^= 1 << 31,
        ];
        for edit in edits {
            let mut bad = info;
            edit(&mut bad);
            let e =
                check_incoming(&bad, Parts::ALL)?.expect_err("a changed state matched its seal");
            assert_eq!(e.errno, errno::EBADMSG);
        }
        assert_eq!(KernelMem::claimed_pages(), claimed);
        drop(blob);
        // Nothing was consumed: the state restores, byte for byte.
        let state = Restored::<[u64; 4]>::retrieve(&name)?.ok_or(ENOENT)?;
        assert!(check_state(n, &state));
        assert!(KernelMem::claimed_pages() > claimed);
        Ok(())
    }
}
