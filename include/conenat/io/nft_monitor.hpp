// nf_tables change notifications (netlink group NFNLGRP_NFTABLES, what `nft monitor` shows):
// who deleted or changed which table, without polling. The router's watch tells its engine
// when another process deleted or flushed conenatd's table.
#pragma once

#include "conenat/util/result.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace conenat::io {

// NFPROTO_IPV4: the family of `table ip NAME`.
constexpr std::uint8_t kNftFamilyIp = 2;

struct NftEvent {
    enum class Object : std::uint8_t { Table, Chain, Rule, Set, SetElement, StatefulObject, Flowtable, Generation };
    Object object = Object::Table;
    bool deleted = false;      // NFT_MSG_DEL* (and DESTROY*): the object went
    std::uint8_t family = 0;   // NFPROTO_*
    std::string table;         // the table the object belongs to (empty for a generation)
    std::uint32_t portid = 0;  // netlink port id of the socket that made the change (0: the kernel)
    // A generation (the end of one committed transaction) names the committing process.
    std::uint32_t generation = 0, proc_pid = 0;
    std::string proc_name;
};

class NftMonitor {
public:
    // Subscribed from here on, non-blocking. When `ignore_portid` is not 0 the changes made by
    // that socket (conenatd's own, io::Nftables::portid()) are dropped by a socket filter in
    // the kernel: a busy engine's own element updates never fill this socket's buffer.
    static Result<NftMonitor> open(std::uint32_t ignore_portid = 0);
    NftMonitor(NftMonitor&&) noexcept;
    NftMonitor& operator=(NftMonitor&&) noexcept;
    ~NftMonitor();

    int fd() const;
    enum class Read { Drained, Lost }; // Lost: the socket overran, notifications are missing
    // Delivers every notification ready now (without blocking) to `sink`.
    Result<Read> read(const std::function<void(const NftEvent&)>& sink);

private:
    struct Impl;
    explicit NftMonitor(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace conenat::io
