"""kernel-replay --kernel vm: the same replay inside the patched Linux 6.1 that kernel-port/kernel-e2e
builds (the series applied, lockdep, PROVE_RCU, KASAN), booted in qemu with the fast path on.

The guest runs this very tool with --kernel host: its initramfs carries busybox, Debian's python3
with the part of its standard library the tool imports, PyYAML, iproute2, the agent
(traces/src/agent.c, built static), kernel-replay/ itself and the inputs. The guest prints its
summary and its verdict lines on the serial console between markers; this side writes the
verdicts where --verdicts says and hands the guest's exit status back. In the guest, kernel-replay
reads /proc/net/fpmap_stat around every frame (fastpath_stat.py), so each verdict line also says
whether the kernel's fast path delivered it (`path`) and what it did otherwise (`kernel_fastpath`).

qemu runs TCG here (no KVM; see kernel-port/module/run-in-qemu): a frame costs tens of
milliseconds, so a recording of a few hundred frames takes a minute or two after the boot.

A scenario with host.netfilter also gets iptables (legacy x_tables), its extensions and the cached
kernel's br_netfilter.ko (IPTABLES_NAMES below), and the guest plays it paced to the capture's
clock dilated DILATION times, conntrack's UDP timeouts with it (kernel-replay's clock_dilation):
under TCG a frame takes up to a second, against the tenths of a second between the replies that
keep a conntrack entry alive in a capture.
"""
import glob
import gzip
import os
import re
import shutil
import stat
import subprocess
import tempfile

BEGIN, END = "=== kernel-replay-vm: verdicts ===", "=== kernel-replay-vm: end of verdicts ==="
EXIT_MARK = "kernel-replay-vm: exit "
# The standard library's parts the tool never imports, left out of the initramfs.
STDLIB_UNUSED = ("config-3.*", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data",
                 "distutils", "test", "site-packages", "dist-packages", "venv", "unittest", "asyncio",
                 "multiprocessing", "email", "xml", "http", "urllib", "sqlite3", "curses", "dbm", "wsgiref",
                 "xmlrpc", "html", "zoneinfo", "concurrent", "tomllib")


# host.netfilter in the guest (topology.Host._netfilter builds it there as on a host): iptables of
# the legacy x_tables backend (the guest kernel has IP_NF_IPTABLES and no nf_tables: ../kernel-port/
# kernel-e2e/config), xtables-legacy-multi under the names topology.py runs, the extensions its
# rules can use (-j ACCEPT/DROP, -m conntrack, -p udp/tcp with ports) in XTABLES_LIBDIR, and the
# cached kernel's br_netfilter.ko where modprobe finds it; as kernel-port/kernel-e2e/run packs them
# for its docker scenario. nf_conntrack, x_tables and the filter table are built in.
IPTABLES_NAMES = ("iptables", "iptables-restore", "iptables-save")
XTABLES_EXTENSIONS = ("libxt_standard", "libxt_conntrack", "libxt_udp", "libxt_tcp")
GUEST_XTABLES = "/xtables"
MODULES = ("br_netfilter.ko",)
# How many times slower than the capture a paced replay (host.netfilter) plays it in the guest
# (kernel-replay's clock_dilation; ECON_KERNEL_REPLAY_DILATION here overrides it). A netfilter
# drop is seen by nothing but the kfree_skb tracer, off in the guest (ECON_KERNEL_REPLAY_TRACE=0,
# docs/kernel-replay.md), so each costs the frame's whole timeout, 5 s: in docker-netfilter up to
# five of them and six other frames (about 27 s under TCG) lie between two replies of s2's flow,
# whose conntrack entry lives 6 s once a stream (60 s dilated). Undilated, 22 of that flow's
# replies were dropped as NEW (its entry had expired); x5 (30 s) would leave almost no margin.
DILATION = 10


class VmError(Exception):
    pass


def _libraries(binary):
    """The shared libraries `binary` loads (ldd), interpreter included; none for a static one."""
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if r.returncode != 0:
        return []
    return re.findall(r"(/\S+\.so[\w.-]*)", r.stdout)


