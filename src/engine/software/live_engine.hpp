// The part of a software engine (queue, tun) that changes while it runs: its configuration and
// shard plan, its workers and their threads, its installed rule set, and the router it follows
// (RouterWatch). The changes — reconfigure (SIGHUP), the WAN's addresses, the table lost — take
// turns under one mutex; a new plan reaches the workers while their threads are paused (the
// kernel holds their packets meanwhile: NFQUEUE's backlog, the TUN device's queue).
// It is the Engine of both but for start and stop (each engine's own set-up and tear-down).
// `Derived` gives io::nft::RuleSet rules_for(const EngineConfig&, const ShardPlan&) (its table)
// and void wan_changed() (after new WAN addresses); Worker is a TranslatingWorker with
// reconfigure(const core::NatConfig&, const std::vector<core::Prefix>& internal, core::TimeMs)
// and its engine's counters as Worker::Stat.
#pragma once

#include "conenat/engine/clock.hpp"
#include "conenat/engine/config.hpp"
#include "conenat/engine/engine.hpp"
#include "conenat/io/nftables.hpp"
#include "engine/common/mapping_log.hpp"
#include "engine/common/installed_rules.hpp"
#include "engine/common/router_follow.hpp"
#include "engine/common/router_watch.hpp"
#include "engine/common/worker_threads.hpp"
#include "engine/software/live_config.hpp"

#include "engine/software/shard_plan.hpp"
#include "engine/software/view_slot.hpp"
#include "engine/software/worker_stats.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace conenat::engine {

// How long conenatctl waits for a worker's copy (an idle worker looks every kPollMs).
constexpr std::chrono::milliseconds kViewWait{3000};

template <typename Derived, typename Worker>
class LiveEngine : public Engine {
public:
    Status reconfigure(const EngineConfig& given) final {
        std::lock_guard lock(m_mutex);
        auto next = live_plan(given, m_config.nat.pool.external_addrs, m_plan.workers);
        if (!next)
            return Error{next.error()};
        return apply(std::move(next->config), std::move(next->plan));
    }
    // Every worker's thread went round its loop lately (not asked while paused: the caller of
    // reconfigure is the daemon's main thread, which also asks this).
    bool alive() const final {
        const core::TimeMs now = now_ms();
        for (const auto& w : m_workers)
            if (!w->alive(now))
                return false;
        return true;
    }
    // Every worker's counters, then what happened to the engine while it ran.
    std::string stats() final {
        return worker_stats_text(m_workers, stat_names(typename Worker::Stat{})) + "rules_reinstalled " +
               std::to_string(m_reinstalled.load(std::memory_order_relaxed)) + "\n" + MappingLog::instance().stats();
    }
    // conenatctl: every worker's table, each copied by its own thread between two of its batches
    // (here, while the threads are paused), merged; the running config and the counts of all.
    Result<TableView> view(const ViewRequest& request) final {
        std::lock_guard lock(m_mutex);
        std::vector<TableView> parts(m_workers.size());
        std::string late;
        if (!m_threads.running()) {
            for (std::size_t k = 0; k < m_workers.size(); ++k)
                copy_view(m_workers[k]->table(), request, now_ms(), parts[k]);
        } else {
            for (std::size_t k = 0; k < m_workers.size(); ++k)
                m_workers[k]->view_slot().post(request, parts[k]);
            const auto deadline = std::chrono::steady_clock::now() + kViewWait;
            for (std::size_t k = 0; k < m_workers.size(); ++k)
                if (!m_workers[k]->view_slot().wait(deadline))
                    late += (late.empty() ? "" : ", ") + std::to_string(k);
        }
        if (!late.empty())
            return Error{"worker " + late + " did not answer within " + std::to_string(kViewWait.count()) + " ms"};
        TableView all;
        all.config = m_config.nat;
        for (TableView& p : parts) {
            all.tables += p.tables;
            all.mapping_count += p.mapping_count;
            all.session_count += p.session_count;
            all.truncated |= p.truncated;
            all.mappings.insert(all.mappings.end(), p.mappings.begin(), p.mappings.end());
            all.sessions.insert(all.sessions.end(), p.sessions.begin(), p.sessions.end());
        }
        if (all.mappings.size() > request.limit || all.sessions.size() > request.limit) {
            all.truncated = true;
            all.mappings.resize(std::min(all.mappings.size(), request.limit));
            all.sessions.resize(std::min(all.sessions.size(), request.limit));
        }
        return all;
    }

protected:
    explicit LiveEngine(const EngineConfig& config)
        : m_config(config), m_plan(plan_shards(config.nat, config.internal, config.queues, &m_plan_error)) {}

