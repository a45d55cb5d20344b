// libFuzzer target: the STUN Binding response parser on arbitrary bytes. The transaction id is
// taken from the input itself so that the fuzzer reaches the attributes. Requires no crash, a
// mapped address in every success response, and that a request never parses as a response.
#include "conenat/util/stun.hpp"

#include <algorithm>
#include <cstdlib>

using namespace conenat;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    stun::TransactionId id{};
    if (size >= stun::kHeaderSize)
        std::copy(data + 8, data + 20, id.begin());
    const std::span<const std::uint8_t> bytes(data, size);
    if (const auto r = stun::parse_binding_response(bytes, id); r && r->success && !r->mapped)
        std::abort();
    const std::uint32_t change = size ? data[0] & (stun::kChangeIp | stun::kChangePort) : 0;
    if (stun::parse_binding_response(stun::binding_request(id, change), id))
        std::abort();
    return 0;
}
