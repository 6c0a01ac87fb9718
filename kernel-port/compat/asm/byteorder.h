/* SPDX-License-Identifier: GPL-2.0 */
/* The UAPI byte order helpers plus the kernel's short names for them. */
#ifndef COMPAT_ASM_BYTEORDER_H
#define COMPAT_ASM_BYTEORDER_H

#include_next <asm/byteorder.h>

#define be16_to_cpu(x) __be16_to_cpu(x)
#define cpu_to_be16(x) __cpu_to_be16(x)
#define be32_to_cpu(x) __be32_to_cpu(x)
#define cpu_to_be32(x) __cpu_to_be32(x)
#define le64_to_cpu(x) __le64_to_cpu(x)
#define htons(x) cpu_to_be16(x)
#define ntohs(x) be16_to_cpu(x)
#define htonl(x) cpu_to_be32(x)
#define ntohl(x) be32_to_cpu(x)

#endif
