// libFuzzer target: a stream of packets in both directions through one Translator (per packet
// and batched), with a clock that moves from 1 ms to minutes and the engines' real sweep
// schedule: the translator's own budgeted sweep per packet, plus a full sweep after a packet
// whenever >= kExpireMs passed since the last one (engine/software/worker_loop.hpp), so packets meet
// records that expired but were not swept yet. Requires: no crash, checksums that were right
// stay right, the tables consistent after every step, and (outside oracle, from the packets
// alone) no external endpoint behind two internal endpoints while its first mapping must live.
#include "conenat/core/nat/flow_key.hpp"
#include "conenat/core/nat/translator.hpp"
#include "conenat/util/text.hpp"
#include "tests/fuzz/endpoint_owners.hpp"
#include "tests/support/packet_builder.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace conenat::core;
using conenat::test::Bytes;
using conenat::test::checksum_errors;
using conenat::test::hex;
using conenat::test::Pkt;
using conenat::text::format_endpoint;
using conenat::text::format_ipv4;

namespace {

constexpr TimeMs kExpireMs = 500; // the software engines' full-sweep period (conntrack: 1000)

// Clock steps: 0, 1 ms .. 10 min, dense around the sweep period and every default timer.
constexpr std::array<TimeMs, 32> kSteps = {
    0,      1,      2,      3,      7,      10,     50,     100,    250,    499,    500,
    501,    999,    1000,   1001,   1999,   2000,   5999,   6000,   6001,   10'000, 59'999,
    60'000, 60'001, 119'999, 120'000, 239'999, 240'000, 240'001, 299'999, 300'000, 600'000};

[[noreturn]] void fail(const std::string& what, std::span<const std::uint8_t> pkt) {
    std::fprintf(stderr, "fuzz_translate: %s\n  %s\n", what.c_str(), hex(pkt).c_str());
    std::abort();
}

NatConfig config_from(std::uint8_t b) {
    NatConfig c;
    c.set_type(NatType(b & 3));
    c.udp.mapping = Behaviour((b >> 2) % 3); // any of the 9 combinations for UDP
    c.pool.external_addrs = {make_ipv4(198, 51, 100, 254), make_ipv4(198, 51, 100, 253)};
    c.pool.ports = (b & 0x10) ? *PortSet::map_e(0x2c, 8, 4) : PortSet::from_ranges({{20000, 20063}});
    c.max_mappings = 48; // small, so that limits and exhaustion are reached
    c.max_sessions = 64;
    c.max_held_syns = 4;
    c.per_host_mappings = (b & 0x20) ? 8 : 0;
    c.on_exhausted = ExhaustedReply(b >> 6 & 1 ? 1 : 2);
    if (b & 0x80) { // the shortest timers the daemon accepts (options.cpp)
        c.timeouts.udp_ms = kMinUdpTimeoutMs;
        c.timeouts.tcp_established_ms = 2000;
        c.timeouts.tcp_transitory_ms = 1000;
        c.timeouts.icmp_ms = 1000;
    }
    return c;
}

TimeMs mapping_lifetime(const NatConfig& c, Proto p) {
    return p == Proto::Udp ? c.timeouts.udp_ms : p == Proto::Icmp ? c.timeouts.icmp_ms : c.timeouts.tcp_transitory_ms;
}

bool is_flow(const PacketView& v) {
    return v.kind == PacketKind::Udp || v.kind == PacketKind::Tcp || v.kind == PacketKind::IcmpQuery;
}

// A packet from 4 bytes, so that the fuzzer reaches live flows at once. shape: bits 0-1 kind
// (UDP, TCP, ICMP echo, ICMP error quoting a packet of the flow), 2-3 internal host, 4-5
// internal port (echo id), 6-7 remote address (3: a seen external endpoint = hairpin). pick:
// bits 0-1 remote port, 2-7 which seen external endpoint an inbound packet goes to. tcp: flags
// (bits 0-5), bit 6 a payload, bit 7 the error quotes TCP. delta: moves seq/ack around the
// fixed sequence spaces (inside 1000.., outside 5000..) so RSTs land in and out of windows.
class Synthetic {
public:
    Bytes make(Direction dir, std::uint8_t shape, std::uint8_t pick, std::uint8_t tcp, std::uint8_t delta) const {
        static constexpr std::uint16_t kIntPorts[4] = {5000, 5001, 40000, 1};
        static constexpr std::uint16_t kRemPorts[4] = {3478, 80, 5000, 40000};
        static constexpr Ipv4 kRemotes[3] = {make_ipv4(198, 51, 100, 1), make_ipv4(198, 51, 100, 2),
                                             make_ipv4(203, 0, 113, 9)};
        const Endpoint internal{make_ipv4(10, 0, 0, std::uint8_t(2 + (shape >> 2 & 3))), kIntPorts[shape >> 4 & 3]};
        const Endpoint seen = seen_external(pick >> 2);
        const bool hairpin = (shape >> 6) == 3;
        Endpoint remote{hairpin ? seen.addr : kRemotes[shape >> 6], hairpin ? seen.port : kRemPorts[pick & 3]};
        if (dir == Direction::Inbound && hairpin) remote = {make_ipv4(10, 0, 0, 2), 5000}; // spoofed inside source
        const Endpoint from = dir == Direction::Outbound ? internal : remote;
        const Endpoint to = dir == Direction::Outbound ? remote : seen;
        const auto sd = [](std::int8_t d, int scale) { return std::uint32_t(std::int32_t(d) * scale); };
        const std::uint32_t seq = dir == Direction::Outbound ? 1000 + sd(std::int8_t(delta), 16)
                                                             : 5000 + sd(std::int8_t(delta), 1024);
        const std::uint32_t ack = dir == Direction::Outbound ? 5001 + sd(std::int8_t(delta), 256) : 1001;
        switch (shape & 3) {
        case 0: return with_payload(Pkt::udp(format_endpoint(from), format_endpoint(to)), tcp).bytes();
        case 1:
            return with_payload(Pkt::tcp(format_endpoint(from), format_endpoint(to), tcp & 0x3f), tcp)
                .seq(seq)
                .ack(ack)
                .bytes();
        case 2: {
            const std::uint16_t id = dir == Direction::Outbound ? internal.port : seen.port;
            return Pkt::icmp_echo(format_ipv4(from.addr), format_ipv4(to.addr), id, dir == Direction::Inbound)
                .bytes();
        }
        default: {
            // The quoted packet went the other way: an error is about a packet the NAT passed.
            const Bytes quoted = (tcp & 0x80) ? Pkt::tcp(format_endpoint(to), format_endpoint(from), 0x10).bytes()
                                              : Pkt::udp(format_endpoint(to), format_endpoint(from)).bytes();
            const std::uint8_t code = (delta & 1) ? 4 : 3; // 3/4 fragmentation needed or 3/3
            return Pkt::icmp_error(format_ipv4(from.addr), format_ipv4(to.addr), 3, code, quoted).mtu(1400).bytes();
        }
        }
    }