    // Installs the engine's table (at start), remembered: a change that keeps it leaves it alone.
    Status install_rules() {
        io::nft::RuleSet rules = derived().rules_for(m_config, m_plan);
        m_rules_text = io::Nftables::render(rules);
        return m_rules->install(std::move(rules));
    }
    // Starts the workers' threads, then follows the router.
    Status run() {
        CONENAT_TRY(m_threads.start(m_workers));
        return follow_router(m_watch, m_config, *m_rules,
                             {[this](std::vector<core::Ipv4> a) { wan_addresses(std::move(a)); },
                              [this](const std::string& why) { table_lost(why); }});
    }
    // Stops following the router, then the threads (the rule set is the engine's to remove).
    void halt() {
        if (m_watch) {
            m_watch->stop();
            m_watch.reset();
        }
        m_threads.stop();
    }

    EngineConfig m_config;
    std::string m_plan_error; // before m_plan: the plan fills it
    ShardPlan m_plan;         // the workers' Steering reads it in place
    std::optional<InstalledRules> m_rules; // the nftables socket and our table
    std::vector<std::unique_ptr<Worker>> m_workers;
    WorkerThreads m_threads;

private:
    Derived& derived() { return static_cast<Derived&>(*this); }

    // Under m_mutex: `next` and its plan, applied with the workers paused. The table is replaced
    // in one batch, or nothing changes: on an error the old configuration runs on. Packets the
    // kernel had queued through the old table's hooks go with it.
    Status apply(EngineConfig next, ShardPlan plan) {
        std::optional<io::nft::RuleSet> rules;
        std::string text;
        if (m_config.rules_auto && m_rules && m_rules->installed()) {
            rules = derived().rules_for(next, plan);
            text = io::Nftables::render(*rules);
        }
        const bool running = m_threads.running();
        m_threads.stop();
        Status applied = [&]() -> Status {
            if (rules && text != m_rules_text) {
                if (Status s = m_rules->install(std::move(*rules)); !s)
                    return Error{"nftables: " + s.error() + " (the old configuration runs on)"};
                m_rules_text = std::move(text);
            }
            m_plan = std::move(plan);
            const core::TimeMs now = now_ms();
            for (std::size_t k = 0; k < m_workers.size(); ++k)
                m_workers[k]->reconfigure(m_plan.configs[k], next.internal, now);
            m_config = std::move(next);
            return {};
        }();
        if (running)
            CONENAT_TRY(m_threads.start(m_workers));
        return applied;
    }

    // RouterWatch's handlers (its thread).
    void wan_addresses(std::vector<core::Ipv4> addrs) {
        std::lock_guard lock(m_mutex);
        if (addrs == m_config.nat.pool.external_addrs)
            return;
        log_wan_change(m_config.external_if, m_config.nat.pool.external_addrs, addrs);
        auto next = live_plan(m_config, addrs, m_plan.workers);
        Status s = next ? apply(std::move(next->config), std::move(next->plan)) : Status{Error{next.error()}};
        if (!s)
            log_wan_error(m_config.external_if, s.error());
        derived().wan_changed();
    }
    void table_lost(const std::string& why) {
        std::lock_guard lock(m_mutex);
        if (m_config.rules_auto && m_rules)
            reinstall_table(*m_rules, m_config.table, why, m_reinstalled);
    }

    std::mutex m_mutex; // reconfigure (the daemon's thread) and the router's events take turns
    std::optional<RouterWatch> m_watch;
    std::atomic<std::uint64_t> m_reinstalled{0};
    std::string m_rules_text; // what is installed
};

} // namespace conenat::engine
