/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kho_rs C shim: the static inline helpers, macros and exported KHO functions
 * that the Rust part of kho_rs.ko calls. Every prototype here is mirrored by an
 * `extern "C"` declaration in rust/kho/glue/ffi.rs; keep the two in sync (the C
 * compiler checks the definitions in shim.c against this header).
 *
 * Physical addresses are u64 (phys_addr_t on 64-bit), counts unsigned long.
 */
#ifndef KHO_RS_SHIM_H
#define KHO_RS_SHIM_H

#include <linux/types.h>

struct kho_vmalloc;
struct page;

/* KHO state. */
bool kho_rs_kho_is_enabled(void);
bool kho_rs_is_kho_boot(void);

/* Pages: allocation and address conversion (direct map). */
u64 kho_rs_alloc_zeroed_page(void);
void kho_rs_free_page(u64 phys);
u64 kho_rs_alloc_pages(unsigned int order);
void kho_rs_free_pages(u64 phys, unsigned int order);
void *kho_rs_phys_to_virt(u64 phys);
unsigned long kho_rs_direct_map_offset(void);

/* KHO preservation of page ranges. */
int kho_rs_preserve_pages(u64 phys, unsigned long nr_pages);
void kho_rs_unpreserve_pages(u64 phys, unsigned long nr_pages);
int kho_rs_preserve_blocks(const u64 *phys, unsigned long n, unsigned long nr_pages,
			   unsigned long *done);
void kho_rs_unpreserve_blocks(const u64 *phys, unsigned long n, unsigned long nr_pages);
int kho_rs_claim_pages(u64 phys, unsigned long nr_pages);
/* The check of kho_rs_claim_pages() alone; C only (block_oracle.c). */
int kho_rs_check_preserved(u64 phys, unsigned long nr_pages);
int kho_rs_claim_blocks_pages(const u64 *phys, unsigned long n, unsigned int order,
			      struct page **pages, unsigned long *claimed);
u64 kho_rs_page_private(u64 phys);
int kho_rs_peek_page(u64 phys, void *buf);
u32 kho_rs_crc32c(u32 crc, const void *p, size_t len);

/* KHO subtrees. */
int kho_rs_add_subtree(const char *name, void *blob, size_t size);
void kho_rs_remove_subtree(void *blob);
int kho_rs_retrieve_subtree(const char *name, u64 *phys, size_t *size);

/* vmalloc: the module's own areas, and the C implementation for cross-checks. */
void *kho_rs_vmalloc(unsigned long size, bool huge);
void kho_rs_vfree(const void *addr);
u64 kho_rs_vmalloc_to_phys(const void *addr);
unsigned long kho_rs_vmalloc_phys(const void *addr, unsigned long first, unsigned long n,
				  u64 *out);
void *kho_rs_vmap_put_pages(struct page **pages, unsigned int nr_pages);
void kho_rs_free_page_array(struct page *const *pages, unsigned long n);
void kho_rs_vm_unmap_aliases(void);
int kho_rs_c_preserve_vmalloc(void *ptr, struct kho_vmalloc *desc);
void kho_rs_c_unpreserve_vmalloc(struct kho_vmalloc *desc);
void *kho_rs_c_restore_vmalloc(const struct kho_vmalloc *desc);

/* Tests only: the KHO ABI constants of this kernel's headers (U64_MAX if unknown). */
enum kho_rs_abi_const {
	KHO_RS_ABI_PAGE_SHIFT,
	KHO_RS_ABI_RADIX_KEY_WIDTH,
	KHO_RS_ABI_TABLE_SIZE_LOG2,
	KHO_RS_ABI_BITMAP_SIZE_LOG2,
	KHO_RS_ABI_TREE_MAX_DEPTH,
	KHO_RS_ABI_VMALLOC_SIZE,
	KHO_RS_ABI_MAX_PAGE_ORDER,
};
u64 kho_rs_c_abi_const(unsigned int which);

/* Tests only: physical address of the outgoing KHO root FDT (0 if unknown). */
u64 kho_rs_kho_out_fdt_phys(void);

/* Tests only: the current task's fault-injection counter (fail-nth). */
int kho_rs_fail_nth_set(unsigned int n);
unsigned int kho_rs_fail_nth_get(void);

/* Tests only: whether the outgoing subtree @name is registered (KHO debugfs). */
bool kho_rs_subtree_registered(const char *name);

/*
 * The C radix tree, for differential tests: the key API of 7.3 or the page API
 * of 7.2 (Kbuild defines KHO_RS_RADIX_KEY_API for 7.3; ffi.rs follows
 * `cfg(kho_rs_radix_key_api)`, set at the same place).
 */
void *kho_rs_c_radix_new(u64 root_phys);
void kho_rs_c_radix_free(void *tree, bool destroy);
u64 kho_rs_c_radix_root(void *tree);
#ifdef KHO_RS_RADIX_KEY_API
int kho_rs_c_radix_add_key(void *tree, unsigned long key);
void kho_rs_c_radix_del_key(void *tree, unsigned long key);
int kho_rs_c_radix_walk(void *tree, int (*leaf)(unsigned long key, void *data),
			int (*node)(u64 phys, void *data), void *data);
#else
int kho_rs_c_radix_add_page(void *tree, unsigned long pfn, unsigned int order);
void kho_rs_c_radix_del_page(void *tree, unsigned long pfn, unsigned int order);
int kho_rs_c_radix_walk_pages(void *tree, int (*fn)(u64 phys, unsigned int order, void *data),
			      void *data);
#endif

#endif /* KHO_RS_SHIM_H */
