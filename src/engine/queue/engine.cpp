#include "engine.hpp"

#include "conenat/util/log.hpp"
#include "engine/queue/rules.hpp"
#include "conenat/engine/clock.hpp"
#include "worker.hpp"

namespace conenat::engine {

std::string queue_rules_text(const EngineConfig& o, io::nft::Queueing q) {
    std::string error;
    const ShardPlan plan = plan_shards(o.nat, o.internal, o.queues, &error);
    if (!error.empty())
        return "# cannot shard: " + error + "\n";
    return io::Nftables::render(queue_rules(o, plan, q));
}

QueueEngine::QueueEngine(const EngineConfig& config) : LiveEngine(config) {}

QueueEngine::~QueueEngine() { stop(); }

Status QueueEngine::start() {
    if (!m_plan_error.empty())
        return Error{"--" + m_plan_error};
    if (std::uint32_t(m_config.queue_out) + 2 * m_plan.workers > 0x10000)
        return Error{"--queue-out: queues " + std::to_string(m_config.queue_out) + ".. run past 65535"};
    // Bind the queues first: once the rules are in, every packet finds its listener.
    for (unsigned k = 0; k < m_plan.workers; ++k) {
        WorkerSettings w;
        w.index = k;
        w.main_queue = main_queue(m_config, k);
        w.hairpin_queue = hairpin_queue(m_config, k);
        w.queue_maxlen = m_config.queue_maxlen;
        w.mark = m_config.mark;
        w.fail_open = m_config.fail_open;
        m_workers.push_back(std::make_unique<QueueWorker>(w, m_plan, random_seed()));
        CONENAT_TRY(m_workers.back()->open());
    }
    auto rules = InstalledRules::open();
    if (!rules) return Error{rules.error()};
    m_rules.emplace(std::move(rules.value()));
    if (m_config.rules_auto) {
        m_queueing = m_rules->queueing();
        CONENAT_TRY(install_rules());
        LOG_INFO("installed table ip %s (queue %s, %u worker%s, queues %u..%u)", m_config.table.c_str(),
                 m_queueing == io::nft::Queueing::Native ? "native" : "xt NFQUEUE", m_plan.workers, m_plan.workers == 1 ? "" : "s",
                 unsigned(m_config.queue_out), unsigned(m_config.queue_out + 2 * m_plan.workers - 1));
    }
    return run();
}

io::nft::RuleSet QueueEngine::rules_for(const EngineConfig& config, const ShardPlan& plan) const {
    return queue_rules(config, plan, m_queueing);
}

void QueueEngine::stop() {
    halt();
    // The rules go first, so that nothing is queued to queues about to go away.
    if (m_rules) m_rules->remove();
    for (auto& w : m_workers)
        w->close(); // held packets dropped, queues unbound
}

} // namespace conenat::engine
