#!/usr/bin/python3
"""Traffic for the conntrack-engine e2e tests (run inside a namespace). Bounded in count and time.

  udp-flows SRC FIRST_PORT COUNT DST DPORT PACKETS [GAP_S]  COUNT flows, PACKETS datagrams each
  udp-spray SRC SPORT DST FIRST_DPORT COUNT GAP_S  COUNT flows from one endpoint, one datagram each, to
                                                  FIRST_DPORT, FIRST_DPORT + 1, ..., GAP_S apart
  udp-count ADDR PORT SECONDS                     print "datagrams N sources M firsts F" (F: flows whose
                                                  datagram 0 arrived), stop after SECONDS of silence
  udp-stream SRC SPORT DST DPORT SECONDS GAP_S    one flow, a datagram every GAP_S
  udp-watch ADDR PORT SECONDS                     print "src count" per source endpoint seen
  tcp-punch ADDR PORT PEER PEER_PORT SECONDS      connect out from ADDR:PORT, listen on the same port
                                                  (SO_REUSEPORT) and print "accepted ip:port" per inbound
  tcp-serve ADDR PORT SECONDS                     accept and hold connections (a plain peer)
  udp-sized SRC SPORT DST DPORT SIZE COUNT        COUNT datagrams of SIZE bytes, 0.1 s apart
  udp-recv ADDR PORT SECONDS N                    print "ip:port LEN" per datagram (N at most)
  udp-exchange ADDR PORT PEER PEER_PORT SECONDS   send to the peer every 0.1 s, print "from ip:port"
                                                  per source heard (same socket)
  tcp-meet ADDR PORT PEER PEER_PORT SECONDS       listen on ADDR:PORT and connect from it to the peer
                                                  until either works (both ends do it at once); prints
                                                  "connected peer=ip:port" or "accepted ip:port"
  tcp-many SRC DST DPORT N SECONDS                N new connections one after the other (each from a new
                                                  port); prints "connected K of N"
  tcp-connect SRC SPORT DST DPORT SECONDS         one connect (SPORT 0: any); prints
                                                  "connected|refused|timeout|unreachable|error S" with S
                                                  the seconds it took (monotonic clock)
"""
import select
import socket
import sys
import time


def udp_socket(src, sport=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, int(sport)))
    return s


def readable(socks, secs):
    """Yields each socket of `socks` as it becomes readable, until SECS have passed."""
    end = time.monotonic() + float(secs)
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select(socks, [], [], left)
        yield from r


def udp_flows(src, first, count, dst, dport, packets, gap="0"):
    socks = [udp_socket(src, int(first) + i) for i in range(int(count))]
    for k in range(int(packets)):
        for i, s in enumerate(socks):
            s.sendto(f"flow{i}-{k}".encode(), (dst, int(dport)))
        time.sleep(float(gap))


def udp_spray(src, sport, dst, first, count, gap):
    s = udp_socket(src, sport)
    for i in range(int(count)):
        s.sendto(f"spray{i}".encode(), (dst, int(first) + i))
        if float(gap) > 0:
            time.sleep(float(gap))


def udp_count(addr, port, secs):
    s = udp_socket(addr, port)
    n, sources, firsts = 0, set(), set()
    deadline = time.monotonic() + float(secs)
    while time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], 1.0)
        if not r:
            if n:
                break  # a second of silence after traffic: done
            continue
        data, src = s.recvfrom(2048)
        n += 1
        sources.add(src)
        if data.endswith(b"-0"):
            firsts.add(data)
    print(f"datagrams {n} sources {len(sources)} firsts {len(firsts)}", flush=True)


def udp_stream(src, sport, dst, dport, secs, gap):
    s = udp_socket(src, sport)
    end = time.monotonic() + float(secs)
    i = 0
    while time.monotonic() < end:
        s.sendto(f"stream-{i}".encode(), (dst, int(dport)))
        i += 1
        time.sleep(float(gap))


def udp_watch(addr, port, secs):
    s = udp_socket(addr, port)
    seen = {}
    for _ in readable([s], secs):
        _, src = s.recvfrom(2048)
        seen[src] = seen.get(src, 0) + 1
    for (a, p), c in seen.items():
        print(f"{a}:{p} {c}", flush=True)


def accept_all(listener, secs):
    held = []  # kept open until the end
    for _ in readable([listener], secs):
        c, src = listener.accept()
        held.append(c)
        print(f"accepted {src[0]}:{src[1]}", flush=True)


