/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMPAT_LINUX_BITOPS_H
#define COMPAT_LINUX_BITOPS_H

#include <linux/bits.h>
#include <linux/types.h>

/* The lowest set bit's number; undefined for 0, as in the kernel. */
static inline unsigned long __ffs(unsigned long word)
{
	return (unsigned long)__builtin_ctzl(word);
}

#endif
