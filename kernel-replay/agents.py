"""One agent per namespace (traces/src/agent.c in its interactive mode, -i): it owns the scenario's
sockets of that namespace, runs each socket event when told and says when it has, and logs every
datagram its sockets read ("data SOCK HEX"). A thread per agent moves its lines into one queue, so
the replay can wait for several sources at once.
"""
import hashlib
import os
import queue
import shutil
import subprocess
import threading
import time


RUN_MARK = "ECON_KERNEL_REPLAY_RUN"  # = the kernel-replay pid, in every agent's environment


class AgentError(Exception):
    pass


def build_agent(repo, workdir):
    """Compiles traces/src/agent.c as traces/record does (cc -O2 -Wall -Werror). The binary is kept
    in the user's cache, named by the source's hash, so that a run of many cases compiles it once
    (a compile takes seconds on a loaded machine); the cache directory must be ours and private,
    since root runs what is in it."""
    source = os.path.join(repo, "traces/src/agent.c")
    with open(source, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "econ-sim")
    os.makedirs(cache, mode=0o700, exist_ok=True)
    st = os.stat(cache)
    private = st.st_uid == os.geteuid() and not st.st_mode & 0o022
    exe = os.path.join(cache if private else workdir, f"kernel-replay-agent-{digest}")
    if private and os.path.exists(exe):
        return exe
    building = os.path.join(workdir, "agent")
    r = subprocess.run(["cc", "-O2", "-Wall", "-Werror", "-o", building, source], capture_output=True, text=True)
    if r.returncode != 0:
        raise AgentError(f"cannot compile traces/src/agent.c: {r.stderr.strip()}")
    shutil.copy2(building, exe + f".{os.getpid()}")
    os.replace(exe + f".{os.getpid()}", exe)  # whole or not at all, for runs side by side
    return exe


class Agents:
    def __init__(self, exe, log_dir):
        self.exe = exe
        self.log_dir = log_dir
        self.procs = {}  # scenario ns -> Popen
        self.lines = queue.Queue()  # (ns, words) of every line any agent printed

    def start(self, ns, netns):
        err = open(os.path.join(self.log_dir, f"agent-{ns}.err"), "w")
        # RUN_MARK names the run in the agent's environment, so that a check for agents left
        # behind finds this run's and not those of another run beside it.
        p = subprocess.Popen(["ip", "netns", "exec", netns, self.exe, "-n", ns, "-i"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1,
                             env=dict(os.environ, **{RUN_MARK: str(os.getpid())}))
        self.procs[ns] = p
        threading.Thread(target=self._read, args=(ns, p), daemon=True).start()

    def _read(self, ns, p):
        for line in p.stdout:
            self.lines.put((ns, line.split()))
        self.lines.put((ns, ["-", "exited"]))

    def pid(self, ns):
        return self.procs[ns].pid

    def command(self, ns, text, on_line, timeout=5.0):
        """Sends one op to the agent of ns and waits for its "done"; every other line of any agent
        goes to on_line(ns, words). Returns the lines this agent printed for the op."""
        p = self.procs.get(ns)
        if p is None or p.poll() is not None:
            raise AgentError(f"the agent of {ns} is not running")
        p.stdin.write(text + "\n")
        p.stdin.flush()
        mine = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AgentError(f"the agent of {ns} did not finish '{text[:60]}' within {timeout} s")
            try:
                who, words = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if who == ns and words[1:] == ["exited"]:
                raise AgentError(f"the agent of {ns} exited during '{text[:60]}'")
            if who == ns and words[1:2] == ["done"]:
                return mine
            if who == ns and words[1:2] != ["data"]:
                mine.append(words[1:])
            else:
                on_line(who, words)

    def stop(self, ns):
        p = self.procs.pop(ns, None)
        if p is None:
            return
        if p.poll() is None:
            p.kill()
        p.wait()

    def stop_all(self):
        for ns in list(self.procs):
            self.stop(ns)
