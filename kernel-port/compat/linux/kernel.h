/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMPAT_LINUX_KERNEL_H
#define COMPAT_LINUX_KERNEL_H

#include <stdio.h>
#include <linux/types.h>
#include <linux/compiler.h>

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))
#define min_t(type, a, b) min((type)(a), (type)(b))
#define max_t(type, a, b) max((type)(a), (type)(b))

#define KERN_ERR ""
#define KERN_INFO ""
#define pr_err(fmt, ...) fprintf(stderr, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) printf(fmt, ##__VA_ARGS__)

#endif
