"""vpc-sim's kernel side: the VPC router namespace and a veth pair per network interface.

The process itself lives in the router namespace (enter_router() moves it there before any
thread starts, so every thread and every `ip` it runs is there; other namespaces are reached with
`ip -n`). Per interface: the router end carries the subnet's router address as /32, proxy ARP,
strict reverse-path filtering (EC2's source/destination check: a packet whose source the
interface does not own is dropped), and a /32 route plus a permanent neighbour entry for each
address the interface owns. The root namespace is never touched.
"""

import ctypes
import json
import os
import subprocess

from vpc_state import Ec2Error

CLONE_NEWNET = 0x40000000


def _run(args, stdin=None):
    p = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        what = " ".join(args) + (" <<< " + "; ".join(stdin.splitlines()) if stdin else "")
        raise Ec2Error("InternalError", "vpc-sim: %s: %s" % (what, p.stderr.strip()), 500)
    return p.stdout


def ip_batch(netns, lines):
    """Runs `ip` commands in one process (`ip -batch -`), in `netns` (None: the router's)."""
    if not lines:
        return
    args = ["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"]
    _run(args, "\n".join(lines) + "\n")


def set_sysctl(path, value):
    """A sysctl of the router namespace (the process's own)."""
    with open("/proc/sys/" + path, "w") as f:
        f.write(str(value))


def netns_exists(name):
    return os.path.exists("/run/netns/" + name)


