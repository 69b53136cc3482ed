/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kho_rs block-v1 oracle (every build): thin wrappers around upstream's
 * kernel/liveupdate/kho_block.c, which rust/kho/glue/block_oracle.c compiles into
 * the module from the source tree of the kernel it is built against. Every
 * prototype here is mirrored by an `extern "C"` declaration in
 * rust/kho/glue/ffi.rs; keep the two in sync.
 *
 * A set is an opaque handle holding one struct kho_block_set and one iterator
 * (struct kho_block_set_it) over it. Entries cross the interface by copy:
 * the iterator wrappers return the physical address of the slot (0 for C's
 * NULL) and copy min(len, entry_size) bytes from @src into the reserved slot
 * or from the slot into @dst (nothing if the pointer is NULL).
 */
#ifndef KHO_RS_BLOCK_ORACLE_H
#define KHO_RS_BLOCK_ORACLE_H

#include <linux/types.h>

/* Whether kho_block.c was found; the path Kbuild looked for. */
bool kho_rs_oracle_available(void);
const char *kho_rs_oracle_source(void);

/* kzalloc + kho_block_set_init(); NULL for entry sizes C would WARN about. */
void *kho_rs_oracle_new(size_t entry_size);
/* kho_block_set_destroy() + kfree. */
void kho_rs_oracle_free(void *set);

/* -EINVAL on an incoming set (C would WARN), else kho_block_set_grow(). */
int kho_rs_oracle_grow(void *set, u64 count);
void kho_rs_oracle_shrink(void *set, u64 count);
void kho_rs_oracle_destroy(void *set);
void kho_rs_oracle_clear(void *set);
/*
 * kho_block_set_restore() into a fresh set. Under a ledger (same boot) as it
 * is; without one only on a KHO boot (-EPERM otherwise) and only if every
 * block of the chain is a page the previous kernel preserved and nobody
 * claimed (else the shim's errno, and C is not called: it would WARN).
 */
int kho_rs_oracle_restore(void *set, u64 head_pa);

u64 kho_rs_oracle_head_pa(void *set);
long kho_rs_oracle_nblocks(void *set);
u64 kho_rs_oracle_count_per_block(void *set);
bool kho_rs_oracle_incoming(void *set);

void kho_rs_oracle_it_init(void *set);
u64 kho_rs_oracle_it_reserve_entry(void *set, const void *src, size_t len);
/* 0 also where C would return a slot past the end of its block (see .c). */
u64 kho_rs_oracle_it_read_entry(void *set, void *dst, size_t len);
u64 kho_rs_oracle_it_prev(void *set, void *dst, size_t len);

/*
 * Benchmark loops (rust/bench/block.rs): from the first slot, C's own iterator
 * writes up to @n entries from @src (n * entry_size bytes), or reads up to @n
 * into @dst, one copy per entry as a C user writes it. Return how many.
 */
size_t kho_rs_oracle_bench_write(void *set, const void *src, size_t n);
size_t kho_rs_oracle_bench_read(void *set, void *dst, size_t n);

/*
 * Same-boot incoming sets. KHO can only restore pages the previous kernel
 * preserved, so while a ledger is open kho_block.c's kho_restore_free() (called
 * when an incoming set releases a block) records the block's physical address
 * in @buf instead; the pages stay with their writer. Without a ledger the real
 * kho_restore_free() runs. kho_rs_oracle_ledger_close() returns the number of
 * records (only the first @cap are stored).
 */
void kho_rs_oracle_ledger_open(u64 *buf, size_t cap);
size_t kho_rs_oracle_ledger_close(void);

/* Live handles and pages allocated through kho_alloc_preserve() and not freed. */
long kho_rs_oracle_live_sets(void);
long kho_rs_oracle_live_pages(void);
/* Blocks of incoming sets released with the real kho_restore_free(). */
long kho_rs_oracle_restored_freed(void);

#endif /* KHO_RS_BLOCK_ORACLE_H */