def shared_port_socket(addr, port):
    """A TCP socket bound to addr:port that a listener and connecting sockets can share."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((addr, int(port)))
    return s


def connect_outcome(s, dst, dport):
    """(connected | timeout | refused | unreachable | error(...), seconds) of s.connect()."""
    t0 = time.monotonic()
    try:
        s.connect((dst, int(dport)))
        r = "connected"
    except socket.timeout:
        r = "timeout"
    except ConnectionRefusedError:
        r = "refused"
    except OSError as e:
        r = "unreachable" if e.errno in (113, 101) else f"error({e.strerror})"
    return r, time.monotonic() - t0


def tcp_punch(addr, port, peer, pport, secs):
    def sock():
        return shared_port_socket(addr, port)
    listener = sock()
    listener.listen(8)
    out = sock()
    out.settimeout(3)
    try:
        out.connect((peer, int(pport)))
        print("outbound connected", flush=True)
    except OSError as e:
        print(f"outbound failed {e}", flush=True)
    accept_all(listener, secs)


def tcp_serve(addr, port, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(64)
    accept_all(s, secs)


def udp_sized(src, sport, dst, dport, size, count):
    s = udp_socket(src, sport)
    for i in range(int(count)):
        s.sendto(bytes([i % 256]) * int(size), (dst, int(dport)))
        time.sleep(0.1)


def udp_recv(addr, port, secs, n):
    s = udp_socket(addr, port)
    got = 0
    for _ in readable([s], secs):
        data, src = s.recvfrom(65535)
        print(f"{src[0]}:{src[1]} {len(data)}", flush=True)
        got += 1
        if got >= int(n):
            return


def udp_exchange(addr, port, peer, pport, secs):
    s = udp_socket(addr, port)
    s.setblocking(False)
    end = time.monotonic() + float(secs)
    heard = []
    while time.monotonic() < end:
        s.sendto(b"hairpin", (peer, int(pport)))
        for _ in readable([s], 0.1):
            try:
                _, src = s.recvfrom(2048)
            except BlockingIOError:
                continue
            if src not in heard:
                heard.append(src)
    for a, p in heard:
        print(f"from {a}:{p}", flush=True)


def tcp_meet(addr, port, peer, pport, secs):
    def sock():
        return shared_port_socket(addr, port)
    listener = sock()
    listener.listen(8)
    listener.setblocking(False)
    end = time.monotonic() + float(secs)
    while time.monotonic() < end:
        out = sock()
        out.setblocking(False)
        out.connect_ex((peer, int(pport)))
        # Whichever comes first: our connect completes (SYN-ACK or simultaneous open), or the
        # peer's SYN reaches the listener.
        for s in readable_or_writable(listener, out, min(1.0, max(0.05, end - time.monotonic()))):
            if s is listener:
                c, src = listener.accept()
                print(f"accepted {src[0]}:{src[1]}", flush=True)
                time.sleep(0.5)
                return
            if out.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                a, p = out.getpeername()
                print(f"connected peer={a}:{p}", flush=True)
                time.sleep(0.5)
                return
            break  # refused: try again
        out.close()
        time.sleep(0.05)
    print("failed", flush=True)


def readable_or_writable(listener, out, secs):
    r, w, _ = select.select([listener], [out], [], secs)
    return r + w


def tcp_connect(src, sport, dst, dport, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, int(sport)))
    s.settimeout(float(secs))
    r, took = connect_outcome(s, dst, dport)
    print(f"{r} {took:.3f}", flush=True)


def tcp_many(src, dst, dport, n, secs):
    end = time.monotonic() + float(secs)
    ok = 0
    for _ in range(int(n)):
        left = end - time.monotonic()
        if left <= 0:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(min(3.0, left))
        try:
            s.connect((dst, int(dport)))
            ok += 1
        except OSError:
            pass
        s.close()
    print(f"connected {ok} of {n}", flush=True)


def main(argv):
    cmds = {"udp-flows": udp_flows, "udp-spray": udp_spray, "udp-count": udp_count, "udp-stream": udp_stream, "udp-watch": udp_watch,
            "tcp-punch": tcp_punch, "tcp-serve": tcp_serve, "udp-sized": udp_sized, "udp-recv": udp_recv,
            "udp-exchange": udp_exchange, "tcp-meet": tcp_meet, "tcp-connect": tcp_connect, "tcp-many": tcp_many}
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
