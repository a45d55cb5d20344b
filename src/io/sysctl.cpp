#include "conenat/io/sysctl.hpp"

#include "conenat/io/fd.hpp"
#include "netlink.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace conenat::io {

Result<std::string> read_sysctl(const std::string& path) {
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        return detail::sys_error("read " + path);
    std::string value;
    char buf[512];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int err = errno;
            return detail::sys_error("read " + path, err);
        }
        if (n == 0)
            break;
        value.append(buf, static_cast<std::size_t>(n));
    }
    while (!value.empty() && value.back() == '\n')
        value.pop_back();
    return value;
}

Status write_sysctl(const std::string& path, const std::string& value) {
    const std::string what = "write " + path + " = " + value;
    const UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd)
        return detail::sys_error(what);
    // A sysctl takes the whole value in one write.
    const std::string text = value + "\n";
    ssize_t n;
    do
        n = ::write(fd.get(), text.data(), text.size());
    while (n < 0 && errno == EINTR);
    const int err = errno;
    if (n < 0)
        return detail::sys_error(what, err);
    if (static_cast<std::size_t>(n) != text.size())
        return Error{what + ": short write"};
    return {};
}

} // namespace conenat::io