    // Remembers an external endpoint the translator handed out, for inbound packets to reach.
    void saw_external(Endpoint e) {
        for (const Endpoint& s : m_seen)
            if (s == e) return;
        if (m_seen.size() < 64) m_seen.push_back(e);
    }

private:
    static Pkt& with_payload(Pkt&& p, std::uint8_t tcp) { return (tcp & 0x40) ? p.payload("data") : p; }
    Endpoint seen_external(std::uint8_t i) const {
        return m_seen.empty() ? Endpoint{make_ipv4(198, 51, 100, 254), 20000} : m_seen[i % m_seen.size()];
    }

    std::vector<Endpoint> m_seen;
};

// The outside oracle over one translated flow packet: `before` as it came, `after` as it left.
std::string judge_owners(conenat::test::EndpointOwners& owners, const NatConfig& c, Direction dir, Action action,
                         const PacketView& before, const PacketView& after, TimeMs now) {
    const Proto p = flow_proto(before);
    std::string e;
    if (dir == Direction::Outbound) // hairpinned or not, the source left as the sender's mapping
        e = owners.refreshed(p, after.src, before.src, now, mapping_lifetime(c, p),
                             c.policy(p).mapping == Behaviour::EndpointIndependent);
    if (e.empty() && action == Action::ToInside) // from outside, or hairpinned back in
        e = owners.delivered(p, before.dst, after.dst, now);
    return e;
}

} // namespace

