/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMPAT_LINUX_CPUMASK_H
#define COMPAT_LINUX_CPUMASK_H

#include <linux/smp.h>

/* Every simulated CPU is possible and online. */
#define cpu_possible(cpu) ((unsigned int)(cpu) < nr_cpu_ids)

#endif
