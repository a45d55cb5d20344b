// TunQueue against the real kernel, inside the router namespace of tests/e2e/io_adapters.sh.
// Each case makes its own device (gone with its last queue, and its addresses and routes with
// it): 10.77.0.1/32 on the device, 10.77.1.0/24 routed into it — away from the script's ranges.
#include "conenat/io/tun.hpp"
#include "tests/io/netns_support.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace conenat;
using namespace iotest;
using io::TunQueue;
using io::VnetHeader;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr Ipv4 kTunAddr = conenat::core::make_ipv4(10, 77, 0, 1);
constexpr Ipv4 kPeer = conenat::core::make_ipv4(10, 77, 1, 2); // routed into the device
constexpr std::uint8_t kUdp = 17, kTcp = 6;

TunQueue open_tun(const std::string& name, bool multi_queue = false) {
    auto q = TunQueue::open(name, multi_queue);
    REQUIRE_MESSAGE(q.ok(), q.error());
    return std::move(q.value());
}

bool link_exists(const std::string& name) {
    return sh("ip link show dev " + name) == 0;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// Up, with kTunAddr and a route for kPeer's /24 through it.
void configure(const std::string& dev) {
    std::string out;
    REQUIRE_MESSAGE(sh("ip addr add " + ipv4_str(kTunAddr) + "/32 dev " + dev + " && ip link set " + dev +
                           " up && ip route add 10.77.1.0/24 dev " + dev,
                       &out) == 0,
                    out);
}

// --- An independent little packet builder (RFC 1071 sums), to check the adapter against. ---

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i + 1 < n; i += 2)
        sum += std::uint32_t(p[i] << 8 | p[i + 1]);
    if (n % 2)
        sum += std::uint32_t(p[n - 1] << 8);
    return sum;
}
std::uint16_t fold(std::uint32_t sum) {
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}
void put16(std::uint8_t* p, std::uint32_t v) {
    p[0] = std::uint8_t(v >> 8);
    p[1] = std::uint8_t(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, v >> 16);
    put16(p + 2, v);
}
std::uint16_t get16(const std::uint8_t* p) {
    return std::uint16_t(p[0] << 8 | p[1]);
}
std::uint32_t get32(const std::uint8_t* p) {
    return std::uint32_t(get16(p)) << 16 | get16(p + 2);
}
std::uint32_t pseudo_sum(Ipv4 src, Ipv4 dst, std::uint8_t proto, std::size_t l4_len) {
    return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + std::uint32_t(l4_len);
}

// An IPv4 header (checksummed) in front of `l4`.
Bytes ipv4(Ipv4 src, Ipv4 dst, std::uint8_t proto, const Bytes& l4) {
    Bytes p(20);
    p[0] = 0x45;
    put16(&p[2], std::uint32_t(20 + l4.size()));
    p[6] = 0x40; // DF
    p[8] = 64;
    p[9] = proto;
    put32(&p[12], src);
    put32(&p[16], dst);
    put16(&p[10], std::uint16_t(~fold(sum16(p.data(), 20))));
    p.insert(p.end(), l4.begin(), l4.end());
    return p;
}

enum class L4Sum { Full, PseudoOnly, Wrong };

// Writes the checksum at `at` of the L4 part starting at byte 20 of the IPv4 packet `p`.
void l4_checksum(Bytes& p, std::size_t at, L4Sum mode) {
    const Ipv4 src = get32(&p[12]), dst = get32(&p[16]);
    const std::size_t l4_len = p.size() - 20;
    const std::uint32_t pseudo = pseudo_sum(src, dst, p[9], l4_len);
    p[at] = p[at + 1] = 0;
    std::uint16_t sum = mode == L4Sum::PseudoOnly ? fold(pseudo) // what CHECKSUM_PARTIAL leaves
                                                  : std::uint16_t(~fold(sum16(&p[20], l4_len, pseudo)));
    if (mode == L4Sum::Wrong)
        sum ^= 0x0101;
    put16(&p[at], sum);
}

