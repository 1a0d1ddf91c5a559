// Compiles the ABI pins (tests/abi/abi_pins.hpp: the x86_64 layout of every ABI struct and the
// order of the milo_api table, so that a reordered, removed, resized or retyped member fails to
// compile), then checks the library's run-time view of the same ABI.
#include <catch2/catch.hpp>

#include <milo/milo.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "abi_pins.hpp"

// ---------------------------------------------------------------------------------------------

TEST_CASE("library reports the ABI, format and library versions it was built with", "[abi]") {
    CHECK(milo_abi_version_get() == MILO_ABI_VERSION);
    CHECK(milo_format_version_get() == MILO_FORMAT_VERSION);
    REQUIRE(milo_version_get() != nullptr);
    CHECK(std::strcmp(milo_version_get(), MILO_VERSION_STRING) == 0);
}

TEST_CASE("milo_api_get returns a complete table for the current ABI only", "[abi]") {
    const milo_api* api = milo_api_get(MILO_ABI_VERSION);
    REQUIRE(api != nullptr);
    CHECK(api->struct_size == sizeof(milo_api));
    CHECK(api->abi_version == MILO_ABI_VERSION);
#define CHECK_API_MEMBER(member, offset) \
    INFO("milo_api." #member);          \
    CHECK(api->member != nullptr);
    MILO_API_MEMBERS(CHECK_API_MEMBER)
#undef CHECK_API_MEMBER

    // Static storage: the same table every time.
    CHECK(milo_api_get(MILO_ABI_VERSION) == api);
    CHECK(milo_api_get(MILO_ABI_VERSION + 1) == nullptr);
    CHECK(milo_api_get(4242) == nullptr);
    CHECK(milo_api_get(MILO_ABI_MIN_SUPPORTED - 1) == nullptr);
}

TEST_CASE("milo_api table entries behave like the functions they stand for", "[abi]") {
    const milo_api* api = milo_api_get(MILO_ABI_VERSION);
    REQUIRE(api != nullptr);
    CHECK(std::strcmp(api->status_name(MILO_ERR_ABI), milo_status_name(MILO_ERR_ABI)) == 0);
    milo_error error = MILO_ERROR_INIT;
    CHECK(api->error_set(&error, MILO_ERR_PLUGIN, "boom") == MILO_ERR_PLUGIN);
    CHECK(error.code == MILO_ERR_PLUGIN);
    CHECK(std::strcmp(error.message, "boom") == 0);
}
