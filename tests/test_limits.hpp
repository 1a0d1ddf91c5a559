// Runs test code in a child process whose address space may grow only by a fixed allowance,
// so that an allocation sized from hostile input fails there instead of succeeding quietly.
#ifndef MILO_TEST_LIMITS_HPP
#define MILO_TEST_LIMITS_HPP

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

// Defined in AddressSanitizer builds, whose shadow memory makes address-space limits useless.
#if defined(__SANITIZE_ADDRESS__)
#define MILO_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MILO_TEST_ASAN 1
#endif
#endif

// The process's current address-space size (VmSize), or -1.
inline long vm_size_kb() {
    FILE* f = std::fopen("/proc/self/status", "r");
    if (f == nullptr) return -1;
    char line[256];
    long kb = -1;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "VmSize: %ld kB", &kb) == 1) break;
    std::fclose(f);
    return kb;
}

// Forks; the child limits RLIMIT_AS to its current size + `extra_kb` and exits with what
// `body()` returns (100 when the limit cannot be set). Returns the child's exit status, or -1
// when it did not exit normally (a signal) or could not be started.
template <class Body>
int run_with_memory_allowance(long extra_kb, Body body) {
    const long vm = vm_size_kb();
    if (vm <= 0) return -1;
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        rlimit lim{};
        lim.rlim_cur = lim.rlim_max = rlim_t(vm + extra_kb) * 1024;
        if (setrlimit(RLIMIT_AS, &lim) != 0) _exit(100);
        _exit(body());
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

#endif
