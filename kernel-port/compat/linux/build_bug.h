/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMPAT_LINUX_BUILD_BUG_H
#define COMPAT_LINUX_BUILD_BUG_H

#define BUILD_BUG_ON(cond) _Static_assert(!(cond), "BUILD_BUG_ON: " #cond)

#endif
