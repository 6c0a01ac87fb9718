/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMPAT_LINUX_ERR_H
#define COMPAT_LINUX_ERR_H

#include <stdint.h>

#define IS_ERR_OR_NULL(p) (!(p) || (uintptr_t)(p) >= (uintptr_t)-4095)
#define IS_ERR(p) ((uintptr_t)(p) >= (uintptr_t)-4095)

#endif
