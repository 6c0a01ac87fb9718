/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMPAT_LINUX_STDDEF_H
#define COMPAT_LINUX_STDDEF_H

#include <stddef.h>

#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

#endif
