/* SPDX-License-Identifier: GPL-2.0 */
/*
 * RCU on liburcu's default (memb) flavour: rcu_read_lock, synchronize_rcu and
 * struct rcu_head keep their kernel names there. Every thread that reads must
 * be registered (compat kthreads are).
 *
 * call_rcu and rcu_barrier are compat.c's own, on top of liburcu's
 * synchronize_rcu: liburcu's call_rcu worker sleeps 10 ms after every wake-up
 * to batch callbacks, so each rcu_barrier (one per fpmap_destroy) cost 10-20 ms,
 * which was most of the time of a fuzz execution or a property-test case.
 * Compat's worker batches too, but an rcu_barrier cuts the batch short.
 */
#ifndef COMPAT_LINUX_RCUPDATE_H
#define COMPAT_LINUX_RCUPDATE_H

#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE
#endif
#include <urcu.h>

#ifdef __cplusplus
extern "C" {
#endif
void compat_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head));
void compat_rcu_barrier(void);
#ifdef __cplusplus
}
#endif

#undef call_rcu
#define call_rcu compat_call_rcu
#undef rcu_barrier
#define rcu_barrier compat_rcu_barrier

#define rcu_dereference_protected(p, c) (p)
#define rcu_access_pointer(p) READ_ONCE(p)
#define RCU_INIT_POINTER(p, v) WRITE_ONCE((p), (v))

#endif
