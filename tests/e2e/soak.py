#!/usr/bin/python3
"""Churn soak traffic for tests/e2e/soak.sh, run inside the lab's namespaces. Bounded in count
and in time (every wait has a deadline; every process stops by itself).

  sink ADDR UDP_PORTS TCP_PORTS PEER TARGET SECONDS OUT    (the internet)
      Echoes every UDP datagram and TCP line that reaches ADDR on the ports (comma lists) and
      records "t proto ext_ip:port int_ip:port" for each into OUT: the external endpoint it came
      from and the internal one its payload names, with " short" for UDP to a well-known port
      (the NAT's RFC 4787 REQ-5a short timer); the same for ICMP echo requests (the kernel
      answers them; the identifier is the "port"). Meanwhile, from address PEER, sends
      unsolicited UDP datagrams and SYNs to TARGET (the NAT's external address): at external
      ports it has just seen in use, and at random ones. Its totals go to OUT.peer. Ends after
      SECONDS or at SIGTERM.
  clients ADDR SINK UDP_PORTS TCP_PORTS SECONDS SEED TIMEOUT ICMP_TIMEOUT UDP_SHORT OUT    (a LAN host)
      Runs short UDP, TCP and ICMP echo flows from ADDR, a few at a time, until SECONDS pass:
      each from a source port (echo identifier) of a small range every host shares (so that port
      preservation contends), with random idle gaps, some of them around TIMEOUT (the NAT's TCP
      idle timeout), ICMP_TIMEOUT (its ICMP timeout, for echo flows) or UDP_SHORT (its UDP
      timeout for well-known ports, for UDP flows to a port below 1024); half the TCP
      connections reuse the source port and server of one that ended seconds before. Every
      message names its internal endpoint and is echoed. One JSON line per flow into OUT.
  judge SINK_OUT UDP_TIMEOUT UDP_SHORT TCP_MIN_TIMEOUT ICMP_TIMEOUT MARGIN CLIENT_OUT...
      Prints what it checked, one "ok:" / "FAIL:" line each (see judge()); exits 1 on a FAIL.
"""
import asyncio
import collections
import json
import random
import selectors
import signal
import socket
import struct
import sys
import time

UDP_PORT_POOL = range(40000, 40032)  # source ports, the same in every host
TCP_PORT_POOL = range(41000, 41016)
ICMP_ID_POOL = range(42000, 42016)
CONCURRENT_UDP, CONCURRENT_TCP, CONCURRENT_ICMP = 4, 6, 2
MAX_FLOWS = 100000  # per host: a bound in count as well as in time


def ports(arg):
    return [int(p) for p in arg.split(",") if p]


# ------------------------------------------------------------------ sink and unsolicited peer

