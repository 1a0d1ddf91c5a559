// The archives make_archives.py writes for the decompression and zip tests, and its manifest.
#ifndef MILO_TEST_ARCHIVE_CASES_HPP
#define MILO_TEST_ARCHIVE_CASES_HPP

#include <string>

#include <nlohmann/json.hpp>

#include "../test_files.hpp"

inline std::string load(const std::string& name) {
    return read_file(std::string(MILO_ARCHIVES_DIR) + "/" + name);
}

inline const nlohmann::json& manifest() {
    static const nlohmann::json m = nlohmann::json::parse(load("manifest.json"));
    return m;
}

#endif
