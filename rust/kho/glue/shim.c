// SPDX-License-Identifier: GPL-2.0
/*
 * kho_rs C shim: thin, checked wrappers around inline helpers and the exported
 * KHO API for the Rust part of the module (see shim.h). The only logic here is
 * checking untrusted input before KHO would WARN on it, and the radix tree
 * set-up and tear-down that 7.2 does not export.
 */
#include <linux/bitops.h>
#include <linux/count_zeros.h>
#include <linux/crc32.h>
#include <linux/dcache.h>
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/kexec_handover.h>
#include <linux/kho/abi/kexec_handover.h>
#include <linux/kho_radix_tree.h>
#include <linux/log2.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/version.h>
#include <linux/vmalloc.h>

#include "shim.h"

static_assert(sizeof(phys_addr_t) == sizeof(u64));
static_assert(sizeof(struct kho_vmalloc) == 16);

bool kho_rs_kho_is_enabled(void)
{
	return kho_is_enabled();
}

bool kho_rs_is_kho_boot(void)
{
	return is_kho_boot();
}

u64 kho_rs_alloc_zeroed_page(void)
{
	struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);

	return page ? page_to_phys(page) : 0;
}

void kho_rs_free_page(u64 phys)
{
	__free_page(phys_to_page(phys));
}

/* A naturally aligned, non-compound block of 2^@order pages (not zeroed). */
u64 kho_rs_alloc_pages(unsigned int order)
{
	struct page *page = alloc_pages(GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN, order);

	return page ? page_to_phys(page) : 0;
}

void kho_rs_free_pages(u64 phys, unsigned int order)
{
	__free_pages(phys_to_page(phys), order);
}

void *kho_rs_phys_to_virt(u64 phys)
{
	return phys_to_virt(phys);
}

/* virt - phys of the direct map: phys_to_virt(pa) == pa + offset for any page of RAM. */
unsigned long kho_rs_direct_map_offset(void)
{
	return (unsigned long)phys_to_virt(0);
}

/*
 * KHO's per-page preservation mark. kexec_handover.c (7.2 and 7.3) keeps it in
 * page->private of the head page of every block the previous kernel preserved,
 * as "union kho_page_info { unsigned long page_private; struct { unsigned int
 * order; unsigned int magic; }; }" with magic KHO_PAGE_MAGIC, and clears it in
 * kho_restore_page(). The layout is private to kexec_handover.c; the KUnit suite
 * kho_rs_kexec_claim (case page_mark_layout) pins it against pages the
 * previous kernel really preserved, before and after they are restored.
 */
#define KHO_RS_PAGE_MAGIC 0x4b484f50U /* "KHOP", KHO_PAGE_MAGIC */

union kho_rs_page_info {
	unsigned long page_private;
	struct {
		unsigned int order;
		unsigned int magic;
	};
};

static_assert(sizeof(union kho_rs_page_info) == sizeof(((struct page *)0)->private));

/*
 * The struct page of @pfn if it is RAM, as pfn_to_online_page(), remembering
 * in *@section the last early (boot) memory section seen. An early section is
 * valid as a whole (see pfn_valid()), so later pages of it need no new
 * lookup: under lockdep, pfn_valid() takes and drops rcu_read_lock_sched(),
 * which costs about as much as restoring the page, and the pages of a vmalloc
 * chunk mostly share a few sections.
 */
static struct page *kho_rs_pfn_page(unsigned long pfn, unsigned long *section)
{
#ifdef CONFIG_SPARSEMEM
	unsigned long nr = pfn_to_section_nr(pfn);
	struct page *page;

	if (nr == *section)
		return pfn_to_page(pfn);
	page = pfn_to_online_page(pfn);
	if (page && early_section(__nr_to_section(nr)))
		*section = nr;
	return page;
#else
	return pfn_to_online_page(pfn);
#endif
}