class Sink:
    """Echo servers (UDP and TCP) plus the outside peer that sends what nobody asked for."""

    def __init__(self, addr, udp_ports, tcp_ports, peer, target, seconds):
        self.sel = selectors.DefaultSelector()
        self.records = []
        self.end = time.monotonic() + seconds
        self.peer, self.target = peer, target
        self.recent = collections.deque()  # (t, proto, external port) seen lately
        self.sent = {"udp": 0, "syn": 0}
        self.syns = collections.deque()  # (t, socket) of the peer's pending connects
        for p in udp_ports:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((addr, p))
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, ("udp", s))
        for p in tcp_ports:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, p))
            s.listen(512)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, ("listen", s))
        self.conns = {}  # socket -> [peer endpoint, buffered bytes, last activity]
        icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        icmp.setblocking(False)
        self.addr = addr
        self.sel.register(icmp, selectors.EVENT_READ, ("icmp", icmp))
        self.peer_udp = []
        for _ in range(8):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((peer, 0))
            s.setblocking(False)
            self.peer_udp.append(s)

    def record(self, proto, ext, line, short=False):
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("U", "T", "I"):
            now = time.monotonic()
            self.records.append("%.4f %s %s:%d %s%s" % (now, proto, ext[0], ext[1], parts[1], " short" if short else ""))
            self.recent.append((now, proto, ext[1]))

    def on_udp(self, s):
        for _ in range(64):
            try:
                data, src = s.recvfrom(2048)
            except BlockingIOError:
                return
            self.record("udp", src, data.decode(errors="replace"), s.getsockname()[1] < 1024)
            try:
                s.sendto(data, src)
            except OSError:
                pass

    def on_icmp(self, s):
        """Echo requests to ADDR (a copy: the kernel answers them)."""
        for _ in range(64):
            try:
                pkt = s.recv(2048)
            except BlockingIOError:
                return
            ihl = (pkt[0] & 15) * 4
            if len(pkt) < ihl + 8 or pkt[ihl] != 8 or socket.inet_ntoa(pkt[16:20]) != self.addr:
                continue
            ident = struct.unpack("!H", pkt[ihl + 4:ihl + 6])[0]
            self.record("icmp", (socket.inet_ntoa(pkt[12:16]), ident), pkt[ihl + 8:].decode(errors="replace"))

    def on_accept(self, s):
        for _ in range(64):
            try:
                c, src = s.accept()
            except BlockingIOError:
                return
            c.setblocking(False)
            self.conns[c] = [src, b"", time.monotonic()]
            self.sel.register(c, selectors.EVENT_READ, ("conn", c))

    def drop(self, c):
        self.sel.unregister(c)
        del self.conns[c]
        c.close()

    def on_conn(self, c):
        st = self.conns[c]
        try:
            data = c.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return self.drop(c)
        if not data:
            return self.drop(c)
        st[1] += data
        st[2] = time.monotonic()
        while b"\n" in st[1]:
            line, st[1] = st[1].split(b"\n", 1)
            self.record("tcp", st[0], line.decode(errors="replace"))
            try:
                c.send(line + b"\n")
            except OSError:
                return self.drop(c)

    def unsolicited(self, now):
        """One unsolicited datagram and one SYN at the NAT: half at ports just seen in use."""
        while self.recent and self.recent[0][0] < now - 5:
            self.recent.popleft()
        for kind in ("udp", "syn"):
            seen = [p for _, proto, p in self.recent if proto == ("udp" if kind == "udp" else "tcp")]
            port = random.choice(seen) if seen and random.random() < 0.5 else random.randint(1024, 65535)
            if kind == "udp":
                try:
                    random.choice(self.peer_udp).sendto(b"X unsolicited", (self.target, port))
                    self.sent["udp"] += 1
                except OSError:
                    pass
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.bind((self.peer, 0))
            s.setblocking(False)
            s.connect_ex((self.target, port))
            self.sent["syn"] += 1
            self.syns.append((now, s))
        while self.syns and (self.syns[0][0] < now - 1 or len(self.syns) > 200):
            self.syns.popleft()[1].close()

    def run(self, rate=40):
        next_peer = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= self.end:
                break
            for key, _ in self.sel.select(timeout=min(0.05, max(0.0, next_peer - now))):
                kind, s = key.data
                {"udp": self.on_udp, "icmp": self.on_icmp, "listen": self.on_accept, "conn": self.on_conn}[kind](s)
            now = time.monotonic()
            if now >= next_peer:
                self.unsolicited(now)
                next_peer = now + 1.0 / rate
            for c, st in list(self.conns.items()):
                if now - st[2] > 15:  # a connection its client forgot (its RST was lost)
                    self.drop(c)


def sink_main(addr, udp_ports, tcp_ports, peer, target, seconds, out):
    sink = Sink(addr, ports(udp_ports), ports(tcp_ports), peer, target, float(seconds))
    signal.signal(signal.SIGTERM, lambda *_: setattr(sink, "end", 0))  # stop early, still write
    sink.run()
    with open(out, "w") as f:
        f.write("\n".join(sink.records) + ("\n" if sink.records else ""))
    with open(out + ".peer", "w") as f:
        json.dump(sink.sent, f)


