/* SPDX-License-Identifier: GPL-2.0 */
/* Per-CPU data as an array with one element per simulated CPU. */
#ifndef COMPAT_LINUX_PERCPU_H
#define COMPAT_LINUX_PERCPU_H

#include <linux/compiler.h>
#include <linux/slab.h>
#include <linux/smp.h>

#define alloc_percpu(type) \
	((type *)kcalloc(nr_cpu_ids, sizeof(type), GFP_KERNEL))
#define free_percpu(p) kfree(p)
#define per_cpu_ptr(p, cpu) (&(p)[(cpu)])
#define this_cpu_ptr(p) per_cpu_ptr(p, smp_processor_id())

#endif
