"""The fault lab: real Linux networking for one test run (network namespaces, veth, nftables, tc).

    with Lab() as lab:                       # a unique run id; everything below is named after it
        hub = lab.hub_namespace()            # "hrf-<id>-hub": a bridge 10.200.0.1/24
        riders = lab.group("riders")         # "hrf-<id>-riders": 10.200.0.2/24, a veth pair to the bridge
        riders.loss(50)                      # nftables: drop 50 % of packets, both ways (or inbound/outbound)
        riders.down(); riders.up()           # an outage, a flap
        riders.rate_limit("64kbit")          # tc tbf on what the hub sends to the group (the group's downlink)
        proc = lab.spawn(riders, ["python3", ...])   # a process inside the group's namespace

This kernel has no netem, so delay and jitter come from tests/faults/proxy.py, a userspace TCP proxy.

Everything the lab creates (namespaces, links, rules, qdiscs, processes) is removed when the `with` block ends,
whether it ends normally, by an exception, by Ctrl-C (SIGINT) or SIGTERM, and once more at interpreter exit
(atexit) for anything left. Deleting a namespace deletes its links, rules and qdiscs with it; links are created
inside the namespaces, never left in the root one. `leftovers(run_id)` lists whatever of a run still exists.

Needs root (CAP_NET_ADMIN); `require_root()` says so in one line.
"""

from __future__ import annotations

import atexit
import os
import secrets
import signal
import subprocess
import threading
from pathlib import Path
from typing import Sequence

PREFIX = "hrf"
SUBNET = "10.200.0"
HUB_ADDRESS = f"{SUBNET}.1"
_live_labs: set["Lab"] = set()
_lock = threading.Lock()


class LabError(RuntimeError):
    """A command of the lab failed; the message has the command and its stderr."""


def require_root() -> str | None:
    """None when the lab can run; otherwise the reason, for a skip or a failure message."""
    if os.geteuid() != 0:
        return "the fault lab needs root (network namespaces, nftables, tc): run as root, as CI does"
    for tool in ("ip", "nft", "tc"):
        if not any((Path(d) / tool).exists() for d in ("/usr/sbin", "/sbin", "/usr/bin", "/bin")):
            return f"the fault lab needs `{tool}` (scripts/setup --test installs iproute2 and nftables)"
    return None


