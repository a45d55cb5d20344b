#!/usr/bin/env python3
"""Writes the fuzz_parse seed packets into tests/fuzz/seeds/fuzz_parse/ (IPv4, all checksums right)."""
import os
import struct
import sys


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def addr(text: str) -> bytes:
    return bytes(int(x) for x in text.split("."))


def ipv4(src, dst, proto, payload, options=b"", frag=0, tos=0):
    hlen = 20 + len(options)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | hlen // 4, tos, hlen + len(payload), 0x1234, frag, 64, proto, 0,
                      addr(src), addr(dst)) + options
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def l4_with_checksum(src, dst, proto, seg, off, pseudo=True):
    pre = addr(src) + addr(dst) + struct.pack("!BBH", 0, proto, len(seg)) if pseudo else b""
    c = csum(pre + seg)
    if proto == 17 and c == 0:
        c = 0xFFFF
    return seg[:off] + struct.pack("!H", c) + seg[off + 2:]


def udp(src, sport, dst, dport, data=b"", **kw):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    return ipv4(src, dst, 17, l4_with_checksum(src, dst, 17, seg, 6), **kw)


def tcp(src, sport, dst, dport, flags, data=b"", **kw):
    seg = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 65535, 0, 0) + data
    return ipv4(src, dst, 6, l4_with_checksum(src, dst, 6, seg, 16), **kw)


def icmp(src, dst, typ, code, rest, data=b"", **kw):
    seg = struct.pack("!BBH", typ, code, 0) + rest + data
    return ipv4(src, dst, 1, l4_with_checksum(src, dst, 1, seg, 2, pseudo=False), **kw)


def echo(src, dst, ident, reply=False, data=b"ping"):
    return icmp(src, dst, 0 if reply else 8, 0, struct.pack("!HH", ident, 1), data)


def error(src, dst, typ, code, quoted, quote_len=None, mtu=0):
    if quote_len is None:
        quote_len = (quoted[0] & 0x0F) * 4 + 8
    return icmp(src, dst, typ, code, struct.pack("!HH", 0, mtu), quoted[:quote_len])


def main(out_dir):
    opts = bytes([0x94, 0x04, 0, 0])
    inbound_udp = udp("198.51.100.254", 20000, "198.51.100.1", 3478, b"stun")
    seeds = {
        "udp": udp("10.0.0.2", 5000, "198.51.100.1", 3478, b"hello"),
        "udp_no_checksum": ipv4("10.0.0.2", "198.51.100.1", 17, struct.pack("!HHHH", 5000, 53, 9, 0) + b"q"),
        "udp_options": udp("10.0.0.2", 5000, "198.51.100.1", 53, b"x", options=opts),
        "udp_first_fragment": udp("10.0.0.2", 5000, "198.51.100.1", 53, b"abcdefgh", frag=0x2000),
        "udp_later_fragment": udp("10.0.0.2", 5000, "198.51.100.1", 53, b"abcdefgh", frag=0x0005),
        "tcp_syn": tcp("10.0.0.2", 40000, "198.51.100.1", 80, 0x02),
        "tcp_ack_data": tcp("198.51.100.1", 80, "198.51.100.254", 20001, 0x18, b"HTTP/1.1 200 OK\r\n"),
        "echo_request": echo("10.0.0.2", "198.51.100.1", 0x1234),
        "echo_reply": echo("198.51.100.1", "198.51.100.254", 0x8000, reply=True),
        "icmp_3_3_udp": error("198.51.100.9", "198.51.100.254", 3, 3, inbound_udp),
        "icmp_3_3_udp_whole": error("198.51.100.9", "198.51.100.254", 3, 3, inbound_udp, len(inbound_udp)),
        "icmp_3_4_tcp": error("198.51.100.9", "198.51.100.254", 3, 4,
                              tcp("198.51.100.254", 20001, "198.51.100.1", 80, 0x10, b"data"), 40, mtu=1400),
        "icmp_11_echo": error("198.51.100.9", "198.51.100.254", 11, 0, echo("198.51.100.254", "198.51.100.1", 7)),
        "icmp_12_options": error("198.51.100.9", "198.51.100.254", 12, 0,
                                 udp("198.51.100.254", 1, "198.51.100.1", 2, options=opts)),
        "gre": ipv4("10.0.0.2", "198.51.100.1", 47, b"\0\0\x08\0"),
    }
    os.makedirs(out_dir, exist_ok=True)
    for name, pkt in seeds.items():
        with open(os.path.join(out_dir, name + ".bin"), "wb") as f:
            f.write(pkt)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "seeds", "fuzz_parse"))
