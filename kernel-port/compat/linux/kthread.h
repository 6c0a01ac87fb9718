/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kthreads as pthreads, each registered with liburcu and pinned to a
 * simulated CPU for per-CPU data.
 */
#ifndef COMPAT_LINUX_KTHREAD_H
#define COMPAT_LINUX_KTHREAD_H

#include <linux/types.h>

struct task_struct;

struct task_struct *compat_kthread_run_on_cpu(int (*fn)(void *data), void *data,
					      unsigned int cpu);
int kthread_stop(struct task_struct *task);
bool kthread_should_stop(void);

#define kthread_run_on_cpu(fn, data, cpu, namefmt) \
	compat_kthread_run_on_cpu((fn), (data), (cpu))

#endif
