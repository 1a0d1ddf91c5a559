// Plugin loading (dlopen, ABI negotiation, all-or-nothing registration) and lookups.
#include "registry.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

#include "milo/milo_codec.hpp"
#include "status.hpp"

extern "C" {
// Built-in format adapters (adapters/), linked statically; same entry shape as a plugin.
milo_status milo_json_register(const milo_host* host, milo_error* error);
milo_status milo_yaml_register(const milo_host* host, milo_error* error);
milo_status milo_pb_register(const milo_host* host, milo_error* error);
}

using milo::core::fail;

namespace milo::core {

milo_status plugin_threw(milo_error* error, const char* what, const char* detail) {
    return fail(error, MILO_ERR_PLUGIN, "%s threw an exception across the C ABI: %s", what,
                detail);
}

const milo_api* api_table() {
    static const milo_api api = {
        sizeof(milo_api),
        MILO_ABI_VERSION,
        milo_status_name,
        milo_error_set,
        milo_doc_create,
        milo_doc_destroy,
        milo_doc_get_root,
        milo_doc_set_root,
        milo_doc_get_header,
        milo_doc_set_header,
        milo_doc_set_trust,
        milo_doc_trust_count,
        milo_doc_trust_at,
        milo_doc_set_metadata,
        milo_doc_metadata_count,
        milo_doc_metadata_at,
        milo_value_create_null,
        milo_value_create_bool,
        milo_value_create_int,
        milo_value_create_int_text,
        milo_value_create_float,
        milo_value_create_string,
        milo_value_create_bytes,
        milo_value_create_container,
        milo_value_create_object,
        milo_value_create_global,
        milo_value_create_tensor,
        milo_value_create_record_tensor,
        milo_value_create_tensor_borrowed,
        milo_value_get_kind,
        milo_value_get_bool,
        milo_value_get_int,
        milo_value_get_int_text,
        milo_value_get_float,
        milo_value_get_string,
        milo_value_get_bytes,
        milo_value_get_name,
        milo_value_count,
        milo_value_at,
        milo_value_key_at,
        milo_value_find,
        milo_value_append,
        milo_value_append_pair,
        milo_value_set_at,
        milo_value_get_args,
        milo_value_get_state,
        milo_value_set_args,
        milo_value_set_state,
        milo_value_get_tensor,
        milo_value_tensor_itemsize,
        milo_value_tensor_data,
        milo_value_tensor_mutable_data,
        milo_value_tensor_add_field,
        milo_value_tensor_field_count,
        milo_value_tensor_field_at,
        milo_value_tensor_item_at,
        milo_value_tensor_set_item,
        milo_value_tensor_string_at,
        milo_value_tensor_set_string,
        milo_doc_equal,
        milo_doc_value_count,
        milo_registry_transporter_count,
        milo_registry_transporter_at,
        milo_registry_find_transporter,
        milo_registry_find_transporter_for_type,
        milo_hash_sha256,
    };
    return &api;
}

}  // namespace milo::core

