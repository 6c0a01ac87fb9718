/* SPDX-License-Identifier: GPL-2.0 */
/*
 * READ_ONCE/WRITE_ONCE as relaxed atomics: the same single-copy semantics the
 * kernel relies on, and visible as such to ThreadSanitizer.
 */
#ifndef COMPAT_LINUX_COMPILER_H
#define COMPAT_LINUX_COMPILER_H

#define READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, val) __atomic_store_n(&(x), (val), __ATOMIC_RELAXED)
#define smp_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define smp_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define __aligned(x) __attribute__((aligned(x)))
#define noinline __attribute__((__noinline__))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#ifndef __percpu
#define __percpu
#endif
#ifndef __rcu
#define __rcu
#endif
#define __read_mostly
#define ____cacheline_aligned_in_smp __attribute__((aligned(64)))

#endif
