/* SPDX-License-Identifier: GPL-2.0 */
/* work_on_cpu(): run fn as if on that CPU, in the calling thread. */
#ifndef COMPAT_LINUX_WORKQUEUE_H
#define COMPAT_LINUX_WORKQUEUE_H

#include <linux/smp.h>

static inline long work_on_cpu(int cpu, long (*fn)(void *), void *arg)
{
	int saved = compat_current_cpu;
	long ret;

	compat_set_cpu(cpu);
	ret = fn(arg);
	compat_set_cpu(saved);
	return ret;
}

#endif
