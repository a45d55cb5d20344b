// Helpers for the kernel adapter tests: they run as root inside the router namespace that
// tests/e2e/io_adapters.sh builds (see its diagram), and reach the client and server
// namespaces by opening sockets there.
#pragma once

#include "conenat/core/types.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace iotest {

using conenat::core::Endpoint;
using conenat::core::Ipv4;

// The fixed addresses of the topology.
constexpr Ipv4 kClient = conenat::core::make_ipv4(10, 0, 0, 2);
constexpr Ipv4 kClient2 = conenat::core::make_ipv4(10, 0, 0, 3);
constexpr Ipv4 kRouterLan = conenat::core::make_ipv4(10, 0, 0, 1);
constexpr Ipv4 kServer = conenat::core::make_ipv4(192, 0, 2, 2);
constexpr Ipv4 kServer2 = conenat::core::make_ipv4(198, 51, 100, 2);
constexpr Ipv4 kExternal = conenat::core::make_ipv4(203, 0, 113, 1);
constexpr Ipv4 kLoopback = conenat::core::make_ipv4(127, 0, 0, 1);
inline const char* kWan = "wan0";

// True inside the script's private namespaces (CONENAT_IO_NETNS=1); tests skip otherwise,
// so that a stray run never touches the host's tables.
bool in_test_netns();
std::string client_ns();
std::string server_ns();

// A file descriptor owner.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : m_fd(fd) {}
    Fd(Fd&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
    Fd& operator=(Fd&& o) noexcept;
    ~Fd();
    int get() const { return m_fd; }
    bool valid() const { return m_fd >= 0; }

private:
    int m_fd = -1;
};

// socket() inside namespace `ns` (empty: this one); the socket stays in it.
Fd socket_in(const std::string& ns, int domain, int type, int protocol);
// A UDP socket in `ns` bound to `local`.
Fd udp_socket(const std::string& ns, Endpoint local);
void send_udp(const Fd& s, Endpoint to, const std::string& payload); // throws on failure
bool try_send_udp(const Fd& s, Endpoint to, const std::string& payload);
struct Datagram {
    Endpoint from;
    std::string payload;
};
std::optional<Datagram> recv_udp(const Fd& s, int timeout_ms);
bool wait_readable(int fd, int timeout_ms);

// A raw ICMP socket in `ns`: sends echo requests, sees every ICMP packet that arrives.
Fd icmp_socket(const std::string& ns);
// ICMP echo over a raw socket: request with `id`; the received echo (request or reply).
void send_echo_request(const Fd& raw, Ipv4 to, std::uint16_t id, std::uint16_t seq);
struct Echo {
    Ipv4 src = 0, dst = 0;
    std::uint8_t type = 0;
    std::uint16_t id = 0;
};
std::optional<Echo> recv_echo(const Fd& raw, std::uint8_t type, int timeout_ms);

// Runs a shell command; returns its exit status and output (stdout + stderr).
int sh(const std::string& cmd, std::string* output = nullptr);
std::string sh_out(const std::string& cmd);

std::string ipv4_str(Ipv4 a);

// Deletes an nft table at scope exit.
struct TableGuard {
    std::string table;
    ~TableGuard();
};

} // namespace iotest

#define IOTEST_REQUIRE_NETNS()                                                             \
    do {                                                                                   \
        if (!iotest::in_test_netns()) {                                                    \
            MESSAGE("skipped: run through tests/e2e/io_adapters.sh (root, private netns)"); \
            return;                                                                        \
        }                                                                                  \
    } while (0)
