/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The slab on malloc and, for blocks of 2 KiB or more, an arena that keeps
 * freed blocks by size (compat.c), with a count of live allocations (a leak
 * check for tests) and poisoning on free, so a read of freed memory sees 0x6b
 * as in SLUB debug. Zeroed blocks above 256 KiB are mappings of their own,
 * zero until touched. compat_arena_in_use(): the bytes asked for of the
 * arena's blocks and the mappings in use (without the header in front of
 * each), which malloc's statistics do not see. compat_fail_allocations(n)
 * makes the next n allocations fail.
 */
#ifndef COMPAT_LINUX_SLAB_H
#define COMPAT_LINUX_SLAB_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef unsigned int gfp_t;
#define GFP_KERNEL 0x1u
#define GFP_ATOMIC 0x2u
#define __GFP_NOWARN 0x4u
#define __GFP_ZERO 0x8u

void *compat_kmalloc(size_t size, gfp_t flags);
void compat_kfree(const void *p);
long compat_live_allocations(void);
size_t compat_arena_in_use(void);
void compat_fail_allocations(int n);

#ifdef __cplusplus
}
#endif

#define kmalloc(size, flags) compat_kmalloc((size), (flags))
#define kzalloc(size, flags) compat_kmalloc((size), (flags) | __GFP_ZERO)
#define kmalloc_array(n, size, flags) compat_kmalloc((n) * (size), (flags))
#define kcalloc(n, size, flags) compat_kmalloc((n) * (size), (flags) | __GFP_ZERO)
#define kvcalloc(n, size, flags) kcalloc((n), (size), (flags))
#define kfree(p) compat_kfree(p)
#define kvfree(p) compat_kfree(p)

#endif
