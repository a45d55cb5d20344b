// The systemd notify protocol (sd_notify(3)), written here: OpenWrt has no libsystemd. Only a
// daemon started by systemd (NOTIFY_SOCKET set) sends anything; elsewhere every call is a no-op.
#pragma once

#include "conenat/io/fd.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace conenat::daemon {

class Notifier {
public:
    // Reads NOTIFY_SOCKET (a path, or "@name" for an abstract socket), WATCHDOG_USEC and
    // WATCHDOG_PID, and removes them from the environment (no child inherits them). A bad
    // NOTIFY_SOCKET is logged once and leaves the notifier inactive.
    static Notifier from_environment();

    bool active() const { return bool(m_fd); }
    // READY=1 (the engine runs; after a reload, done) with STATUS=<status>.
    void ready(std::string_view status) const;
    // RELOADING=1 with MONOTONIC_USEC=<now> (systemd >= 253 matches it to its reload).
    void reloading() const;
    void stopping() const;
    void watchdog() const;
    // How often watchdog() is due: half of WATCHDOG_USEC; zero when systemd wants no pings.
    std::chrono::microseconds watchdog_interval() const { return m_watchdog / 2; }

private:
    // One datagram, "KEY=value\n" lines; a failure is logged (rate-limited), never fatal.
    void send(const std::string& message) const;

    io::UniqueFd m_fd;
    std::string m_address; // sun_path bytes, a leading '\0' for an abstract name
    std::chrono::microseconds m_watchdog{0};
};

} // namespace conenat::daemon
