/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMPAT_LINUX_STRING_H
#define COMPAT_LINUX_STRING_H

#include <string.h>

#endif