namespace {

// Smallest descriptors accepted: their ABI-1 layouts. Later ABIs only append members, so a
// plugin built for ABI 1 keeps loading when these structs grow.
constexpr size_t kPluginInfoV1 = sizeof(milo_plugin_info);
constexpr size_t kTransporterV1 = offsetof(milo_transporter, get_extension) + sizeof(void*);
constexpr size_t kFormatV1 = offsetof(milo_format, get_extension) + sizeof(void*);

// What a plugin's milo_register builds up; committed to the registry only on success.
struct LoadSession {
    milo_registry* registry;
    milo::core::Plugin* plugin;
    bool declared = false;
    std::vector<milo_transporter> transporters;
    std::vector<milo_format> formats;
};

bool id_taken(const LoadSession& s, const char* id, bool transporter) {
    if (transporter) {
        for (const auto& t : s.registry->transporters)
            if (std::strcmp(t.id, id) == 0) return true;
        for (const auto& t : s.transporters)
            if (std::strcmp(t.id, id) == 0) return true;
    } else {
        for (const auto& f : s.registry->formats)
            if (std::strcmp(f.id, id) == 0) return true;
        for (const auto& f : s.formats)
            if (std::strcmp(f.id, id) == 0) return true;
    }
    return false;
}

milo_status host_declare(void* context, const milo_plugin_info* info, milo_error* error) {
    auto* s = static_cast<LoadSession*>(context);
    const char* file = s->plugin->path.c_str();
    if (s->declared)
        return fail(error, MILO_ERR_PLUGIN, "plugin %s: declare_plugin called twice", file);
    if (info == nullptr || info->struct_size < kPluginInfoV1)
        return fail(error, MILO_ERR_ABI,
                    "plugin %s: milo_plugin_info is missing or too small (struct_size %u, "
                    "need %zu)",
                    file, info ? info->struct_size : 0u, kPluginInfoV1);
    const char* name = info->name ? info->name : "(unnamed)";
    if (info->abi_version < MILO_ABI_MIN_SUPPORTED)
        return fail(error, MILO_ERR_ABI,
                    "plugin %s (%s) was built for ABI %u; this library (ABI %d) supports "
                    "plugins from ABI %d",
                    file, name, info->abi_version, MILO_ABI_VERSION, MILO_ABI_MIN_SUPPORTED);
    if (info->abi_min > MILO_ABI_VERSION)
        return fail(error, MILO_ERR_ABI,
                    "plugin %s (%s) needs a library with ABI %u or newer; this library has ABI "
                    "%d (version %s)",
                    file, name, info->abi_min, MILO_ABI_VERSION, MILO_VERSION_STRING);
    if (info->abi_min > info->abi_version)
        return fail(error, MILO_ERR_ABI, "plugin %s (%s): abi_min %u is above its abi_version %u",
                    file, name, info->abi_min, info->abi_version);
    if (info->name == nullptr || info->name[0] == '\0')
        return fail(error, MILO_ERR_PLUGIN, "plugin %s declares no name", file);
    for (const auto& p : s->registry->plugins)
        if (p.get() != s->plugin && p->name == info->name)
            return fail(error, MILO_ERR_DUPLICATE,
                        "plugin %s: a plugin named \"%s\" is already loaded from %s", file,
                        info->name, p->path.c_str());
    try {
        s->plugin->name = info->name;
        s->plugin->version = info->version ? info->version : "";
    } catch (...) {
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
    }
    s->declared = true;
    return MILO_OK;
}

milo_status host_register_transporter(void* context, const milo_transporter* t,
                                      milo_error* error) {
    auto* s = static_cast<LoadSession*>(context);
    const char* file = s->plugin->path.c_str();
    if (!s->declared)
        return fail(error, MILO_ERR_PLUGIN,
                    "plugin %s registered a transporter before calling declare_plugin", file);
    if (t == nullptr || t->struct_size < kTransporterV1)
        return fail(error, MILO_ERR_ABI,
                    "plugin %s: transporter descriptor is missing or too small (struct_size %u, "
                    "need %zu)",
                    file, t ? t->struct_size : 0u, kTransporterV1);
    if (t->id == nullptr || t->id[0] == '\0')
        return fail(error, MILO_ERR_PLUGIN, "plugin %s: transporter without an id", file);
    if (t->decode == nullptr && t->encode == nullptr)
        return fail(error, MILO_ERR_PLUGIN,
                    "plugin %s: transporter \"%s\" has neither decode nor encode", file, t->id);
    if (id_taken(*s, t->id, true))
        return fail(error, MILO_ERR_DUPLICATE,
                    "plugin %s: transporter id \"%s\" is already registered", file, t->id);
    try {
        milo_transporter copy{};  // members the plugin's ABI lacks stay zero
        std::memcpy(&copy, t, std::min<size_t>(t->struct_size, sizeof copy));
        copy.struct_size = sizeof copy;
        s->transporters.push_back(copy);
    } catch (...) {
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
    }
    return MILO_OK;
}

milo_status host_register_format(void* context, const milo_format* f, milo_error* error) {
    auto* s = static_cast<LoadSession*>(context);
    const char* file = s->plugin->path.c_str();
    if (!s->declared)
        return fail(error, MILO_ERR_PLUGIN,
                    "plugin %s registered a format before calling declare_plugin", file);
    if (f == nullptr || f->struct_size < kFormatV1)
        return fail(error, MILO_ERR_ABI,
                    "plugin %s: format descriptor is missing or too small (struct_size %u, "
                    "need %zu)",
                    file, f ? f->struct_size : 0u, kFormatV1);
    if (f->id == nullptr || f->id[0] == '\0')
        return fail(error, MILO_ERR_PLUGIN, "plugin %s: format without an id", file);
    if (f->decode == nullptr && f->encode == nullptr)
        return fail(error, MILO_ERR_PLUGIN,
                    "plugin %s: format \"%s\" has neither decode nor encode", file, f->id);
    if (id_taken(*s, f->id, false))
        return fail(error, MILO_ERR_DUPLICATE,
                    "plugin %s: format id \"%s\" is already registered", file, f->id);
    try {
        milo_format copy{};
        std::memcpy(&copy, f, std::min<size_t>(f->struct_size, sizeof copy));
        copy.struct_size = sizeof copy;
        s->formats.push_back(copy);
    } catch (...) {
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
    }
    return MILO_OK;
}

void destroy_pending(LoadSession& s) {
    for (auto& t : s.transporters)
        if (t.destroy) t.destroy(t.self);
    for (auto& f : s.formats)
        if (f.destroy) f.destroy(f.self);
    s.transporters.clear();
    s.formats.clear();
}

// Runs an entry point against a fresh session; commits on success, rolls back on failure.
milo_status run_register(milo_registry* reg, std::unique_ptr<milo::core::Plugin> plugin,
                         milo_register_fn entry, milo_error* error) {
    LoadSession session{reg, plugin.get(), false, {}, {}};
    milo_host host{};
    host.struct_size = sizeof host;
    host.abi_version = MILO_ABI_VERSION;
    host.api = milo::core::api_table();
    host.context = &session;
    host.declare_plugin = host_declare;
    host.register_transporter = host_register_transporter;
    host.register_format = host_register_format;

    std::string what = "plugin " + plugin->path + ": milo_register";
    milo_status st = milo::core::call_plugin(what.c_str(), error, [&] { return entry(&host, error); });
    if (st == MILO_OK && !session.declared)
        st = fail(error, MILO_ERR_PLUGIN,
                  "plugin %s: milo_register returned without calling declare_plugin",
                  plugin->path.c_str());
    if (st != MILO_OK) {
        if (error != nullptr && error->struct_size >= sizeof(milo_error) &&
            std::strstr(error->message, plugin->path.c_str()) == nullptr)
            milo::core::prefix_error(error, "plugin " + plugin->path + ": ");
        destroy_pending(session);
        if (plugin->handle) dlclose(plugin->handle);
        return st;
    }
    try {
        reg->plugins.push_back(std::move(plugin));
        size_t index = reg->plugins.size() - 1;
        for (auto& t : session.transporters) {
            reg->transporters.push_back(t);
            reg->transporter_plugin.push_back(index);
        }
        for (auto& f : session.formats) {
            reg->formats.push_back(f);
            reg->format_plugin.push_back(index);
        }
    } catch (...) {
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory while registering");
    }
    return MILO_OK;
}

milo_status load_builtin(milo_registry* reg, const char* name, milo_register_fn entry,
                         milo_error* error) {
    auto plugin = std::make_unique<milo::core::Plugin>();
    plugin->path = std::string("(built-in ") + name + ")";
    return run_register(reg, std::move(plugin), entry, error);
}

bool ends_with_ci(const std::string& s, const char* suffix) {
    size_t n = std::strlen(suffix);
    if (n == 0 || s.size() < n) return false;
    for (size_t i = 0; i < n; ++i) {
        char a = s[s.size() - n + i], b = suffix[i];
        if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
        if (a != b) return false;
    }
    return true;
}

}  // namespace

