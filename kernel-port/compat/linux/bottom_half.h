/* SPDX-License-Identifier: GPL-2.0 */
/* No softirqs in userspace: a simulated CPU runs one context at a time. */
#ifndef COMPAT_LINUX_BOTTOM_HALF_H
#define COMPAT_LINUX_BOTTOM_HALF_H

#define local_bh_disable() do { } while (0)
#define local_bh_enable() do { } while (0)

#endif
