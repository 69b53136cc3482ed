// SPDX-License-Identifier: GPL-2.0
/*
 * kho_rs block-v1 oracle (see block_oracle.h and Documentation/block-oracle.rst),
 * in every build: the KUnit suite kho_rs_block_c and the blockx case of the
 * kexec selftest use it.
 *
 * Kbuild compiles this file with
 *   -DKHO_RS_KHO_BLOCK_C="<srctree>/kernel/liveupdate/kho_block.c"
 * naming upstream's block implementation in the source tree of the kernel the
 * module is built against, plus -Dkho_block_<x>=kho_rs_oracle_kho_block_<x>
 * for every function that file defines, so the copy compiled here cannot clash
 * with vmlinux's. Nothing of kho_block.c is copied into kho-rs: it is
 * #included below as it is.
 *
 * kho_block.c calls three KHO functions. kho_alloc_preserve() and
 * kho_unpreserve_free() run as they are, only counted. kho_restore_free()
 * frees a block of an incoming set; in the boot that preserved a page KHO
 * cannot restore it (kho_restore_folio() WARNs), so while the test holds a
 * ledger the call is recorded there instead (see block_oracle.h). Without a
 * ledger (after a real kexec) it runs, counted.
 *
 * Linux 7.2 and 7.3: kho_block.c, <linux/kho_block.h> and
 * <linux/kho/abi/block.h> are byte-identical in 7.2.13 and 7.3.4, and so is
 * what kho_block.c calls (kho_alloc_preserve(), kho_unpreserve_free(),
 * kho_restore_free() -> kho_restore_folio()). Everything this file relies on
 * about them is checked at build time below, so a version that changes any of
 * it fails to build here, the one place to adapt.
 *
 * If the file is missing, Kbuild passes -DKHO_RS_KHO_BLOCK_MISSING="<path>"
 * instead and the stub at the end makes every oracle call fail, so the KUnit
 * suite kho_rs_block_c and blockx=1 fail naming the file rather than skipping.
 */

#ifdef KHO_RS_KHO_BLOCK_C

#include <linux/atomic.h>
#include <linux/err.h>
#include <linux/io.h>
#include <linux/kexec_handover.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "block_oracle.h"
#include "shim.h"

static void *kho_rs_oracle_alloc_preserve(size_t size);
static void kho_rs_oracle_unpreserve_free(void *mem);
static void kho_rs_oracle_restore_free(void *mem);

#define kho_alloc_preserve kho_rs_oracle_alloc_preserve
#define kho_unpreserve_free kho_rs_oracle_unpreserve_free
#define kho_restore_free kho_rs_oracle_restore_free
/* kho_block.c defines its own pr_fmt ("kho_rs: " here). */
#undef pr_fmt

#include KHO_RS_KHO_BLOCK_C

#undef kho_alloc_preserve
#undef kho_unpreserve_free
#undef kho_restore_free

/*
 * What the wrappers and the Rust side rely on, in every supported kernel: one
 * block is one page with a 16-byte header {next, count} (rust/kho/pure/block.rs),
 * KHO_MAX_BLOCKS is 10000, and the set and iterator have the fields read below
 * (a rename fails the build here).
 */
static_assert(KHO_BLOCK_SIZE == PAGE_SIZE);
static_assert(sizeof(struct kho_block_header_ser) == 16);
static_assert(offsetof(struct kho_block_header_ser, next) == 0);
static_assert(offsetof(struct kho_block_header_ser, count) == 8);
static_assert(KHO_MAX_BLOCKS == 10000);
static_assert(__same_type(((struct kho_block_set *)0)->nblocks, long));
static_assert(__same_type(((struct kho_block_set *)0)->count_per_block, u64));
static_assert(__same_type(((struct kho_block_set *)0)->incoming, bool));
static_assert(__same_type(((struct kho_block_set_it *)0)->i, u64));

static atomic_long_t live_sets = ATOMIC_LONG_INIT(0);
static atomic_long_t live_pages = ATOMIC_LONG_INIT(0);
static atomic_long_t restored_freed = ATOMIC_LONG_INIT(0);