def _copy(src, root, dest=None):
    dest = os.path.join(root, (dest or src).lstrip("/"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.copy2(os.path.realpath(src), dest)
    return dest


def _copy_with_libraries(binary, root, dest=None):
    _copy(binary, root, dest)
    for lib in _libraries(binary):
        if not os.path.exists(os.path.join(root, lib.lstrip("/"))):
            _copy(lib, root)


def _tool(name):
    path = shutil.which(name)
    if not path:
        raise VmError(f"{name} not found: apt-get install {'busybox-static' if name == 'busybox' else 'iproute2'}")
    return path


def kernel(repo):
    """The patched kernel's bzImage: kernel-e2e's cached build, built first if there is none."""
    r = subprocess.run([os.path.join(repo, "kernel-port/kernel-e2e/run"), "--kernel-path"],
                       stdout=subprocess.PIPE, text=True)
    path = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    if r.returncode != 0 or not os.path.isfile(path):
        raise VmError("kernel-port/kernel-e2e/run --kernel-path could not build or find the patched kernel")
    return path


def _netfilter_tools(root, bzimage):
    """What host.netfilter needs in the guest (IPTABLES_NAMES above), only for such a scenario: the
    others' initramfs stays as it was."""
    legacy = shutil.which("iptables-legacy") or shutil.which("xtables-legacy-multi")
    if not legacy:
        raise VmError("no iptables-legacy here (the guest kernel has x_tables, not nf_tables): apt-get install iptables")
    _copy_with_libraries(legacy, root, "/sbin/xtables-legacy-multi")
    for name in IPTABLES_NAMES:  # the multi-call binary goes by the name it is run as
        os.symlink("xtables-legacy-multi", os.path.join(root, "sbin", name))
    libdirs = [d for d in (os.environ.get("XTABLES_LIBDIR"), *sorted(glob.glob("/usr/lib/*/xtables")), "/usr/lib/xtables")
               if d and os.path.isfile(os.path.join(d, "libxt_standard.so"))]
    if not libdirs:
        raise VmError("no iptables extensions (libxt_standard.so) in /usr/lib/*/xtables: apt-get install iptables")
    for ext in XTABLES_EXTENSIONS:
        src = os.path.join(libdirs[0], f"{ext}.so")
        if not os.path.isfile(src):
            raise VmError(f"no {src} (iptables)")
        _copy_with_libraries(src, root, f"{GUEST_XTABLES}/{ext}.so")
    for module in MODULES:
        src = os.path.join(os.path.dirname(bzimage), module)
        if not os.path.isfile(src):
            raise VmError(f"no {module} beside {bzimage}: kernel-port/kernel-e2e/run builds it with the kernel "
                          f"(CONFIG_BRIDGE_NETFILTER=m)")
        _copy(src, root, f"/modules/{module}")


def _initramfs(repo, work, guest_args, inputs, netfilter=False, bzimage=None):
    root = os.path.join(work, "initramfs")
    for d in ("bin", "sbin", "dev", "proc", "sys", "run", "tmp", "etc", "root/.cache/econ-sim", "in", "out"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "root/.cache/econ-sim"), 0o700)
    busybox = _tool("busybox")
    if _libraries(busybox):
        raise VmError(f"{busybox} is dynamically linked: apt-get install busybox-static")
    _copy(busybox, root, "/bin/busybox")
    for name in ("ip", "bridge"):
        _copy_with_libraries(_tool(name), root, f"/sbin/{name}")
    # Debian's python3 (not whatever python3 comes first in PATH): the stdlib it finds is ours.
    python = os.path.realpath("/usr/bin/python3")
    version = re.match(r"python(3\.\d+)$", os.path.basename(python))
    if not version:
        raise VmError(f"/usr/bin/python3 is {python}, not a python3.N: apt-get install python3")
    stdlib = f"/usr/lib/python{version.group(1)}"
    _copy_with_libraries(python, root, "/usr/bin/python3")
    shutil.copytree(stdlib, os.path.join(root, stdlib.lstrip("/")), symlinks=True,
                    ignore=shutil.ignore_patterns(*STDLIB_UNUSED))
    for ext in os.listdir(os.path.join(stdlib, "lib-dynload")):
        for lib in _libraries(os.path.join(stdlib, "lib-dynload", ext)):
            if not os.path.exists(os.path.join(root, lib.lstrip("/"))):
                _copy(lib, root)
    yaml_dir = "/usr/lib/python3/dist-packages/yaml"
    if not os.path.isdir(yaml_dir):
        raise VmError("no PyYAML in /usr/lib/python3/dist-packages: apt-get install python3-yaml")
    shutil.copytree(yaml_dir, os.path.join(root, yaml_dir.lstrip("/")))
    # The tool and the agent's source (agents.py names the built agent by the source's hash).
    shutil.copytree(os.path.join(repo, "kernel-replay"), os.path.join(root, "econ/kernel-replay"),
                    ignore=shutil.ignore_patterns("__pycache__", "CMakeLists.txt"))
    _copy(os.path.join(repo, "traces/src/agent.c"), root, "/econ/traces/src/agent.c")
    agent = _static_agent(repo, work)
    shutil.copy2(agent, os.path.join(root, "root/.cache/econ-sim", os.path.basename(agent)))
    for src, dest in inputs:
        shutil.copy2(src, os.path.join(root, dest.lstrip("/")))
    if netfilter:
        _netfilter_tools(root, bzimage)
    init = os.path.join(root, "init")
    with open(init, "w") as f:
        f.write(_INIT.replace("@ARGS@", " ".join(_quote(a) for a in guest_args)).replace("@XTABLES@", GUEST_XTABLES)
                # ECON_KERNEL_REPLAY_TRACE=1 here turns the tracer on in the guest: for experiments
                # only, it hangs there (docs/kernel-replay.md, "In the patched kernel").
                .replace("@TRACE@", _quote(os.environ.get("ECON_KERNEL_REPLAY_TRACE", "0")))
                .replace("@DILATION@", _quote(os.environ.get("ECON_KERNEL_REPLAY_DILATION", str(DILATION)))))
    os.chmod(init, 0o755)
    image = os.path.join(work, "initramfs.cpio.gz")
    listing = subprocess.run(["find", "."], cwd=root, capture_output=True, check=True).stdout
    archive = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc"], cwd=root, input=listing,
                             capture_output=True, check=True).stdout
    with gzip.open(image, "wb", compresslevel=1) as f:
        f.write(archive)
    return image


