// Shared plumbing of the `milo` tool: exit codes, option parsing, RAII handles over the C ABI,
// registry set-up and input loading. The tool uses only the public C ABI (milo/*.h).
#ifndef MILO_TOOLS_CLI_RUNTIME_HPP
#define MILO_TOOLS_CLI_RUNTIME_HPP

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "milo/milo.h"

namespace milo {
namespace cli {

/// Exit codes of the tool; fixed, documented in `milo help`.
enum ExitCode : int {
    kExitOk = 0,           ///< success
    kExitDifferent = 1,    ///< `diff`: the inputs differ
    kExitUsage = 2,        ///< bad command line
    kExitInvalid = 3,      ///< invalid or corrupt input (CORRUPT, LIMIT, INTEGRITY, TYPE, RANGE)
    kExitDangerous = 4,    ///< dangerous content refused or found (`scan`)
    kExitUnsupported = 5,  ///< input valid but unsupported, or nothing recognises it
    kExitIo = 6,           ///< a file is missing or cannot be read or written
    kExitPlugin = 7,       ///< a plugin failed to load or misbehaved
    kExitInternal = 8,     ///< out of memory or a bug in Milo
};

/// Exit code for a failed milo_status.
int exit_code_for(milo_status status);

/// Thrown by command code; caught once in main, printed as "milo: <command>: <message>".
struct Failure {
    int exit_code;
    std::string message;
};

[[noreturn]] void fail(int exit_code, std::string message);
/// Throws Failure for a non-OK status with the error's message (or the status name).
void check(milo_status status, const milo_error& error);
/// Usage error: prints the message and the command's usage line; exit 2.
[[noreturn]] void usage_error(std::string message);

/* ---------------------------------------------------------------------------------------- */
/* Options                                                                                   */
/* ---------------------------------------------------------------------------------------- */

struct OptionSpec {
    const char* name;  ///< long name without "--"
    bool takes_value;
};

/// One parsed option occurrence.
struct Option {
    std::string name;
    std::string value;
};

/// Result of parsing a command's arguments: global options are consumed into `globals`.
struct Parsed {
    std::vector<Option> options;
    std::vector<std::string> positionals;
    bool help = false;
};

/// Global options (accepted before or after the command name).
struct Globals {
    std::vector<std::string> plugins;  ///< --plugin PATH (repeatable)
    bool no_default_plugins = false;   ///< --no-default-plugins
};

/// Parses `args` against `specs` plus the global options. "--" ends options; "-" is a
/// positional; "--name=value" and "--name value" both work; "-h"/"--help" set `help`.
/// Unknown options are usage errors.
Parsed parse_options(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs,
                     Globals* globals);

/// Last value of option `name`, or nullptr.
const std::string* find_option(const Parsed& parsed, const char* name);
bool has_flag(const Parsed& parsed, const char* name);
/// Parses a non-negative integer option value in [lo, hi]; usage error otherwise.
long parse_count(const std::string& value, const char* option, long lo, long hi);

/* ---------------------------------------------------------------------------------------- */
/* Command context                                                                           */
/* ---------------------------------------------------------------------------------------- */

struct DocDeleter {
    void operator()(milo_doc* d) const { milo_doc_destroy(d); }
};
using DocPtr = std::unique_ptr<milo_doc, DocDeleter>;

struct RegistryDeleter {
    void operator()(milo_registry* r) const { milo_registry_destroy(r); }
};
using RegistryPtr = std::unique_ptr<milo_registry, RegistryDeleter>;

/// The running command: its name (for messages and usage) and the registry.
struct Context {
    std::string command;
    Globals globals;
    RegistryPtr registry;
    std::vector<std::string> warnings;  ///< plugin folder problems, printed once
};

/// The current command's name and usage line (set by main before dispatch).
void set_current_command(const std::string& name, const char* usage);
const std::string& current_command();
const char* current_usage();
/// "milo: <command>: " (or "milo: " before a command is known).
std::string message_prefix();

/// Creates the registry and loads plugins per the global options. Explicit --plugin failures
/// are fatal (exit 7); problems in plugin folders are warnings on stderr.
void open_registry(Context* ctx);

/// Prints "milo: <command>: warning: <message>" on stderr.
void warn(const std::string& message);

/* ---------------------------------------------------------------------------------------- */
/* Inputs                                                                                    */
/* ---------------------------------------------------------------------------------------- */

/// Reads a whole file ("-": standard input) into memory; exit 6 when it cannot.
std::vector<uint8_t> read_all(const std::string& path);

/// What an input turned out to be.
struct Loaded {
    DocPtr doc;
    std::string format;       ///< document format id, empty for native input
    std::string transporter;  ///< transporter id used for native input, else empty
};

/// Opens any input: a Milo document (detected by content) or a native model file through the
/// transporter `transporter_id` (nullptr: the one whose probe recognises it). "-" reads stdin.
/// `documents_only`: refuse native input (validate). External tensor files are verified.
Loaded load_input(Context* ctx, const std::string& path, const char* transporter_id,
                  bool documents_only);

/// Name of an input for messages ("<stdin>" for "-").
std::string display_name(const std::string& path);

/// Reads a header field of `doc`; empty string when unset.
std::string header(const milo_doc* doc, const char* key);

/// A transporter's field, read only when the plugin's struct is large enough to hold it.
const char* transporter_id(const milo_transporter* t);
bool transporter_handles_extension(const milo_transporter* t, const std::string& path);

/// Writes to stdout for milo_doc_encode; fails with MILO_ERR_IO.
milo_status write_stdout(void* context, const void* data, size_t size, milo_error* error);

/// A format's id (nullptr when the plugin's struct is too small to hold it).
const char* format_id(const milo_format* f);

/// JSON string literal of UTF-8 `text` (for --json outputs).
std::string json_quote(const std::string& text);

/* ---------------------------------------------------------------------------------------- */
/* Commands (one file each); `args` are the arguments after the command name.                */
/* ---------------------------------------------------------------------------------------- */

int run_plugins(Context& ctx, const std::vector<std::string>& args);
int run_convert(Context& ctx, const std::vector<std::string>& args);
int run_inspect(Context& ctx, const std::vector<std::string>& args);
int run_validate(Context& ctx, const std::vector<std::string>& args);
int run_scan(Context& ctx, const std::vector<std::string>& args);
int run_diff(Context& ctx, const std::vector<std::string>& args);

/// Prints the full help of a command on stdout (defined with the command table in main).
void print_command_help(const std::string& name);

}  // namespace cli
}  // namespace milo

#endif  // MILO_TOOLS_CLI_RUNTIME_HPP