/*
 * The open ledger. Only KUnit cases and module init (blockx) use the oracle,
 * one after another in the insmod thread, so no lock is needed; the Rust side
 * (block_oracle.rs) never restores for real while a ledger is open.
 */
static struct {
	u64 *buf;
	size_t cap;
	size_t len;
	bool open;
} ledger;

static void *kho_rs_oracle_alloc_preserve(size_t size)
{
	void *mem = kho_alloc_preserve(size);

	if (!IS_ERR(mem))
		atomic_long_inc(&live_pages);
	return mem;
}

static void kho_rs_oracle_unpreserve_free(void *mem)
{
	if (mem)
		atomic_long_dec(&live_pages);
	kho_unpreserve_free(mem);
}

static void kho_rs_oracle_restore_free(void *mem)
{
	if (!ledger.open) {
		kho_restore_free(mem);
		if (mem)
			atomic_long_inc(&restored_freed);
		return;
	}
	if (ledger.len < ledger.cap)
		ledger.buf[ledger.len] = __pa(mem);
	ledger.len++;
}

struct kho_rs_oracle {
	struct kho_block_set bs;
	struct kho_block_set_it it;
};

bool kho_rs_oracle_available(void)
{
	return true;
}

const char *kho_rs_oracle_source(void)
{
	return KHO_RS_KHO_BLOCK_C;
}

void *kho_rs_oracle_new(size_t entry_size)
{
	struct kho_rs_oracle *o;

	/* kho_block_set_init() WARNs when not one entry fits in a block. */
	if (!entry_size || entry_size > KHO_BLOCK_SIZE - sizeof(struct kho_block_header_ser))
		return NULL;
	o = kzalloc(sizeof(*o), GFP_KERNEL);
	if (!o)
		return NULL;
	kho_block_set_init(&o->bs, entry_size);
	kho_block_set_it_init(&o->it, &o->bs);
	atomic_long_inc(&live_sets);
	return o;
}

void kho_rs_oracle_free(void *set)
{
	struct kho_rs_oracle *o = set;

	if (!o)
		return;
	kho_block_set_destroy(&o->bs);
	kfree(o);
	atomic_long_dec(&live_sets);
}

int kho_rs_oracle_grow(void *set, u64 count)
{
	struct kho_rs_oracle *o = set;

	/* kho_block_set_grow() WARNs on an incoming set. */
	if (o->bs.incoming)
		return -EINVAL;
	return kho_block_set_grow(&o->bs, count);
}

void kho_rs_oracle_shrink(void *set, u64 count)
{
	struct kho_rs_oracle *o = set;

	kho_block_set_shrink(&o->bs, count);
	kho_block_set_it_init(&o->it, &o->bs);
}

void kho_rs_oracle_destroy(void *set)
{
	struct kho_rs_oracle *o = set;

	kho_block_set_destroy(&o->bs);
	kho_block_set_it_init(&o->it, &o->bs);
}

void kho_rs_oracle_clear(void *set)
{
	struct kho_rs_oracle *o = set;

	kho_block_set_clear(&o->bs);
}

/*
 * Without a ledger, kho_block_set_restore() hands every block of the chain to
 * kho_restore_free() (at once if it rejects the chain, else when the set is
 * destroyed), and kho_restore_folio() WARNs on a page the previous kernel did
 * not preserve. So first walk the chain as C's own loop check would, reading a
 * block only after the shim checked KHO's mark on it (no WARN): every block up
 * to the end of the chain must be a preserved, unclaimed order-0 page. A chain
 * that does not end within 2 * KHO_MAX_BLOCKS + 2 blocks is one that C's
 * kho_block_set_is_cyclic() rejects before it releases anything.
 */
static int kho_rs_oracle_check_chain(u64 head_pa)
{
	const struct kho_block_header_ser *ser;
	u64 pa = head_pa;
	long n;
	int err;

	for (n = 0; pa && n < 2 * KHO_MAX_BLOCKS + 2; n++) {
		err = kho_rs_check_preserved(pa, 1);
		if (err)
			return err;
		ser = phys_to_virt(pa);
		pa = READ_ONCE(ser->next);
	}
	return 0;
}

