#!/bin/sh
# The NFQUEUE hooks of `conenatd --engine conntrack --rules manual`, through iptables' xt
# NFQUEUE target (kernels without the native nft `queue` statement, e.g. no CONFIG_NFT_QUEUE).
# Load examples/nftables-conntrack.nft first. iptables' nat chains run at -100 / 100, after
# the conenatd chains (-102 / 98): only packets the maps did not translate get here. A packet
# the daemon already handled carries the mark and is never queued twice. No --queue-bypass:
# without the daemon, new flows of unknown endpoints are dropped, never leaked untranslated.
set -e
LAN=10.0.0.0/24
EXT=198.51.100.254
MARK=0x00100000/0x00100000

# A LAN source arriving on the WAN is spoofed: dropped before conntrack (raw), never queued
# as hairpin traffic (the nft file's spoof_guard chain does the same; either one suffices).
iptables -t raw -A PREROUTING -i wan0 -s $LAN -j DROP

# Outbound first packets of internal endpoints that have no mapping yet.
iptables -t nat -A POSTROUTING -o wan0 -s $LAN -p udp -m mark ! --mark $MARK -j NFQUEUE --queue-num 0
iptables -t nat -A POSTROUTING -o wan0 -s $LAN -p tcp -m mark ! --mark $MARK -j NFQUEUE --queue-num 0
iptables -t nat -A POSTROUTING -o wan0 -s $LAN -p icmp --icmp-type echo-request -m mark ! --mark $MARK -j NFQUEUE --queue-num 0
# Hairpinned flows (LAN -> our external address -> LAN) whose sender has no mapping yet.
iptables -t nat -A POSTROUTING -s $LAN -m conntrack --ctstate DNAT -p udp -m mark ! --mark $MARK -j NFQUEUE --queue-num 0
iptables -t nat -A POSTROUTING -s $LAN -m conntrack --ctstate DNAT -p tcp -m mark ! --mark $MARK -j NFQUEUE --queue-num 0
# A packet for one of the router's own sockets (a service on a pool port) is the router's: never
# queued. Your own DNAT of pool ports goes before these lines (iptables -t nat -I PREROUTING ...).
iptables -t nat -A PREROUTING -d $EXT -m socket -j RETURN
# Inbound first packets the filter has to judge (and unsolicited SYNs to hold, RFC 5382 REQ-4).
iptables -t nat -A PREROUTING -d $EXT -p udp --dport 20000:29999 -m mark ! --mark $MARK -j NFQUEUE --queue-num 1
iptables -t nat -A PREROUTING -d $EXT -p tcp --dport 20000:29999 -m mark ! --mark $MARK -j NFQUEUE --queue-num 1