/*
 * Checks, without any WARN, that [@phys, @phys + @nr_pages pages) is preserved
 * as exactly the blocks kho_restore_pages() splits it into and that none was
 * restored yet. kho_restore_page() WARNs on a page without the mark, so this
 * must pass before kho_restore_pages() is called on untrusted addresses.
 * Returns 0, -EINVAL (bad range, or preserved with another order), -EFAULT
 * (not RAM) or -ENOENT (not preserved, or claimed already).
 */
int kho_rs_check_preserved(u64 phys, unsigned long nr_pages)
{
	unsigned long pfn = PHYS_PFN(phys), end = pfn + nr_pages;
	unsigned long section = ULONG_MAX;
	union kho_rs_page_info info;
	struct page *page;
	unsigned int order;

	if (!phys || !nr_pages || !PAGE_ALIGNED(phys) || end < pfn ||
	    PFN_PHYS(pfn) != phys)
		return -EINVAL;
	while (pfn < end) {
		order = min_t(unsigned int, __ffs(pfn), ilog2(end - pfn));
		page = kho_rs_pfn_page(pfn, &section);
		if (!page)
			return -EFAULT;
		info.page_private = READ_ONCE(page->private);
		if (info.magic != KHO_RS_PAGE_MAGIC)
			return -ENOENT;
		/*
		 * The mark's order comes from the previous kernel's radix tree:
		 * kho_restore_page() (7.3) would build a block of that order
		 * without checking it against MAX_PAGE_ORDER.
		 */
		if (info.order != order || order > MAX_PAGE_ORDER)
			return -EINVAL;
		pfn += 1UL << order;
	}
	return 0;
}

/*
 * Claims are serialized inside the module: the check of a block's mark and its
 * restore are one step for every claim this module makes, so two of its users
 * (threads restoring different states, or a damaged state naming a page twice)
 * cannot both pass the check of one page and then both restore it; the second
 * would WARN in kho_restore_page(). The seal's copies are taken under the same
 * lock, so no claim of the module frees a page while it is copied.
 *
 * A KHO user outside this module that restores the same page at the same
 * moment can still race with it, unless the kernel has kho_try_restore_pages()
 * (patches/kernel/0002-*: it takes each block's mark atomically and fails
 * without a WARN), which the claims below then use.
 */
static DEFINE_MUTEX(kho_rs_claim_lock);

#ifdef kho_try_restore_pages
/*
 * Restores [@phys, @phys + @nr_pages pages) all or nothing, atomically against
 * every other claimer in the kernel, without a WARN when one wins the race.
 */
static bool kho_rs_restore_range(u64 phys, unsigned long nr_pages)
{
	return kho_try_restore_pages(phys, nr_pages);
}

/* One preserved block, checked by the caller: the same call. */
#define kho_rs_restore_block(phys, nr_pages) kho_try_restore_pages(phys, nr_pages)
#else
/*
 * One preserved block of @nr_pages pages at @phys, checked by the caller. (A
 * vmalloc chunk restores thousands: no range loop around the call.)
 */
#define kho_rs_restore_block(phys, nr_pages) kho_restore_pages(phys, nr_pages)

/* Gives back the order-0 pages [@pfn, @end) that kho_restore_pages() restored. */
static void kho_rs_release_pfns(unsigned long pfn, unsigned long end)
{
	for (; pfn < end; pfn++)
		__free_page(pfn_to_page(pfn));
}

/*
 * Restores [@phys, @phys + @nr_pages pages), checked by the caller, one block
 * at a time. If a block fails anyway (a user outside the module claimed it in
 * between, and kho_restore_page() WARNed), the blocks already restored are
 * freed again, so a failed claim leaves nothing restored.
 */
static bool kho_rs_restore_range(u64 phys, unsigned long nr_pages)
{
	unsigned long pfn = PHYS_PFN(phys), start = pfn, end = pfn + nr_pages;
	unsigned int order;

	while (pfn < end) {
		order = min_t(unsigned int, __ffs(pfn), ilog2(end - pfn));
		if (!kho_restore_pages(PFN_PHYS(pfn), 1UL << order)) {
			kho_rs_release_pfns(start, pfn);
			return false;
		}
		pfn += 1UL << order;
	}
	return true;
}
#endif

