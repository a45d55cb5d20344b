#!/bin/sh
# The NFQUEUE hooks of `conenatd --engine queue --rules manual`, through iptables' xt NFQUEUE
# target (kernels without the native nft `queue` statement, e.g. no CONFIG_NFT_QUEUE), for one
# worker: queue 0 main, queue 1 hairpin (the daemon binds --queue-out and the next one).
# Load examples/nftables-queue.nft first: it leaves exactly the NAT's packets untracked, and
# these rules queue those. No --queue-bypass: without the daemon, the NAT's traffic is
# dropped, never leaked untranslated (--fail-open on the daemon and --queue-bypass here would).
# The conntrack match also brings conntrack's defragmentation into this namespace: fragments
# reach the daemon reassembled and leave refragmented.
set -e
LAN=10.0.0.0/24
EXT=198.51.100.254

# Hairpinning (raw PREROUTING, -300: before routing): from the LAN to our external address.
iptables -t raw -A PREROUTING ! -i wan0 -s $LAN -d $EXT -m conntrack --ctstate UNTRACKED -j NFQUEUE --queue-num 1
# Inbound: the destination is rewritten before the routing decision.
iptables -t raw -A PREROUTING -d $EXT -m conntrack --ctstate UNTRACKED -j NFQUEUE --queue-num 0
# Outbound (mangle POSTROUTING): the source is rewritten after routing.
iptables -t mangle -A POSTROUTING -o wan0 -s $LAN -m conntrack --ctstate UNTRACKED -j NFQUEUE --queue-num 0
# The router's own ICMP errors about inbound packets (e.g. fragmentation needed on the LAN
# link) quote the translated packet: an error of type 3, 11 or 12 quoting a LAN destination.
iptables -t mangle -A POSTROUTING -o wan0 -s $EXT -p icmp \
    -m u32 --u32 "0>>22&0x3C@0>>24=3,11,12 && 0>>22&0x3C@24=0x0A000000:0x0A0000FF" -j NFQUEUE --queue-num 0
