// The registry behind milo_registry: loaded plugins and their registrations.
#ifndef MILO_SRC_REGISTRY_HPP
#define MILO_SRC_REGISTRY_HPP

#include <deque>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "milo/plugin.h"

namespace milo::core {

struct Plugin {
    std::string path;  // as given ("(built-in)" for the built-in formats)
    std::string real_path;
    std::string name;
    std::string version;
    void* handle = nullptr;  // dlopen handle; nullptr for built-ins
};

milo_status plugin_threw(milo_error* error, const char* what, const char* detail);

// Runs a plugin callback; a C++ exception that escaped it becomes MILO_ERR_PLUGIN (a plugin
// should catch its own, milo_plugin.hpp does; this is the second line of defence).
template <class F>
milo_status call_plugin(const char* what, milo_error* error, F&& body) {
    try {
        return body();
    } catch (const std::exception& e) {
        return plugin_threw(error, what, e.what());
    } catch (...) {
        return plugin_threw(error, what, "unknown exception");
    }
}

const milo_api* api_table();

}  // namespace milo::core

struct milo_registry {
    // Plugins are unloaded last, after every transporter and format is destroyed.
    std::vector<std::unique_ptr<milo::core::Plugin>> plugins;
    // copies of the plugins' descriptors; deques, so pointers handed out stay valid while
    // more plugins load
    std::deque<milo_transporter> transporters;
    std::deque<milo_format> formats;
    std::vector<size_t> transporter_plugin;  // index into plugins, per transporter
    std::vector<size_t> format_plugin;
};

#endif  // MILO_SRC_REGISTRY_HPP
