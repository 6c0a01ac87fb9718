/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMPAT_LINUX_CACHE_H
#define COMPAT_LINUX_CACHE_H

#define L1_CACHE_BYTES 64
#define ____cacheline_aligned __attribute__((aligned(L1_CACHE_BYTES)))

#endif
