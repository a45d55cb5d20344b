// NfQueue and RawIpSocket against the real kernel (tests/e2e/io_adapters.sh). Packets are
// local UDP to 127.0.0.1:9999, queued by iptables (the xt NFQUEUE target every kernel here has).
#include "conenat/io/nfqueue.hpp"
#include "conenat/io/raw_socket.hpp"
#include "tests/io/netns_support.hpp"

#include <doctest/doctest.h>
#include <linux/netfilter.h>

#include <cctype>
#include <cstring>
#include <string>
#include <vector>

using namespace conenat;
using namespace iotest;

namespace {

constexpr std::uint16_t kQueue = 7;
constexpr std::uint16_t kPort = 9999;

// mangle OUTPUT: queue UDP to kPort unless it carries mark bit 0x1; filter OUTPUT (later
// hook): count packets whose mark is 0x42.
struct QueueRules {
    QueueRules() {
        REQUIRE(sh("iptables -t mangle -N cn_q && iptables -t mangle -A OUTPUT -j cn_q && "
                   "iptables -t mangle -A cn_q -p udp --dport 9999 -m mark ! --mark 0x1/0x1 "
                   "-j NFQUEUE --queue-num 7") == 0);
        REQUIRE(sh("nft add table ip cn_q_later && nft add chain ip cn_q_later out "
                   "'{ type filter hook output priority 10; }' && "
                   "nft add rule ip cn_q_later out udp dport 9999 meta mark 0x42 counter") == 0);
    }
    ~QueueRules() {
        sh("iptables -t mangle -D OUTPUT -j cn_q; iptables -t mangle -F cn_q; iptables -t mangle -X cn_q");
        sh("nft delete table ip cn_q_later");
    }
};

io::NfQueue open_queue(std::uint32_t maxlen = 64) {
    auto q = io::NfQueue::open(kQueue, maxlen);
    REQUIRE_MESSAGE(q.ok(), q.error());
    return std::move(q.value());
}

// Receives until `want` packets arrived or ~2 s passed.
std::vector<io::QueuedPacket> take(io::NfQueue& q, std::size_t want, std::vector<std::string>* payloads = nullptr) {
    std::vector<io::QueuedPacket> got;
    io::QueuedPacket pkts[16];
    for (int i = 0; i < 40 && got.size() < want; ++i) {
        if (!wait_readable(q.fd(), 50))
            continue;
        auto n = q.receive(pkts);
        REQUIRE_MESSAGE(n.ok(), n.error());
        for (std::size_t k = 0; k < *n; ++k) {
            got.push_back(pkts[k]);
            if (payloads) // spans are only valid until the next receive()
                payloads->emplace_back(reinterpret_cast<const char*>(pkts[k].bytes.data()) + 28, pkts[k].bytes.size() - 28);
        }
    }
    return got;
}

int later_rule_count() {
    std::string out = sh_out("nft list chain ip cn_q_later out");
    auto at = out.find("packets ");
    return at == std::string::npos ? -1 : std::stoi(out.substr(at + 8));
}

bool queue_listed() {
    std::string out = sh_out("cat /proc/net/netfilter/nfnetlink_queue");
    for (std::size_t at = 0; at < out.size();) {
        std::size_t end = out.find('\n', at);
        if (std::stoi(out.substr(at, end - at)) == kQueue)
            return true;
        at = end == std::string::npos ? out.size() : end + 1;
    }
    return false;
}

} // namespace