/*
 * Check, then claim: the range is restored only after kho_rs_check_preserved()
 * (the module's own policy: exactly the blocks kho_restore_pages() splits it
 * into, none above MAX_PAGE_ORDER), under kho_rs_claim_lock. A failed claim
 * leaves nothing restored.
 */
int kho_rs_claim_pages(u64 phys, unsigned long nr_pages)
{
	int err;

	mutex_lock(&kho_rs_claim_lock);
	err = kho_rs_check_preserved(phys, nr_pages);
	if (!err && !kho_rs_restore_range(phys, nr_pages))
		err = -ENOENT;
	mutex_unlock(&kho_rs_claim_lock);
	return err;
}

/*
 * Claims @n blocks of 2^@order pages each, listed at @phys (a page the caller
 * owns), in order, and writes the struct page of each of their pages to
 * @pages (room for @n << @order entries), as kho_restore_vmalloc() fills the
 * array vmap() takes over. Each block is checked as kho_rs_check_preserved()
 * does, on the head page it looks up anyway: aligned, in RAM, marked with
 * exactly @order, not claimed yet, under kho_rs_claim_lock. Stops at the first
 * block that fails; *@claimed gets the number claimed, which the caller owns
 * (and frees when it gives up the restore). One call per vmalloc chunk.
 */
int kho_rs_claim_blocks_pages(const u64 *phys, unsigned long n, unsigned int order,
			      struct page **pages, unsigned long *claimed)
{
	unsigned long i, j, pfn, nr = 1UL << order, section = ULONG_MAX;
	union kho_rs_page_info info;
	struct page *page;
	int err = 0;

	*claimed = 0;
	if (order > MAX_PAGE_ORDER)
		return -EINVAL;
	mutex_lock(&kho_rs_claim_lock);
	for (i = 0; i < n; i++) {
		pfn = PHYS_PFN(phys[i]);
		if (!phys[i] || PFN_PHYS(pfn) != phys[i] || (pfn & (nr - 1))) {
			err = -EINVAL;
			break;
		}
		page = kho_rs_pfn_page(pfn, &section);
		if (!page) {
			err = -EFAULT;
			break;
		}
		info.page_private = READ_ONCE(page->private);
		if (info.magic != KHO_RS_PAGE_MAGIC) {
			err = -ENOENT;
			break;
		}
		if (info.order != order || !kho_rs_restore_block(phys[i], nr)) {
			err = -EINVAL;
			break;
		}
		for (j = 0; j < nr; j++)
			*pages++ = page + j;
	}
	mutex_unlock(&kho_rs_claim_lock);
	*claimed = i;
	return err;
}

/*
 * The seal (rust/kho/pure/seal.rs) reads the previous kernel's metadata pages
 * before it claims any: copies @phys, one page, into @buf after the check of
 * kho_rs_claim_pages() says it is an order-0 page preserved by the previous
 * kernel and not claimed yet. Under kho_rs_claim_lock, so that no claim of
 * this module frees the page while it is copied. Nothing is claimed; the
 * page stays the previous kernel's.
 */
int kho_rs_peek_page(u64 phys, void *buf)
{
	int err;

	mutex_lock(&kho_rs_claim_lock);
	err = kho_rs_check_preserved(phys, 1);
	if (!err)
		memcpy(buf, phys_to_virt(phys), PAGE_SIZE);
	mutex_unlock(&kho_rs_claim_lock);
	return err;
}

#if !IS_ENABLED(CONFIG_CRC32)
#error "kho_rs seals its state with crc32c(): it needs CONFIG_CRC32"
#endif

/* The seal's digest: the kernel's CRC-32C update (no initial or final complement). */
u32 kho_rs_crc32c(u32 crc, const void *p, size_t len)
{
	return crc32c(crc, p, len);
}

/* Tests only: page->private of the page at @phys (0 if it is not online RAM). */
u64 kho_rs_page_private(u64 phys)
{
	struct page *page = pfn_to_online_page(PHYS_PFN(phys));

	return page ? READ_ONCE(page->private) : 0;
}

