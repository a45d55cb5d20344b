#include "conenat/daemon/notify.hpp"

#include "conenat/util/log.hpp"
#include "conenat/util/rate_limit.hpp"
#include "conenat/util/text.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace conenat::daemon {

namespace {

sockaddr_un address_of(const std::string& name, socklen_t& len) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    // An abstract name is exactly its bytes; a path ends at its NUL (unix(7)).
    len = socklen_t(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '\0' ? 0 : 1));
    return addr;
}

std::string env_taken(const char* name) {
    const char* v = std::getenv(name);
    std::string s = v ? v : "";
    ::unsetenv(name);
    return s;
}

} // namespace

Notifier Notifier::from_environment() {
    Notifier n;
    std::string socket = env_taken("NOTIFY_SOCKET");
    const std::string usec = env_taken("WATCHDOG_USEC"), pid = env_taken("WATCHDOG_PID");
    if (socket.empty()) return n;
    // sd_notify(3): "@" starts an abstract name; otherwise an absolute path.
    if (socket[0] == '@') socket[0] = '\0';
    else if (socket[0] != '/') {
        LOG_ERROR("NOTIFY_SOCKET '%s': neither an absolute path nor an abstract @name: not notifying", socket.c_str());
        return n;
    }
    if (socket.size() < 2 || socket.size() > sizeof(sockaddr_un::sun_path) - 1) {
        LOG_ERROR("NOTIFY_SOCKET: a name of %zu bytes is not a unix socket address: not notifying", socket.size());
        return n;
    }
    n.m_fd.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!n.m_fd) {
        LOG_ERROR("NOTIFY_SOCKET: socket: %s: not notifying", std::strerror(errno));
        return n;
    }
    n.m_address = std::move(socket);
    // WATCHDOG_PID names the process the pings are wanted from (another one: none from us).
    const auto watchdog = text::parse_uint(usec, 1, 3600ULL * 24 * 1'000'000);
    const auto for_pid = text::parse_uint(pid, 1, 1ULL << 31);
    if (watchdog && (pid.empty() || (for_pid && *for_pid == std::uint64_t(::getpid()))))
        n.m_watchdog = std::chrono::microseconds(*watchdog);
    else if (!usec.empty() && !watchdog)
        LOG_ERROR("WATCHDOG_USEC '%s': not a number of microseconds: no watchdog pings", usec.c_str());
    return n;
}

void Notifier::send(const std::string& message) const {
    if (!m_fd) return;
    socklen_t len = 0;
    const sockaddr_un addr = address_of(m_address, len);
    if (::sendto(m_fd.get(), message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr),
                 len) < 0)
        LOG_WARN_LIMITED(60, "NOTIFY_SOCKET: cannot send to systemd: %s", std::strerror(errno));
}

void Notifier::ready(std::string_view status) const {
    send("READY=1\nSTATUS=" + std::string(status) + "\n");
}

void Notifier::reloading() const {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    const unsigned long long usec = (unsigned long long)ts.tv_sec * 1'000'000ULL + (unsigned long long)ts.tv_nsec / 1000;
    send("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" + std::to_string(usec) + "\n");
}

void Notifier::stopping() const { send("STOPPING=1\nSTATUS=stopping: removing the rules\n"); }

void Notifier::watchdog() const { send("WATCHDOG=1\n"); }

} // namespace conenat::daemon
