// Plain driver (no libFuzzer, any compiler) for one fuzz target: feeds every file of the given
// directories to LLVMFuzzerTestOneInput, in name order. Missing directories are skipped. A
// failing input aborts the run; its file name is printed first, so the failure names it.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
// Present only under a sanitizer: its reports end the process without a signal.
extern "C" void __sanitizer_set_death_callback(void (*callback)()) __attribute__((weak));

namespace {

char g_current[4096] = "";

void name_input() {
    // Async-signal-safe: write(2) only.
    const char head[] = "regress: FAILED on input ";
    (void)!::write(2, head, sizeof head - 1);
    (void)!::write(2, g_current, std::strlen(g_current));
    (void)!::write(2, "\n", 1);
}

void on_fatal(int sig) {
    name_input();
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

} // namespace

int main(int argc, char** argv) {
    for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL})
        std::signal(sig, on_fatal);
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(name_input);
    std::vector<std::filesystem::path> files;
    for (int i = 1; i < argc; ++i) {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(argv[i], ec))
            if (e.is_regular_file()) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::snprintf(g_current, sizeof g_current, "%s", f.c_str());
        std::ifstream in(f, std::ios::binary);
        const std::vector<std::uint8_t> data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        LLVMFuzzerTestOneInput(data.data(), data.size());
    }
    std::printf("%s: %zu inputs passed\n", argc > 0 ? argv[0] : "regress", files.size());
    return 0;
}