/*
 * Physical addresses of @n pages of the vmalloc area at @addr, from page
 * @first on, into @out: one call per chunk instead of one per page. Returns
 * the number filled (fewer if a page is not mapped).
 */
unsigned long kho_rs_vmalloc_phys(const void *addr, unsigned long first, unsigned long n,
				  u64 *out)
{
	unsigned long i;
	struct page *page;

	for (i = 0; i < n; i++) {
		page = vmalloc_to_page(addr + (first + i) * PAGE_SIZE);
		if (!page)
			return i;
		out[i] = page_to_phys(page);
	}
	return n;
}

/*
 * KHO's preserve calls WARN when KHO is disabled (kho=off, or no scratch area
 * reserved at boot): every preserve path refuses first, with -EOPNOTSUPP.
 * Whether KHO is enabled is settled during early boot, so it is asked once:
 * a vmalloc area is preserved one call per block, and an out-of-line call per
 * page costs 5-10 % of the preserve.
 */
static bool kho_rs_kho_enabled(void)
{
	static int enabled = -1;
	int on = READ_ONCE(enabled);

	if (unlikely(on < 0)) {
		on = kho_is_enabled();
		WRITE_ONCE(enabled, on);
	}
	return on;
}

int kho_rs_preserve_pages(u64 phys, unsigned long nr_pages)
{
	if (!kho_rs_kho_enabled())
		return -EOPNOTSUPP;
	return kho_preserve_pages(phys_to_page(phys), nr_pages);
}

void kho_rs_unpreserve_pages(u64 phys, unsigned long nr_pages)
{
	kho_unpreserve_pages(phys_to_page(phys), nr_pages);
}

/* kho_unpreserve_pages() of @n blocks of @nr_pages pages listed at @phys: one call a chunk. */
/*
 * Preserves @n blocks of @nr_pages pages listed at @phys (a page the caller
 * owns), in order, as kho_preserve_pages() one by one; stops at the first that
 * fails. *@done gets the number preserved. One call per vmalloc chunk: a call
 * per page cost a fifth of a vmalloc preserve under TCG.
 */
int kho_rs_preserve_blocks(const u64 *phys, unsigned long n, unsigned long nr_pages,
			   unsigned long *done)
{
	unsigned long i;
	int err = 0;

	*done = 0;
	if (!kho_rs_kho_enabled())
		return -EOPNOTSUPP;
	for (i = 0; i < n; i++) {
		err = kho_preserve_pages(phys_to_page(phys[i]), nr_pages);
		if (err)
			break;
	}
	*done = i;
	return err;
}

void kho_rs_unpreserve_blocks(const u64 *phys, unsigned long n, unsigned long nr_pages)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		kho_unpreserve_pages(phys_to_page(phys[i]), nr_pages);
}

int kho_rs_add_subtree(const char *name, void *blob, size_t size)
{
#ifdef CONFIG_FAULT_INJECTION
	unsigned int nth = READ_ONCE(current->fail_nth);
#endif
	int err;

	if (!kho_rs_kho_enabled())
		return -EOPNOTSUPP;
#ifdef CONFIG_FAULT_INJECTION
	/*
	 * kho_add_subtree() WARNs when it cannot create the subtree's debugfs
	 * file (an allocation), so a fault-injection sweep (fail-nth) must not
	 * fail it: the counter is paused across the call. Fixed in the kernel by
	 * patches/kernel/0001-kho-do-not-WARN-when-a-subtree-s-debugfs-file-cannot.patch.
	 */
	WRITE_ONCE(current->fail_nth, 0);
#endif
	err = kho_add_subtree(name, blob, size);
#ifdef CONFIG_FAULT_INJECTION
	WRITE_ONCE(current->fail_nth, nth);
#endif
	return err;
}

void kho_rs_remove_subtree(void *blob)
{
	kho_remove_subtree(blob);
}

int kho_rs_retrieve_subtree(const char *name, u64 *phys, size_t *size)
{
	phys_addr_t pa = 0;
	int err = kho_retrieve_subtree(name, &pa, size);

	*phys = pa;
	return err;
}

