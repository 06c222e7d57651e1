"""Hosts on one machine: network namespaces on a private bridge, for bench/multihost.py.

Each host is a network namespace with one veth cable into a switch namespace that holds
the bridge. The root namespace has no address on that network, so traffic flows only
between the hosts. Cutting a host's cable (its switch-side port down) is a network
partition: neither side is told, TCP sessions just stop hearing from each other.
Names carry a per-run tag, so two runs on one machine never meet.
"""
import os
import signal
import subprocess
import time

SUBNET = "10.231.0"


def sh(*words: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(words), check=check, capture_output=True, text=True)


class Network:
    """A switch namespace with a bridge, and one namespace per host (name -> last octet)."""

    def __init__(self, tag: str, hosts: dict[str, int]):
        self.tag = tag
        self.hosts = hosts
        self.switch = f"pd{tag}-sw"

    def ns(self, host: str) -> str:
        return f"pd{self.tag}-{host}"

    def address(self, host: str) -> str:
        return f"{SUBNET}.{self.hosts[host]}"

    def prefix(self, host: str) -> list[str]:
        """Command words that run the rest of a command on `host`."""
        return ["ip", "netns", "exec", self.ns(host)]

    def port_name(self, host: str) -> str:
        return f"pd{self.tag}{self.hosts[host]}"  # The switch's end of the host's cable.

    def build(self) -> "Network":
        sh("ip", "netns", "add", self.switch)
        sh("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.switch, "link", "set", "br0", "up")
        sh("ip", "-n", self.switch, "link", "set", "lo", "up")
        for host in self.hosts:
            ns, port = self.ns(host), self.port_name(host)
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", port, "type", "veth", "peer", "name", f"{port}h")
            sh("ip", "link", "set", port, "netns", self.switch)
            sh("ip", "link", "set", f"{port}h", "netns", ns)
            sh("ip", "-n", ns, "link", "set", f"{port}h", "name", "eth0")
            sh("ip", "-n", ns, "addr", "add", f"{self.address(host)}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", self.switch, "link", "set", port, "master", "br0")
            sh("ip", "-n", self.switch, "link", "set", port, "up")
        return self

    def cut(self, host: str) -> None:
        sh("ip", "-n", self.switch, "link", "set", self.port_name(host), "down")

    def heal(self, host: str) -> None:
        sh("ip", "-n", self.switch, "link", "set", self.port_name(host), "up")

    def pids(self, host: str) -> list[int]:
        """Every process on the host (seen from here, whatever PID namespace it is in)."""
        out = sh("ip", "netns", "pids", self.ns(host), check=False).stdout
        return [int(p) for p in out.split()]

    def signal_host(self, host: str, sig: int) -> int:
        sent = 0
        for pid in self.pids(host):
            try:
                os.kill(pid, sig)
                sent += 1
            except ProcessLookupError:
                pass
        return sent

    def destroy(self) -> None:
        """Kill every process of every host and delete the namespaces (safe to call twice)."""
        for host in self.hosts:
            for _ in range(20):
                if not self.signal_host(host, signal.SIGKILL):
                    break
                time.sleep(0.1)
        for ns in [self.ns(h) for h in self.hosts] + [self.switch]:
            sh("ip", "netns", "del", ns, check=False)


def leftover_namespaces() -> list[str]:
    """Namespaces of this script's runs still on the machine (after a hard kill)."""
    out = sh("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith("pd") and "-" in line]
