/* SPDX-License-Identifier: GPL-2.0 */
/*
 * RCU on liburcu's default (memb) flavour: rcu_read_lock, synchronize_rcu,
 * call_rcu, rcu_barrier and struct rcu_head keep their kernel names there.
 * Every thread that reads must be registered (compat kthreads are).
 */
#ifndef COMPAT_LINUX_RCUPDATE_H
#define COMPAT_LINUX_RCUPDATE_H

#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE
#endif
#include <urcu.h>

#define rcu_dereference_protected(p, c) (p)
#define rcu_access_pointer(p) READ_ONCE(p)
#define RCU_INIT_POINTER(p, v) WRITE_ONCE((p), (v))

#endif
