#!/usr/bin/env python3
"""Writes fuzz_translate's seeds (tests/fuzz/seeds/fuzz_translate/): scenarios in the target's
input format (see fuzz_translate.cpp) where many flows start together and the clock then jumps
past their timers, so that packets meet records that expired but were not swept yet."""
import os
import sys

# Indices into fuzz_translate.cpp's kSteps.
STEP = {0: 0, 1: 1, 499: 9, 500: 10, 1000: 13, 2000: 16, 6000: 18, 60_000: 22, 120_000: 25,
        240_000: 27, 240_001: 28, 300_000: 30, 600_000: 31}
UDP, TCP, ECHO, ERROR = 0, 1, 2, 3
SYN, ACK, RST, FIN = 0x02, 0x10, 0x04, 0x01


def rec(inbound=False, step=0, kind=UDP, host=0, port=0, remote=0, rport=0, seen=0, tcp=0, delta=0, batch=False):
    flags = 0x80 | (1 if inbound else 0) | STEP[step] << 1 | (0x40 if batch else 0)
    return bytes([flags, kind | host << 2 | port << 4 | remote << 6, rport | seen << 2, tcp, delta & 0xFF])


def flows(kind, n, tcp=0, step=0, remote=0, batch=False, reverse=False):
    """n outbound flows from distinct internal endpoints (at most 16), all at one instant; the
    first after `step`. Reversed, the newest flow comes first: the one the per-packet sweep
    (oldest first, 8 records) has not reached when the clock jumped past every timer."""
    order = range(n - 1, -1, -1) if reverse else range(n)
    return b"".join(rec(step=step if k == 0 else 0, kind=kind, host=i % 4, port=i // 4 % 4, remote=remote,
                        tcp=tcp, batch=batch) for k, i in enumerate(order))


def inbound_to_seen(kind, n, step=0, tcp=0, remote=1, reverse=False):
    """Inbound packets to the first n external endpoints handed out (newest first if reversed)."""
    order = range(n - 1, -1, -1) if reverse else range(n)
    return b"".join(rec(inbound=True, step=step if k == 0 else 0, kind=kind, seen=i, tcp=tcp, remote=remote)
                    for k, i in enumerate(order))


def seeds():
    s = {}
    # Issue 8 item 1: nine connections in one millisecond, then a SYN 240 s later.
    s["tcp_syns_then_240s"] = bytes([0]) + flows(TCP, 12, SYN) + flows(TCP, 16, SYN, step=240_000, remote=1)
    s["tcp_syns_again_240s"] = bytes([0]) + flows(TCP, 12, SYN) + flows(TCP, 12, SYN, step=240_000, reverse=True)
    # An outside peer's SYN to an idle full-cone mapping once its timer ran out.
    s["tcp_inbound_syn_idle"] = (bytes([0]) + flows(TCP, 12, SYN) + inbound_to_seen(TCP, 12, step=240_001, tcp=SYN)
                                 + flows(TCP, 4, SYN, remote=2))
    # The same from the remote the connection was opened to (a simultaneous open 240 s late).
    s["tcp_inbound_syn_same_remote"] = (bytes([0]) + flows(TCP, 12, SYN)
                                        + inbound_to_seen(TCP, 12, step=240_000, tcp=SYN, remote=0, reverse=True))
    s["udp_flows_then_300s"] = (bytes([0x04]) + flows(UDP, 16) + inbound_to_seen(UDP, 8, step=300_000)
                                + flows(UDP, 16, remote=1, reverse=True))
    s["udp_symmetric_reuse"] = (bytes([0x03]) + flows(UDP, 16, remote=0) + flows(UDP, 16, remote=1)
                                + flows(UDP, 16, step=300_000, remote=2, reverse=True))
    s["echo_flows_then_60s"] = bytes([0x01]) + flows(ECHO, 16) + inbound_to_seen(ECHO, 8, step=60_000) + flows(ECHO, 16, reverse=True)
    s["short_timers_tcp"] = (bytes([0x80]) + flows(TCP, 12, SYN) + inbound_to_seen(TCP, 12, step=1000, tcp=SYN | ACK)
                             + flows(TCP, 12, ACK, step=2000) + flows(TCP, 12, SYN, step=1000, remote=1, reverse=True))
    s["short_timers_batched"] = (bytes([0xA2]) + flows(UDP, 12, batch=True) + flows(ECHO, 12, step=1000, batch=True)
                                 + flows(TCP, 12, SYN, step=1000, batch=True) + inbound_to_seen(UDP, 12, step=500))
    s["hairpin_and_errors"] = (bytes([0x00]) + flows(UDP, 4) + rec(kind=UDP, host=1, remote=3, seen=0)
                               + rec(inbound=True, kind=ERROR, remote=1, seen=1)
                               + rec(kind=ERROR, host=2, remote=0, tcp=0x80) + flows(UDP, 4, step=300_000))
    s["rst_in_window"] = (bytes([0x00]) + flows(TCP, 4, SYN) + inbound_to_seen(TCP, 4, tcp=SYN | ACK)
                          + flows(TCP, 4, ACK) + inbound_to_seen(TCP, 4, tcp=RST) + flows(TCP, 4, SYN, step=240_000, reverse=True))
    return s


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out_dir, name + ".bin"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "seeds", "fuzz_translate"))
