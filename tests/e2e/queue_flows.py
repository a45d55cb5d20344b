#!/usr/bin/python3
"""Traffic for the queue-engine e2e test (run inside a namespace). Bounded in count and time.

  ttl-probe SRC DST DPORT TTL               one UDP datagram with this TTL; print the ICMP error it
                                            earned: "icmp type=T code=C from=ADDR" or "none"
  pmtu-probe SRC DST DPORT SIZE             one UDP datagram of SIZE bytes with DF set; print
                                            "frag-needed mtu=N from=ADDR", "sent" or "error(...)"
  simopen ADDR PORT PEER PEER_PORT SECONDS  TCP connect from ADDR:PORT to PEER:PEER_PORT, again until
                                            it works or SECONDS pass; print "connected" or "failed(...)"
  tcp-sink ADDR PORT SECONDS                accept one connection, print "received N sha256 H"
  tcp-source DST PORT BYTES [SRC]           connect, send BYTES of a fixed stream, print "sent N sha256 H"
  tcp-give ADDR PORT BYTES SECONDS          accept one connection, send it BYTES, print "sent N sha256 H"
  tcp-fetch DST PORT SECONDS [SRC]          connect, receive until closed, print "received N sha256 H"
  udp-gso SRC SPORT DST DPORT SEGMENT COUNT one sendmsg of COUNT segments of SEGMENT bytes (UDP_SEGMENT)
  udp-sink ADDR PORT SECONDS N              print "datagrams N sizes S1,S2,.. intact yes|no"
  udp-ping SRC SPORT DST DPORT              one datagram, wait 2 s for an answer: print "reply from ip:port" or "none"
  udp-pong ADDR PORT SECONDS [DST:PORT..]   first send "hello" to each DST:PORT, then answer every datagram
                                            with "pong"; print "from ip:port" per datagram
  udp-size SRC SPORT DST DPORT SIZE         one datagram of SIZE bytes (DF set), wait 2 s for its echo:
                                            print "echo N intact|corrupt" or "none"
  udp-echo ADDR PORT SECONDS                echo every datagram; print "from ip:port len N" per datagram
  udp-burst SRC SPORT DST DPORT N           N small datagrams of one flow, as fast as they go
  udp-sources ADDR PORT SECONDS [UNTIL]     print "SRC_ADDR COUNT" per source address seen, after
                                            SECONDS or once a datagram from address UNTIL came
  tcp-many SRC DST DPORT N SECONDS          N connections one after the other (each closed once
                                            connected): print "connected K of N"
  tcp-connect-timed DST DPORT SECS [SRC]    one connect(): print "refused|connected|timeout|error after T s"
"""
import hashlib
import random
import select
import socket
import struct
import sys
import time

from flows import connect_outcome, readable, tcp_many, udp_socket  # the same directory

IP_RECVERR = 11
IP_MTU_DISCOVER, IP_PMTUDISC_DO = 10, 2
SO_EE_ORIGIN_ICMP = 2
UDP_SEGMENT = 103



