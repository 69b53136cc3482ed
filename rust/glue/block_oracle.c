// SPDX-License-Identifier: GPL-2.0
/*
 * kho_rs block-v1 oracle, KUnit builds only (see block_oracle.h and
 * Documentation/block-oracle.rst).
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
 * ledger the call is recorded there instead (see block_oracle.h).
 *
 * If the file is missing, Kbuild passes -DKHO_RS_KHO_BLOCK_MISSING="<path>"
 * instead and the stub at the end makes every oracle call fail, so the KUnit
 * suite kho_rs_block_c fails naming the file rather than skipping.
 */

#ifdef KHO_RS_KHO_BLOCK_C

#include <linux/atomic.h>
#include <linux/err.h>
#include <linux/io.h>
#include <linux/kexec_handover.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "block_oracle.h"

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

static atomic_long_t live_sets = ATOMIC_LONG_INIT(0);
static atomic_long_t live_pages = ATOMIC_LONG_INIT(0);

/*
 * The open ledger. KUnit runs the module's cases one after another in the
 * insmod thread, and only the tests use the oracle, so no lock is needed.
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

int kho_rs_oracle_restore(void *set, u64 head_pa)
{
	struct kho_rs_oracle *o = set;
	int err;

	/* Only into a fresh set; without a ledger only on a KHO boot. */
	if (!list_empty(&o->bs.blocks) || o->bs.incoming)
		return -EBUSY;
	if (!ledger.open && !is_kho_boot())
		return -EPERM;
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

	return kho_rs_oracle_copy_out(o, kho_block_set_it_read_entry(&o->it), dst, len);
}

u64 kho_rs_oracle_it_prev(void *set, void *dst, size_t len)
{
	struct kho_rs_oracle *o = set;

	return kho_rs_oracle_copy_out(o, kho_block_set_it_prev(&o->it), dst, len);
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

#endif /* KHO_RS_KHO_BLOCK_C */