// Input: config byte (bits 0-1 NAT type, 2-3 UDP mapping, 4 MAP-E ports, 5 per-host quota,
// 6 ICMP reply, 7 short timers), then records [flags] + a packet: flags bit 7 clear: [len][len
// bytes] raw, set: [shape][pick][tcp][delta] synthetic. flags: bit 0 inbound, bits 1-5 clock
// step (kSteps), bit 6 through process_batch.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const NatConfig config = config_from(data[0]);
    Translator t(config, 99);
    Synthetic synth;
    conenat::test::EndpointOwners owners;
    TimeMs now = 1'000'000, last_sweep = now;
    std::size_t at = 1;
    Bytes pkt, reply(576);
    while (at + 2 <= size) {
        const std::uint8_t flags = data[at++];
        const Direction dir = (flags & 1) ? Direction::Inbound : Direction::Outbound;
        if (flags & 0x80) {
            if (at + 4 > size) break;
            pkt = synth.make(dir, data[at], data[at + 1], data[at + 2], data[at + 3]);
            at += 4;
        } else {
            const std::size_t n = std::min<std::size_t>(data[at], size - at - 1);
            pkt.assign(data + at + 1, data + at + 1 + n);
            at += 1 + n;
        }
        now += kSteps[(flags >> 1) & 0x1f];
        const bool was_valid = checksum_errors(pkt).empty();
        const Bytes sent = pkt;
        Outcome o;
        if (flags & 0x40) {
            PacketRef ref{pkt, reply};
            t.process_batch({&ref, 1}, dir, now);
            o = ref.outcome;
        } else {
            o = t.process(pkt, dir, now, reply);
        }
        if (o.reply_len > reply.size()) fail("reply longer than its buffer", sent);
        if (o.reply_len && !checksum_errors({reply.data(), o.reply_len}).empty()) fail("bad checksum in a reply", reply);
        const bool passed = o.action == Action::ToInside || o.action == Action::ToOutside;
        if (passed && was_valid) {
            const std::string errors = checksum_errors(pkt);
            if (!errors.empty()) fail("translation broke a checksum: " + errors, sent);
        }
        if (const PacketView before = parse_ipv4(sent); passed && is_flow(before)) {
            const PacketView after = parse_ipv4(pkt);
            if (dir == Direction::Outbound) synth.saw_external(after.src);
            if (const std::string e = judge_owners(owners, config, dir, o.action, before, after, now); !e.empty())
                fail(e, sent);
        }
        if (const std::string e = t.table().consistency_error(); !e.empty()) fail("tables inconsistent: " + e, sent);
        // The engines' loop after a batch: expired held SYNs, then the periodic full sweep.
        while (t.next_expired_hold(now)) {}
        if (now - last_sweep >= kExpireMs) {
            t.expire(now);
            last_sweep = now;
            if (const std::string e = t.table().consistency_error(); !e.empty())
                fail("tables inconsistent after the sweep: " + e, sent);
        }
    }
    t.expire(now + 10'000'000);
    if (const std::string e = t.table().consistency_error(); !e.empty()) fail("tables inconsistent after expiry: " + e, {});
    if (t.table().mapping_count() != 0) fail("mappings outlived every timer", {});
    return 0;
}