void *kho_rs_vmalloc(unsigned long size, bool huge)
{
	return huge ? vmalloc_huge(size, GFP_KERNEL) : vmalloc(size);
}

void kho_rs_vfree(const void *addr)
{
	vfree(addr);
}

u64 kho_rs_vmalloc_to_phys(const void *addr)
{
	struct page *page = vmalloc_to_page(addr);

	return page ? page_to_phys(page) : 0;
}

/*
 * Maps @nr_pages restored order-0 pages into one virtually contiguous area.
 * @pages is a kvmalloc'ed array; with VM_MAP_PUT_PAGES the area owns it and
 * the pages afterwards: vfree() releases the array and one reference of every
 * page. On failure nothing is mapped and the caller still owns both.
 */
void *kho_rs_vmap_put_pages(struct page **pages, unsigned int nr_pages)
{
	return vmap(pages, nr_pages, VM_MAP | VM_MAP_PUT_PAGES, PAGE_KERNEL);
}

/* Frees @n order-0 pages given by their struct page (a vmap() that failed). */
void kho_rs_free_page_array(struct page *const *pages, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		__free_page(pages[i]);
}

void kho_rs_vm_unmap_aliases(void)
{
	vm_unmap_aliases();
}

/*
 * Everything below is for the test module only (kho_rs_test.ko, whose wrapper
 * shim_test.c defines KHO_RS_TEST): C's vmalloc preservation and radix tree as
 * the differential tests' and benchmarks' reference, C's ABI constants, and
 * KHO's outgoing FDT. The product module and the sample carry none of it.
 */
#ifdef KHO_RS_TEST

int kho_rs_c_preserve_vmalloc(void *ptr, struct kho_vmalloc *desc)
{
	if (!kho_rs_kho_enabled())
		return -EOPNOTSUPP;
	return kho_preserve_vmalloc(ptr, desc);
}

void kho_rs_c_unpreserve_vmalloc(struct kho_vmalloc *desc)
{
	kho_unpreserve_vmalloc(desc);
}

void *kho_rs_c_restore_vmalloc(const struct kho_vmalloc *desc)
{
	return kho_restore_vmalloc(desc);
}

u64 kho_rs_c_abi_const(unsigned int which)
{
	switch (which) {
	case KHO_RS_ABI_PAGE_SHIFT:
		return PAGE_SHIFT;
	case KHO_RS_ABI_RADIX_KEY_WIDTH:
#ifdef KHO_RS_RADIX_KEY_API
		return KHO_RADIX_KEY_WIDTH;
#else
		/* 7.2 names the order bit's position of order 0 instead. */
		return KHO_ORDER_0_LOG2 + 1;
#endif
	case KHO_RS_ABI_TABLE_SIZE_LOG2:
		return KHO_TABLE_SIZE_LOG2;
	case KHO_RS_ABI_BITMAP_SIZE_LOG2:
		return KHO_BITMAP_SIZE_LOG2;
	case KHO_RS_ABI_TREE_MAX_DEPTH:
		return KHO_TREE_MAX_DEPTH;
	case KHO_RS_ABI_VMALLOC_SIZE:
		return KHO_VMALLOC_SIZE;
	case KHO_RS_ABI_MAX_PAGE_ORDER:
		return MAX_PAGE_ORDER;
	}
	return U64_MAX;
}

/*
 * Tests only: the outgoing root FDT (kho_out.fdt) is static in kexec_handover.c
 * and its only public handle is the debugfs blob kho/out/fdt, whose inode's
 * i_private is the struct debugfs_blob_wrapper naming it (debugfs_create_blob).
 * The FDT is one page from kho_alloc_preserve(), in the direct map. Its
 * "preserved-memory-map" property is the root of KHO's own radix tree, which
 * the tests read (never write) to check what is preserved. Looked up with
 * debugfs_lookup(), so debugfs need not be mounted. Returns 0 if not found.
 */
