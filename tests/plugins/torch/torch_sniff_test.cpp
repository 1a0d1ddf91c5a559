// Content sniffing of torch.save files (plugins/torch sniff_pt): every prefix of a legacy
// header, including the ones that stop inside torch's magic number (a fuzz finding: the check
// read 10 magic bytes from a 13-byte input), and the zip kinds.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "torch_forms.hpp"
#include "torch_import.hpp"

using milo::torch::PtKind;
using milo::torch::sniff_pt;

TEST_CASE("sniff_pt reads only the bytes it is given", "[torch][sniff]") {
    // protocol 2, LONG1 of 10 bytes: torch's magic number, then a little more
    std::vector<uint8_t> head = {0x80, 0x02, 0x8a, 0x0a};
    head.insert(head.end(), std::begin(milo::torch::kLegacyMagic),
                std::end(milo::torch::kLegacyMagic));
    head.push_back(0x2e);
    for (size_t n = 0; n < head.size(); ++n) {
        // a copy of exactly n bytes, so that ASan sees any read past them
        std::vector<uint8_t> part(head.begin(), head.begin() + n);
        const PtKind kind = sniff_pt(part.empty() ? nullptr : part.data(), n);
        INFO("prefix of " << n << " bytes");
        CHECK(kind == (n >= 14 ? PtKind::Legacy : PtKind::Other));
    }
    std::vector<uint8_t> wrong_length = head;
    wrong_length[3] = 9;  // LONG1 of 9 bytes: not torch's magic number
    CHECK(sniff_pt(wrong_length.data(), wrong_length.size()) == PtKind::Other);
}
