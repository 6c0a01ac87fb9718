/* SPDX-License-Identifier: GPL-2.0 */
/* WARN_ON prints and goes on, as in the kernel; tests count on it not aborting. */
#ifndef COMPAT_LINUX_BUG_H
#define COMPAT_LINUX_BUG_H

#include <stdio.h>

#define WARN_ON(cond) ({ \
	int __warn = !!(cond); \
	if (__warn) \
		fprintf(stderr, "WARNING at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	__warn; })
#define WARN_ON_ONCE(cond) WARN_ON(cond)

#endif
