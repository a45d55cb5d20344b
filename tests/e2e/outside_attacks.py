#!/usr/bin/python3
"""What a hostile outside host does to the NAT, for the software engines' e2e test (run inside a
namespace; scapy crafts the packets). Bounded in count and time.

  spoof EXT UDP_PORT TCP_PORT PEER       from the WAN side, packets with internal sources (10.0.0.x)
                                         at EXT: at a live UDP and a live TCP mapping's port, at an
                                         unmapped port, and an ICMP error quoting the UDP mapping;
                                         print "sent N"
  rst-peer ADDR PORT MODE WAIT_S SECS    accept one connection on ADDR:PORT, learn (by sniffing the
                                         byte it sends) the sequence number its peer expects, then
                                         MODE blind: 256 RSTs with the connection's 4-tuple and
                                         sequence numbers spread over the 32-bit space, none within
                                         the peer's window (>= 8 MB away); MODE inwindow: one RST
                                         at exactly the expected number. Then wait WAIT_S (the idle
                                         connection outlives a short transitory timeout or not) and
                                         try one more round trip. Prints "echo ok|none" before,
                                         "rsts N", "after echo ok|none|reset"
  echo-client SRC SPORT DST DPORT SECS   connect from SRC:SPORT, echo every byte back; print
                                         "connected", then "closed" | "reset" | "timeout"
"""
import random
import socket
import sys
import threading
import time

RST_GUESSES = 256


def spoof(ext, udp_port, tcp_port, peer):
    from scapy.all import ICMP, IP, TCP, UDP, Raw, conf, send
    conf.verb = 0
    udp_port, tcp_port = int(udp_port), int(tcp_port)
    pkts = [
        # at a live UDP mapping, from another internal host and from its own internal endpoint
        IP(src="10.0.0.3", dst=ext) / UDP(sport=udp_port, dport=udp_port) / Raw(b"spoofed"),
        IP(src="10.0.0.2", dst=ext) / UDP(sport=udp_port, dport=udp_port) / Raw(b"spoofed"),
        # a SYN and an RST at a live TCP mapping (create / remove a session)
        IP(src="10.0.0.3", dst=ext) / TCP(sport=7777, dport=tcp_port, flags="S", seq=1000),
        IP(src="10.0.0.2", dst=ext) / TCP(sport=tcp_port, dport=tcp_port, flags="R", seq=0),
        # at an unmapped port (would look outbound or hairpinned: a new mapping)
        IP(src="10.0.0.2", dst=ext) / UDP(sport=6999, dport=40999) / Raw(b"spoofed"),
        IP(src="10.0.0.4", dst=ext) / TCP(sport=6999, dport=40999, flags="S", seq=1),
        # an ICMP port unreachable "from inside" quoting the UDP mapping's datagram to the peer
        IP(src="10.0.0.3", dst=ext) / ICMP(type=3, code=3) /
        IP(src=ext, dst=peer) / UDP(sport=udp_port, dport=6601),
    ]
    send(pkts)
    print(f"sent {len(pkts)}", flush=True)


def rst_peer(addr, port, mode, wait_s, secs):
    from scapy.all import IP, TCP, AsyncSniffer, conf, send
    conf.verb = 0
    end = time.monotonic() + float(secs)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, int(port)))
    srv.listen(1)
    srv.settimeout(max(0.1, end - time.monotonic()))
    c, (peer, pport) = srv.accept()
    c.settimeout(2)

    def round_trip(data):
        try:
            c.sendall(data)
            got = c.recv(16)
            return "ok" if got == data else "none"
        except ConnectionResetError:
            return "reset"
        except OSError:
            return "none"

    bpf = f"tcp and src host {addr} and src port {port} and dst host {peer} and dst port {pport}"
    ready = threading.Event()
    sniffer = AsyncSniffer(iface="eth0", filter=bpf, count=1, store=True, started_callback=ready.set)
    sniffer.start()
    ready.wait(5)
    time.sleep(0.2)
    first = round_trip(b"a")
    sniffer.join(timeout=2)
    print(f"echo {first}", flush=True)
    got = [p for p in (sniffer.results or []) if TCP in p and len(p[TCP].payload) > 0]
    if not got:
        print("rsts 0 (sequence not seen)", flush=True)
        return
    expected = (got[0][TCP].seq + len(got[0][TCP].payload)) & 0xffffffff
    base = IP(src=addr, dst=peer) / TCP(sport=int(port), dport=pport, flags="R")
    if mode == "blind":
        # RFC 5961 §3 / RFC 7857 §2.2: none of these lies in the peer's receive window (at most
        # tcp_rmem's 6 MB), each lies 8 MB + k * 16 MB + a random offset past what it expects.
        rng = random.Random(4242)
        seqs = [(expected + (1 << 23) + k * (1 << 24) + rng.randrange(1 << 20)) & 0xffffffff
                for k in range(RST_GUESSES)]
    else:
        seqs = [expected]
    send([_with_seq(base, s) for s in seqs])
    print(f"rsts {len(seqs)}", flush=True)
    time.sleep(float(wait_s))
    print(f"after echo {round_trip(b'b')}", flush=True)


def _with_seq(pkt, seq):
    p = pkt.copy()
    p.seq = seq
    return p


def echo_client(src, sport, dst, dport, secs):
    end = time.monotonic() + float(secs)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, int(sport)))
    s.settimeout(3)
    try:
        s.connect((dst, int(dport)))
    except OSError as e:
        print(f"failed({e.strerror})", flush=True)
        return
    print("connected", flush=True)
    while time.monotonic() < end:
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            data = s.recv(16)
        except socket.timeout:
            break
        except ConnectionResetError:
            print("reset", flush=True)
            return
        if not data:
            print("closed", flush=True)
            return
        s.sendall(data)
    print("timeout", flush=True)


def main(argv):
    cmds = {"spoof": spoof, "rst-peer": rst_peer, "echo-client": echo_client}
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
