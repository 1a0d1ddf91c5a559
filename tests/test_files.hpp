// Whole-file read and write for the Catch2 test suites; a file that cannot be opened or
// written fails the test where it happens.
#ifndef MILO_TEST_FILES_HPP
#define MILO_TEST_FILES_HPP

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <string>

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    INFO(path);
    REQUIRE(in.good());
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    INFO(path);
    REQUIRE(out.good());
}

#endif  // MILO_TEST_FILES_HPP
