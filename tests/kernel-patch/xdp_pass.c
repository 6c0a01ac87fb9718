// SPDX-License-Identifier: GPL-2.0
/*
 * An XDP program that passes every frame, for fpe2e's xdp scenario: attached,
 * it changes no frame's fate, only whether the fast path may skip the device.
 * Built by kernel-port/kernel-e2e/run with clang -target bpf; no headers.
 */
__attribute__((section("xdp"), used)) int xdp_pass(void *ctx)
{
	return 2; /* XDP_PASS */
}

char _license[] __attribute__((section("license"), used)) = "GPL";