extern "C" {

MILO_API const milo_api* milo_api_get(uint32_t abi_version) {
    if (abi_version < MILO_ABI_MIN_SUPPORTED || abi_version > MILO_ABI_VERSION) return nullptr;
    return milo::core::api_table();
}

MILO_API milo_status milo_registry_create(milo_registry** out, milo_error* error) {
    if (out == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "out is NULL");
    std::unique_ptr<milo_registry> reg;
    try {
        reg = std::make_unique<milo_registry>();
    } catch (...) {
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
    }
    struct Builtin { const char* name; milo_register_fn fn; };
    const Builtin builtins[] = {{"json", milo_json_register},
                                {"yaml", milo_yaml_register},
                                {"pb", milo_pb_register}};
    for (const auto& b : builtins) {
        if (milo_status s = load_builtin(reg.get(), b.name, b.fn, error)) {
            milo_registry_destroy(reg.release());
            return s;
        }
    }
    *out = reg.release();
    return MILO_OK;
}

MILO_API void milo_registry_destroy(milo_registry* registry) {
    if (registry == nullptr) return;
    for (size_t i = registry->transporters.size(); i-- > 0;) {
        auto& t = registry->transporters[i];
        if (t.destroy) t.destroy(t.self);
    }
    for (size_t i = registry->formats.size(); i-- > 0;) {
        auto& f = registry->formats[i];
        if (f.destroy) f.destroy(f.self);
    }
    registry->transporters.clear();
    registry->formats.clear();
    for (size_t i = registry->plugins.size(); i-- > 0;)
        if (registry->plugins[i]->handle) dlclose(registry->plugins[i]->handle);
    delete registry;
}

MILO_API milo_status milo_registry_load_plugin(milo_registry* registry, const char* path,
                                               milo_error* error) {
    if (registry == nullptr || path == nullptr || *path == '\0')
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "registry or path is NULL/empty");
    char resolved[PATH_MAX];
    if (realpath(path, resolved) == nullptr)
        return fail(error, MILO_ERR_NOT_FOUND, "plugin %s: cannot open: %s", path,
                    std::strerror(errno));
    for (const auto& p : registry->plugins)
        if (p->real_path == resolved) return MILO_OK;  // already loaded
    // RTLD_LOCAL: plugins cannot see each other's symbols or clash with the host's.
    void* handle = dlopen(resolved, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = dlerror();
        return fail(error, MILO_ERR_PLUGIN, "plugin %s: cannot load: %s", path,
                    why ? why : "unknown dlopen error");
    }
    dlerror();
    void* sym = dlsym(handle, "milo_register");
    if (sym == nullptr) {
        dlclose(handle);
        return fail(error, MILO_ERR_PLUGIN,
                    "plugin %s: no milo_register entry point (is it a Milo plugin, built with "
                    "MILO_PLUGIN_EXPORT?)",
                    path);
    }
    std::unique_ptr<milo::core::Plugin> plugin;
    try {
        plugin = std::make_unique<milo::core::Plugin>();
        plugin->path = path;
        plugin->real_path = resolved;
    } catch (...) {
        dlclose(handle);
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
    }
    plugin->handle = handle;
    milo_register_fn entry;
    static_assert(sizeof entry == sizeof sym, "function and object pointers differ in size");
    std::memcpy(&entry, &sym, sizeof entry);
    return run_register(registry, std::move(plugin), entry, error);
}