# ------------------------------------------------------------------ LAN host clients

class Host:
    def __init__(self, addr, sink, udp_ports, tcp_ports, seconds, seed, timeout, icmp_timeout, udp_short):
        self.addr, self.sink = addr, sink
        self.udp_ports, self.tcp_ports = udp_ports, tcp_ports
        self.end = time.monotonic() + seconds
        self.rng = random.Random(seed)
        self.timeout, self.icmp_timeout, self.udp_short = timeout, icmp_timeout, udp_short
        self.busy = set()  # (proto, port) in use here
        self.results = []
        self.unsolicited = 0  # datagrams from anyone but the sink
        self.flows = 0
        self.ended = collections.deque()  # (t, port, server) of TCP connections that ended

    def take_tcp(self):
        """Half the connections reuse the source port and server of one that ended 2-10 s ago:
        its session and mapping then expire about when the new one begins (the NAT's own
        timers plus, under the conntrack engine, the kernel's)."""
        now = time.monotonic()
        while self.ended and self.ended[0][0] < now - 10:
            self.ended.popleft()
        again = [(p, d) for t, p, d in self.ended if t < now - 2 and ("tcp", p) not in self.busy]
        if again and self.rng.random() < 0.5:
            p, d = self.rng.choice(again)
            self.busy.add(("tcp", p))
            return p, d
        p = self.take_port("tcp", TCP_PORT_POOL)
        return p, (self.sink, self.rng.choice(self.tcp_ports))

    def take_port(self, proto, pool):
        free = [p for p in pool if (proto, p) not in self.busy]
        if not free:
            return None
        p = self.rng.choice(free)
        self.busy.add((proto, p))
        return p

    def gap(self, long_share, timeout=None):
        # Short gaps keep a flow alive; long ones fall around the idle timeout, on both sides, up
        # to where the conntrack engine's records expire (the kernel's timeout, then the NAT's).
        timeout = timeout or self.timeout
        if self.rng.random() < long_share:
            return self.rng.uniform(0.5 * timeout, 2.5 * timeout)
        return self.rng.uniform(0.05, 1.0)

    async def datagram_flow(self, fid, proto):
        """A UDP flow to one sink port, or echo requests from a ping socket (its port is the
        identifier). Gaps fall around the flow's timeout when it has a short one (UDP to a
        well-known port, ICMP): every message must be answered, through the old mapping or a
        new one."""
        loop = asyncio.get_running_loop()
        icmp = proto == "icmp"
        port = self.take_port(proto, ICMP_ID_POOL if icmp else UDP_PORT_POOL)
        if port is None:
            return await asyncio.sleep(0.1)
        res = {"id": fid, "proto": proto, "internal": "%s:%d" % (self.addr, port), "start": time.monotonic(),
               "sent": 0, "echoed": 0, "max_gap": 0.0, "error": None}
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP if icmp else 0)
        try:
            s.bind((self.addr, port))
            s.setblocking(False)
            dst = (self.sink, 0 if icmp else self.rng.choice(self.udp_ports))
            timeout = self.icmp_timeout if icmp else self.udp_short if dst[1] < 1024 else None
            last = None
            for seq in range(self.rng.randint(1, 8 if icmp else 10)):
                if seq:
                    g = self.gap(0.3, timeout) if timeout else self.gap(0.0)
                    if time.monotonic() + g > self.end + 2:
                        break  # the soak is over: the flow ends early, not broken
                    await asyncio.sleep(g)
                payload = ("%s %s %d %d" % ("I" if icmp else "U", res["internal"], fid, seq)).encode()
                ok = False
                for attempt in range(4):  # as a resolver would: resend after 0.7 s
                    now = time.monotonic()
                    if last is not None:
                        res["max_gap"] = max(res["max_gap"], now - last)
                    last = now
                    if icmp:  # the kernel fills in the identifier and the checksum
                        msg = struct.pack("!BBHHH", 8, 0, 0, 0, (seq * 4 + attempt) & 0xFFFF) + payload
                    else:
                        msg = payload
                    await loop.sock_sendto(s, msg, dst)
                    res["sent"] += 1
                    ok = await (self.echo_reply(s, payload, 0.7) if icmp else self.udp_echo(s, payload, dst, 0.7))
                    if ok:
                        break
                if not ok:
                    res["error"] = "no echo for message %d" % seq
                    break
                res["echoed"] += 1
        except OSError as e:
            res["error"] = "socket: %s" % e
        finally:
            s.close()
            self.busy.discard((proto, port))
        res["end"] = time.monotonic()
        self.results.append(res)

    async def udp_echo(self, s, msg, dst, wait):
        loop = asyncio.get_running_loop()
        end = time.monotonic() + wait
        while time.monotonic() < end:
            try:
                data, src = await asyncio.wait_for(loop.sock_recvfrom(s, 2048), end - time.monotonic())
            except asyncio.TimeoutError:
                return False
            if src != dst:
                self.unsolicited += 1  # let in by the NAT's filter from the outside peer
                continue
            if data == msg:
                return True
        return False

    async def echo_reply(self, s, payload, wait):
        loop = asyncio.get_running_loop()
        end = time.monotonic() + wait
        while time.monotonic() < end:
            try:
                data = await asyncio.wait_for(loop.sock_recv(s, 2048), end - time.monotonic())
            except asyncio.TimeoutError:
                return False
            if len(data) >= 8 and data[0] == 0 and data[8:] == payload:
                return True
        return False

    async def tcp_flow(self, fid):
        loop = asyncio.get_running_loop()
        port, dst = self.take_tcp()
        if port is None:
            return await asyncio.sleep(0.1)
        res = {"id": fid, "proto": "tcp", "internal": "%s:%d" % (self.addr, port), "start": time.monotonic(),
               "sent": 0, "echoed": 0, "max_gap": 0.0, "error": None}
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        rst = self.rng.random() < 0.5
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.addr, port))
            s.setblocking(False)
            try:
                await asyncio.wait_for(loop.sock_connect(s, dst), 4)
            except asyncio.TimeoutError:  # before OSError: it is one since Python 3.11
                res["error"] = "connect: timeout"
                raise
            except OSError as e:
                if e.errno in (98, 99):  # EADDRINUSE / EADDRNOTAVAIL: our own TIME_WAIT, not the NAT's
                    res["error"] = "busy"
                    raise
                res["error"] = "connect: %s" % e
                raise
            last = time.monotonic()
            buf = b""
            for seq in range(self.rng.randint(1, 8)):
                g = self.gap(0.3)
                if time.monotonic() + g > self.end + 2:
                    break
                await asyncio.sleep(g)
                now = time.monotonic()
                res["max_gap"] = max(res["max_gap"], now - last)
                last = now
                line = ("T %s %d %d\n" % (res["internal"], fid, seq)).encode()
                await loop.sock_sendall(s, line)
                res["sent"] += 1
                end = time.monotonic() + 4
                while b"\n" not in buf:
                    left = end - time.monotonic()
                    chunk = await asyncio.wait_for(loop.sock_recv(s, 4096), max(left, 0.001))
                    if not chunk:
                        raise ConnectionResetError("closed by the peer")
                    buf += chunk
                got, buf = buf.split(b"\n", 1)
                if got + b"\n" != line:
                    res["error"] = "wrong echo"
                    break
                res["echoed"] += 1
        except asyncio.TimeoutError:
            res["error"] = res["error"] or "no echo for message %d" % res["sent"]
        except OSError as e:
            res["error"] = res["error"] or "%s" % e
        finally:
            if rst:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            self.busy.discard(("tcp", port))
            self.ended.append((time.monotonic(), port, dst))
        res["close"] = "rst" if rst else "fin"
        res["end"] = time.monotonic()
        self.results.append(res)

    async def slot(self, flow):
        while time.monotonic() < self.end and self.flows < MAX_FLOWS:
            self.flows += 1
            await flow(self.flows)

    async def run(self):
        slots = [self.slot(lambda fid: self.datagram_flow(fid, "udp")) for _ in range(CONCURRENT_UDP)]
        slots += [self.slot(self.tcp_flow) for _ in range(CONCURRENT_TCP)]
        slots += [self.slot(lambda fid: self.datagram_flow(fid, "icmp")) for _ in range(CONCURRENT_ICMP)]
        # A flow sleeps past the end by 2 s at most, then waits 4 s for a connect or an echo.
        await asyncio.wait_for(asyncio.gather(*slots), self.end - time.monotonic() + 30)