u64 kho_rs_kho_out_fdt_phys(void)
{
	struct dentry *kho, *out, *fdt = NULL;
	struct debugfs_blob_wrapper *blob;
	u64 phys = 0;

	kho = debugfs_lookup("kho", NULL);
	if (IS_ERR_OR_NULL(kho))
		return 0;
	out = debugfs_lookup("out", kho);
	if (!IS_ERR_OR_NULL(out))
		fdt = debugfs_lookup("fdt", out);
	if (!IS_ERR_OR_NULL(fdt) && d_inode(fdt)) {
		blob = d_inode(fdt)->i_private;
		if (blob && blob->data && virt_addr_valid(blob->data))
			phys = virt_to_phys(blob->data);
	}
	if (!IS_ERR_OR_NULL(fdt))
		dput(fdt);
	if (!IS_ERR_OR_NULL(out))
		dput(out);
	dput(kho);
	return phys;
}

/*
 * Tests only: the fault-injection counter of the current task (what
 * /proc/self/fail-nth sets): with @n > 0 the n-th fault-injectable call of the
 * task from now on fails (kmalloc with failslab, the page allocator with
 * fail_page_alloc, as their debugfs attributes allow). Returns -EOPNOTSUPP
 * without CONFIG_FAULT_INJECTION.
 */
int kho_rs_fail_nth_set(unsigned int n)
{
#ifdef CONFIG_FAULT_INJECTION
	WRITE_ONCE(current->fail_nth, n);
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}

/* Tests only: what is left of the counter (0: the failure was injected, or none set). */
unsigned int kho_rs_fail_nth_get(void)
{
#ifdef CONFIG_FAULT_INJECTION
	return READ_ONCE(current->fail_nth);
#else
	return 0;
#endif
}

/*
 * Tests only: whether the outgoing subtree @name is registered, as KHO's debugfs
 * shows it (kho/out/sub_fdts/<name>, created by kho_add_subtree() and removed by
 * kho_remove_subtree()).
 */
bool kho_rs_subtree_registered(const char *name)
{
	struct dentry *kho, *out, *subs = NULL, *sub = NULL;
	bool found;

	kho = debugfs_lookup("kho", NULL);
	if (IS_ERR_OR_NULL(kho))
		return false;
	out = debugfs_lookup("out", kho);
	if (!IS_ERR_OR_NULL(out))
		subs = debugfs_lookup("sub_fdts", out);
	if (!IS_ERR_OR_NULL(subs))
		sub = debugfs_lookup(name, subs);
	found = !IS_ERR_OR_NULL(sub);
	if (found)
		dput(sub);
	if (!IS_ERR_OR_NULL(subs))
		dput(subs);
	if (!IS_ERR_OR_NULL(out))
		dput(out);
	dput(kho);
	return found;
}

/*
 * The C radix tree, for differential tests and benchmarks. Kbuild defines
 * KHO_RS_RADIX_KEY_API for 7.3 (key API with init/destroy and a walk with leaf
 * and node callbacks); 7.2 exports the page API instead. Both branches give the
 * Rust side a tree handle from kho_rs_c_radix_new() and kho_rs_c_radix_free().
 */
#if defined(KHO_RS_RADIX_KEY_API) != (LINUX_VERSION_CODE >= KERNEL_VERSION(7, 3, 0))
#error "Kbuild's radix API choice does not match LINUX_VERSION_CODE"
#endif

#ifdef KHO_RS_RADIX_KEY_API

void *kho_rs_c_radix_new(u64 root_phys)
{
	struct kho_radix_tree *tree = kzalloc(sizeof(*tree), GFP_KERNEL);
	int err;

	if (!tree)
		return NULL;
	err = kho_radix_init_tree(tree, root_phys ? phys_to_virt(root_phys) : NULL);
	if (err) {
		kfree(tree);
		return NULL;
	}
	return tree;
}

/* Frees the tree handle; with @destroy also every node page of the tree. */
void kho_rs_c_radix_free(void *tree, bool destroy)
{
	if (destroy)
		kho_radix_destroy_tree(tree);
	kfree(tree);
}

