/* SPDX-License-Identifier: GPL-2.0 */
#ifndef FPMAP_SELFTEST_H
#define FPMAP_SELFTEST_H

/* Runs every case, prints "fpmap selftest: N passed, M failed", returns M. */
int fpmap_selftest(void);

#endif