Bytes udp_packet(Endpoint from, Endpoint to, const std::string& payload, L4Sum mode = L4Sum::Full) {
    Bytes u(8);
    put16(&u[0], from.port);
    put16(&u[2], to.port);
    put16(&u[4], std::uint32_t(8 + payload.size()));
    u.insert(u.end(), payload.begin(), payload.end());
    Bytes p = ipv4(from.addr, to.addr, kUdp, u);
    l4_checksum(p, 26, mode);
    return p;
}

Bytes tcp_segment(Endpoint from, Endpoint to, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                  const Bytes& options, const Bytes& payload, L4Sum mode = L4Sum::Full) {
    Bytes t(20);
    put16(&t[0], from.port);
    put16(&t[2], to.port);
    put32(&t[4], seq);
    put32(&t[8], ack);
    t[12] = std::uint8_t((20 + options.size()) / 4 << 4);
    t[13] = flags;
    put16(&t[14], 65535); // window, unscaled
    t.insert(t.end(), options.begin(), options.end());
    t.insert(t.end(), payload.begin(), payload.end());
    Bytes p = ipv4(from.addr, to.addr, kTcp, t);
    l4_checksum(p, 20 + 16, mode);
    return p;
}

// Whether the L4 checksum of IPv4 packet `p` (20-byte header) is right.
bool l4_checksum_ok(const Bytes& p) {
    const std::uint32_t pseudo = pseudo_sum(get32(&p[12]), get32(&p[16]), p[9], p.size() - 20);
    return fold(sum16(&p[20], p.size() - 20, pseudo)) == 0xffff;
}

Bytes with_vnet(const VnetHeader& h, const Bytes& pkt) {
    Bytes out(VnetHeader::kSize);
    h.store(out.data());
    out.insert(out.end(), pkt.begin(), pkt.end());
    return out;
}

void write_packet(TunQueue& q, const VnetHeader& h, const Bytes& pkt) {
    auto st = q.write(with_vnet(h, pkt));
    REQUIRE_MESSAGE(st.ok(), st.error());
}

// A read packet: its virtio header, raw and decoded, and the IPv4 packet after it.
struct ReadPacket {
    Bytes raw_header;
    VnetHeader vnet;
    Bytes ip;
};

// Reads until `want` accepts an IPv4 packet (others, e.g. IPv6 router solicitations, are skipped)
// or ~2 s passed.
std::optional<ReadPacket> read_until(TunQueue& q, const std::function<bool(const Bytes&)>& want) {
    static Bytes buf(VnetHeader::kSize + 65535);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
        if (!wait_readable(q.fd(), 50))
            continue;
        auto n = q.read(buf);
        REQUIRE_MESSAGE(n.ok(), n.error());
        if (*n < VnetHeader::kSize + 20 || (buf[VnetHeader::kSize] >> 4) != 4)
            continue;
        Bytes ip(buf.begin() + VnetHeader::kSize, buf.begin() + std::ptrdiff_t(*n));
        if (!want(ip))
            continue;
        return ReadPacket{Bytes(buf.begin(), buf.begin() + VnetHeader::kSize), VnetHeader::load(buf.data()), ip};
    }
    return std::nullopt;
}

// Whether a non-blocking connect() on `fd` completed within ~1 s.
bool connected(int fd) {
    pollfd p{fd, POLLOUT, 0};
    int err = -1;
    socklen_t len = sizeof err;
    return ::poll(&p, 1, 1000) > 0 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

std::function<bool(const Bytes&)> to_port(std::uint8_t proto, std::uint16_t port) {
    return [=](const Bytes& ip) { return ip.size() >= 24 && ip[9] == proto && get16(&ip[22]) == port; };
}

} // namespace