TEST_SUITE("nfqueue") {

TEST_CASE("packets arrive with id, hook and bytes; a batch of verdicts goes in one flush") {
    IOTEST_REQUIRE_NETNS();
    QueueRules rules;
    auto q = open_queue();
    Fd sink = udp_socket("", {kLoopback, kPort});
    Fd sender = udp_socket("", {kLoopback, 6300});
    for (int i = 0; i < 3; ++i)
        send_udp(sender, {kLoopback, kPort}, "pkt" + std::to_string(i));

    std::vector<std::string> payloads;
    auto pkts = take(q, 3, &payloads);
    REQUIRE(pkts.size() == 3);
    for (std::size_t i = 0; i < pkts.size(); ++i) {
        CHECK(pkts[i].hook == io::Hook::LocalOut);
        CHECK(payloads[i] == "pkt" + std::to_string(i));
        CHECK(pkts[i].length == 28 + payloads[i].size());
    }
    CHECK(pkts[1].id == pkts[0].id + 1);
    CHECK(!recv_udp(sink, 100)); // held in the queue

    for (auto& p : pkts)
        q.verdict(p.id, io::Verdict::Accept);
    auto st = q.flush();
    REQUIRE_MESSAGE(st.ok(), st.error());
    for (int i = 0; i < 3; ++i) {
        auto got = recv_udp(sink, 1000);
        REQUIRE(got);
        CHECK(got->payload == "pkt" + std::to_string(i));
    }
}

TEST_CASE("the spans of one receive stay distinct and valid until the next receive") {
    IOTEST_REQUIRE_NETNS();
    QueueRules rules;
    auto q = open_queue();
    Fd sender = udp_socket("", {kLoopback, 6301});
    send_udp(sender, {kLoopback, kPort}, "aaaa");
    send_udp(sender, {kLoopback, kPort}, "bbbb");
    // Locally sent packets are queued during sendto(): both wait in the socket now.
    REQUIRE(wait_readable(q.fd(), 1000));
    io::QueuedPacket pkts[4];
    auto n = q.receive(pkts);
    REQUIRE(n.ok());
    REQUIRE(*n == 2);
    CHECK(pkts[0].bytes.data() != pkts[1].bytes.data());
    CHECK(std::memcmp(pkts[0].bytes.data() + 28, "aaaa", 4) == 0);
    CHECK(std::memcmp(pkts[1].bytes.data() + 28, "bbbb", 4) == 0);
    q.verdict(pkts[0].id, io::Verdict::Drop);
    q.verdict(pkts[1].id, io::Verdict::Drop);
    REQUIRE(q.flush().ok());
}

TEST_CASE("Drop drops; a mark set with Accept is seen by a later rule") {
    IOTEST_REQUIRE_NETNS();
    QueueRules rules;
    auto q = open_queue();
    Fd sink = udp_socket("", {kLoopback, kPort});
    Fd sender = udp_socket("", {kLoopback, 6302});

    send_udp(sender, {kLoopback, kPort}, "drop me");
    auto pkts = take(q, 1);
    REQUIRE(pkts.size() == 1);
    q.verdict(pkts[0].id, io::Verdict::Drop);
    REQUIRE(q.flush().ok());
    CHECK(!recv_udp(sink, 300));
    CHECK(later_rule_count() == 0);

    send_udp(sender, {kLoopback, kPort}, "marked");
    pkts = take(q, 1);
    REQUIRE(pkts.size() == 1);
    CHECK(pkts[0].mark == 0);
    q.verdict(pkts[0].id, io::Verdict::Accept, 0x42);
    REQUIRE(q.flush().ok());
    auto got = recv_udp(sink, 1000);
    REQUIRE(got);
    CHECK(got->payload == "marked");
    CHECK(later_rule_count() == 1);
}

TEST_CASE("a batch verdict takes every packet up to its id, with the mark; later ones stay held") {
    IOTEST_REQUIRE_NETNS();
    QueueRules rules;
    auto q = open_queue();
    Fd sink = udp_socket("", {kLoopback, kPort});
    Fd sender = udp_socket("", {kLoopback, 6303});
    for (int i = 0; i < 4; ++i)
        send_udp(sender, {kLoopback, kPort}, "b" + std::to_string(i));
    auto pkts = take(q, 4);
    REQUIRE(pkts.size() == 4);

    q.verdict_batch(pkts[2].id, io::Verdict::Accept, 0x42); // the first three, marked
    REQUIRE(q.flush().ok());
    for (int i = 0; i < 3; ++i) {
        auto got = recv_udp(sink, 1000);
        REQUIRE(got);
        CHECK(got->payload == "b" + std::to_string(i));
    }
    CHECK(later_rule_count() == 3);
    CHECK(!recv_udp(sink, 200)); // the fourth is still held
    q.verdict(pkts[3].id, io::Verdict::Accept);
    REQUIRE(q.flush().ok());
    auto got = recv_udp(sink, 1000);
    REQUIRE(got);
    CHECK(got->payload == "b3");
    CHECK(later_rule_count() == 3); // no mark: the later rule does not count it
}

TEST_CASE("a verdict with a payload replaces the packet; many go in one flush") {
    IOTEST_REQUIRE_NETNS();
    QueueRules rules;
    io::QueueOptions o;
    o.maxlen = 64;
    o.copy_range = 0xffff;
    auto opened = io::NfQueue::open(kQueue, o);
    REQUIRE_MESSAGE(opened.ok(), opened.error());
    io::NfQueue q = std::move(opened.value());
    Fd sink = udp_socket("", {kLoopback, kPort});
    Fd sender = udp_socket("", {kLoopback, 6306});
    for (const char* text : {"one", "three", "seven"})
        send_udp(sender, {kLoopback, kPort}, text);
    REQUIRE(wait_readable(q.fd(), 1000));
    io::QueuedPacket pkts[4];
    auto n = q.receive(pkts);
    REQUIRE(n.ok());
    REQUIRE(*n == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        auto& p = pkts[i];
        REQUIRE(p.bytes.size() == p.length);
        for (std::size_t k = 28; k < p.bytes.size(); ++k) // upper-case the payload in place
            p.bytes[k] = static_cast<std::uint8_t>(std::toupper(p.bytes[k]));
        p.bytes[26] = p.bytes[27] = 0; // UDP checksum: none (the kernel takes the bytes as final)
        q.verdict_with_payload(p.id, io::Verdict::Accept, p.bytes);
    }
    REQUIRE(q.flush().ok());
    for (const char* want : {"ONE", "THREE", "SEVEN"}) {
        auto got = recv_udp(sink, 1000);
        REQUIRE(got);
        CHECK(got->payload == want);
    }
}

TEST_CASE("Repeat runs the hook again: a mark the rule skips lets the packet through") {
    IOTEST_REQUIRE_NETNS();
    QueueRules rules;
    auto q = open_queue();
    Fd sink = udp_socket("", {kLoopback, kPort});
    Fd sender = udp_socket("", {kLoopback, 6303});
    send_udp(sender, {kLoopback, kPort}, "again");
    auto pkts = take(q, 1);
    REQUIRE(pkts.size() == 1);

    // Without the mark the repeated packet is queued a second time.
    q.verdict(pkts[0].id, io::Verdict::Repeat);
    REQUIRE(q.flush().ok());
    auto second = take(q, 1);
    REQUIRE(second.size() == 1);
    CHECK(second[0].id != pkts[0].id);
    CHECK(!recv_udp(sink, 100));

    q.verdict(second[0].id, io::Verdict::Repeat, 0x1);
    REQUIRE(q.flush().ok());
    auto got = recv_udp(sink, 1000);
    REQUIRE(got);
    CHECK(got->payload == "again");
}

TEST_CASE("thousands of verdicts go out in chunks; the kernel's complaints are skipped") {
    IOTEST_REQUIRE_NETNS();
    QueueRules rules;
    auto q = open_queue();
    // Ids the kernel never queued: each verdict earns an ENOENT error on the socket.
    for (std::uint32_t id = 1'000'000; id < 1'005'000; ++id)
        q.verdict(id, io::Verdict::Accept);
    auto st = q.flush();
    REQUIRE_MESSAGE(st.ok(), st.error());
    // The errors are no packets (the ones the socket buffer could not hold are gone).
    io::QueuedPacket none[4];
    auto n = q.receive(none);
    REQUIRE(n.ok());
    CHECK(*n == 0);
    Fd sink = udp_socket("", {kLoopback, kPort});
    Fd sender = udp_socket("", {kLoopback, 6305});
    send_udp(sender, {kLoopback, kPort}, "after");
    auto pkts = take(q, 1);
    REQUIRE(pkts.size() == 1);
    q.verdict(pkts[0].id, io::Verdict::Accept);
    REQUIRE(q.flush().ok());
    auto got = recv_udp(sink, 1000);
    REQUIRE(got);
    CHECK(got->payload == "after");
}

TEST_CASE("a full queue drops (queue_dropped), and the queue unbinds on destruction") {
    IOTEST_REQUIRE_NETNS();
    QueueRules rules;
    {
        auto q = open_queue(4);
        CHECK(queue_listed());
        Fd sender = udp_socket("", {kLoopback, 6304});
        for (int i = 0; i < 20; ++i)
            try_send_udp(sender, {kLoopback, kPort}, "flood"); // sendto fails once the queue is full
        auto stats = q.stats();
        REQUIRE_MESSAGE(stats.ok(), stats.error());
        CHECK(stats->queue_dropped == 16);
        CHECK(stats->id_sequence >= 4);
        auto pkts = take(q, 4);
        CHECK(pkts.size() == 4);
        for (auto& p : pkts)
            q.verdict(p.id, io::Verdict::Drop);
        REQUIRE(q.flush().ok());
    }
    CHECK(!queue_listed());
}

TEST_CASE("RawIpSocket sends a hand-made IPv4 packet to its destination") {
    IOTEST_REQUIRE_NETNS();
    auto raw = io::RawIpSocket::open();
    REQUIRE_MESSAGE(raw.ok(), raw.error());
    Fd sink = udp_socket("", {kLoopback, 9998});
    // 127.0.0.1:6305 -> 127.0.0.1:9998, UDP checksum 0 (none); the kernel fills the IP checksum.
    std::vector<std::uint8_t> pkt = {0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
                                     0x18, 0xa1, 0x27, 0x0e, 0, 0, 0, 0, 'r', 'a', 'w', '!'};
    pkt[3] = static_cast<std::uint8_t>(pkt.size());
    pkt[25] = static_cast<std::uint8_t>(pkt.size() - 20);
    auto st = raw->send(pkt);
    REQUIRE_MESSAGE(st.ok(), st.error());
    auto got = recv_udp(sink, 1000);
    REQUIRE(got);
    CHECK(got->from == Endpoint{kLoopback, 6305});
    CHECK(got->payload == "raw!");
    CHECK(!raw->send(std::span(pkt).first(10)).ok());
}

} // TEST_SUITE