MILO_API const char* milo_registry_get_plugin_dir(void) {
    static std::string dir;
    static std::once_flag once;
    std::call_once(once, [] {
        Dl_info info{};
        if (dladdr(reinterpret_cast<void*>(&milo_registry_get_plugin_dir), &info) != 0 &&
            info.dli_fname != nullptr) {
            char resolved[PATH_MAX];
            std::string lib = realpath(info.dli_fname, resolved) ? resolved : info.dli_fname;
            size_t slash = lib.rfind('/');
            dir = (slash == std::string::npos ? std::string(".") : lib.substr(0, slash)) +
                  "/milo/plugins";
        }
    });
    return dir.c_str();
}

MILO_API milo_status milo_registry_load_plugins(milo_registry* registry, const char* dirs,
                                                milo_error* error) {
    if (registry == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "registry is NULL");
    std::vector<std::string> folders;
    bool explicit_dirs = dirs != nullptr;
    try {
        std::string list;
        if (explicit_dirs) {
            list = dirs;
        } else {
            const char* env = std::getenv("MILO_PLUGIN_PATH");
            if (env) list = env;
        }
        size_t start = 0;
        while (start <= list.size()) {
            size_t end = list.find(':', start);
            if (end == std::string::npos) end = list.size();
            if (end > start) folders.push_back(list.substr(start, end - start));
            start = end + 1;
        }
        if (!explicit_dirs && milo_registry_get_plugin_dir()[0] != '\0')
            folders.emplace_back(milo_registry_get_plugin_dir());
    } catch (...) {
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
    }
    std::vector<std::string> loaded_names;  // file names seen in earlier folders
    milo_status first_failure = MILO_OK;
    for (const auto& folder : folders) {
        DIR* d = opendir(folder.c_str());
        if (d == nullptr) {
            if (explicit_dirs && first_failure == MILO_OK)
                first_failure = fail(error, MILO_ERR_NOT_FOUND, "plugin folder %s: %s",
                                     folder.c_str(), std::strerror(errno));
            continue;  // a folder in MILO_PLUGIN_PATH or the default that does not exist
        }
        std::vector<std::string> names;
        while (dirent* e = readdir(d)) {
            std::string n = e->d_name;
            if (n.rfind("milo_", 0) == 0 && ends_with_ci(n, ".so")) names.push_back(n);
        }
        closedir(d);
        std::sort(names.begin(), names.end());
        for (const auto& n : names) {
            if (std::find(loaded_names.begin(), loaded_names.end(), n) != loaded_names.end())
                continue;  // shadowed by an earlier folder
            std::string path = folder + "/" + n;
            struct stat st{};
            if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
            // one broken plugin must not keep the others out: try every file, report the first
            // failure once all are done
            milo_error* target = first_failure == MILO_OK ? error : nullptr;
            milo_status s = milo_registry_load_plugin(registry, path.c_str(), target);
            if (s != MILO_OK && first_failure == MILO_OK) first_failure = s;
            if (s == MILO_OK) loaded_names.push_back(n);
        }
    }
    return first_failure;
}

