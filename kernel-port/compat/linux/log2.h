/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMPAT_LINUX_LOG2_H
#define COMPAT_LINUX_LOG2_H

#include <linux/types.h>

static inline unsigned int ilog2(unsigned long n)
{
	return (unsigned int)(8 * sizeof(unsigned long) - 1 - __builtin_clzl(n));
}

static inline unsigned long roundup_pow_of_two(unsigned long n)
{
	return n <= 1 ? 1 : 1UL << (ilog2(n - 1) + 1);
}

#endif
