// RFC 5780 behaviour discovery over UDP: transactions with RFC 5389 retransmissions, the
// mapping tests from one socket (§4.3) and the filtering tests from a fresh one (§4.4).
#include "ctl/stun_client.hpp"

#include "conenat/io/fd.hpp"
#include "conenat/util/stun.hpp"
#include "conenat/util/text.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

namespace conenat::ctl {

namespace {

// RFC 5389 §7.2.1: RTO starts at 500 ms and doubles; Rc and Rm bounded below the RFC's 7 and
// 16 so that a test that expects no answer (filtering II and III) costs 5.5 s, not 39.5 s.
constexpr int kRtoMs = 500, kSends = 4, kLastWaitRto = 4;

using Clock = std::chrono::steady_clock;

sockaddr_in to_sockaddr(core::Endpoint e) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(e.port);
    sa.sin_addr.s_addr = htonl(e.addr);
    return sa;
}

// One Binding transaction: where it goes, what it asks, and what came back from where.
struct Transaction {
    core::Endpoint to;
    std::uint32_t change = 0;
    stun::TransactionId id{};
    std::optional<stun::BindingResponse> answer;
    core::Endpoint answered_from;
};

Result<io::UniqueFd> open_socket(core::Ipv4 local) {
    io::UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd)
        return Error{std::string("STUN: socket: ") + std::strerror(errno)};
    const sockaddr_in sa = to_sockaddr({local, 0});
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) < 0)
        return Error{"STUN: cannot bind to " + text::format_ipv4(local) + ": " + std::strerror(errno)};
    return fd;
}

core::Endpoint local_endpoint(int fd) {
    sockaddr_in sa{};
    socklen_t len = sizeof sa;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    return {ntohl(sa.sin_addr.s_addr), ntohs(sa.sin_port)};
}

Status new_id(stun::TransactionId& id) {
    // §6: 96 random bits, so that an off-path host cannot forge the answer.
    if (::getrandom(id.data(), id.size(), 0) != ssize_t(id.size()))
        return Error{std::string("STUN: getrandom: ") + std::strerror(errno)};
    return {};
}

void send_request(int fd, const Transaction& t) {
    const std::vector<std::uint8_t> req = stun::binding_request(t.id, t.change);
    const sockaddr_in sa = to_sockaddr(t.to);
    // A failed send (no route yet, ICMP error pending) is retried by the schedule.
    (void)::sendto(fd, req.data(), req.size(), 0, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
}

// Runs the transactions at once on `fd` until each has an answer or has given up. Datagrams
// that are no answer to one of them are ignored (§7.3: discarded).
Status run(int fd, std::vector<Transaction>& ts) {
    for (Transaction& t : ts)
        CONENAT_TRY(new_id(t.id));
    const Clock::time_point start = Clock::now();
    const int give_up_ms = ((1 << (kSends - 1)) - 1) * kRtoMs + kLastWaitRto * kRtoMs;
    int sent = 0; // sends so far of every pending transaction; the n-th at (2^n - 1) * RTO
    for (;;) {
        const int elapsed = int(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
        bool pending = false;
        for (const Transaction& t : ts)
            pending |= !t.answer;
        if (!pending || elapsed >= give_up_ms)
            return {};
        if (sent < kSends && elapsed >= ((1 << sent) - 1) * kRtoMs) {
            for (const Transaction& t : ts)
                if (!t.answer) send_request(fd, t);
            ++sent;
            continue;
        }
        const int next = sent < kSends ? ((1 << sent) - 1) * kRtoMs : give_up_ms;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, std::max(1, next - elapsed)) <= 0)
            continue;
        std::uint8_t buf[1500];
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n = ::recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
        if (n <= 0 || from.sin_family != AF_INET)
            continue; // ICMP errors reported on the socket, or nothing: keep waiting
        for (Transaction& t : ts) {
            if (t.answer) continue;
            if (auto r = stun::parse_binding_response({buf, std::size_t(n)}, t.id)) {
                t.answer = std::move(r);
                t.answered_from = {ntohl(from.sin_addr.s_addr), ntohs(from.sin_port)};
                break;
            }
        }
    }
}