def read_icmp_error(s, timeout):
    """The first ICMP error queued on the socket: (type, code, info, offender) or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            _, anc, _, _ = s.recvmsg(2048, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
        except BlockingIOError:
            time.sleep(0.05)
            continue
        for level, kind, data in anc:
            if level == socket.IPPROTO_IP and kind == IP_RECVERR and len(data) >= 32:
                # struct sock_extended_err, then the offender's sockaddr_in
                _, origin, icmp_type, icmp_code, _, info, _ = struct.unpack("=IBBBBII", data[:16])
                offender = socket.inet_ntoa(data[20:24])
                if origin == SO_EE_ORIGIN_ICMP:
                    return icmp_type, icmp_code, info, offender
    return None


def ttl_probe(src, dst, dport, ttl):
    s = udp_socket(src)
    s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, int(ttl))
    s.sendto(b"ttl-probe", (dst, int(dport)))
    err = read_icmp_error(s, 2.0)
    print("none" if err is None else f"icmp type={err[0]} code={err[1]} from={err[3]}", flush=True)


def pmtu_probe(src, dst, dport, size):
    s = udp_socket(src)
    s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
    s.connect((dst, int(dport)))
    try:
        s.send(b"x" * int(size))
    except OSError as e:
        print(f"error({e.strerror})", flush=True)
        return
    err = read_icmp_error(s, 2.0)
    if err and err[0] == 3 and err[1] == 4:
        print(f"frag-needed mtu={err[2]} from={err[3]}", flush=True)
    else:
        print("sent" if err is None else f"icmp type={err[0]} code={err[1]}", flush=True)


def simopen(addr, port, peer, pport, secs):
    end = time.monotonic() + float(secs)
    last = "timeout"
    while time.monotonic() < end:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(port)))
        s.settimeout(max(0.1, min(2.0, end - time.monotonic())))
        try:
            s.connect((peer, int(pport)))
            print("connected", flush=True)
            time.sleep(0.5)
            return
        except OSError as e:
            last = e.strerror or "timeout"
            s.close()
            time.sleep(0.1)
    print(f"failed({last})", flush=True)


def stream(n):
    """A fixed pseudo-random byte stream (the same every run), in 64 KiB chunks."""
    k = 0
    while n > 0:
        chunk = random.Random(k).randbytes(min(n, 1 << 16))
        n -= len(chunk)
        k += 1
        yield chunk


def accept_one(addr, port, secs):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, int(port)))
    srv.listen(1)
    r, _, _ = select.select([srv], [], [], float(secs))
    return srv.accept()[0] if r else None


def receive_all(c, end):
    h, n = hashlib.sha256(), 0
    while time.monotonic() < end:
        c.settimeout(max(0.1, end - time.monotonic()))
        try:
            data = c.recv(1 << 20)
        except socket.timeout:
            break
        if not data:
            break
        h.update(data)
        n += len(data)
    print(f"received {n} sha256 {h.hexdigest()[:16]}", flush=True)


def send_all(s, nbytes):
    h, n = hashlib.sha256(), 0
    for chunk in stream(int(nbytes)):
        s.sendall(chunk)
        h.update(chunk)
        n += len(chunk)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(5)
    try:
        s.recv(1)
    except OSError:
        pass
    print(f"sent {n} sha256 {h.hexdigest()[:16]}", flush=True)


def tcp_sink(addr, port, secs):
    end = time.monotonic() + float(secs)
    c = accept_one(addr, port, secs)
    if c is None:
        print("received 0 sha256 none", flush=True)
        return
    receive_all(c, end)


def connect(dst, port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.settimeout(10)
    s.connect((dst, int(port)))
    return s


def tcp_source(dst, port, nbytes, src=""):
    send_all(connect(dst, port, src), nbytes)


def tcp_give(addr, port, nbytes, secs):
    c = accept_one(addr, port, secs)
    if c is None:
        print("sent 0 sha256 none", flush=True)
        return
    c.settimeout(float(secs))
    send_all(c, nbytes)


def tcp_fetch(dst, port, secs, src=""):
    receive_all(connect(dst, port, src), time.monotonic() + float(secs))


def udp_gso(src, sport, dst, dport, segment, count):
    s = udp_socket(src, sport)
    seg, n = int(segment), int(count)
    payload = b"".join(bytes([65 + i % 26]) * seg for i in range(n))
    s.setsockopt(socket.IPPROTO_UDP, UDP_SEGMENT, seg)
    s.sendto(payload, (dst, int(dport)))


def udp_sink(addr, port, secs, n):
    s = udp_socket(addr, port)
    sizes, intact = [], True
    for _ in readable([s], secs):
        data, _ = s.recvfrom(65535)
        sizes.append(len(data))
        intact = intact and len(set(data)) == 1
        if len(sizes) >= int(n):
            break
    print(f"datagrams {len(sizes)} sizes {','.join(map(str, sizes))} intact {'yes' if intact else 'no'}", flush=True)


def udp_ping(src, sport, dst, dport):
    s = udp_socket(src, sport)
    s.sendto(b"ping", (dst, int(dport)))
    r, _, _ = select.select([s], [], [], 2.0)
    if not r:
        print("none", flush=True)
        return
    _, frm = s.recvfrom(2048)
    print(f"reply from {frm[0]}:{frm[1]}", flush=True)


def udp_pong(addr, port, secs, *first):
    s = udp_socket(addr, port)
    for dst in first:
        host, dport = dst.rsplit(":", 1)
        s.sendto(b"hello", (host, int(dport)))
    for _ in readable([s], secs):
        _, frm = s.recvfrom(2048)
        print(f"from {frm[0]}:{frm[1]}", flush=True)
        s.sendto(b"pong", frm)


def udp_size(src, sport, dst, dport, size):
    s = udp_socket(src, sport)
    s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
    data = bytes(i & 0xff for i in range(int(size)))
    try:
        s.sendto(data, (dst, int(dport)))
    except OSError as e:
        print(f"error({e.strerror})", flush=True)
        return
    for _ in readable([s], 2.0):
        got, _ = s.recvfrom(65535)
        print(f"echo {len(got)} {'intact' if got == data else 'corrupt'}", flush=True)
        return
    print("none", flush=True)


def udp_echo(addr, port, secs):
    s = udp_socket(addr, port)
    for _ in readable([s], secs):
        data, frm = s.recvfrom(65535)
        print(f"from {frm[0]}:{frm[1]} len {len(data)}", flush=True)
        s.sendto(data, frm)


def udp_burst(src, sport, dst, dport, n):
    s = udp_socket(src, sport)
    for i in range(int(n)):
        s.sendto(b"burst%d" % i, (dst, int(dport)))


def udp_sources(addr, port, secs, until=""):
    s = udp_socket(addr, port)
    s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE: a burst must not overflow it
    seen = {}
    for _ in readable([s], secs):
        _, frm = s.recvfrom(2048)
        seen[frm[0]] = seen.get(frm[0], 0) + 1
        if frm[0] == until:
            break
    for a, n in sorted(seen.items()):
        print(a, n, flush=True)


def tcp_connect_timed(dst, dport, secs, src=""):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.settimeout(float(secs))
    what, took = connect_outcome(s, dst, dport)
    print(f"{what} after {took:.2f} s", flush=True)


def main(argv):
    cmds = {"ttl-probe": ttl_probe, "pmtu-probe": pmtu_probe, "simopen": simopen, "tcp-sink": tcp_sink,
            "tcp-source": tcp_source, "tcp-give": tcp_give, "tcp-fetch": tcp_fetch, "udp-gso": udp_gso, "udp-sink": udp_sink, "udp-ping": udp_ping,
            "udp-pong": udp_pong, "udp-size": udp_size, "udp-echo": udp_echo, "udp-burst": udp_burst,
            "udp-sources": udp_sources, "tcp-many": tcp_many, "tcp-connect-timed": tcp_connect_timed}
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