int kho_rs_c_radix_add_key(void *tree, unsigned long key)
{
	return kho_radix_add_key(tree, key);
}

void kho_rs_c_radix_del_key(void *tree, unsigned long key)
{
	kho_radix_del_key(tree, key);
}

int kho_rs_c_radix_walk(void *tree, int (*leaf)(unsigned long key, void *data),
			int (*node)(u64 phys, void *data), void *data)
{
	struct kho_radix_walk_cb cb = {
		.leaf = leaf,
		.node = (int (*)(phys_addr_t, void *))node,
	};

	return kho_radix_walk_tree(tree, &cb, data);
}

#else /* 7.2: kho_radix_add_page(), kho_radix_del_page(), walk(phys, order) */

/*
 * 7.2 exports no kho_radix_init_tree(): a tree is a root page plus an
 * initialised mutex, as kho_out_fdt_setup() does for KHO's own tree. Nodes
 * come from get_zeroed_page() in kho_radix_add_page(); the root here too.
 */
void *kho_rs_c_radix_new(u64 root_phys)
{
	struct kho_radix_tree *tree = kzalloc(sizeof(*tree), GFP_KERNEL);

	if (!tree)
		return NULL;
	tree->root = root_phys ? phys_to_virt(root_phys) :
				 (void *)get_zeroed_page(GFP_KERNEL);
	if (!tree->root) {
		kfree(tree);
		return NULL;
	}
	mutex_init(&tree->lock);
	return tree;
}

/* 7.2 exports no kho_radix_destroy_tree(): the same post-order free as 7.3's. */
static void kho_rs_c_radix_free_node(struct kho_radix_node *node, unsigned int level)
{
	unsigned long i;

	for (i = 0; level && i < PAGE_SIZE / sizeof(phys_addr_t); i++) {
		if (node->table[i])
			kho_rs_c_radix_free_node(phys_to_virt(node->table[i]), level - 1);
	}
	free_page((unsigned long)node);
}

/* Frees the tree handle; with @destroy also every node page of the tree. */
void kho_rs_c_radix_free(void *tree, bool destroy)
{
	struct kho_radix_tree *t = tree;

	if (destroy)
		kho_rs_c_radix_free_node(t->root, KHO_TREE_MAX_DEPTH - 1);
	kfree(t);
}

int kho_rs_c_radix_add_page(void *tree, unsigned long pfn, unsigned int order)
{
	return kho_radix_add_page(tree, pfn, order);
}

void kho_rs_c_radix_del_page(void *tree, unsigned long pfn, unsigned int order)
{
	kho_radix_del_page(tree, pfn, order);
}

/*
 * 7.2's walk callback gets (phys, order) and no data pointer: the walk's
 * callback and data are kept here for its duration, one walk at a time.
 */
static DEFINE_MUTEX(kho_rs_c_radix_walk_lock);
static int (*kho_rs_c_radix_walk_fn)(u64 phys, unsigned int order, void *data);
static void *kho_rs_c_radix_walk_data;

static int kho_rs_c_radix_walk_cb(phys_addr_t phys, unsigned int order)
{
	return kho_rs_c_radix_walk_fn(phys, order, kho_rs_c_radix_walk_data);
}

int kho_rs_c_radix_walk_pages(void *tree, int (*fn)(u64 phys, unsigned int order, void *data),
			      void *data)
{
	int ret;

	mutex_lock(&kho_rs_c_radix_walk_lock);
	kho_rs_c_radix_walk_fn = fn;
	kho_rs_c_radix_walk_data = data;
	ret = kho_radix_walk_tree(tree, kho_rs_c_radix_walk_cb);
	kho_rs_c_radix_walk_fn = NULL;
	kho_rs_c_radix_walk_data = NULL;
	mutex_unlock(&kho_rs_c_radix_walk_lock);
	return ret;
}

#endif /* KHO_RS_RADIX_KEY_API */

u64 kho_rs_c_radix_root(void *tree)
{
	struct kho_radix_tree *t = tree;

	return t->root ? virt_to_phys(t->root) : 0;
}

#endif /* KHO_RS_TEST */
