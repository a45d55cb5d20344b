// conenatctl's request words, as the client checks them before connecting and the daemon again.
#include "conenat/util/ctl_request.hpp"

#include <doctest/doctest.h>

using namespace conenat;

namespace {
Result<ctl::Request> parse(const char* line) { return ctl::parse_request(ctl::split_words(line)); }
} // namespace

TEST_SUITE("ctl request") {

TEST_CASE("commands, filters and --json; the line as sent parses back to the same request") {
    auto r = parse("mappings --proto udp --internal 10.0.0.2 --external 198.51.100.1:4000 --json");
    REQUIRE(r);
    CHECK(r->command == "mappings");
    CHECK(r->json);
    CHECK(*r->filter.proto == core::Proto::Udp);
    CHECK(r->filter.internal->port == 0);
    CHECK(r->filter.external->port == 4000);
    auto again = parse(r->line().c_str());
    REQUIRE(again);
    CHECK(again->line() == r->line());
    CHECK(parse("status"));
    CHECK(parse("stats --prometheus"));
    CHECK(parse("  reload  "));
}

TEST_CASE("bad requests are refused, naming what is wrong") {
    struct Bad {
        const char* line;
        const char* names;
    };
    for (const Bad& b : {Bad{"", "no command"}, Bad{"mapings", "unknown command 'mapings'"},
                         Bad{"mappings --internal 10.0.0.300", "--internal"}, Bad{"mappings --internal", "needs a value"},
                         Bad{"mappings --external 1.2.3.4:0", "--external"}, Bad{"mappings --external 1.2.3.4:99999", "--external"},
                         Bad{"mappings --external 1.2.3.4:80x", "--external"}, Bad{"sessions --proto sctp", "--proto"},
                         Bad{"status --proto udp", "status does not take --proto"}, Bad{"mappings --proto udp --proto tcp", "twice"},
                         Bad{"stats --json --prometheus", "choose one"}, Bad{"mappings extra", "unexpected word 'extra'"},
                         Bad{"status --verbose", "does not take --verbose"}, Bad{"status \x01", "not a word"}}) {
        CAPTURE(b.line);
        auto r = parse(b.line);
        REQUIRE_FALSE(r);
        CHECK(r.error().find(b.names) != std::string::npos);
    }
}

} // TEST_SUITE