MILO_API size_t milo_registry_plugin_count(const milo_registry* registry) {
    return registry ? registry->plugins.size() : 0;
}

MILO_API milo_status milo_registry_plugin_at(const milo_registry* registry, size_t index,
                                             const char** path, const char** name,
                                             const char** version, milo_error* error) {
    if (registry == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "registry is NULL");
    if (index >= registry->plugins.size())
        return fail(error, MILO_ERR_OUT_OF_RANGE, "plugin index %zu out of range", index);
    const auto& p = *registry->plugins[index];
    if (path) *path = p.path.c_str();
    if (name) *name = p.name.c_str();
    if (version) *version = p.version.c_str();
    return MILO_OK;
}

MILO_API size_t milo_registry_transporter_count(const milo_registry* registry) {
    return registry ? registry->transporters.size() : 0;
}

MILO_API const milo_transporter* milo_registry_transporter_at(const milo_registry* registry,
                                                              size_t index) {
    if (registry == nullptr || index >= registry->transporters.size()) return nullptr;
    return &registry->transporters[index];
}

MILO_API const milo_transporter* milo_registry_find_transporter(const milo_registry* registry,
                                                                const char* id) {
    if (registry == nullptr || id == nullptr) return nullptr;
    for (const auto& t : registry->transporters)
        if (std::strcmp(t.id, id) == 0) return &t;
    return nullptr;
}

MILO_API const milo_transporter* milo_registry_find_transporter_for_type(
    const milo_registry* registry, const char* type) {
    if (registry == nullptr || type == nullptr) return nullptr;
    for (const auto& t : registry->transporters) {
        if (t.types == nullptr) continue;
        for (const char* const* p = t.types; *p != nullptr; ++p)
            if (std::strcmp(*p, type) == 0) return &t;
    }
    return nullptr;
}

MILO_API const milo_transporter* milo_registry_find_transporter_for_content(
    const milo_registry* registry, const uint8_t* head, size_t size) {
    if (registry == nullptr || (head == nullptr && size != 0)) return nullptr;
    const milo_transporter* best = nullptr;
    int32_t best_score = 0;
    for (const auto& t : registry->transporters) {
        if (t.probe == nullptr) continue;
        int32_t score = 0;
        try {
            score = t.probe(t.self, head, size);
        } catch (...) {
            score = 0;  // a probe that throws recognises nothing
        }
        if (score > best_score) {
            best_score = score;
            best = &t;
        }
    }
    return best;
}

MILO_API size_t milo_registry_format_count(const milo_registry* registry) {
    return registry ? registry->formats.size() : 0;
}

MILO_API const milo_format* milo_registry_format_at(const milo_registry* registry,
                                                    size_t index) {
    if (registry == nullptr || index >= registry->formats.size()) return nullptr;
    return &registry->formats[index];
}

MILO_API const milo_format* milo_registry_find_format(const milo_registry* registry,
                                                      const char* id) {
    if (registry == nullptr || id == nullptr) return nullptr;
    for (const auto& f : registry->formats)
        if (std::strcmp(f.id, id) == 0) return &f;
    return nullptr;
}

MILO_API const milo_format* milo_registry_find_format_for_path(const milo_registry* registry,
                                                               const char* path) {
    if (registry == nullptr || path == nullptr) return nullptr;
    std::string p = path;
    for (const auto& f : registry->formats) {
        if (f.extensions == nullptr) continue;
        for (const char* const* e = f.extensions; *e != nullptr; ++e)
            if (ends_with_ci(p, *e)) return &f;
    }
    return nullptr;
}

MILO_API const milo_format* milo_registry_find_format_for_content(const milo_registry* registry,
                                                                  const uint8_t* head,
                                                                  size_t size) {
    if (registry == nullptr || (head == nullptr && size != 0)) return nullptr;
    const milo_format* best = nullptr;
    int32_t best_score = 0;
    for (const auto& f : registry->formats) {
        if (f.probe == nullptr) continue;
        int32_t score = 0;
        try {
            score = f.probe(f.self, head, size);
        } catch (...) {
            score = 0;
        }
        if (score > best_score) {
            best_score = score;
            best = &f;
        }
    }
    return best;
}

}  // extern "C"
