// SPDX-License-Identifier: GPL-2.0

//! Error type of the pure core.
//!
//! An [`Error`] carries the errno the kernel glue returns (as a positive number, like the
//! `E*` constants of `include/uapi/asm-generic/errno-base.h`), a static description of what
//! was wrong and the offending value, so that the glue can print one `pr_err!` line naming
//! the cause without the core needing a formatter or an allocator.

use core::fmt;

/// Errno values used by the core (positive, as in `include/uapi/asm-generic/errno-base.h` and
/// `include/uapi/asm-generic/errno.h`, which x86_64 uses).
pub(crate) mod errno {
    /// No such entry.
    pub(crate) const ENOENT: i32 = 2;
    /// Argument list too long / object too big.
    pub(crate) const E2BIG: i32 = 7;
    /// Out of memory.
    pub(crate) const ENOMEM: i32 = 12;
    /// Bad address.
    pub(crate) const EFAULT: i32 = 14;
    /// Entry exists.
    pub(crate) const EEXIST: i32 = 17;
    /// Invalid argument.
    pub(crate) const EINVAL: i32 = 22;
    /// No space left.
    pub(crate) const ENOSPC: i32 = 28;
    /// Result out of range.
    pub(crate) const ERANGE: i32 = 34;
    /// Too many levels / a loop.
    pub(crate) const ELOOP: i32 = 40;
    /// Protocol (format or version) error.
    pub(crate) const EPROTO: i32 = 71;
    /// Bad message: a digest does not match.
    pub(crate) const EBADMSG: i32 = 74;
    /// Value too large for the defined type.
    pub(crate) const EOVERFLOW: i32 = 75;
    /// Operation not supported.
    pub(crate) const EOPNOTSUPP: i32 = 95;
}

/// An error of the pure core: errno, what went wrong, and the offending value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Error {
    /// Positive errno (see [`errno`]).
    pub(crate) errno: i32,
    /// Static description of the cause, e.g. `"radix: table entry not page aligned"`.
    pub(crate) what: &'static str,
    /// The offending value (an address, a count, a key...), or 0 when there is none.
    pub(crate) value: u64,
}

impl Error {
    /// Creates an error with an offending value.
    pub(crate) const fn new(errno: i32, what: &'static str, value: u64) -> Self {
        Self { errno, what, value }
    }

    /// `-EINVAL` with a description and a value.
    pub(crate) const fn inval(what: &'static str, value: u64) -> Self {
        Self::new(errno::EINVAL, what, value)
    }

    /// `-ENOMEM` with a description.
    pub(crate) const fn nomem(what: &'static str) -> Self {
        Self::new(errno::ENOMEM, what, 0)
    }

    /// The negative errno the kernel glue returns.
    pub(crate) const fn to_errno(self) -> i32 {
        -self.errno
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({:#x}) [errno -{}]",
            self.what, self.value, self.errno
        )
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Result type of the pure core.
pub(crate) type Result<T = ()> = core::result::Result<T, Error>;
