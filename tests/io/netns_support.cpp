#include "netns_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace iotest {

bool in_test_netns() {
    const char* v = std::getenv("CONENAT_IO_NETNS");
    return v && std::string(v) == "1" && geteuid() == 0;
}

std::string client_ns() {
    const char* v = std::getenv("CN_NS_CLIENT");
    return v ? v : "";
}

std::string server_ns() {
    const char* v = std::getenv("CN_NS_SERVER");
    return v ? v : "";
}

Fd& Fd::operator=(Fd&& o) noexcept {
    if (this != &o) {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = std::exchange(o.m_fd, -1);
    }
    return *this;
}

Fd::~Fd() {
    if (m_fd >= 0)
        ::close(m_fd);
}

Fd socket_in(const std::string& ns, int domain, int type, int protocol) {
    if (ns.empty())
        return Fd(::socket(domain, type | SOCK_CLOEXEC, protocol));
    int fd = -1;
    // setns(CLONE_NEWNET) switches only the calling thread: do it in a throwaway thread.
    std::thread t([&] {
        int nsfd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
        if (nsfd < 0)
            return;
        if (::setns(nsfd, CLONE_NEWNET) == 0)
            fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
        ::close(nsfd);
    });
    t.join();
    if (fd < 0)
        throw std::runtime_error("socket in netns " + ns + ": " + std::strerror(errno));
    return Fd(fd);
}

namespace {
sockaddr_in to_sockaddr(Endpoint e) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(e.addr);
    sa.sin_port = htons(e.port);
    return sa;
}
} // namespace

Fd udp_socket(const std::string& ns, Endpoint local) {
    Fd s = socket_in(ns, AF_INET, SOCK_DGRAM, 0);
    int one = 1;
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa = to_sockaddr(local);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
        throw std::runtime_error("bind " + ipv4_str(local.addr) + ":" + std::to_string(local.port) + ": " +
                                 std::strerror(errno));
    return s;
}

bool try_send_udp(const Fd& s, Endpoint to, const std::string& payload) {
    sockaddr_in sa = to_sockaddr(to);
    return ::sendto(s.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) >= 0;
}

void send_udp(const Fd& s, Endpoint to, const std::string& payload) {
    if (!try_send_udp(s, to, payload))
        throw std::runtime_error(std::string("sendto: ") + std::strerror(errno));
}

bool wait_readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0 && (p.revents & POLLIN);
}

std::optional<Datagram> recv_udp(const Fd& s, int timeout_ms) {
    if (!wait_readable(s.get(), timeout_ms))
        return std::nullopt;
    char buf[2048];
    sockaddr_in sa{};
    socklen_t len = sizeof sa;
    long n = ::recvfrom(s.get(), buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&sa), &len);
    if (n < 0)
        return std::nullopt;
    return Datagram{{ntohl(sa.sin_addr.s_addr), ntohs(sa.sin_port)}, std::string(buf, static_cast<std::size_t>(n))};
}

Fd icmp_socket(const std::string& ns) {
    return socket_in(ns, AF_INET, SOCK_RAW, IPPROTO_ICMP);
}

void send_echo_request(const Fd& raw, Ipv4 to, std::uint16_t id, std::uint16_t seq) {
    std::uint8_t pkt[16] = {8, 0, 0, 0};
    pkt[4] = static_cast<std::uint8_t>(id >> 8);
    pkt[5] = static_cast<std::uint8_t>(id);
    pkt[6] = static_cast<std::uint8_t>(seq >> 8);
    pkt[7] = static_cast<std::uint8_t>(seq);
    std::memcpy(pkt + 8, "conenatd", 8);
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < sizeof pkt; i += 2)
        sum += (pkt[i] << 8) | pkt[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    const std::uint16_t csum = static_cast<std::uint16_t>(~sum);
    pkt[2] = static_cast<std::uint8_t>(csum >> 8);
    pkt[3] = static_cast<std::uint8_t>(csum);
    sockaddr_in sa = to_sockaddr({to, 0});
    if (::sendto(raw.get(), pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
        throw std::runtime_error(std::string("sendto icmp: ") + std::strerror(errno));
}

std::optional<Echo> recv_echo(const Fd& raw, std::uint8_t type, int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (int i = 0; i < 1000; ++i) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0 || !wait_readable(raw.get(), static_cast<int>(left)))
            return std::nullopt;
        std::uint8_t buf[2048];
        long n = ::recv(raw.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n < 28)
            continue;
        const std::size_t ihl = (buf[0] & 0x0f) * 4u;
        if (static_cast<std::size_t>(n) < ihl + 8 || buf[ihl] != type)
            continue;
        Echo e;
        e.src = (Ipv4(buf[12]) << 24) | (Ipv4(buf[13]) << 16) | (Ipv4(buf[14]) << 8) | buf[15];
        e.dst = (Ipv4(buf[16]) << 24) | (Ipv4(buf[17]) << 16) | (Ipv4(buf[18]) << 8) | buf[19];
        e.type = buf[ihl];
        e.id = static_cast<std::uint16_t>((buf[ihl + 4] << 8) | buf[ihl + 5]);
        return e;
    }
    return std::nullopt;
}

int sh(const std::string& cmd, std::string* output) {
    std::FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p)
        return -1;
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        out.append(buf, n);
    int status = ::pclose(p);
    if (output)
        *output = std::move(out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string sh_out(const std::string& cmd) {
    std::string out;
    sh(cmd, &out);
    return out;
}

std::string ipv4_str(Ipv4 a) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
    return buf;
}

TableGuard::~TableGuard() {
    sh("nft delete table ip " + table);
}

} // namespace iotest
