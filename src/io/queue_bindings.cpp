// /proc/net/netfilter/nfnetlink_queue: "queue portid waiting copy_mode copy_range
// queue_dropped user_dropped id_sequence 1" per line (net/netfilter/nfnetlink_queue.c, seq_show).
#include "conenat/io/queue_bindings.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace conenat::io {

std::vector<QueueBinding> parse_queue_bindings(std::string_view text) {
    std::vector<QueueBinding> out;
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line) && out.size() < 65536) {
        std::istringstream f(line);
        std::uint64_t queue = 0, portid = 0, waiting = 0, mode = 0, range = 0, qdrop = 0, udrop = 0, seq = 0;
        if (!(f >> queue >> portid >> waiting >> mode >> range >> qdrop >> udrop >> seq) || queue > 0xffff)
            continue;
        out.push_back({std::uint16_t(queue), std::uint32_t(portid), std::uint32_t(waiting), qdrop, udrop, std::uint32_t(seq)});
    }
    return out;
}

Result<std::vector<QueueBinding>> read_queue_bindings() {
    const char* path = "/proc/net/netfilter/nfnetlink_queue";
    std::ifstream f(path);
    if (!f)
        return errno == ENOENT ? Result<std::vector<QueueBinding>>(std::vector<QueueBinding>{})
                               : Result<std::vector<QueueBinding>>(Error{std::string(path) + ": " + std::strerror(errno)});
    std::stringstream text;
    text << f.rdbuf();
    return parse_queue_bindings(text.str());
}

} // namespace conenat::io
