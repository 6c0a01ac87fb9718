/* SPDX-License-Identifier: GPL-2.0 */
/* The UAPI errno values are the kernel's; only the header name differs. */
#ifndef COMPAT_LINUX_ERRNO_H
#define COMPAT_LINUX_ERRNO_H

#include_next <linux/errno.h>

#endif
