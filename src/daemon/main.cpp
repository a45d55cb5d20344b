// conenatd: options -> checks -> pid file -> (daemonize) -> engine -> signals: SIGHUP reloads,
// SIGTERM/SIGINT stop. Under systemd (NOTIFY_SOCKET) each step is told to it (notify.hpp).
#include "conenat/util/log.hpp"
#include "conenat/daemon/notify.hpp"
#include "conenat/daemon/control.hpp"
#include "conenat/daemon/options.hpp"
#include "conenat/daemon/process.hpp"
#include "conenat/daemon/reload.hpp"
#include "conenat/daemon/system.hpp"
#include "conenat/daemon/user_dnat.hpp"
#include "conenat/engine/clock.hpp"
#include "conenat/engine/engine.hpp"
#include "conenat/engine/mapping_log.hpp"
#include "conenat/engine/metrics.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <unistd.h>

using namespace conenat;
using namespace conenat::daemon;

namespace {

// Writes `text` to `path` through a temporary file in the same directory, renamed over it.
void write_stats(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << text;
        if (!out) return;
    }
    std::rename(tmp.c_str(), path.c_str()); // readers never see half a file
}

} // namespace

int main(int argc, char** argv) {
    ParseResult parsed = parse_options(argc, argv);
    if (!parsed.options) {
        if (!parsed.error.empty()) std::fprintf(stderr, "conenatd: %s\n", parsed.error.c_str());
        return parsed.exit_code;
    }
    Options o = std::move(*parsed.options);
    util::log_init(o.log_level, false);
    if (Status s = resolve_system(o); !s) {
        std::fprintf(stderr, "conenatd: %s\n", s.error().c_str());
        return 2;
    }
    const Notifier systemd = Notifier::from_environment();
    if (o.print_rules) {
        const std::string rules = engine::rules_text(o, o.print_queue_statements);
        std::fputs(rules.c_str(), stdout);
        return 0;
    }
    auto pid = PidFile::acquire(o.pid_file);
    if (!pid) {
        std::fprintf(stderr, "conenatd: %s\n", pid.error().c_str());
        return 1;
    }
    // Before anything touches the kernel: another instance's table and queues stay its own.
    auto instance = InstanceLock::acquire(o.table);
    if (!instance) {
        std::fprintf(stderr, "conenatd: %s\n", instance.error().c_str());
        return 1;
    }
    auto control = ControlServer::open(o.control_socket); // before detaching: its error reaches the caller
    if (!control) {
        std::fprintf(stderr, "conenatd: %s\n", control.error().c_str());
        return 1;
    }
    if (Status s = engine::configure_mapping_log(o.mapping_log); !s) {
        std::fprintf(stderr, "conenatd: %s\n", s.error().c_str());
        return 1;
    }
    if (!o.foreground) {
        if (Status s = daemonize(); !s) {
            std::fprintf(stderr, "conenatd: %s\n", s.error().c_str());
            return 1;
        }
        util::log_init(o.log_level, true);
    }
    instance->owned_by_this_process();
    if (Status s = pid->write_pid(); !s) LOG_WARN("%s", s.error().c_str());
    block_signals(); // before any thread starts: only this thread takes them
    auto engine = engine::make_engine(o);
    if (Status s = engine->start(); !s) {
        LOG_ERROR("cannot start: %s", s.error().c_str());
        engine->stop();
        notify_ready(1);
        return 1;
    }
    ReloadDesk reloads;
    (void)control->start({*engine, o, engine::now_ms(), reloads});
    notify_ready(0);
    auto user_dnat = UserDnatFollow::open();
    LOG_NOTICE("running (pid %d)", int(::getpid()));
    systemd.ready("running");
    // The loop wakes every second (statistics) and, under a systemd watchdog, in time for each
    // ping: sent only while the engine's threads go round their loops.
    using Clock = std::chrono::steady_clock;
    const auto ping_every = systemd.watchdog_interval();
    const int wake_ms = ping_every.count() ? int(std::clamp<long long>(ping_every.count() / 1000, 1, 1000)) : 1000;
    Clock::time_point next_ping = Clock::now();
    bool stuck_logged = false;
    for (;;) {
        const int sig = wait_signal(wake_ms);
        if (ping_every.count() && Clock::now() >= next_ping) {
            if (engine->alive()) {
                systemd.watchdog();
                next_ping = Clock::now() + ping_every;
                if (stuck_logged) LOG_NOTICE("the engine's threads run again: watchdog pings resume");
                stuck_logged = false;
            } else if (!stuck_logged) {
                LOG_ERROR("an engine thread is stuck: no watchdog ping to systemd");
                stuck_logged = true;
            }
        }
        if (sig == SIGHUP) {
            LOG_NOTICE("%s: reloading", reloads.asked() ? "conenatctl" : "SIGHUP");
            systemd.reloading();
            const auto r = reload(o, argc, argv, *engine);
            systemd.ready(r ? "running; " + r.value() : "running the previous configuration; " + r.error());
            // Reopened even when unchanged: logrotate moved the file away and sent SIGHUP.
            if (Status s = engine::configure_mapping_log(o.mapping_log); !s) LOG_ERROR("reload: %s", s.error().c_str());
            reloads.answer(r);
        } else if (sig == SIGUSR1 || sig == SIGUSR2) {
            LOG_NOTICE("signal %d ignored (SIGHUP reloads, SIGTERM stops)", sig);
        }
        if (user_dnat) user_dnat->poll(o, *engine);
        if (!o.stats_file.empty()) write_stats(o.stats_file, engine->stats());
        if (!o.metrics_file.empty()) write_stats(o.metrics_file, engine::prometheus_text(*engine));
        if (sig == SIGTERM || sig == SIGINT) {
            LOG_NOTICE("signal %d: stopping", sig);
            systemd.stopping();
            break;
        }
    }
    control->stop(); // before the engine it asks
    engine->stop();
    if (!o.stats_file.empty()) write_stats(o.stats_file, engine->stats());
    if (!o.metrics_file.empty()) write_stats(o.metrics_file, engine::prometheus_text(*engine));
    LOG_NOTICE("stopped");
    return 0;
}