std::optional<core::Endpoint> mapped(const Transaction& t) {
    return t.answer && t.answer->success ? t.answer->mapped : std::nullopt;
}

} // namespace

Result<StunServerName> parse_stun_server(const std::string& text) {
    StunServerName n{text, stun::kDefaultPort};
    if (const std::size_t colon = text.rfind(':'); colon != std::string::npos) {
        const auto port = text::parse_uint(std::string_view(text).substr(colon + 1), 1, 65535);
        if (!port)
            return Error{"--stun-server " + text + ": the port must be a number 1-65535 (HOST[:PORT])"};
        n.host = text.substr(0, colon);
        n.port = std::uint16_t(*port);
    }
    if (n.host.empty() || n.host.size() > 253 || n.host.find_first_of(" \t/[]:") != std::string::npos)
        return Error{"--stun-server " + text + ": expected HOST[:PORT] (an IPv4 address or a host name)"};
    return n;
}

Result<core::Endpoint> resolve_stun_server(const StunServerName& name) {
    if (const auto a = text::parse_ipv4(name.host))
        return core::Endpoint{*a, name.port};
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    if (const int rc = ::getaddrinfo(name.host.c_str(), nullptr, &hints, &res); rc != 0 || !res)
        return Error{"--stun-server " + name.host + ": cannot resolve it: " + ::gai_strerror(rc)};
    const auto* sa = reinterpret_cast<const sockaddr_in*>(res->ai_addr);
    const core::Endpoint e{ntohl(sa->sin_addr.s_addr), name.port};
    ::freeaddrinfo(res);
    return e;
}

Result<StunDiscovery> discover(core::Ipv4 local, core::Endpoint server) {
    StunDiscovery d;
    d.server = server;

    // §4.3 mapping tests, one socket: I to the primary address, then II to the other address
    // with the primary port and III to the other address and port.
    auto sock = open_socket(local);
    if (!sock) return Error{sock.error()};
    d.mapping.local = local_endpoint(sock->get());
    std::vector<Transaction> t1{{server}};
    CONENAT_TRY(run(sock->get(), t1));
    d.mapping.test1 = mapped(t1[0]);
    if (!d.mapping.test1)
        return d;
    d.other = t1[0].answer->other_address;
    // An OTHER-ADDRESS must differ from the primary in both address and port (§7.4), or the
    // tests cannot tell anything apart.
    d.rfc5780 = d.other && d.other->addr != server.addr && d.other->port != server.port;
    if (!d.rfc5780)
        return d;
    std::vector<Transaction> t23{{{d.other->addr, server.port}}, {*d.other}};
    CONENAT_TRY(run(sock->get(), t23));
    d.mapping.test2 = mapped(t23[0]);
    d.mapping.test3 = mapped(t23[1]);

    // §4.4 filtering tests from a socket that never sent to the other address: I to the
    // primary, then II asking for the answer from the other address and port, III from the
    // other port only. An answer counts only from where it was asked to come from.
    auto fresh = open_socket(local);
    if (!fresh) return Error{fresh.error()};
    std::vector<Transaction> f1{{server}};
    CONENAT_TRY(run(fresh->get(), f1));
    d.filtering.test1 = mapped(f1[0]).has_value();
    if (!d.filtering.test1)
        return d;
    std::vector<Transaction> f23{{server, stun::kChangeIp | stun::kChangePort}, {server, stun::kChangePort}};
    CONENAT_TRY(run(fresh->get(), f23));
    const core::Endpoint from2 = *d.other, from3{server.addr, d.other->port};
    for (int i = 0; i < 2; ++i) {
        const Transaction& t = f23[i];
        if (!t.answer) continue;
        const bool right_place = t.answered_from == (i == 0 ? from2 : from3);
        if (!t.answer->success || !right_place) {
            d.change_request_refused = true;
            continue;
        }
        (i == 0 ? d.filtering.test2 : d.filtering.test3) = true;
    }
    return d;
}

} // namespace conenat::ctl
