// What the conntrack engine keeps of its map elements: the release check's withdraw and
// reinstate, and what a replay and a mapping's end then see.
#include "engine/conntrack/programmed.hpp"
#include "tests/support/packet_builder.hpp"

#include <doctest/doctest.h>

using namespace conenat;
using conenat::core::Behaviour;
using conenat::core::Proto;
using conenat::test::ep;

TEST_SUITE("conntrack engine: programmed elements") {

TEST_CASE("a withdrawn mapping's elements leave the replay, come back once, and are not deleted twice") {
    engine::ProgrammedMappings p;
    const io::MappingElement a{Proto::Udp, ep("10.0.0.2:5000"), {}, ep("198.51.100.254:5000")};
    const io::MappingElement b{Proto::Udp, ep("10.0.0.3:5000"), {}, ep("198.51.100.254:5001")};
    const io::MappingElement a_flow{Proto::Udp, ep("10.0.0.2:5000"), ep("203.0.113.5:7"), ep("198.51.100.254:5000")};
    REQUIRE(p.add(a, Behaviour::EndpointIndependent));
    REQUIRE(p.add(a_flow, Behaviour::EndpointIndependent)); // a per-flow element of the same mapping
    REQUIRE(p.add(b, Behaviour::EndpointIndependent));
    CHECK(p.all().size() == 3);

    // Withdrawn: both of a's elements to delete, out of the replay; a second withdraw is a no-op.
    CHECK(p.withdraw(Proto::Udp, a.internal, a.external).size() == 2);
    CHECK(p.withdrawn() == 1);
    CHECK(p.withdrawn(a));
    CHECK_FALSE(p.withdrawn(b));
    CHECK(p.withdraw(Proto::Udp, a.internal, a.external).empty());
    CHECK(p.all().size() == 1);

    // Reinstated once: both elements to add again; then nothing more.
    CHECK(p.reinstate(Proto::Udp, a.internal, a.external).size() == 2);
    CHECK(p.reinstate(Proto::Udp, a.internal, a.external).empty());
    CHECK(p.withdrawn() == 0);
    CHECK(p.all().size() == 3);

    // A mapping that ends while withdrawn: nothing of it is left in the kernel to delete.
    CHECK(p.withdraw(Proto::Udp, b.internal, b.external).size() == 1);
    CHECK(p.take(b).empty());
    CHECK(p.withdrawn() == 0);
    CHECK(p.reinstate(Proto::Udp, b.internal, b.external).empty());
    // Control: one that ends in the maps gives its elements to delete.
    CHECK(p.take(a).size() == 2);
    CHECK(p.size() == 0);
}

} // TEST_SUITE
