# Sourced by the netns tests of this directory: exit 77 (skipped), saying why, where kernel-replay
# cannot run (not root, no network namespaces, no private mount namespaces for `ip netns exec`).
skip() { echo "SKIP: $* (kernel-replay needs root and network namespaces)"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
[[ $(id -u) == 0 ]] || skip "not root"
probe="econ-test-$$"
ip netns add "$probe" 2>/dev/null || skip "'ip netns add' fails here"
ip netns del "$probe"
unshare -m sh -c 'mount --make-rslave /' 2>/dev/null || skip "mount namespaces cannot be made private here"
