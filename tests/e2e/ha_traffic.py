#!/usr/bin/python3
"""Traffic of the HA failover test (tests/e2e/ha_failover.sh), run inside a namespace. Every
command is bounded in time; every line is flushed as it happens (the test reads the logs live).

  host ADDR PORT SECONDS GAP_S CTL_DIR   the LAN host's one UDP socket: every GAP_S a datagram
                                         "seq N" to each peer listed in CTL_DIR/peers ("ip port"
                                         lines, read again each round); prints "from ip:port WHAT"
                                         per datagram received (WHAT: "echo", "poke"); ends after
                                         SECONDS or when CTL_DIR/stop exists
  peer ADDR PORT SECONDS                 an outside peer: prints "from ip:port" per datagram and
                                         answers each with "echo" (the flow is answered)
  poke SRC SPORT DST DPORT               one datagram from a fixed source
  tcp-echo ADDR PORT SECONDS             accepts connections and echoes what they send
  tcp-chat DST DPORT SECONDS GAP_S       one connection: every GAP_S a line out, its echo awaited
                                         (up to 30 s); prints "connected", "ok N" per echo, and
                                         "error WHY" when the connection fails (then exits 1)
"""
import os
import select
import socket
import sys
import time


def udp_socket(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    return s


def read_peers(ctl_dir):
    peers = []
    try:
        with open(os.path.join(ctl_dir, "peers")) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    peers.append((parts[0], int(parts[1])))
    except OSError:
        pass
    return peers


def host(addr, port, secs, gap, ctl_dir):
    s = udp_socket(addr, port)
    end = time.monotonic() + float(secs)
    next_send = time.monotonic()
    seq = 0
    while time.monotonic() < end and not os.path.exists(os.path.join(ctl_dir, "stop")):
        now = time.monotonic()
        if now >= next_send:
            for p in read_peers(ctl_dir):
                try:
                    s.sendto(f"seq {seq}".encode(), p)
                except OSError as e:  # no route while the gateway moves: the next round retries
                    print(f"send-error {e.errno}", flush=True)
            seq += 1
            next_send = now + float(gap)
        r, _, _ = select.select([s], [], [], max(0.0, min(next_send, end) - time.monotonic()))
        if r:
            data, src = s.recvfrom(2048)
            print(f"from {src[0]}:{src[1]} {data[:16].decode(errors='replace')}", flush=True)


def peer(addr, port, secs):
    s = udp_socket(addr, port)
    end = time.monotonic() + float(secs)
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select([s], [], [], left)
        if r:
            _, src = s.recvfrom(2048)
            print(f"from {src[0]}:{src[1]}", flush=True)
            s.sendto(b"echo", src)


def poke(src, sport, dst, dport):
    s = udp_socket(src, sport)
    s.sendto(b"poke", (dst, int(dport)))


def tcp_echo(addr, port, secs):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, int(port)))
    ls.listen(8)
    conns = []
    end = time.monotonic() + float(secs)
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select([ls] + conns, [], [], left)
        for s in r:
            if s is ls:
                c, _ = ls.accept()
                conns.append(c)
                continue
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                conns.remove(s)
                s.close()
            else:
                s.sendall(data)


def tcp_chat(dst, dport, secs, gap):
    s = socket.create_connection((dst, int(dport)), timeout=10)
    print("connected", flush=True)
    s.settimeout(30)
    end = time.monotonic() + float(secs)
    n = 0
    try:
        while time.monotonic() < end:
            line = f"{n}\n".encode()
            s.sendall(line)
            got = b""
            while not got.endswith(b"\n"):
                chunk = s.recv(64)
                if not chunk:
                    raise OSError("closed by the peer")
                got += chunk
            if got != line:
                raise OSError(f"echo {got!r} for {line!r}")
            print(f"ok {n}", flush=True)
            n += 1
            time.sleep(float(gap))
    except (OSError, socket.timeout) as e:
        print(f"error {e}", flush=True)
        sys.exit(1)


def main(argv):
    cmds = {"host": (host, 5), "peer": (peer, 3), "poke": (poke, 4), "tcp-echo": (tcp_echo, 3),
            "tcp-chat": (tcp_chat, 4)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    fn, _ = cmds[argv[1]]
    fn(*argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
