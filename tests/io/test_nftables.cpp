// Nftables against the real kernel, inside the namespaces of tests/e2e/io_adapters.sh.
#include "conenat/io/nfqueue.hpp"
#include "conenat/io/nft_dnat_scan.hpp"
#include "conenat/io/nftables.hpp"
#include "engine/common/installed_rules.hpp"
#include "engine/conntrack/rules.hpp"
#include "tests/io/netns_support.hpp"

#include <doctest/doctest.h>
#include <linux/netfilter.h>

#include <chrono>
#include <cstdio>
#include <vector>

using namespace conenat;
using namespace iotest;
using core::Behaviour;
using core::Proto;

namespace {

io::Nftables open_nft() {
    auto nft = io::Nftables::open();
    REQUIRE_MESSAGE(nft.ok(), nft.error());
    return std::move(nft.value());
}

// The conntrack engine's rule set (engine/conntrack/rules.hpp) for the lab.
struct Spec {
    engine::EngineConfig config;
    bool native_queue = false;
    io::NatMaps maps() const { return engine::conntrack_maps(config); }
    io::nft::RuleSet rules() const { return engine::conntrack_rules(config, native_queue ? io::nft::Queueing::Native : io::nft::Queueing::Xt); }
};

Spec spec_for(io::Nftables& nft, const std::string& table) {
    Spec spec;
    spec.config.table = table;
    spec.config.external_if = kWan;
    spec.config.internal = {{core::make_ipv4(10, 0, 0, 0), 24}};
    spec.config.nat.pool.external_addrs = {kExternal};
    spec.config.nat.pool.ports = core::PortSet::from_ranges({{1024, 65535}});
    spec.config.queue_out = 0;
    spec.config.queue_in = 1;
    spec.native_queue = nft.has_native_queue();
    return spec;
}

io::NatMaps g_maps; // of the table installed last

void install(io::Nftables& nft, const Spec& spec) {
    auto st = nft.install(spec.rules());
    REQUIRE_MESSAGE(st.ok(), st.error());
    g_maps = spec.maps();
}

void add(io::Nftables& nft, std::vector<io::MappingElement> m) {
    auto st = nft.add(g_maps, m);
    REQUIRE_MESSAGE(st.ok(), st.error());
}

// Packets counted by the chain's counters.
std::uint64_t counted(io::Nftables& nft, const char* chain) {
    auto c = nft.counters(g_maps.table);
    REQUIRE_MESSAGE(c.ok(), c.error());
    return (*c)[chain];
}

io::MappingElement udp(Endpoint internal, std::uint16_t ext_port) {
    return {Proto::Udp, internal, {}, {kExternal, ext_port}};
}

std::string list_map(const std::string& table, const std::string& map) {
    return sh_out("nft list map ip " + table + " " + map);
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// Waits for one packet on the queue (up to 2 s).
std::optional<io::QueuedPacket> next_packet(io::NfQueue& q) {
    static io::QueuedPacket pkts[4];
    for (int i = 0; i < 20; ++i) {
        if (!wait_readable(q.fd(), 100))
            continue;
        auto n = q.receive(pkts);
        REQUIRE_MESSAGE(n.ok(), n.error());
        if (*n > 0)
            return pkts[0];
    }
    return std::nullopt;
}

void fresh_conntrack() {
    sh("conntrack -F");
}

} // namespace

TEST_SUITE("nftables") {

TEST_CASE("render is nft syntax that nft -c accepts, the queue statement aside") {
    IOTEST_REQUIRE_NETNS();
    auto nft = open_nft();
    Spec spec = spec_for(nft, "cn_render");
    spec.config.nat.pool.ports = core::PortSet::from_ranges({{1024, 2047}, {4096, 65535}});
    spec.config.nat.udp.filtering = Behaviour::AddressDependent;
    spec.config.nat.tcp.mapping = Behaviour::AddressAndPortDependent;
    spec.config.nat.icmp.mapping = Behaviour::AddressDependent;
    const std::string text = io::Nftables::render(spec.rules());
    CHECK(contains(text, "table ip cn_render {"));
    CHECK(contains(text, "udp dport { 1024-2047, 4096-65535 }"));
    CHECK(contains(text, "meta mark & 0x00100000 == 0x00100000"));
    CHECK(contains(text, "snat ip to ip saddr . tcp sport . ip daddr . tcp dport map @snat_tcp"));
    CHECK(contains(text, "icmp type echo-request snat ip to ip saddr . icmp id . ip daddr map @snat_icmp"));
    // Its key holds an icmp id: declared by its fields, as nft -f needs it.
    CHECK(contains(text, "typeof ip saddr . icmp id . ip daddr : ip daddr . th dport"));
    CHECK(contains(text, "meta mark & 0x00100000 == 0x00000000 counter packets 0 bytes 0 queue num 0"));
    CHECK(contains(text, "type filter hook postrouting priority srcnat + 10;"));
    // Conntrack events only for the NAT's own flows, decided after the nat chains.
    CHECK(contains(text, "chain events {\n\t\ttype filter hook postrouting priority 200;"));
    CHECK(contains(text, "chain events_local {\n\t\ttype filter hook input priority 200;"));
    CHECK(contains(text, "ct state new ct status ! snat,dnat ct event set 0x0\n"));
    CHECK(contains(text, "# "));

    const std::string path = "/tmp/cn_render_" + std::to_string(getpid()) + ".nft";
    std::string checked = text;
    if (!spec.native_queue) {
        // nft can express the compat NFQUEUE target only as the queue statement, which this
        // kernel lacks: check everything else.
        for (std::size_t at; (at = checked.find("queue num ")) != std::string::npos;)
            checked.replace(at, checked.find('\n', at) - at, "accept");
    }
    std::FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f);
    std::fputs(checked.c_str(), f);
    std::fclose(f);
    std::string out;
    CHECK_MESSAGE(sh("nft -c -f " + path, &out) == 0, out);
    std::remove(path.c_str());
    CHECK(sh("nft list table ip cn_render") != 0); // -c changed nothing
}

TEST_CASE("has_native_queue agrees with the nft CLI and leaves nothing behind") {
    IOTEST_REQUIRE_NETNS();
    auto nft = open_nft();
    const bool native = nft.has_native_queue();
    const bool cli = sh("nft -c 'add table ip cnq' \\; 'add chain ip cnq c' \\; 'add rule ip cnq c queue num 0'") == 0;
    CHECK(native == cli);
    CHECK(nft.has_native_queue() == native); // cached
    CHECK(!contains(sh_out("nft list tables"), "probe"));
    const std::string note = std::string("native nft queue statement: ") + (native ? "yes" : "no (xt NFQUEUE via nft_compat)");
    MESSAGE(note);
}

TEST_CASE("install builds the table, replaces it, and remove deletes it") {
    IOTEST_REQUIRE_NETNS();
    auto nft = open_nft();
    TableGuard guard{"cn_install"};
    Spec spec = spec_for(nft, "cn_install");
    install(nft, spec);
    std::string out = sh_out("nft list table ip cn_install");
    for (const char* s : {"set external", "203.0.113.1", "map snat_udp", "map snat_tcp", "map snat_icmp",
                          "map dnat_udp", "map dnat_tcp", "type ipv4_addr . inet_service : ipv4_addr . inet_service",
                          "chain dnat_map", "type nat hook prerouting priority dstnat - 2",
                          "chain dnat_queue", "type nat hook prerouting priority -80",
                          "chain snat_map", "type nat hook postrouting priority srcnat - 2",
                          "chain snat_queue", "type nat hook postrouting priority srcnat - 1",
                          "chain guard", "type filter hook postrouting priority srcnat",
                          "dnat ip to ip daddr . udp dport map @dnat_udp",
                          "oifname \"wan0\" ip saddr 10.0.0.0/24 snat ip to ip saddr . udp sport map @snat_udp",
                          "icmp type echo-request snat ip to ip saddr . icmp id map @snat_icmp",
                          "ct status dnat ip saddr 10.0.0.0/24", "queue num 0", "queue num 1",
                          "ct status ! snat counter packets 0 bytes 0 drop"})
        CHECK_MESSAGE(contains(out, s), s);

    // Installing again replaces the table (elements go with it).
    add(nft, {udp({kClient, 5000}, 40000)});
    spec.config.nat.udp.mapping = Behaviour::AddressDependent;
    install(nft, spec);
    out = sh_out("nft list map ip cn_install snat_udp");
    CHECK(contains(out, "type ipv4_addr . inet_service . ipv4_addr : ipv4_addr . inet_service"));
    CHECK(!contains(out, "elements"));

    CHECK(counted(nft, engine::kChainSnatQueue) == 0);

    auto st = nft.remove("cn_install");
    CHECK_MESSAGE(st.ok(), st.error());
    CHECK(sh("nft list table ip cn_install") != 0);
    st = nft.remove("cn_install");
    CHECK_MESSAGE(st.ok(), st.error()); // absent is fine
}

TEST_CASE("an installed table is marked as conenatd's: another instance's DNAT scan skips it, a user's DNAT counts") {
    IOTEST_REQUIRE_NETNS();
    auto nft = open_nft();
    TableGuard guard{"cn_marked"}, user{"cn_user"};
    install(nft, spec_for(nft, "cn_marked"));
    CHECK(contains(sh_out("nft list table ip cn_marked"), "comment \"managed by conenatd\""));
    // cn_marked's dnat rules map the whole pool; a user's forward takes one port.
    REQUIRE(sh("nft add table ip cn_user && nft add chain ip cn_user pre '{ type nat hook prerouting priority dstnat; }' "
               "&& nft add rule ip cn_user pre udp dport 20005 dnat to 10.0.0.9") == 0);
    auto scan = io::dnat_ports("cn_other"); // as a second instance with its own table sees it
    REQUIRE_MESSAGE(scan.ok(), scan.error());
    REQUIRE(scan->ports.size() == 1);
    CHECK(scan->ports[0].first == 20005);
    CHECK(scan->ports[0].last == 20005);
    CHECK(scan->unknown.empty());
    // Control: the same DNAT rule (cn_marked's dnat_map chain) in a table without the mark counts.
    TableGuard copy{"cn_copy"};
    REQUIRE(sh("echo 'table ip cn_copy { map dnat_udp { type ipv4_addr . inet_service : ipv4_addr . inet_service; }; "
               "chain pre { type nat hook prerouting priority dstnat; dnat ip to ip daddr . udp dport map @dnat_udp; }; }' "
               "| nft -f -") == 0);
    scan = io::dnat_ports("cn_other");
    REQUIRE_MESSAGE(scan.ok(), scan.error());
    CHECK(scan->unknown.size() == 1); // "ip cn_copy/pre: no destination port (every port)"
}

TEST_CASE("errors name the object and carry the kernel's reason") {
    IOTEST_REQUIRE_NETNS();
    auto nft = open_nft();
    sh("nft delete table ip conenatd"); // the default table of a fresh adapter: surely absent
    auto st = nft.add(io::NatMaps{}, std::vector<io::MappingElement>{udp({kClient, 5000}, 40000)});
    REQUIRE(!st.ok());
    CHECK_MESSAGE(contains(st.error(), "elements of map snat_udp: No such file or directory"), st.error());

    Spec spec = spec_for(nft, std::string(300, 'x')); // longer than NFT_TABLE_MAXNAMELEN
    st = nft.install(spec.rules());
    REQUIRE(!st.ok());
    CHECK_MESSAGE(contains(st.error(), "nftables: table xxx"), st.error());
    CHECK_MESSAGE(contains(st.error(), "Numerical result out of range"), st.error());
}

TEST_CASE("map elements follow the mapping behaviour; remove and re-add are forgiving") {
    IOTEST_REQUIRE_NETNS();
    auto nft = open_nft();
    TableGuard guard{"cn_elems"};
    Spec spec = spec_for(nft, "cn_elems");
    spec.config.nat.tcp.mapping = Behaviour::AddressAndPortDependent;
    spec.config.nat.icmp.mapping = Behaviour::AddressDependent;
    install(nft, spec);

    const std::vector<io::MappingElement> m = {
        udp({kClient, 5000}, 40000),
        {Proto::Tcp, {kClient, 80}, {kServer2, 443}, {kExternal, 40001}},
        {Proto::Icmp, {kClient, 0x1234}, {kServer2, 0}, {kExternal, 0x4321}},
    };
    add(nft, m);
    CHECK(contains(list_map("cn_elems", "snat_udp"), "10.0.0.2 . 5000 : 203.0.113.1 . 40000"));
    CHECK(contains(list_map("cn_elems", "dnat_udp"), "203.0.113.1 . 40000 : 10.0.0.2 . 5000"));
    CHECK(contains(list_map("cn_elems", "snat_tcp"), "10.0.0.2 . 80 . 198.51.100.2 . 443 : 203.0.113.1 . 40001"));
    CHECK(contains(list_map("cn_elems", "dnat_tcp"), "203.0.113.1 . 40001 : 10.0.0.2 . 80"));
    CHECK(contains(list_map("cn_elems", "snat_icmp"), "10.0.0.2 . 4660 . 198.51.100.2 : 203.0.113.1 . 17185"));

    // The same elements again: no error (no NLM_F_EXCL).
    add(nft, m);
    // Another external endpoint for the same key: the new mapping replaces the old one.
    add(nft, {udp({kClient, 5000}, 40009)});
    const std::string snat = list_map("cn_elems", "snat_udp");
    CHECK(contains(snat, "10.0.0.2 . 5000 : 203.0.113.1 . 40009"));
    CHECK(!contains(snat, "203.0.113.1 . 40000"));

    // Removing present and absent elements together removes the present ones.
    std::vector<io::MappingElement> gone = {m[1], m[2], udp({kClient, 5999}, 45999)};
    auto st = nft.remove_elements(g_maps, gone);
    CHECK_MESSAGE(st.ok(), st.error());
    CHECK(!contains(list_map("cn_elems", "snat_tcp"), "elements"));
    CHECK(!contains(list_map("cn_elems", "dnat_tcp"), "elements"));
    CHECK(!contains(list_map("cn_elems", "snat_icmp"), "elements"));
    st = nft.remove_elements(g_maps, gone);
    CHECK_MESSAGE(st.ok(), st.error());
}

TEST_CASE("bulk adds are split across messages; cost per mapping") {
    IOTEST_REQUIRE_NETNS();
    auto nft = open_nft();
    TableGuard guard{"cn_bulk"};
    Spec spec = spec_for(nft, "cn_bulk");
    spec.config.nat.tcp.mapping = Behaviour::AddressAndPortDependent;
    install(nft, spec);

    using Clock = std::chrono::steady_clock;
    for (Proto proto : {Proto::Udp, Proto::Tcp}) {
        std::vector<io::MappingElement> all;
        double add_us = 0, del_us = 0;
        constexpr int kBatches = 5, kBatch = 1000;
        for (int b = 0; b < kBatches; ++b) {
            std::vector<io::MappingElement> batch;
            for (int i = 0; i < kBatch; ++i) {
                const int n = b * kBatch + i;
                batch.push_back({proto,
                                 {kClient + static_cast<Ipv4>(n / 1000), static_cast<std::uint16_t>(2000 + n % 1000)},
                                 {kServer2, 443},
                                 {kExternal, static_cast<std::uint16_t>(10000 + n)}});
            }
            const auto t0 = Clock::now();
            add(nft, batch);
            add_us += std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
            all.insert(all.end(), batch.begin(), batch.end());
        }
        const std::string name = proto == Proto::Udp ? "udp" : "tcp";
        // Every element arrived although one message holds at most ~1800.
        std::string out;
        sh("nft list map ip cn_bulk snat_" + name + " | grep -o ': 203.0.113.1 . [0-9]*' | wc -l", &out);
        CHECK(std::stoi(out) == kBatches * kBatch);
        sh("nft list map ip cn_bulk dnat_" + name + " | grep -o '203.0.113.1 . [0-9]* :' | wc -l", &out);
        CHECK(std::stoi(out) == kBatches * kBatch);

        for (int b = 0; b < kBatches; ++b) {
            const auto t0 = Clock::now();
            auto st = nft.remove_elements(g_maps, std::span(all).subspan(b * kBatch, kBatch));
            del_us += std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
            REQUIRE_MESSAGE(st.ok(), st.error());
        }
        CHECK(!contains(list_map("cn_bulk", "snat_" + name), "elements"));
        char line[200];
        std::snprintf(line, sizeof line, "%s (%s key): add %.2f us, delete %.2f us per mapping (2 elements) in batches of %d",
                      name.c_str(), proto == Proto::Udp ? "EIM, 8-byte" : "APDM, 16-byte",
                      add_us / (kBatches * kBatch), del_us / (kBatches * kBatch), kBatch);
        MESSAGE(line);
    }
}

TEST_CASE("udp traffic: source NAT from the map, inbound DNAT to the internal endpoint") {
    IOTEST_REQUIRE_NETNS();
    fresh_conntrack();
    auto nft = open_nft();
    TableGuard guard{"cn_udp"};
    install(nft, spec_for(nft, "cn_udp"));
    add(nft, {udp({kClient, 5000}, 40000)});

    Fd client = udp_socket(client_ns(), {kClient, 5000});
    Fd server = udp_socket(server_ns(), {kServer, 7000});
    send_udp(client, {kServer, 7000}, "hello");
    auto got = recv_udp(server, 2000);
    REQUIRE(got);
    CHECK(got->from == Endpoint{kExternal, 40000});
    CHECK(got->payload == "hello");

    send_udp(server, got->from, "reply");
    auto back = recv_udp(client, 2000);
    REQUIRE(back);
    CHECK(back->from == Endpoint{kServer, 7000});

    // Endpoint-independent filtering: anyone may send to the external endpoint.
    Fd other = udp_socket(server_ns(), {kServer2, 7002});
    send_udp(other, {kExternal, 40000}, "unsolicited");
    auto in = recv_udp(client, 2000);
    REQUIRE(in);
    CHECK(in->from == Endpoint{kServer2, 7002});
    CHECK(in->payload == "unsolicited");
}

TEST_CASE("hairpin: an internal host reaches another through its external endpoint") {
    IOTEST_REQUIRE_NETNS();
    fresh_conntrack();
    auto nft = open_nft();
    TableGuard guard{"cn_hairpin"};
    install(nft, spec_for(nft, "cn_hairpin"));
    add(nft, {udp({kClient, 5010}, 40010), udp({kClient2, 5011}, 40011)});

    Fd a = udp_socket(client_ns(), {kClient, 5010});
    Fd b = udp_socket(client_ns(), {kClient2, 5011});
    send_udp(b, {kExternal, 40010}, "via the NAT");
    auto got = recv_udp(a, 2000);
    REQUIRE(got);
    CHECK(got->from == Endpoint{kExternal, 40011});
}

TEST_CASE("unknown endpoints are queued; Repeat after adding the element sends them translated") {
    IOTEST_REQUIRE_NETNS();
    fresh_conntrack();
    auto nft = open_nft();
    TableGuard guard{"cn_queue"};
    install(nft, spec_for(nft, "cn_queue"));
    auto q = io::NfQueue::open(0, 64);
    REQUIRE_MESSAGE(q.ok(), q.error());

    Fd client = udp_socket(client_ns(), {kClient, 5001});
    Fd server = udp_socket(server_ns(), {kServer, 7001});
    send_udp(client, {kServer, 7001}, "first");
    auto pkt = next_packet(*q);
    REQUIRE(pkt);
    CHECK(pkt->hook == io::Hook::PostRouting);
    REQUIRE(pkt->bytes.size() >= 28);
    CHECK(pkt->bytes[9] == 17);
    CHECK(!recv_udp(server, 200)); // held in the queue

    add(nft, {udp({kClient, 5001}, 40001)});
    q->verdict(pkt->id, io::Verdict::Repeat);
    REQUIRE(q->flush().ok());
    auto got = recv_udp(server, 2000);
    REQUIRE(got);
    CHECK(got->from == Endpoint{kExternal, 40001});
    CHECK(got->payload == "first");

    // Later packets of the flow do not reach the queue.
    send_udp(client, {kServer, 7001}, "second");
    got = recv_udp(server, 2000);
    REQUIRE(got);
    CHECK(got->from == Endpoint{kExternal, 40001});
    CHECK(counted(nft, engine::kChainSnatQueue) == 1);
}

TEST_CASE("Drop drops; Accept without a mapping is stopped by the guard") {
    IOTEST_REQUIRE_NETNS();
    fresh_conntrack();
    auto nft = open_nft();
    TableGuard guard{"cn_drop"};
    install(nft, spec_for(nft, "cn_drop"));
    auto q = io::NfQueue::open(0, 64);
    REQUIRE_MESSAGE(q.ok(), q.error());
    Fd server = udp_socket(server_ns(), {kServer, 7003});

    Fd c1 = udp_socket(client_ns(), {kClient, 5002});
    send_udp(c1, {kServer, 7003}, "dropped");
    auto pkt = next_packet(*q);
    REQUIRE(pkt);
    q->verdict(pkt->id, io::Verdict::Drop);
    REQUIRE(q->flush().ok());
    CHECK(!recv_udp(server, 300));

    // NF_ACCEPT from the nat hook leaves the flow without source NAT: it must not leak out
    // with its internal address.
    Fd c2 = udp_socket(client_ns(), {kClient, 5003});
    send_udp(c2, {kServer, 7003}, "leak?");
    pkt = next_packet(*q);
    REQUIRE(pkt);
    q->verdict(pkt->id, io::Verdict::Accept);
    REQUIRE(q->flush().ok());
    CHECK(!recv_udp(server, 300));
    CHECK(counted(nft, engine::kChainSnatQueue) == 2);
    CHECK(counted(nft, engine::kChainGuard) == 1);
}

TEST_CASE("filtering: the permit mark set by the verdict lets an inbound packet through") {
    IOTEST_REQUIRE_NETNS();
    fresh_conntrack();
    auto nft = open_nft();
    TableGuard guard{"cn_filter"};
    Spec spec = spec_for(nft, "cn_filter");
    spec.config.nat.udp.filtering = Behaviour::AddressDependent;
    install(nft, spec);
    add(nft, {udp({kClient, 5004}, 40004)});
    auto q = io::NfQueue::open(spec.config.queue_in, 64);
    REQUIRE_MESSAGE(q.ok(), q.error());

    Fd client = udp_socket(client_ns(), {kClient, 5004});
    Fd remote = udp_socket(server_ns(), {kServer2, 7004});
    send_udp(remote, {kExternal, 40004}, "knock");
    auto pkt = next_packet(*q);
    REQUIRE(pkt); // the dnat rule wants the mark, so the packet went on to dnat_queue
    CHECK(pkt->hook == io::Hook::PreRouting);
    CHECK(pkt->mark == 0);
    CHECK(!recv_udp(client, 200));

    q->verdict(pkt->id, io::Verdict::Repeat, spec.config.mark);
    REQUIRE(q->flush().ok());
    auto got = recv_udp(client, 2000);
    REQUIRE(got);
    CHECK(got->from == Endpoint{kServer2, 7004});
    CHECK(counted(nft, engine::kChainDnatQueue) == 1);
}

TEST_CASE("icmp echo through snat_icmp gets the mapped identifier") {
    IOTEST_REQUIRE_NETNS();
    fresh_conntrack();
    auto nft = open_nft();
    TableGuard guard{"cn_icmp"};
    install(nft, spec_for(nft, "cn_icmp"));
    add(nft, {{Proto::Icmp, {kClient, 0x1234}, {}, {kExternal, 0x4321}}});

    Fd client = icmp_socket(client_ns());
    Fd server = icmp_socket(server_ns());
    send_echo_request(client, kServer, 0x1234, 1);
    auto req = recv_echo(server, 8, 2000);
    REQUIRE(req);
    CHECK(req->src == kExternal);
    CHECK(req->id == 0x4321);
    auto reply = recv_echo(client, 0, 2000);
    REQUIRE(reply);
    CHECK(reply->src == kServer);
    CHECK(reply->id == 0x1234);
}

} // TEST_SUITE