int kho_rs_oracle_restore(void *set, u64 head_pa)
{
	struct kho_rs_oracle *o = set;
	int err;

	/* Only into a fresh set; without a ledger only on a KHO boot. */
	if (!list_empty(&o->bs.blocks) || o->bs.incoming)
		return -EBUSY;
	if (!ledger.open) {
		if (!is_kho_boot())
			return -EPERM;
		err = kho_rs_oracle_check_chain(head_pa);
		if (err)
			return err;
	}
	err = kho_block_set_restore(&o->bs, head_pa);
	kho_block_set_it_init(&o->it, &o->bs);
	return err;
}

u64 kho_rs_oracle_head_pa(void *set)
{
	struct kho_rs_oracle *o = set;

	return kho_block_set_head_pa(&o->bs);
}

long kho_rs_oracle_nblocks(void *set)
{
	struct kho_rs_oracle *o = set;

	return o->bs.nblocks;
}

u64 kho_rs_oracle_count_per_block(void *set)
{
	struct kho_rs_oracle *o = set;

	return o->bs.count_per_block;
}

bool kho_rs_oracle_incoming(void *set)
{
	struct kho_rs_oracle *o = set;

	return o->bs.incoming;
}

void kho_rs_oracle_it_init(void *set)
{
	struct kho_rs_oracle *o = set;

	kho_block_set_it_init(&o->it, &o->bs);
}

u64 kho_rs_oracle_it_reserve_entry(void *set, const void *src, size_t len)
{
	struct kho_rs_oracle *o = set;
	void *entry = kho_block_set_it_reserve_entry(&o->it);

	if (!entry)
		return 0;
	if (src)
		memcpy(entry, src, min(len, o->bs.entry_size));
	return __pa(entry);
}

static u64 kho_rs_oracle_copy_out(struct kho_rs_oracle *o, void *entry, void *dst,
				  size_t len)
{
	if (!entry)
		return 0;
	if (dst)
		memcpy(dst, entry, min(len, o->bs.entry_size));
	return __pa(entry);
}

u64 kho_rs_oracle_it_read_entry(void *set, void *dst, size_t len)
{
	struct kho_rs_oracle *o = set;
	struct kho_block_set_it *it = &o->it;

	/*
	 * kho_block_set_it_read_entry() returns slot it->i unless it->i equals
	 * the block's count. On an outgoing set grown past what was written a
	 * block has count 0: C steps into it and then never meets its count
	 * again, returning slots past the end of the page. Refuse that slot.
	 */
	if (it->block && it->i != it->block->ser->count && it->i >= o->bs.count_per_block)
		return 0;
	return kho_rs_oracle_copy_out(o, kho_block_set_it_read_entry(&o->it), dst, len);
}

u64 kho_rs_oracle_it_prev(void *set, void *dst, size_t len)
{
	struct kho_rs_oracle *o = set;

	return kho_rs_oracle_copy_out(o, kho_block_set_it_prev(&o->it), dst, len);
}

/*
 * One entry's copy as a C user of the set writes it: a constant-size memcpy()
 * for the 8- and 64-byte entries of the benchmark, which the compiler inlines.
 */
static __always_inline void kho_rs_oracle_bench_copy(void *dst, const void *src,
						     size_t size)
{
	if (size == 8)
		memcpy(dst, src, 8);
	else if (size == 64)
		memcpy(dst, src, 64);
	else
		memcpy(dst, src, size);
}

size_t kho_rs_oracle_bench_write(void *set, const void *src, size_t n)
{
	struct kho_rs_oracle *o = set;
	size_t size = o->bs.entry_size, i;

	kho_block_set_it_init(&o->it, &o->bs);
	for (i = 0; i < n; i++) {
		void *entry = kho_block_set_it_reserve_entry(&o->it);

		if (!entry)
			break;
		kho_rs_oracle_bench_copy(entry, src + i * size, size);
	}
	return i;
}