class KernelNet:
    def __init__(self, config, log):
        self.c, self.log = config, log
        self.router = config["routerNetns"]
        self.created_ns = []  # namespaces this process made; deleted at teardown
        self.router_links = []

    # --- the router ---

    def enter_router(self):
        """Creates the router namespace (when missing) and moves this process into it. Call
        before any thread starts."""
        self._ensure_ns(self.router)
        fd = os.open("/run/netns/" + self.router, os.O_RDONLY | os.O_CLOEXEC)
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, "setns %s: %s" % (self.router, os.strerror(err)))
        finally:
            os.close(fd)
        for path, value in (("net/ipv4/ip_forward", 1),
                            ("net/ipv4/conf/all/rp_filter", 1),
                            ("net/ipv4/conf/default/rp_filter", 1),
                            ("net/ipv4/conf/all/send_redirects", 0),
                            ("net/ipv4/conf/default/send_redirects", 0),
                            ("net/ipv6/conf/default/disable_ipv6", 1)):
            set_sysctl(path, value)
        lines = ["link set lo up"]
        if self.c["imdsAddress"]:
            lines.append("addr replace %s/32 dev lo" % self.c["imdsAddress"])
        ip_batch(None, lines)

    def _ensure_ns(self, name):
        if netns_exists(name):
            return
        _run(["ip", "netns", "add", name])
        self.created_ns.append(name)
        ip_batch(name, ["link set lo up"])

    def _router_end(self, rname, subnet, peer_ns, peer_name, peer_mac):
        """A veth pair: `rname` in the router, `peer_name` (MAC `peer_mac`) in `peer_ns`."""
        ip_batch(None, ["link add %s type veth peer name %s address %s netns %s" %
                        (rname, peer_name, peer_mac, peer_ns)])
        self.router_links.append(rname)
        for key, value in (("proxy_arp", 1), ("rp_filter", 1)):
            set_sysctl("net/ipv4/conf/%s/%s" % (rname, key), value)
        set_sysctl("net/ipv4/neigh/%s/proxy_delay" % rname, 0)
        ip_batch(None, ["link set dev %s addrgenmode none" % rname,
                        "addr add %s/32 dev %s" % (subnet.router, rname),
                        "link set dev %s up" % rname])
        ip_batch(peer_ns, ["link set dev %s addrgenmode none" % peer_name])

    def _routes(self, rname, mac, ips):
        lines = []
        for ip in ips:
            lines.append("route replace %s/32 dev %s" % (ip, rname))
            lines.append("neigh replace %s lladdr %s dev %s nud permanent" % (ip, mac, rname))
        ip_batch(None, lines)

    def _configure_peer(self, netns, ifname, ip, subnet, default_route=True):
        """Address, link up, and a default route via the subnet's router; without the default
        route (the namespace has one of its own), routes to the VPC and to IMDS instead."""
        lines = ["addr add %s/%d dev %s" % (ip, subnet.net.prefixlen, ifname),
                 "link set dev %s up" % ifname]
        if default_route:
            lines.append("route replace default via %s dev %s" % (subnet.router, ifname))
        else:
            lines.append("route replace %s via %s dev %s" % (self.c["vpcNet"], subnet.router,
                                                             ifname))
            if self.c["imdsAddress"]:
                lines.append("route replace %s/32 via %s dev %s" % (self.c["imdsAddress"],
                                                                    subnet.router, ifname))
        ip_batch(netns, lines)

    # --- interfaces ---

    def add_instance(self, inst, eni, subnet):
        """The instance's namespace (made when missing) and its primary interface, configured:
        address, link up, default route via the subnet's router."""
        self._ensure_ns(inst["netns"])
        eni.router_link, eni.instance_link = "r" + eni.id[4:16], inst["ifname"]
        self._router_end(eni.router_link, subnet, inst["netns"], inst["ifname"], eni.mac)
        self._routes(eni.router_link, eni.mac, eni.addresses())
        self._configure_peer(inst["netns"], inst["ifname"], eni.primary_ip, subnet,
                             inst["defaultRoute"])
        self.log("instance-up instance=%s netns=%s ifname=%s ip=%s mac=%s" %
                 (inst["id"], inst["netns"], inst["ifname"], eni.primary_ip, eni.mac))

    def attach(self, inst, eni, device_index):
        """eth<device_index> appears in the instance with the interface's MAC, down and without
        an address (configuring it is the node's job); its addresses route to it."""
        rname, ifname = "r" + eni.id[4:16], "eth%d" % device_index
        try:
            self._router_end(rname, eni.subnet, inst["netns"], ifname, eni.mac)
            self._routes(rname, eni.mac, eni.addresses())
        except Exception:
            # A half-made pair must not outlive the failed attach (the model is rolled back).
            if rname in self.router_links:
                subprocess.run(["ip", "link", "del", "dev", rname], capture_output=True)
                self.router_links.remove(rname)
            raise
        eni.router_link, eni.instance_link = rname, ifname
        self.log("attach eni=%s instance=%s ifname=%s mac=%s" % (eni.id, inst["id"], ifname, eni.mac))

    def detach(self, eni):
        """Deleting the router end deletes the pair: the link leaves the instance, and the routes
        and neighbour entries go with it."""
        if eni.router_link:
            ip_batch(None, ["link del dev %s" % eni.router_link])
            self.router_links.remove(eni.router_link)
            self.log("detach eni=%s link=%s" % (eni.id, eni.router_link))
        eni.router_link = eni.instance_link = ""

    def add_address(self, eni, ip):
        self._routes(eni.router_link, eni.mac, [ip])

    def remove_address(self, eni, ip):
        ip_batch(None, ["route del %s/32 dev %s" % (ip, eni.router_link),
                        "neigh del %s dev %s" % (ip, eni.router_link)])

    def add_host(self, host, mac, subnet):
        self._ensure_ns(host["netns"])
        rname = "h-" + host["name"]
        self._router_end(rname, subnet, host["netns"], host["ifname"], mac)
        self._routes(rname, mac, [host["ip"]])
        self._configure_peer(host["netns"], host["ifname"], host["ip"], subnet)

    # --- counters ---

    def link_counters(self):
        """Router-side statistics per link: rx is what left the instance by that interface."""
        out = {}
        for link in json.loads(_run(["ip", "-j", "-s", "link", "show"]) or "[]"):
            s = link.get("stats64", {})
            out[link["ifname"]] = {
                "fromInstance": {"packets": s.get("rx", {}).get("packets", 0),
                                 "bytes": s.get("rx", {}).get("bytes", 0)},
                "toInstance": {"packets": s.get("tx", {}).get("packets", 0),
                               "bytes": s.get("tx", {}).get("bytes", 0)},
            }
        return out

    @staticmethod
    def rp_filter_drops():
        """Packets the router dropped by reverse-path filtering (TcpExt IPReversePathFilter)."""
        with open("/proc/thread-self/net/netstat") as f:
            lines = f.read().splitlines()
        for names, values in zip(lines[::2], lines[1::2]):
            if names.startswith("TcpExt:"):
                row = dict(zip(names.split()[1:], values.split()[1:]))
                return int(row.get("IPReversePathFilter", 0))
        return 0

    # --- the end ---

    def teardown(self):
        """Deletes every link and namespace this process made (best effort, also after a failed
        start)."""
        for rname in list(self.router_links):
            subprocess.run(["ip", "link", "del", "dev", rname], capture_output=True)
        self.router_links = []
        for ns in reversed(self.created_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.created_ns = []