TEST_SUITE("installed rules") {

TEST_CASE("replay puts the table and the elements back after nft flush ruleset; destruction removes it") {
    IOTEST_REQUIRE_NETNS();
    TableGuard guard{"cn_replay"};
    Spec spec;
    {
        auto probe = open_nft();
        spec = spec_for(probe, "cn_replay");
    }
    {
        auto rules = engine::InstalledRules::open();
        REQUIRE_MESSAGE(rules.ok(), rules.error());
        auto st = rules->install(spec.rules());
        REQUIRE_MESSAGE(st.ok(), st.error());
        const std::vector<io::MappingElement> m = {udp({kClient, 5000}, 40000)};
        st = rules->nft().add(spec.maps(), m);
        REQUIRE_MESSAGE(st.ok(), st.error());

        sh("nft flush ruleset");
        CHECK(sh("nft list table ip cn_replay") != 0);
        st = rules->replay(spec.maps(), m);
        REQUIRE_MESSAGE(st.ok(), st.error());
        CHECK(contains(list_map("cn_replay", "snat_udp"), "10.0.0.2 . 5000 : 203.0.113.1 . 40000"));
        CHECK(contains(sh_out("nft list table ip cn_replay"), "chain snat_queue"));
    }
    CHECK(sh("nft list table ip cn_replay") != 0); // removed with its owner
}

} // TEST_SUITE
