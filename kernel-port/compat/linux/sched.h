/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMPAT_LINUX_SCHED_H
#define COMPAT_LINUX_SCHED_H

#include <sched.h>

#define cond_resched() sched_yield()

#endif