size_t kho_rs_oracle_bench_read(void *set, void *dst, size_t n)
{
	struct kho_rs_oracle *o = set;
	struct kho_block_set_it *it = &o->it;
	size_t size = o->bs.entry_size, i;

	kho_block_set_it_init(it, &o->bs);
	for (i = 0; i < n; i++) {
		void *entry;

		/* The slot past a block's end that kho_rs_oracle_it_read_entry() refuses. */
		if (it->block && it->i != it->block->ser->count &&
		    it->i >= o->bs.count_per_block)
			break;
		entry = kho_block_set_it_read_entry(it);
		if (!entry)
			break;
		kho_rs_oracle_bench_copy(dst + i * size, entry, size);
	}
	return i;
}

void kho_rs_oracle_ledger_open(u64 *buf, size_t cap)
{
	ledger.buf = buf;
	ledger.cap = buf ? cap : 0;
	ledger.len = 0;
	ledger.open = true;
}

size_t kho_rs_oracle_ledger_close(void)
{
	size_t len = ledger.len;

	ledger.buf = NULL;
	ledger.cap = 0;
	ledger.len = 0;
	ledger.open = false;
	return len;
}

long kho_rs_oracle_live_sets(void)
{
	return atomic_long_read(&live_sets);
}

long kho_rs_oracle_live_pages(void)
{
	return atomic_long_read(&live_pages);
}

long kho_rs_oracle_restored_freed(void)
{
	return atomic_long_read(&restored_freed);
}

#else /* !KHO_RS_KHO_BLOCK_C: the kernel source has no kho_block.c */

#include <linux/errno.h>

#include "block_oracle.h"

#ifndef KHO_RS_KHO_BLOCK_MISSING
#define KHO_RS_KHO_BLOCK_MISSING "kernel/liveupdate/kho_block.c"
#endif

bool kho_rs_oracle_available(void)
{
	return false;
}

const char *kho_rs_oracle_source(void)
{
	return KHO_RS_KHO_BLOCK_MISSING;
}

void *kho_rs_oracle_new(size_t entry_size)
{
	return NULL;
}

void kho_rs_oracle_free(void *set)
{
}

int kho_rs_oracle_grow(void *set, u64 count)
{
	return -ENOENT;
}

void kho_rs_oracle_shrink(void *set, u64 count)
{
}

void kho_rs_oracle_destroy(void *set)
{
}

void kho_rs_oracle_clear(void *set)
{
}

int kho_rs_oracle_restore(void *set, u64 head_pa)
{
	return -ENOENT;
}

u64 kho_rs_oracle_head_pa(void *set)
{
	return 0;
}

long kho_rs_oracle_nblocks(void *set)
{
	return 0;
}

u64 kho_rs_oracle_count_per_block(void *set)
{
	return 0;
}

bool kho_rs_oracle_incoming(void *set)
{
	return false;
}

void kho_rs_oracle_it_init(void *set)
{
}

u64 kho_rs_oracle_it_reserve_entry(void *set, const void *src, size_t len)
{
	return 0;
}

u64 kho_rs_oracle_it_read_entry(void *set, void *dst, size_t len)
{
	return 0;
}

u64 kho_rs_oracle_it_prev(void *set, void *dst, size_t len)
{
	return 0;
}

size_t kho_rs_oracle_bench_write(void *set, const void *src, size_t n)
{
	return 0;
}

size_t kho_rs_oracle_bench_read(void *set, void *dst, size_t n)
{
	return 0;
}

void kho_rs_oracle_ledger_open(u64 *buf, size_t cap)
{
}

size_t kho_rs_oracle_ledger_close(void)
{
	return 0;
}

long kho_rs_oracle_live_sets(void)
{
	return 0;
}

long kho_rs_oracle_live_pages(void)
{
	return 0;
}

long kho_rs_oracle_restored_freed(void)
{
	return 0;
}

#endif /* KHO_RS_KHO_BLOCK_C */
