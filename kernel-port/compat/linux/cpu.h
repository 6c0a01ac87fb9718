/* SPDX-License-Identifier: GPL-2.0 */
/* Simulated CPUs never go offline: the hotplug lock has nothing to hold off. */
#ifndef COMPAT_LINUX_CPU_H
#define COMPAT_LINUX_CPU_H

#define cpus_read_lock() do { } while (0)
#define cpus_read_unlock() do { } while (0)

#endif