def run(args: Sequence[str], check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    """Runs one command; raises LabError with its stderr when it fails and `check` is set."""
    result = subprocess.run(list(args), capture_output=True, text=True, input=input)
    if check and result.returncode != 0:
        raise LabError(f"{' '.join(args)}: exit {result.returncode}: {result.stderr.strip()}")
    return result


def leftovers(run_id: str) -> list[str]:
    """Namespaces and links (in the root namespace) of run `run_id` that still exist."""
    found = [f"netns {line.split()[0]}" for line in run(["ip", "netns", "list"]).stdout.splitlines()
             if line.split() and line.split()[0].startswith(f"{PREFIX}-{run_id}-")]
    for line in run(["ip", "-o", "link", "show"]).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        if name.startswith(f"{PREFIX}{run_id}"):
            found.append(f"link {name}")
    return found


class Group:
    """A namespace of clients joined to the hub's bridge by one veth pair; its faults act on that pair only."""

    def __init__(self, lab: "Lab", name: str, index: int):
        self.lab = lab
        self.name = name
        self.namespace = f"{PREFIX}-{lab.run_id}-{name}"
        self.address = f"{SUBNET}.{index + 1}"
        # Interface names have at most 15 characters: "hrf" + 6-character run id + "h"/"c" + index.
        self.hub_end = f"{PREFIX}{lab.run_id}h{index}"
        self.client_end = f"{PREFIX}{lab.run_id}c{index}"

    def _create(self) -> None:
        lab = self.lab
        run(["ip", "netns", "add", self.namespace])
        lab.namespaces.append(self.namespace)
        # Created inside the hub namespace, then one end moved: no link ever sits in the root namespace.
        lab.ip_hub("link", "add", self.hub_end, "type", "veth", "peer", "name", self.client_end)
        lab.ip_hub("link", "set", self.client_end, "netns", self.namespace)
        lab.ip_hub("link", "set", self.hub_end, "master", "br0")
        lab.ip_hub("link", "set", self.hub_end, "up")
        self.ip("addr", "add", f"{self.address}/24", "dev", self.client_end)
        self.ip("link", "set", "lo", "up")
        self.ip("link", "set", self.client_end, "up")

    def ip(self, *args: str) -> None:
        run(["ip", "-n", self.namespace, *args])

    def loss(self, percent: int, direction: str = "both") -> None:
        """Drops `percent` % of the group's packets at random (nftables `numgen random mod 100`).

        `direction`: "both", "inbound" (to the group) or "outbound" (from the group). Replaces earlier loss rules.
        """
        if not 0 <= percent <= 100:
            raise ValueError(f"loss percent must be 0…100, got {percent}")
        if direction not in ("both", "inbound", "outbound"):
            raise ValueError(f"direction must be both, inbound or outbound, got {direction!r}")
        chains = []
        if direction in ("both", "inbound"):
            chains.append(("lossin", "input"))
        if direction in ("both", "outbound"):
            chains.append(("lossout", "output"))
        script = "table inet hrfault\ndelete table inet hrfault\ntable inet hrfault {\n"
        for chain, hook in chains:
            script += (f"  chain {chain} {{ type filter hook {hook} priority 0; policy accept;\n"
                       f"    numgen random mod 100 < {percent} counter drop\n  }}\n")
        script += "}\n"
        run(["ip", "netns", "exec", self.namespace, "nft", "-f", "-"], input=script)

    def clear_loss(self) -> None:
        """Removes the loss rules."""
        run(["ip", "netns", "exec", self.namespace, "nft", "-f", "-"],
            input="table inet hrfault\ndelete table inet hrfault\n")

    def dropped(self) -> int:
        """Packets the loss rules have dropped so far."""
        out = run(["ip", "netns", "exec", self.namespace, "nft", "list", "table", "inet", "hrfault"], check=False)
        return sum(int(part.split()[0]) for part in out.stdout.split("counter packets")[1:])

    def down(self) -> None:
        """Takes the group's link down: an outage (sockets stay open, packets go nowhere)."""
        self.ip("link", "set", self.client_end, "down")

    def up(self) -> None:
        """Brings the group's link back."""
        self.ip("link", "set", self.client_end, "up")

    def rate_limit(self, rate: str, burst: str = "4kb", latency: str = "400ms") -> None:
        """tc tbf on the hub's end of the pair: what the hub sends to the group goes out at `rate` (e.g. 64kbit)."""
        run(["tc", "-n", self.lab.hub_ns, "qdisc", "replace", "dev", self.hub_end, "root", "tbf",
             "rate", rate, "burst", burst, "latency", latency])


class Lab:
    """One run's namespaces and processes; a context manager that always cleans up (see the module doc)."""

    def __init__(self, run_id: str | None = None):
        self.run_id = run_id or secrets.token_hex(3)
        self.hub_ns = f"{PREFIX}-{self.run_id}-hub"
        self.namespaces: list[str] = []
        self.groups: list[Group] = []
        self.processes: list[subprocess.Popen] = []
        self._previous_handlers: dict[int, object] = {}
        self._closed = False

    # Lifecycle

    def __enter__(self) -> "Lab":
        reason = require_root()
        if reason:
            raise LabError(reason)
        with _lock:
            _live_labs.add(self)
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous_handlers[signum] = signal.signal(signum, self._on_signal)
        try:
            run(["ip", "netns", "add", self.hub_ns])
            self.namespaces.append(self.hub_ns)
            self.ip_hub("link", "set", "lo", "up")
            self.ip_hub("link", "add", "br0", "type", "bridge")
            self.ip_hub("addr", "add", f"{HUB_ADDRESS}/24", "dev", "br0")
            self.ip_hub("link", "set", "br0", "up")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _on_signal(self, signum, frame) -> None:
        # Clean up first, then behave as the signal would have: Ctrl-C raises KeyboardInterrupt, SIGTERM exits.
        self.close()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    def close(self) -> None:
        """Stops the lab's processes and deletes its namespaces (with their links, rules and qdiscs). Idempotent."""
        if self._closed:
            return
        self._closed = True
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
        for proc in self.processes:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for namespace in reversed(self.namespaces):
            # Anything still running in it (started by one of our processes) goes too.
            for pid in run(["ip", "netns", "pids", namespace], check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            run(["ip", "netns", "delete", namespace], check=False)
        for name in leftovers(self.run_id):
            kind, _, ident = name.partition(" ")
            run(["ip", "link", "delete", ident] if kind == "link" else ["ip", "netns", "delete", ident], check=False)
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        with _lock:
            _live_labs.discard(self)

    # Building

    def ip_hub(self, *args: str) -> None:
        run(["ip", "-n", self.hub_ns, *args])

    def group(self, name: str) -> Group:
        """A new namespace of clients, with the next address (10.200.0.2, .3, …) and its own veth pair."""
        if not name.isalnum() or len(name) > 16:
            raise ValueError(f"a group name is 1…16 letters and digits, got {name!r}")
        group = Group(self, name, len(self.groups) + 1)
        group._create()
        self.groups.append(group)
        return group

    def spawn(self, where: Group | None, args: Sequence[str], **popen) -> subprocess.Popen:
        """Starts `args` inside a group's namespace (None: the hub's); the lab kills it on close."""
        namespace = where.namespace if where else self.hub_ns
        popen.setdefault("stdout", subprocess.PIPE)
        popen.setdefault("stderr", subprocess.PIPE)
        popen.setdefault("text", True)
        proc = subprocess.Popen(["ip", "netns", "exec", namespace, *args], **popen)
        self.processes.append(proc)
        return proc


def _close_all() -> None:
    with _lock:
        labs = list(_live_labs)
    for lab in labs:
        lab.close()


atexit.register(_close_all)
