// util::RateLimit: one line per interval, the rest counted and reported with the next line.
#include "conenat/util/rate_limit.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

using conenat::util::RateLimit;

TEST_SUITE("rate_limit") {
    TEST_CASE("the first call passes; repeats within the interval are counted, then reported") {
        RateLimit limit(1000);
        std::uint64_t suppressed = 99;
        CHECK(limit.allow(5000, suppressed));
        CHECK(suppressed == 0);
        CHECK_FALSE(limit.allow(5000, suppressed));
        CHECK_FALSE(limit.allow(5999, suppressed));
        CHECK_FALSE(limit.allow(5500, suppressed));
        CHECK(limit.allow(6000, suppressed));
        CHECK(suppressed == 3);
        // The interval runs from the last line that went out.
        CHECK_FALSE(limit.allow(6999, suppressed));
        CHECK(limit.allow(9000, suppressed));
        CHECK(suppressed == 1);
        CHECK(limit.allow(10000, suppressed));
        CHECK(suppressed == 0);
    }

    TEST_CASE("a negative or zero clock value is a time like any other") {
        RateLimit limit(10);
        std::uint64_t suppressed = 0;
        CHECK(limit.allow(-100, suppressed));
        CHECK_FALSE(limit.allow(-95, suppressed));
        CHECK(limit.allow(0, suppressed));
        CHECK(suppressed == 1);
    }

    TEST_CASE("threads racing at one instant: exactly one passes, the others are all counted") {
        RateLimit limit(1000);
        std::atomic<int> passed{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&] {
                for (int i = 0; i < 1000; ++i) {
                    std::uint64_t s = 0;
                    if (limit.allow(42, s))
                        ++passed;
                }
            });
        for (auto& t : threads) t.join();
        CHECK(passed == 1);
        std::uint64_t suppressed = 0;
        REQUIRE(limit.allow(1042, suppressed));
        CHECK(suppressed == 3999);
    }

    TEST_CASE("LOG_ERROR_LIMITED compiles as one statement and logs through the limit") {
        conenat::util::log_init(conenat::util::LogLevel::Error, false);
        for (int i = 0; i < 3; ++i)
            if (i >= 0)
                LOG_ERROR_LIMITED(3600, "rate_limit test line %d (expected once in this output)", i);
            else
                CHECK(false);
        conenat::util::log_init(conenat::util::LogLevel::Info, false);
    }
}
