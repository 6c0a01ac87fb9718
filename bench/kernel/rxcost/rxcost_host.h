/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The host's clocks, seen from User-Mode Linux. UML's kernel runs as an
 * ordinary host process and exports the host libc's syscall()
 * (arch/um/kernel/ksyms.c): through it, kernel code can read the host's
 * CPU-time clock of the thread that runs the UML kernel, which counts
 * exactly the CPU the kernel spends, softirqs included.
 */
#ifndef RXCOST_HOST_H
#define RXCOST_HOST_H

#if !defined(CONFIG_UML) || !defined(CONFIG_64BIT)
#error "rxcost reads the host's clock: x86_64 User-Mode Linux only"
#endif

/* The host's (glibc's) syscall(2) wrapper. */
long syscall(long number, ...);

/* x86_64 host ABI: the number of clock_gettime(2) and the clock's id. */
#define RXCOST_HOST_NR_CLOCK_GETTIME 228
#define RXCOST_HOST_CLOCK_THREAD_CPUTIME_ID 3

/* The host's struct timespec on x86_64. */
struct rxcost_host_timespec {
	long tv_sec;
	long tv_nsec;
};

#endif /* RXCOST_HOST_H */
