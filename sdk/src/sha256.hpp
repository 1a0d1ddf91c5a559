// SHA-256 (FIPS 180-4), with the x86 SHA extensions when the CPU has them.
#ifndef MILO_SRC_SHA256_HPP
#define MILO_SRC_SHA256_HPP

#include <cstddef>
#include <cstdint>
#include <string>

namespace milo::core {

class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t size);
    void finish(uint8_t digest[32]);
    std::string hex();  // finish() and format as 64 lowercase hex digits

    // Forces the portable code path (tests compare both paths).
    static void force_portable(bool on);

private:
    void blocks(const uint8_t* p, size_t n);
    uint32_t state_[8];
    uint8_t buffer_[64];
    size_t buffered_ = 0;
    uint64_t total_ = 0;
};

std::string sha256_hex(const void* data, size_t size);

}  // namespace milo::core

#endif  // MILO_SRC_SHA256_HPP