def _static_agent(repo, work):
    import hashlib
    source = os.path.join(repo, "traces/src/agent.c")
    with open(source, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    exe = os.path.join(work, f"kernel-replay-agent-{digest}")
    r = subprocess.run(["cc", "-static", "-O2", "-Wall", "-Werror", "-o", exe, source], capture_output=True, text=True)
    if r.returncode != 0:
        raise VmError(f"cannot compile traces/src/agent.c static: {r.stderr.strip()}")
    os.chmod(exe, stat.S_IRWXU)
    return exe


def _quote(word):
    return "'" + word.replace("'", "'\\''") + "'"


_INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/sbin:/bin:/usr/bin HOME=/root XTABLES_LIBDIR=@XTABLES@
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1
echo "kernel-replay-vm: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs"
echo 1 > /proc/sys/net/core/fpmap_enable || echo "kernel-replay-vm: this kernel has no fast path to turn on"
echo 1 > /proc/sys/net/core/fpmap_tx_enable 2>/dev/null || echo "kernel-replay-vm: this kernel has no TX cache to turn on"
ip link set lo up
if [ -d /modules ]; then
	# host.netfilter's modules (vm.py), where modprobe finds them: topology.py loads br_netfilter
	# when the scenario turns bridge-nf-call-iptables on, as on a host where it is a module.
	d=/lib/modules/$(uname -r)
	mkdir -p "$d" && mv /modules/*.ko "$d"/ && depmod || echo "kernel-replay-vm: depmod failed"
	echo "kernel-replay-vm: iptables: $(iptables -V 2>&1); modules: $(cd "$d" && echo *.ko)"
fi
echo "kernel-replay-vm: replay starts"
ECON_KERNEL_REPLAY_TRACE=@TRACE@ ECON_KERNEL_REPLAY_SLOWDOWN=5 ECON_KERNEL_REPLAY_DILATION=@DILATION@ ECON_KERNEL_REPLAY_PROGRESS=25 python3 /econ/kernel-replay/kernel-replay --kernel host @ARGS@
rc=$?
echo "kernel-replay-vm: fast path counters at the end:"
sed 's/^/kernel-replay-vm:   /' /proc/net/fpmap_stat 2>/dev/null
[ ! -d /modules ] || echo "kernel-replay-vm: modules loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
echo "=== kernel-replay-vm: verdicts ==="
cat /out/verdicts.jsonl 2>/dev/null
echo "=== kernel-replay-vm: end of verdicts ==="
echo "kernel-replay-vm: tainted=$(cat /proc/sys/kernel/tainted)"
echo "kernel-replay-vm: exit $rc"
reboot -f
"""

# Lines of a kernel log that mean the run cannot be trusted, as kernel-e2e/run checks them.
_BAD = re.compile(r"(BUG|WARNING):|Oops|kernel BUG|general protection fault|Kernel panic|Call Trace:|"
                  r"sleeping function called from invalid context|scheduling while atomic|"
                  r"possible circular locking|suspicious RCU usage|inconsistent lock state|"
                  r"possible recursive locking|soft lockup|detected stall|list_(add|del) corruption|"
                  r"refcount_t:|UBSAN:|unable to handle")


def run(repo, scenario, capture_path, verdicts, expect, time_limit, smp=2, netfilter=False):
    """Boots the patched kernel with the replay as its init; returns the guest's exit status.
    netfilter: the scenario has host.netfilter (iptables and br_netfilter.ko go into the guest)."""
    bzimage = kernel(repo)
    work = tempfile.mkdtemp(prefix="econ-kernel-replay-vm.")
    try:
        inputs = [(scenario, "/in/scenario.yaml"), (capture_path, "/in/trace.pcap")]
        guest_args = ["--scenario", "/in/scenario.yaml", "--verdicts", "/out/verdicts.jsonl",
                      "--time-limit", str(max(30, int(time_limit) - 60))]
        if expect:
            inputs.append((expect, "/in/expect.jsonl"))
            guest_args += ["--expect", "/in/expect.jsonl"]
        guest_args.append("/in/trace.pcap")
        image = _initramfs(repo, work, guest_args, inputs, netfilter, bzimage)
        console = os.path.join(work, "console.log")
        print(f"kernel-replay: booting {bzimage} in qemu (TCG, {smp} CPUs)", flush=True)
        with open(console, "wb") as out:
            r = subprocess.run(["timeout", "--kill-after=10", str(int(time_limit)), "qemu-system-x86_64",
                                "-accel", "tcg", "-m", "2048", "-smp", str(smp), "-nographic", "-no-reboot",
                                "-kernel", bzimage, "-initrd", image,
                                "-append", "console=ttyS0 panic=-1 quiet"],
                               stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        with open(console, "rb") as f:
            text = f.read().decode(errors="replace").replace("\r", "")
        text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[A-Za-z]", "", text)
        if r.returncode in (124, 137):
            raise VmError(f"qemu did not finish within {time_limit:.0f} s; console:\n{_tail(text)}")
        lines = text.splitlines()
        if BEGIN not in lines or END not in lines:
            raise VmError(f"the guest printed no verdicts; console:\n{_tail(text)}")
        bad = [line for line in lines if _BAD.search(line)]
        if bad:
            raise VmError("the patched kernel logged:\n" + "\n".join(bad[:20]))
        begin, end = lines.index(BEGIN), lines.index(END)
        for line in lines[:begin]:
            if line.startswith(("kernel-replay", "  ", "expectations:")):
                print(line)
        if verdicts:
            with open(verdicts, "w") as f:
                f.write("".join(line + "\n" for line in lines[begin + 1:end]))
        status = [line for line in lines if line.startswith(EXIT_MARK)]
        if not status:
            raise VmError(f"the guest did not say how the replay ended; console:\n{_tail(text)}")
        return int(status[-1][len(EXIT_MARK):])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _tail(text, n=30):
    return "\n".join(text.splitlines()[-n:])
