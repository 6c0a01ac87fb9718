/* SPDX-License-Identifier: GPL-2.0 */
#ifndef COMPAT_LINUX_BITS_H
#define COMPAT_LINUX_BITS_H

#define BIT(nr) (1UL << (nr))

#endif
