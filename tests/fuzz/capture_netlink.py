#!/usr/bin/env python3
"""Records real netlink messages from the running kernel as fuzz seeds (run it inside a network
namespace that capture_seeds.sh prepared; root). Writes, under OUT_DIR:
  fuzz_netlink/   ctnetlink NEW and DESTROY events (UDP, TCP, ICMP) and a conntrack dump reply
  fuzz_nfqueue/   an nfqueue packet message, and the ACK of a queue config request
  fuzz_rtnetlink/ link, address, route and rule dump replies, a link reply, ACKs (plain, error
                  with extended-ACK text), and address / link events (ev_*)
  fuzz_nft_events/ nf_tables notifications: a table built, elements added and deleted, the
                  table deleted, the ruleset flushed (each as one datagram of `nft`'s changes)
Each file holds whole netlink messages exactly as recv() returned them (dumps are cut after a
few messages to keep the seeds small). Usage: capture_netlink.py OUT_DIR IFNAME"""
import os
import select
import socket
import struct
import subprocess
import sys
import time

NETLINK_ROUTE, NETLINK_NETFILTER = 0, 12
SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 270, 10, 11
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
# nfnetlink: type = subsystem << 8 | message
SUBSYS_CTNETLINK, SUBSYS_QUEUE = 1, 3
CT_GET, CT_DELETE = 1, 2
NFQ_PACKET, NFQ_VERDICT, NFQ_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_FLAGS, NFQA_CFG_MASK = 1, 2, 5, 4
NFQA_VERDICT_HDR, NFQA_PACKET_HDR = 2, 1
NFQNL_CFG_CMD_BIND, NFQNL_COPY_PACKET, NFQA_CFG_F_GSO = 1, 2, 1
NF_ACCEPT = 1
NF_NETLINK_CONNTRACK_NEW, NF_NETLINK_CONNTRACK_DESTROY = 1, 4
RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_DELRULE, RTM_GETRULE = 18, 22, 26, 33, 34
IFLA_IFNAME, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS = 3, 29, 8
FRA_PRIORITY, FRA_TABLE = 6, 15
RTMGRP_LINK, RTMGRP_IPV4_IFADDR, NFNLGRP_NFTABLES = 0x1, 0x10, 7
RTM_NEWROUTE, RTA_DST, RTA_GATEWAY, RT_TABLE_MAIN, RTPROT_STATIC, RTN_UNICAST, NLM_F_CREATE = 24, 1, 5, 254, 4, 1, 0x400

QUEUE_NUM = 7       # the nft rule of capture_seeds.sh queues UDP to QUEUE_PORT here
QUEUE_PORT = 9998
UDP_PORT, TCP_PORT = 9999, 9997


def attr(kind, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * (-n % 4)


def message(kind, flags, body, seq):
    return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body


def nfgen(family, res_id=0):
    return struct.pack("=BB", family, 0) + struct.pack("!H", res_id)


def messages(data):
    """(type, bytes) of each whole message of a datagram."""
    out, at = [], 0
    while at + 16 <= len(data):
        n, kind = struct.unpack_from("=IH", data, at)
        if n < 16 or at + n > len(data):
            break
        out.append((kind, data[at:at + n]))
        at += (n + 3) & ~3
    return out


def keep(data, most):
    """The first `most` messages of a datagram, as the kernel laid them out."""
    msgs = messages(data)[:most]
    return b"".join(m + b"\0" * (-len(m) % 4) for _, m in msgs)


class Capture:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = 0

    def save(self, target, name, data):
        d = os.path.join(self.out_dir, target)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name + ".bin"), "wb") as f:
            f.write(data)
        self.count += 1
        print(f"  {target}/{name}.bin: {len(data)} bytes, message types {[k for k, _ in messages(data)]}")


def netlink(proto, groups=0):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)
    s.bind((0, groups))
    s.settimeout(5)
    return s


def request(s, msg):
    """Sends one request; returns the datagrams of its answer up to the ACK or NLMSG_DONE."""
    s.send(msg)
    got = []
    while True:
        data = s.recv(65536)
        got.append(data)
        if any(k in (NLMSG_ERROR, NLMSG_DONE) for k, _ in messages(data)):
            return got