TEST_SUITE("tun") {

TEST_CASE("VnetHeader: the byte layout of struct virtio_net_hdr, 16-bit fields little-endian") {
    VnetHeader h;
    h.flags = VnetHeader::kNeedsCsum;
    h.gso_type = VnetHeader::kGsoTcpV4 | VnetHeader::kGsoEcn;
    h.hdr_len = 0x0102;
    h.gso_size = 0x0304;
    h.csum_start = 0x0506;
    h.csum_offset = 0x0708;
    std::uint8_t b[VnetHeader::kSize + 1];
    std::memset(b, 0xee, sizeof b);
    h.store(b);
    const std::uint8_t want[] = {0x01, 0x81, 0x02, 0x01, 0x04, 0x03, 0x06, 0x05, 0x08, 0x07, 0xee};
    CHECK(std::memcmp(b, want, sizeof want) == 0);
    const VnetHeader back = VnetHeader::load(b);
    CHECK(back.flags == h.flags);
    CHECK(back.gso_type == h.gso_type);
    CHECK(back.hdr_len == h.hdr_len);
    CHECK(back.gso_size == h.gso_size);
    CHECK(back.csum_start == h.csum_start);
    CHECK(back.csum_offset == h.csum_offset);
}

TEST_CASE("open creates the device under the kernel's name for name%d; it goes with its queue") {
    IOTEST_REQUIRE_NETNS();
    std::string name;
    {
        TunQueue q = open_tun("cntun%d");
        name = q.name();
        CHECK(name.rfind("cntun", 0) == 0);
        CHECK(name != "cntun%d");
        CHECK(name.size() > 5);
        std::string details = sh_out("ip -d link show dev " + name);
        CHECK_MESSAGE(contains(details, "tun type tun pi off vnet_hdr on"), details);
        CHECK_MESSAGE(!contains(details, "multi_queue"), details);
        CHECK_MESSAGE(contains(details, "persist off"), details);
        // Nothing waits on a fresh device: read() says 0, not an error.
        std::uint8_t buf[2048];
        auto n = q.read(buf);
        REQUIRE_MESSAGE(n.ok(), n.error());
        CHECK(*n == 0);
        // A second non-multi-queue open of the same name is refused.
        auto again = TunQueue::open(name, false);
        REQUIRE(!again.ok());
        CHECK_MESSAGE(contains(again.error(), "tun " + name + ": TUNSETIFF: Device or resource busy"), again.error());
        CHECK(link_exists(name));
    }
    CHECK(!link_exists(name));

    auto bad = TunQueue::open("a_name_far_too_long_for_linux", false);
    REQUIRE(!bad.ok());
    CHECK(contains(bad.error(), "a_name_far_too_long_for_linux"));
}

TEST_CASE("multi-queue: each open of the same name adds a queue; the last close removes the device") {
    IOTEST_REQUIRE_NETNS();
    std::optional<TunQueue> first = open_tun("cnmq0", true);
    std::optional<TunQueue> second = open_tun("cnmq0", true);
    CHECK(first->name() == "cnmq0");
    CHECK(second->name() == "cnmq0");
    CHECK(first->fd() != second->fd());
    std::string details = sh_out("ip -d link show dev cnmq0");
    CHECK_MESSAGE(contains(details, "multi_queue"), details);
    CHECK_MESSAGE(contains(details, "numqueues 2"), details);
    // A single-queue open cannot join a multi-queue device.
    auto single = TunQueue::open("cnmq0", false);
    REQUIRE(!single.ok());
    CHECK_MESSAGE(contains(single.error(), "TUNSETIFF"), single.error());

    first.reset();
    details = sh_out("ip -d link show dev cnmq0");
    CHECK_MESSAGE(contains(details, "numqueues 1"), details);
    second.reset();
    CHECK(!link_exists("cnmq0"));
}

TEST_CASE("read: a datagram routed into the device comes with a virtio header and a partial checksum") {
    IOTEST_REQUIRE_NETNS();
    TunQueue q = open_tun("cntunr0");
    configure(q.name());
    Fd sender = udp_socket("", {kTunAddr, 5555});
    send_udp(sender, {kPeer, 7000}, "hello tun");

    auto got = read_until(q, to_port(kUdp, 7000));
    REQUIRE(got);
    const Bytes& ip = got->ip;
    const VnetHeader& h = got->vnet;
    CHECK(h.gso_type == VnetHeader::kGsoNone);
    CHECK(h.gso_size == 0);
    REQUIRE(ip.size() == 20 + 8 + 9);
    CHECK(get16(&ip[2]) == ip.size());
    CHECK(get32(&ip[12]) == kTunAddr);
    CHECK(get32(&ip[16]) == kPeer);
    CHECK(fold(sum16(ip.data(), 20)) == 0xffff); // the IPv4 header checksum is always complete
    CHECK(get16(&ip[20]) == 5555);
    CHECK(get16(&ip[24]) == 8 + 9);
    CHECK(std::string(ip.begin() + 28, ip.end()) == "hello tun");

    // TUN_F_CSUM: the kernel leaves the UDP checksum to us (the field holds the pseudo-header
    // sum), and says where it goes: from byte 20 (csum_start), at +6 (csum_offset).
    CHECK(h.flags == VnetHeader::kNeedsCsum);
    CHECK(h.csum_start == 20);
    CHECK(h.csum_offset == 6);
    CHECK(got->raw_header[6] == 20); // little-endian on the wire (TUNSETVNETLE)
    CHECK(got->raw_header[7] == 0);
    Bytes completed = ip;
    CHECK(!l4_checksum_ok(completed));
    put16(&completed[h.csum_start + h.csum_offset], 0);
    put16(&completed[h.csum_start + h.csum_offset],
          std::uint16_t(~fold(sum16(&completed[h.csum_start], completed.size() - h.csum_start,
                                    get16(&ip[h.csum_start + h.csum_offset])))));
    CHECK(l4_checksum_ok(completed));
}

TEST_CASE("write: a complete datagram reaches a local socket; a wrong checksum does not") {
    IOTEST_REQUIRE_NETNS();
    TunQueue q = open_tun("cntunw0");
    configure(q.name());
    Fd sink = udp_socket("", {kTunAddr, 5601});

    write_packet(q, VnetHeader{}, udp_packet({kPeer, 7001}, {kTunAddr, 5601}, "bad sum", L4Sum::Wrong));
    write_packet(q, VnetHeader{}, udp_packet({kPeer, 7001}, {kTunAddr, 5601}, "from the tun"));
    auto got = recv_udp(sink, 1000);
    REQUIRE(got);
    CHECK(got->payload == "from the tun"); // the one before was dropped by the kernel
    CHECK(got->from.addr == kPeer);
    CHECK(got->from.port == 7001);
    CHECK(!recv_udp(sink, 100));

    // Not even a virtio header: the kernel refuses.
    const std::uint8_t tiny[4] = {};
    auto st = q.write(tiny);
    REQUIRE(!st.ok());
    CHECK_MESSAGE(contains(st.error(), "tun cntunw0: write: "), st.error());
}

TEST_CASE("write with NEEDS_CSUM: the kernel takes a checksum left partial") {
    IOTEST_REQUIRE_NETNS();
    TunQueue q = open_tun("cntunc0");
    configure(q.name());
    Fd sink = udp_socket("", {kTunAddr, 5602});
    const Bytes partial = udp_packet({kPeer, 7002}, {kTunAddr, 5602}, "partial", L4Sum::PseudoOnly);

    // Without the flag the field is just wrong...
    write_packet(q, VnetHeader{}, partial);
    CHECK(!recv_udp(sink, 200));
    // ...with it (and where the checksum goes) the packet is good.
    VnetHeader h;
    h.flags = VnetHeader::kNeedsCsum;
    h.csum_start = 20;
    h.csum_offset = 6;
    write_packet(q, h, partial);
    auto got = recv_udp(sink, 1000);
    REQUIRE(got);
    CHECK(got->payload == "partial");
    CHECK(got->from.port == 7002);
}

TEST_CASE("TSO: a local TCP sender hands the device super-packets; one written back is taken whole") {
    IOTEST_REQUIRE_NETNS();
    TunQueue q = open_tun("cntunt0");
    configure(q.name());
    constexpr std::uint16_t kMss = 1000;
    const Bytes mss_option = {2, 4, std::uint8_t(kMss >> 8), std::uint8_t(kMss & 0xff)};
    constexpr std::uint8_t kSyn = 0x02, kAck = 0x10, kPsh = 0x08;

    SUBCASE("read: the kernel's segments come as one TCPv4 GSO packet") {
        // A local client connects to kPeer:80; this test answers as the peer.
        Fd client = socket_in("", AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(80);
        to.sin_addr.s_addr = htonl(kPeer);
        ::connect(client.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to);
        auto syn = read_until(q, to_port(kTcp, 80));
        REQUIRE(syn);
        REQUIRE((syn->ip[33] & kSyn) != 0);
        const std::uint16_t client_port = get16(&syn->ip[20]);
        const std::uint32_t isn = get32(&syn->ip[24]);
        write_packet(q, VnetHeader{},
                     tcp_segment({kPeer, 80}, {kTunAddr, client_port}, 5000, isn + 1, kSyn | kAck, mss_option, {}));
        REQUIRE(connected(client.get()));

        std::string data(20000, 'x');
        REQUIRE(::send(client.get(), data.data(), data.size(), 0) > 0);
        auto gso = read_until(q, [&](const Bytes& ip) {
            return ip.size() > 40 + kMss && ip[9] == kTcp && get16(&ip[20]) == client_port;
        });
        REQUIRE(gso);
        const VnetHeader& h = gso->vnet;
        CHECK(h.gso_type == VnetHeader::kGsoTcpV4);
        CHECK(h.gso_size == kMss);
        CHECK(h.hdr_len == 40); // IPv4 + TCP headers, no options (none were offered back)
        CHECK(h.flags == VnetHeader::kNeedsCsum);
        CHECK(h.csum_start == 20);
        CHECK(h.csum_offset == 16);
        CHECK(get16(&gso->ip[2]) == gso->ip.size());
        CHECK((gso->ip.size() - 40) % kMss == 0);
        CHECK(get32(&gso->ip[24]) == isn + 1);
    }

    SUBCASE("write: a GSO packet from the device reaches a local TCP socket in one piece") {
        Fd listener = socket_in("", AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_port = htons(5603);
        local.sin_addr.s_addr = htonl(kTunAddr);
        REQUIRE(::bind(listener.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) == 0);
        REQUIRE(::listen(listener.get(), 4) == 0);

        const Endpoint peer{kPeer, 7003}, server{kTunAddr, 5603};
        write_packet(q, VnetHeader{}, tcp_segment(peer, server, 9000, 0, kSyn, mss_option, {}));
        auto synack = read_until(q, to_port(kTcp, 7003));
        REQUIRE(synack);
        REQUIRE(synack->ip.size() >= 40);
        REQUIRE((synack->ip[33] & (kSyn | kAck)) == (kSyn | kAck));
        const std::uint32_t server_seq = get32(&synack->ip[24]) + 1;
        write_packet(q, VnetHeader{}, tcp_segment(peer, server, 9001, server_seq, kAck, {}, {}));

        // Three segments' worth in one packet: the kernel segments it (or takes it as GRO would).
        Bytes payload(3 * kMss);
        for (std::size_t i = 0; i < payload.size(); ++i)
            payload[i] = std::uint8_t('a' + i % 26);
        VnetHeader h;
        h.flags = VnetHeader::kNeedsCsum;
        h.gso_type = VnetHeader::kGsoTcpV4;
        h.gso_size = kMss;
        h.hdr_len = 40;
        h.csum_start = 20;
        h.csum_offset = 16;
        write_packet(q, h, tcp_segment(peer, server, 9001, server_seq, kAck | kPsh, {}, payload, L4Sum::PseudoOnly));

        REQUIRE(wait_readable(listener.get(), 1000));
        Fd conn(::accept(listener.get(), nullptr, nullptr));
        REQUIRE(conn.valid());
        std::string received;
        while (received.size() < payload.size() && wait_readable(conn.get(), 1000)) {
            char buf[8192];
            const long n = ::recv(conn.get(), buf, sizeof buf, MSG_DONTWAIT);
            if (n <= 0)
                break;
            received.append(buf, std::size_t(n));
        }
        CHECK(received == std::string(payload.begin(), payload.end()));
        // The server acknowledges all of it.
        auto ack = read_until(q, [&](const Bytes& ip) {
            return ip.size() >= 40 && ip[9] == kTcp && get16(&ip[22]) == 7003 &&
                   get32(&ip[28]) == 9001 + payload.size();
        });
        CHECK(ack);
    }
}

} // TEST_SUITE