def clients_main(addr, sink, udp_ports, tcp_ports, seconds, seed, timeout, icmp_timeout, udp_short, out):
    host = Host(addr, sink, ports(udp_ports), ports(tcp_ports), float(seconds), int(seed), float(timeout),
                float(icmp_timeout), float(udp_short))
    asyncio.run(host.run())
    with open(out, "w") as f:
        for r in host.results:
            f.write(json.dumps(r) + "\n")
        f.write(json.dumps({"host": addr, "unsolicited_received": host.unsolicited}) + "\n")


# ------------------------------------------------------------------ judge

def judge(sink_out, udp_timeout, udp_short, tcp_min_timeout, icmp_timeout, margin, client_outs):
    """Checks, from what the outside sink and the LAN hosts saw:
    - no external endpoint had two internal owners at once: a new owner may appear only once the
      previous owner's mapping can have expired, i.e. when every packet of the previous owner is
      older than the mapping lifetime it gave (the protocol's shortest; for UDP the short timer
      to a well-known port, else the UDP timeout; less `margin`: the sink's receive times lag
      the daemon's by a scheduling delay);
    - every flow that should pass did: every UDP flow (a datagram after an expiry gets a new mapping),
      every ICMP echo flow (a request after the timeout gets a new mapping), every TCP flow whose
      idle gaps all stayed `margin` below the shortest TCP timeout (connected, every message
      echoed), and the sink saw each of those flows;
    - the churn happened: flows of every kind, some TCP flows idle past the timeout, hosts
      contending for one source port at once."""
    failures = 0

    def check(ok, what):
        nonlocal failures
        print(("ok: " if ok else "FAIL: ") + what)
        failures += 0 if ok else 1

    owners = collections.defaultdict(list)  # (proto, external) -> [(t, internal, short)]
    seen_flows = set()
    with open(sink_out) as f:
        for line in f:
            t, proto, ext, internal = line.split()[:4]
            owners[(proto, ext)].append((float(t), internal, line.split()[4:] == ["short"]))
    flows, hosts = [], []
    for path in client_outs:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                (hosts if "host" in r else flows).append(r)
    life = {"udp": udp_timeout, "tcp": tcp_min_timeout, "icmp": icmp_timeout}
    overlaps, handovers = [], 0
    for (proto, ext), seen in owners.items():
        seen.sort()
        owner, until = seen[0][1], 0.0  # the current owner's mapping must live until `until`
        for t, internal, short in seen:
            seen_flows.add((proto, internal))
            if internal != owner:
                if t < until - margin:
                    overlaps.append("%s %s: %s until %.3f, then %s at %.3f" % (proto, ext, owner, until, internal, t))
                else:
                    handovers += 1
                owner, until = internal, 0.0
            # A refresh never shortens a mapping (a short one leaves a longer timer alone).
            until = max(until, t + (udp_short if short else life[proto]))
    check(not overlaps, "no external endpoint used by two internal endpoints at once (%d endpoints, %d records%s)"
          % (len(owners), sum(len(v) for v in owners.values()), "; " + "; ".join(overlaps[:5]) if overlaps else ""))

    udp = [r for r in flows if r["proto"] == "udp"]
    tcp = [r for r in flows if r["proto"] == "tcp" and r["error"] != "busy"]
    # A TCP flow that should pass: every idle gap, up to the message that failed if one did,
    # stayed `margin` below the shortest timeout (max_gap covers the gap before that message).
    should_tcp = [r for r in tcp if r["max_gap"] < tcp_min_timeout - margin]
    icmp = [r for r in flows if r["proto"] == "icmp"]
    bad_udp = [r for r in udp if r["error"]]
    bad_icmp = [r for r in icmp if r["error"]]
    bad_tcp = [r for r in should_tcp if r["error"]]
    check(not bad_udp, "every UDP flow passed (%d flows, %d of them idle past the short timeout, %d datagrams sent, %d echoed%s)" % (
        len(udp), sum(1 for r in udp if r["max_gap"] > udp_short), sum(r["sent"] for r in udp), sum(r["echoed"] for r in udp),
        "; " + "; ".join("%s flow %d: %s" % (r["internal"], r["id"], r["error"]) for r in bad_udp[:5]) if bad_udp else ""))
    check(icmp and not bad_icmp, "every ICMP echo flow passed (%d flows, %d of them idle past the timeout, %d requests sent, %d answered%s)" % (
        len(icmp), sum(1 for r in icmp if r["max_gap"] > icmp_timeout), sum(r["sent"] for r in icmp),
        sum(r["echoed"] for r in icmp),
        "; " + "; ".join("%s flow %d: %s" % (r["internal"], r["id"], r["error"]) for r in bad_icmp[:5]) if bad_icmp else ""))
    check(not bad_tcp, "every TCP flow idle less than %.1f s passed (%d of %d TCP flows%s)" % (
        tcp_min_timeout - margin, len(should_tcp), len(tcp),
        "; " + "; ".join("%s flow %d (gap %.2f): %s" % (r["internal"], r["id"], r["max_gap"], r["error"]) for r in bad_tcp[:5]) if bad_tcp else ""))
    unseen = [r for r in udp + icmp + should_tcp if not r["error"] and r["echoed"] and (r["proto"], r["internal"]) not in seen_flows]
    check(not unseen, "the sink saw every passing flow's internal endpoint")
    idle = [r for r in tcp if r["max_gap"] > tcp_min_timeout + margin]
    broke = [r for r in idle if r["error"]]
    idle_udp = [r for r in udp if r["max_gap"] > udp_short + margin]
    check(len(udp) > 0 and len(idle_udp) > 0 and len(should_tcp) > 0 and len(idle) > 0,
          "churn: %d UDP flows (%d idle past the short timeout), %d TCP flows (%d idle past the timeout, "
          "%d of them broken off)" % (len(udp), len(idle_udp), len(tcp), len(idle), len(broke)))
    # The contention the ownership check judges: two hosts on one source port at once, which the
    # NAT had to give two external endpoints (port preservation for one of them at most).
    contended = collections.defaultdict(set)  # (proto, second, port) -> internal addresses
    for (proto, _), seen in owners.items():
        for t, internal, _ in seen:
            addr, port = internal.rsplit(":", 1)
            contended[(proto, int(t), port)].add(addr)
    windows = sum(1 for v in contended.values() if len(v) > 1)
    check(windows > 0, "two hosts used one source port at once in %d one-second windows; external endpoints "
          "changed owner after an expiry %d times" % (windows, handovers))
    unsolicited = sum(h["unsolicited_received"] for h in hosts)
    print("result: unsolicited_received=%d flows=%d" % (unsolicited, len(flows)))
    return 1 if failures else 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "sink" and len(argv) == 9:
        return sink_main(*argv[2:]) or 0
    if cmd == "clients" and len(argv) == 12:
        return clients_main(*argv[2:]) or 0
    if cmd == "judge" and len(argv) >= 9:
        return judge(argv[2], float(argv[3]), float(argv[4]), float(argv[5]), float(argv[6]), float(argv[7]), argv[8:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
