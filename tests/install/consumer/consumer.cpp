// Links the installed libmilo from C++ and loads the installed plugins from the default folder.
#include <milo/milo.hpp>

#include <cstdio>

int main() {
    milo::Registry reg;
    reg.load_plugins();
    std::printf("plugins=%zu transporters=%zu dir=%s\n", milo_registry_plugin_count(reg.get()),
                milo_registry_transporter_count(reg.get()), milo_registry_get_plugin_dir());
    return milo_registry_find_transporter(reg.get(), "safetensors") != nullptr ? 0 : 1;
}
