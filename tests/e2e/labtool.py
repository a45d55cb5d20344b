#!/usr/bin/python3
"""Small socket probes for the conenatd e2e lab (run inside a namespace by lib.sh).

  udp-observe ADDR PORT SECONDS N     print "ip:port" of each datagram's source; stop after N or SECONDS
  udp-send SRC SPORT DST DPORT [DATA] send one datagram from SRC:SPORT (SPORT 0 = any)
  udp-echo ADDR PORT SECONDS          echo every datagram back to its source until SECONDS
  tcp-connect DST DPORT TIMEOUT [SRC] print connected | refused | timeout | unreachable | error(<why>)
"""
import errno
import socket
import sys
import time


def udp_observe(addr, port, secs, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    deadline = time.monotonic() + float(secs)
    seen = 0
    while seen < int(n):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            _, src = s.recvfrom(65535)
        except socket.timeout:
            break
        print(f"{src[0]}:{src[1]}", flush=True)
        seen += 1


def udp_send(src, sport, dst, dport, data="probe"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, int(sport)))
    s.sendto(data.encode(), (dst, int(dport)))


def udp_echo(addr, port, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    deadline = time.monotonic() + float(secs)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data, src = s.recvfrom(65535)
        except socket.timeout:
            break
        s.sendto(data, src)


def tcp_connect(dst, dport, timeout, src=""):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(float(timeout))
    if src:
        s.bind((src, 0))
    try:
        s.connect((dst, int(dport)))
        print("connected")
    except socket.timeout:
        print("timeout")
    except ConnectionRefusedError:
        print("refused")
    except OSError as e:
        # ICMP host/net unreachable (e.g. a NAT that rejects) differ from a RST.
        print("unreachable" if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH) else f"error({e.strerror})")
    finally:
        s.close()


def main(argv):
    cmds = {"udp-observe": udp_observe, "udp-send": udp_send, "udp-echo": udp_echo,
            "tcp-connect": tcp_connect}
    if len(argv) < 2 or argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    cmds[argv[1]](*argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