def traffic():
    """One UDP flow, one TCP connection and one echo exchange on the loopback."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.sendto(b"seed", ("127.0.0.1", UDP_PORT))
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", TCP_PORT))
    srv.listen(1)
    cli = socket.create_connection(("127.0.0.1", TCP_PORT), timeout=5)
    conn, _ = srv.accept()
    cli.sendall(b"x")
    conn.recv(1)
    subprocess.run(["ping", "-c", "1", "-W", "2", "127.0.0.1"], check=True, stdout=subprocess.DEVNULL, timeout=10)
    return [udp, srv, cli, conn]


def capture_conntrack(cap):
    events = netlink(NETLINK_NETFILTER, NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_DESTROY)
    events.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    socks = traffic()
    ctl = netlink(NETLINK_NETFILTER)
    dump = request(ctl, message(SUBSYS_CTNETLINK << 8 | CT_GET, NLM_F_REQUEST | NLM_F_DUMP,
                                nfgen(socket.AF_INET), 1))
    cap.save("fuzz_netlink", "ct_dump_reply", keep(dump[0], 3))
    # Flush (a delete without a tuple): every entry ends with a DESTROY event.
    request(ctl, message(SUBSYS_CTNETLINK << 8 | CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, nfgen(socket.AF_INET), 2))
    for s in socks:
        s.close()
    seen = {}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(seen) < 6:
        if not select.select([events], [], [], 0.5)[0]:
            continue
        data = events.recv(65536)
        for kind, msg in messages(data):
            # The protocol number sits in CTA_TUPLE_ORIG > CTA_TUPLE_PROTO > CTA_PROTO_NUM: find it by value.
            proto = {6: "tcp", 17: "udp", 1: "icmp"}.get(protocol_of(msg))
            event = "new" if (kind & 0xFF) == 0 else "destroy"
            if proto and (event, proto) not in seen:
                seen[(event, proto)] = msg
    for (event, proto), msg in sorted(seen.items()):
        cap.save("fuzz_netlink", f"ct_{event}_{proto}", msg)
    events.close()
    ctl.close()


def protocol_of(msg):
    """CTA_PROTO_NUM of the original tuple (nested attributes 1 > 2 > 1), or 0."""
    def attrs(data, at, end):
        while at + 4 <= end:
            n, kind = struct.unpack_from("=HH", data, at)
            if n < 4 or at + n > end:
                return
            yield kind & 0x7FFF, at + 4, at + n
            at += (n + 3) & ~3
    for kind, a, b in attrs(msg, 20, len(msg)):
        if kind == 1:  # CTA_TUPLE_ORIG
            for k2, a2, b2 in attrs(msg, a, b):
                if k2 == 2:  # CTA_TUPLE_PROTO
                    for k3, a3, _ in attrs(msg, a2, b2):
                        if k3 == 1:  # CTA_PROTO_NUM
                            return msg[a3]
    return 0


def capture_nfqueue(cap):
    q = netlink(NETLINK_NETFILTER)
    q.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
    bind = attr(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, socket.AF_INET))
    ack = request(q, message(SUBSYS_QUEUE << 8 | NFQ_CONFIG, NLM_F_REQUEST | NLM_F_ACK,
                             nfgen(socket.AF_UNSPEC, QUEUE_NUM) + bind, 1))
    cap.save("fuzz_nfqueue", "config_ack", ack[-1])
    params = (attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0xFFFF, NFQNL_COPY_PACKET)) +
              attr(NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_GSO)) +
              attr(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_GSO)))
    request(q, message(SUBSYS_QUEUE << 8 | NFQ_CONFIG, NLM_F_REQUEST | NLM_F_ACK,
                       nfgen(socket.AF_UNSPEC, QUEUE_NUM) + params, 2))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.sendto(b"queued seed", ("127.0.0.1", QUEUE_PORT))
    data = q.recv(65536)
    cap.save("fuzz_nfqueue", "packet_udp", data)
    for kind, msg in messages(data):
        if kind == SUBSYS_QUEUE << 8 | NFQ_PACKET:
            packet_id = struct.unpack_from("!I", msg, 24)[0]  # NFQA_PACKET_HDR's packet_id
            verdict = attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet_id))
            q.send(message(SUBSYS_QUEUE << 8 | NFQ_VERDICT, NLM_F_REQUEST,
                           nfgen(socket.AF_UNSPEC, QUEUE_NUM) + verdict, 3))
    udp.close()
    q.close()


def capture_rtnetlink(cap, ifname):
    rt = netlink(NETLINK_ROUTE)
    dumps = {
        "link_dump": (RTM_GETLINK, struct.pack("=BBHiII", socket.AF_UNSPEC, 0, 0, 0, 0, 0)
                      + attr(IFLA_EXT_MASK, struct.pack("=I", RTEXT_FILTER_SKIP_STATS))),
        "addr_dump": (RTM_GETADDR, struct.pack("=BBBBI", socket.AF_INET, 0, 0, 0, 0)),
        "route_dump": (RTM_GETROUTE, struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)),
        "rule_dump": (RTM_GETRULE, struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)),
    }
    for seq, (name, (kind, body)) in enumerate(dumps.items(), 1):
        got = request(rt, message(kind, NLM_F_REQUEST | NLM_F_DUMP, body, seq))
        cap.save("fuzz_rtnetlink", name, keep(got[0], 2 if kind == RTM_GETLINK else 4))
    # As Rtnetlink::link asks: one link by name, ACKed.
    rt.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
    rt.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    body = (struct.pack("=BBHiII", socket.AF_UNSPEC, 0, 0, 0, 0, 0) + attr(IFLA_IFNAME, ifname.encode() + b"\0")
            + attr(IFLA_EXT_MASK, struct.pack("=I", RTEXT_FILTER_SKIP_STATS)))
    got = request(rt, message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, body, 10))
    cap.save("fuzz_rtnetlink", "link_reply", b"".join(got))
    # A rule that is not there: the error ACK, with the kernel's text when it gives one.
    rule = (struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, 0, 0, 1, 0) + attr(FRA_PRIORITY, struct.pack("=I", 4242))
            + attr(FRA_TABLE, struct.pack("=I", 4242)))
    got = request(rt, message(RTM_DELRULE, NLM_F_REQUEST | NLM_F_ACK, rule, 11))
    cap.save("fuzz_rtnetlink", "ack_error", got[-1])
    bad = struct.pack("=BBHiII", socket.AF_UNSPEC, 0, 0, 0, 0, 0) + attr(IFLA_IFNAME, b"no-such-link0\0")
    got = request(rt, message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, bad, 12))
    cap.save("fuzz_rtnetlink", "ack_error_nodev", got[-1])
    # A route through a gateway on no link: refused with the kernel's extended-ACK text.
    route = (struct.pack("=BBBBBBBBI", socket.AF_INET, 24, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC, 0, RTN_UNICAST, 0)
             + attr(RTA_DST, socket.inet_aton("192.0.2.0")) + attr(RTA_GATEWAY, socket.inet_aton("100.64.99.99")))
    got = request(rt, message(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, route, 13))
    cap.save("fuzz_rtnetlink", "ack_error_extack", got[-1])
    rt.close()


def drain(s):
    """Every datagram the socket holds now (waits briefly for the first)."""
    got = []
    while select.select([s], [], [], 0.5 if not got else 0.1)[0]:
        got.append(s.recv(1 << 16))
    return got


def capture_events(cap, ifname):
    """Address and link events (rtnetlink groups), and nf_tables notifications, as the
    monitors receive them, caused by `ip` and `nft` (their datagrams, one file per change)."""
    rt = netlink(NETLINK_ROUTE, RTMGRP_LINK | RTMGRP_IPV4_IFADDR)
    nft = netlink(NETLINK_NETFILTER)
    nft.setsockopt(SOL_NETLINK, 1, NFNLGRP_NFTABLES)  # NETLINK_ADD_MEMBERSHIP
    nft.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)

    def run(*cmd):
        subprocess.run(list(cmd), check=True, timeout=10)

    def save_all(sock, target, name, cmd):
        run(*cmd)
        for i, data in enumerate(drain(sock)):
            cap.save(target, f"{name}_{i}" if i else name, data)

    save_all(rt, "fuzz_rtnetlink", "ev_addr_add", ["ip", "addr", "add", "198.51.100.9/24", "dev", ifname])
    save_all(rt, "fuzz_rtnetlink", "ev_addr_del", ["ip", "addr", "del", "198.51.100.9/24", "dev", ifname])
    save_all(rt, "fuzz_rtnetlink", "ev_peer_add",
             ["ip", "addr", "add", "100.64.0.9", "peer", "100.64.0.1", "dev", ifname])
    save_all(rt, "fuzz_rtnetlink", "ev_link_new", ["ip", "link", "add", "fzwatch0", "type", "veth", "peer", "name", "fzwatch1"])
    save_all(rt, "fuzz_rtnetlink", "ev_link_del", ["ip", "link", "del", "fzwatch0"])
    nft_file = ("add table ip fzwatch\n"
                "add chain ip fzwatch post { type nat hook postrouting priority 100; }\n"
                "add map ip fzwatch m { type ipv4_addr . inet_service : ipv4_addr . inet_service; }\n"
                "add rule ip fzwatch post meta l4proto udp snat ip to ip saddr . udp sport map @m\n")
    save_all(nft, "fuzz_nft_events", "new_table", ["nft", nft_file])
    save_all(nft, "fuzz_nft_events", "new_element",
             ["nft", "add element ip fzwatch m { 10.0.0.2 . 5000 : 203.0.113.1 . 5000 }"])
    save_all(nft, "fuzz_nft_events", "del_element",
             ["nft", "delete element ip fzwatch m { 10.0.0.2 . 5000 }"])
    save_all(nft, "fuzz_nft_events", "del_table", ["nft", "delete table ip fzwatch"])
    run("nft", nft_file)
    drain(nft)
    save_all(nft, "fuzz_nft_events", "flush_ruleset", ["nft", "flush ruleset"])
    rt.close()
    nft.close()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: capture_netlink.py OUT_DIR IFNAME")
    cap = Capture(sys.argv[1])
    capture_rtnetlink(cap, sys.argv[2])
    capture_nfqueue(cap)
    capture_conntrack(cap)
    capture_events(cap, sys.argv[2])  # last: it flushes the ruleset
    print(f"capture_netlink: {cap.count} seeds")


if __name__ == "__main__":
    main()
