// A small Result<T> (g++ 12 has no std::expected): a value or an error message. Used by the
// I/O adapters and the daemon; exceptions are kept to start-up and configuration.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace conenat {

struct Error {
    std::string message;
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : m_v(std::move(value)) {}
    Result(Error e) : m_v(std::move(e)) {}
    bool ok() const { return m_v.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(m_v); }
    T&& value() && { return std::get<0>(std::move(m_v)); }
    const T& value() const& { return std::get<0>(m_v); }
    T* operator->() { return &value(); }
    T& operator*() & { return value(); }
    const std::string& error() const { return std::get<1>(m_v).message; }

private:
    std::variant<T, Error> m_v;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error e) : m_error(std::move(e.message)), m_failed(true) {}
    bool ok() const { return !m_failed; }
    explicit operator bool() const { return ok(); }
    const std::string& error() const { return m_error; }

private:
    std::string m_error;
    bool m_failed = false;
};

using Status = Result<void>;

// Returns early from the enclosing function with the error of `expr` if it failed.
#define CONENAT_TRY(expr)                                         \
    do {                                                          \
        if (auto conenat_try_ = (expr); !conenat_try_.ok())       \
            return ::conenat::Error{conenat_try_.error()};        \
    } while (0)

} // namespace conenat
