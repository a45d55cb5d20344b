#include "conenat/daemon/user_dnat.hpp"

#include "conenat/util/log.hpp"
#include "conenat/util/rate_limit.hpp"

#include <utility>

namespace conenat::daemon {

namespace {

std::string ranges_text(const std::vector<core::PortRange>& ranges) {
    std::string s;
    for (const core::PortRange& r : ranges)
        s += (s.empty() ? "" : ",") + std::to_string(r.first) + (r.last != r.first ? "-" + std::to_string(r.last) : "");
    return s;
}

bool same(const io::DnatPorts& a, const io::DnatPorts& b) {
    return core::PortSet::from_ranges(a.ports).ranges() == core::PortSet::from_ranges(b.ports).ranges() &&
           a.unknown == b.unknown;
}

void log_unknown(const io::DnatPorts& scan) {
    for (const std::string& u : scan.unknown)
        LOG_WARN("a DNAT rule in %s: its ports stay in the pool", u.c_str());
}

} // namespace

Status apply_user_dnat(Options& o, const io::DnatPorts& scan) {
    const core::PortSet taken = core::PortSet::from_ranges(scan.ports);
    core::PortSet rest = o.configured_ports.without(taken.ranges());
    if (rest.empty() || o.nat.pool.block_size > rest.size())
        return Error{"--ports: the ruleset's own DNAT rules take (nearly) every port of the pool (" +
                     ranges_text(taken.ranges()) + ")"};
    o.nat.pool.ports = std::move(rest);
    return {};
}

void log_user_dnat(const Options& o, const io::DnatPorts& scan) {
    const core::PortSet taken = core::PortSet::from_ranges(scan.ports);
    if (o.nat.pool.ports.size() != o.configured_ports.size())
        LOG_NOTICE("the ruleset's own DNAT rules take port%s %s: kept out of the pool", taken.size() == 1 ? "" : "s",
                   ranges_text(taken.ranges()).c_str());
    for (const core::Forward& f : o.nat.forwards)
        if (taken.contains(f.external.port))
            LOG_WARN("--forward: external port %u is also matched by a DNAT rule of the ruleset: only one of them gets "
                     "its inbound traffic",
                     unsigned(f.external.port));
}

Status reserve_user_dnat(Options& o) {
    o.configured_ports = o.nat.pool.ports;
    auto scan = io::dnat_ports(o.table);
    if (!scan) {
        LOG_WARN("the ruleset's DNAT rules could not be read (%s): their ports stay in the pool", scan.error().c_str());
        return {};
    }
    log_unknown(*scan);
    CONENAT_TRY(apply_user_dnat(o, *scan));
    log_user_dnat(o, *scan);
    return {};
}

std::optional<UserDnatFollow> UserDnatFollow::open() {
    auto monitor = io::NftMonitor::open();
    if (!monitor) {
        LOG_WARN("the ruleset's DNAT rules are not followed (%s): they are read again on reload", monitor.error().c_str());
        return std::nullopt;
    }
    return UserDnatFollow(std::move(monitor.value()));
}

void UserDnatFollow::poll(Options& o, engine::Engine& engine) {
    const bool first = std::exchange(m_first, false); // the start logged what it read
    bool changed = first;
    // Bounded: what a second of notifications holds, then one scan for all of them.
    auto read = m_monitor.read([&](const io::NftEvent& e) {
        using Object = io::NftEvent::Object;
        if (e.object == Object::Generation || (e.family == io::kNftFamilyIp && e.table == o.table)) return;
        changed = true;
    });
    if (read && read.value() == io::NftMonitor::Read::Lost) changed = true;
    if (!read || !changed) return;
    auto scan = io::dnat_ports(o.table);
    if (!scan) {
        LOG_WARN_LIMITED(60, "the ruleset's DNAT rules could not be read again (%s)", scan.error().c_str());
        return;
    }
    if (same(*scan, m_last)) return;
    if (!first && scan->unknown != m_last.unknown) log_unknown(*scan);
    Options next = o;
    if (Status s = apply_user_dnat(next, *scan); !s) {
        LOG_ERROR("the ruleset's DNAT rules changed, the pool stays: %s", s.error().c_str());
        return;
    }
    m_last = std::move(*scan);
    if (next.nat.pool.ports.ranges() == o.nat.pool.ports.ranges()) return;
    if (Status s = engine.reconfigure(next); !s) {
        LOG_ERROR("the ruleset's DNAT rules changed, the pool stays: %s", s.error().c_str());
        return;
    }
    o = std::move(next);
    log_user_dnat(o, m_last);
    LOG_NOTICE("the ruleset's DNAT rules changed: the pool is now %s", ranges_text(o.nat.pool.ports.ranges()).c_str());
}

} // namespace conenat::daemon
