/* SPDX-License-Identifier: GPL-2.0 */
/* The UAPI header (libc includes it too) plus the kernel's type limits. */
#ifndef COMPAT_LINUX_LIMITS_H
#define COMPAT_LINUX_LIMITS_H

#include_next <linux/limits.h>

#define U8_MAX ((unsigned char)~0U)
#define U16_MAX ((unsigned short)~0U)
#define U32_MAX (~0U)

#endif
