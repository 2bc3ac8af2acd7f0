// Loading and validating the platform config (platform_config.hpp).
//
// toml++ is built with exceptions; they are caught here and become nk::Error, so nothing above
// sees one. Every message has the form FILE:LINE: FIELD: what is wrong.
#include "nk/nanokernel/platform_config.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

namespace nk {
namespace {

class ConfigErrorCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "nk.config"; }
    std::string message(int value) const override {
        switch (static_cast<ConfigError>(value)) {
            case ConfigError::Unreadable: return "config file unreadable";
            case ConfigError::Syntax: return "config syntax error";
            case ConfigError::MissingField: return "config field missing";
            case ConfigError::UnknownField: return "unknown config field";
            case ConfigError::BadValue: return "bad config value";
            case ConfigError::Conflict: return "conflicting config";
        }
        return "config error";
    }
};

constexpr std::uint64_t kPage = 4096;

// Small edit distance, for "did you mean" on unknown keys.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0U : 1U)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::vector<std::uint32_t> machine_cpus() {
    std::vector<std::uint32_t> cpus;
    const long configured = ::sysconf(_SC_NPROCESSORS_CONF);
    for (long cpu = 0; cpu < configured && cpu < 1024; ++cpu) cpus.push_back(static_cast<std::uint32_t>(cpu));
    return cpus;
}

bool valid_name(std::string_view name, std::size_t max) {
    if (name.empty() || name.size() > max) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
    });
}

// Reads one config, collecting the first error with its place.
class Parser {
public:
    Parser(std::string file) : file_(std::move(file)) {}

    Result<PlatformConfig> parse(const toml::table& root) {
        config_.source_file = file_;
        if (!check_keys(root, "", {"platform", "areas", "guests", "links", "access"})) return error();

        const toml::table* platform = require_table(root, "platform", root);
        if (platform == nullptr) return error();
        config_.where = where(*platform);
        if (!check_keys(*platform, "platform.", {"name", "region_size", "hugepages", "lock_memory"})) return error();
        if (!read_string(*platform, "platform.", "name", config_.name, true)) return error();
        if (!valid_name(config_.name, 31))
            return fail_at(line_of(*platform, "name", *platform), ConfigError::BadValue, "platform.name",
                           "'" + config_.name + "' must be 1 to 31 letters, digits, '_' or '-'");
        if (!read_size(*platform, "platform.", "region_size", config_.region_size, false)) return error();
        if (!read_bool(*platform, "platform.", "hugepages", config_.hugepages)) return error();
        if (!read_bool(*platform, "platform.", "lock_memory", config_.lock_memory)) return error();

        const toml::table* areas = require_table(root, "areas", root);
        if (areas == nullptr) return error();
        if (!check_keys(*areas, "areas.", {"link_size", "common_size", "pnv_size"})) return error();
        if (!read_size(*areas, "areas.", "link_size", config_.link_size, true)) return error();
        if (!read_size(*areas, "areas.", "common_size", config_.common_size, true)) return error();
        if (!read_size(*areas, "areas.", "pnv_size", config_.pnv_size, true)) return error();

        if (!parse_guests(root)) return error();
        if (!parse_links(root)) return error();
        if (!parse_access(root)) return error();
        return config_;
    }

    Result<PlatformConfig> error() { return tl::unexpected<Error>(*error_); }

private:
    SourceLocation where(const toml::node& node) const {
        return SourceLocation{file_, static_cast<std::uint32_t>(node.source().begin.line)};
    }
    std::uint32_t line_of(const toml::table& table, std::string_view key, const toml::node& fallback) const {
        if (const toml::node* node = table.get(key)) return static_cast<std::uint32_t>(node->source().begin.line);
        return static_cast<std::uint32_t>(fallback.source().begin.line);
    }
    Result<PlatformConfig> fail_at(std::uint32_t line, ConfigError code, const std::string& field,
                                   const std::string& what) {
        set_error(line, code, field, what);
        return error();
    }
    bool set_error(std::uint32_t line, ConfigError code, const std::string& field, const std::string& what) {
        if (!error_)
            error_ = Error{make_error_code(code), file_ + ":" + std::to_string(line) + ": " + field + ": " + what};
        return false;
    }

    bool check_keys(const toml::table& table, const std::string& prefix, std::initializer_list<std::string_view> known) {
        for (const auto& [key, node] : table) {
            const std::string_view name = key.str();
            if (std::find(known.begin(), known.end(), name) != known.end()) continue;
            std::string hint;
            for (auto candidate : known)
                if (edit_distance(name, candidate) <= 2) hint = " (did you mean " + std::string(candidate) + "?)";
            return set_error(static_cast<std::uint32_t>(node.source().begin.line), ConfigError::UnknownField,
                             prefix + std::string(name), "unknown field" + hint);
        }
        return true;
    }

    const toml::table* require_table(const toml::table& parent, std::string_view key, const toml::node& at) {
        const toml::node* node = parent.get(key);
        if (node == nullptr) {
            set_error(static_cast<std::uint32_t>(std::max<std::uint32_t>(1, at.source().begin.line)),
                      ConfigError::MissingField, std::string(key), "required table is missing");
            return nullptr;
        }
        if (!node->is_table()) {
            set_error(static_cast<std::uint32_t>(node->source().begin.line), ConfigError::BadValue, std::string(key),
                      "must be a table");
            return nullptr;
        }
        return node->as_table();
    }

    bool missing(const toml::table& table, const std::string& field) {
        return set_error(static_cast<std::uint32_t>(std::max<std::uint32_t>(1, table.source().begin.line)),
                         ConfigError::MissingField, field, "required field is missing");
    }

    bool read_string(const toml::table& table, const std::string& prefix, std::string_view key, std::string& out,
                     bool required) {
        const toml::node* node = table.get(key);
        if (node == nullptr) return required ? missing(table, prefix + std::string(key)) : true;
        if (!node->is_string())
            return set_error(static_cast<std::uint32_t>(node->source().begin.line), ConfigError::BadValue,
                             prefix + std::string(key), "must be a string");
        out = node->as_string()->get();
        return true;
    }

    bool read_bool(const toml::table& table, const std::string& prefix, std::string_view key, bool& out) {
        const toml::node* node = table.get(key);
        if (node == nullptr) return true;
        if (!node->is_boolean())
            return set_error(static_cast<std::uint32_t>(node->source().begin.line), ConfigError::BadValue,
                             prefix + std::string(key), "must be true or false");
        out = node->as_boolean()->get();
        return true;
    }

    bool read_int(const toml::table& table, const std::string& prefix, std::string_view key, std::int64_t& out,
                  bool required) {
        const toml::node* node = table.get(key);
        if (node == nullptr) return required ? missing(table, prefix + std::string(key)) : true;
        if (!node->is_integer())
            return set_error(static_cast<std::uint32_t>(node->source().begin.line), ConfigError::BadValue,
                             prefix + std::string(key), "must be an integer");
        out = node->as_integer()->get();
        return true;
    }

    bool read_size(const toml::table& table, const std::string& prefix, std::string_view key, std::uint64_t& out,
                   bool required) {
        const toml::node* node = table.get(key);
        const std::string field = prefix + std::string(key);
        if (node == nullptr) return required ? missing(table, field) : true;
        const auto line = static_cast<std::uint32_t>(node->source().begin.line);
        std::optional<std::uint64_t> size;
        if (node->is_integer()) {
            const auto value = node->as_integer()->get();
            if (value > 0) size = static_cast<std::uint64_t>(value);
        } else if (node->is_string()) {
            size = parse_size(node->as_string()->get());
        } else {
            return set_error(line, ConfigError::BadValue, field, "must be a size: bytes, or a string like \"4 MiB\"");
        }
        if (!size || *size == 0)
            return set_error(line, ConfigError::BadValue, field,
                             "is not a size above 0 (bytes, or a string like \"64 KiB\", \"4M\", \"1 GiB\")");
        if (*size % kPage != 0)
            return set_error(line, ConfigError::BadValue, field,
                             std::to_string(*size) + " bytes is not a multiple of 4096");
        out = *size;
        return true;
    }

    // An array of tables, or nothing; anything else is an error.
    const toml::array* table_array(const toml::table& root, std::string_view key) {
        const toml::node* node = root.get(key);
        if (node == nullptr) return nullptr;
        if (!node->is_array_of_tables()) {
            set_error(static_cast<std::uint32_t>(node->source().begin.line), ConfigError::BadValue, std::string(key),
                      "must be an array of tables ([[" + std::string(key) + "]])");
            return nullptr;
        }
        return node->as_array();
    }

    bool read_name_list(const toml::table& table, const std::string& prefix, std::string_view key,
                        std::vector<std::string>& out) {
        const toml::node* node = table.get(key);
        if (node == nullptr) return missing(table, prefix + std::string(key));
        const auto line = static_cast<std::uint32_t>(node->source().begin.line);
        if (!node->is_array()) return set_error(line, ConfigError::BadValue, prefix + std::string(key), "must be an array of guest names");
        for (const auto& item : *node->as_array()) {
            if (!item.is_string())
                return set_error(line, ConfigError::BadValue, prefix + std::string(key), "must be an array of guest names");
            out.push_back(item.as_string()->get());
        }
        return true;
    }

    bool parse_guests(const toml::table& root) {
        const toml::array* guests = table_array(root, "guests");
        if (error_) return false;
        if (guests == nullptr || guests->empty())
            return set_error(1, ConfigError::MissingField, "guests", "at least one [[guests]] is required");
        if (guests->size() > 16)
            return set_error(static_cast<std::uint32_t>((*guests)[16].source().begin.line), ConfigError::BadValue,
                             "guests", "at most 16 guests");
        const auto cpus_here = machine_cpus();
        for (std::size_t i = 0; i < guests->size(); ++i) {
            const toml::table& t = *(*guests)[i].as_table();
            const std::string prefix = "guests[" + std::to_string(i) + "].";
            if (!check_keys(t, prefix, {"id", "name", "kind", "memory", "cpus", "sched", "priority", "pnv_size"}))
                return false;
            GuestConfig g;
            g.where = where(t);
            std::int64_t id = 0;
            if (!read_int(t, prefix, "id", id, true)) return false;
            if (id < 1 || id > 254)
                return set_error(line_of(t, "id", t), ConfigError::BadValue, prefix + "id", "must be 1 to 254");
            g.id = static_cast<std::uint16_t>(id);
            if (!read_string(t, prefix, "name", g.name, true)) return false;
            if (!valid_name(g.name, 15))
                return set_error(line_of(t, "name", t), ConfigError::BadValue, prefix + "name",
                                 "'" + g.name + "' must be 1 to 15 letters, digits, '_' or '-'");
            std::string kind;
            if (!read_string(t, prefix, "kind", kind, true)) return false;
            if (kind == "linux") g.kind = GuestKind::Linux;
            else if (kind == "rt") g.kind = GuestKind::Rt;
            else
                return set_error(line_of(t, "kind", t), ConfigError::BadValue, prefix + "kind",
                                 "'" + kind + "' is not a guest kind (linux, rt)");
            if (!read_size(t, prefix, "memory", g.memory_size, true)) return false;
            g.pnv_size = config_.pnv_size;
            if (!read_size(t, prefix, "pnv_size", g.pnv_size, false)) return false;

            const toml::node* cpus = t.get("cpus");
            if (cpus == nullptr) return missing(t, prefix + "cpus");
            const auto cpus_line = static_cast<std::uint32_t>(cpus->source().begin.line);
            if (!cpus->is_array() || cpus->as_array()->empty())
                return set_error(cpus_line, ConfigError::BadValue, prefix + "cpus", "must be a non-empty array of CPU numbers");
            for (const auto& item : *cpus->as_array()) {
                if (!item.is_integer() || item.as_integer()->get() < 0)
                    return set_error(cpus_line, ConfigError::BadValue, prefix + "cpus", "must hold CPU numbers (0, 1, ...)");
                const auto cpu = static_cast<std::uint64_t>(item.as_integer()->get());
                if (std::find(cpus_here.begin(), cpus_here.end(), cpu) == cpus_here.end())
                    return set_error(cpus_line, ConfigError::BadValue, prefix + "cpus",
                                     "CPU " + std::to_string(cpu) + " does not exist (this machine has CPUs " +
                                         cpu_list_text(cpus_here) + ")");
                if (std::find(g.cpus.begin(), g.cpus.end(), cpu) != g.cpus.end())
                    return set_error(cpus_line, ConfigError::BadValue, prefix + "cpus",
                                     "CPU " + std::to_string(cpu) + " is listed twice");
                g.cpus.push_back(static_cast<std::uint32_t>(cpu));
            }
            std::sort(g.cpus.begin(), g.cpus.end());

            std::string sched = g.kind == GuestKind::Rt ? "rt" : "general";
            if (!read_string(t, prefix, "sched", sched, false)) return false;
            if (sched == "rt") g.sched = SchedClass::Rt;
            else if (sched == "general") g.sched = SchedClass::General;
            else
                return set_error(line_of(t, "sched", t), ConfigError::BadValue, prefix + "sched",
                                 "'" + sched + "' is not a scheduling class (general, rt)");
            std::int64_t priority = 0;
            if (!read_int(t, prefix, "priority", priority, g.sched == SchedClass::Rt)) return false;
            if (g.sched == SchedClass::Rt && (priority < 1 || priority > 99))
                return set_error(line_of(t, "priority", t), ConfigError::BadValue, prefix + "priority",
                                 "must be 1 to 99 for sched = \"rt\"");
            if (g.sched == SchedClass::General && priority != 0)
                return set_error(line_of(t, "priority", t), ConfigError::BadValue, prefix + "priority",
                                 "only sched = \"rt\" guests have a priority");
            g.priority = static_cast<int>(priority);

            for (const auto& other : config_.guests) {
                if (other.id == g.id)
                    return set_error(line_of(t, "id", t), ConfigError::Conflict, prefix + "id",
                                     "id " + std::to_string(g.id) + " is already used by guest '" + other.name +
                                         "' (line " + std::to_string(other.where.line) + ")");
                if (other.name == g.name)
                    return set_error(line_of(t, "name", t), ConfigError::Conflict, prefix + "name",
                                     "name '" + g.name + "' is already used (line " + std::to_string(other.where.line) + ")");
            }
            config_.guests.push_back(std::move(g));
        }
        return true;
    }

    bool parse_links(const toml::table& root) {
        const toml::array* links = table_array(root, "links");
        if (error_) return false;
        if (links == nullptr) return true;
        if (links->size() > 32)
            return set_error(static_cast<std::uint32_t>((*links)[32].source().begin.line), ConfigError::BadValue,
                             "links", "at most 32 links");
        std::set<std::pair<std::string, std::string>> seen;
        for (std::size_t i = 0; i < links->size(); ++i) {
            const toml::table& t = *(*links)[i].as_table();
            const std::string prefix = "links[" + std::to_string(i) + "].";
            if (!check_keys(t, prefix, {"guests", "size"})) return false;
            std::vector<std::string> names;
            if (!read_name_list(t, prefix, "guests", names)) return false;
            const auto line = line_of(t, "guests", t);
            if (names.size() != 2)
                return set_error(line, ConfigError::BadValue, prefix + "guests", "a link joins exactly two guests");
            for (const auto& name : names)
                if (config_.find_guest(name) == nullptr)
                    return set_error(line, ConfigError::BadValue, prefix + "guests", "no guest named '" + name + "'");
            if (names[0] == names[1])
                return set_error(line, ConfigError::BadValue, prefix + "guests", "a guest cannot link to itself");
            auto key = std::minmax(names[0], names[1]);
            if (!seen.insert({key.first, key.second}).second)
                return set_error(line, ConfigError::Conflict, prefix + "guests",
                                 "guests '" + names[0] + "' and '" + names[1] + "' are already linked");
            LinkConfig link{names[0], names[1], config_.link_size, where(t)};
            if (!read_size(t, prefix, "size", link.size, false)) return false;
            config_.links.push_back(std::move(link));
        }
        return true;
    }

    bool parse_access(const toml::table& root) {
        const toml::array* rules = table_array(root, "access");
        if (error_) return false;
        if (rules == nullptr) return true;
        if (rules->size() > 64)
            return set_error(static_cast<std::uint32_t>((*rules)[64].source().begin.line), ConfigError::BadValue,
                             "access", "at most 64 access rules");
        for (std::size_t i = 0; i < rules->size(); ++i) {
            const toml::table& t = *(*rules)[i].as_table();
            const std::string prefix = "access[" + std::to_string(i) + "].";
            if (!check_keys(t, prefix, {"objects", "guests", "rights"})) return false;
            AccessRuleConfig rule;
            rule.where = where(t);
            if (!read_string(t, prefix, "objects", rule.objects, true)) return false;
            if (rule.objects.empty() || rule.objects.size() > 47)
                return set_error(line_of(t, "objects", t), ConfigError::BadValue, prefix + "objects",
                                 "pattern must be 1 to 47 characters");
            if (!read_name_list(t, prefix, "guests", rule.guests)) return false;
            for (const auto& name : rule.guests)
                if (name != "*" && config_.find_guest(name) == nullptr)
                    return set_error(line_of(t, "guests", t), ConfigError::BadValue, prefix + "guests",
                                     "no guest named '" + name + "'");
            std::string rights;
            if (!read_string(t, prefix, "rights", rights, true)) return false;
            if (rights == "none") rule.rights = Rights::None;
            else if (rights == "r") rule.rights = Rights::Read;
            else if (rights == "rw") rule.rights = Rights::ReadWrite;
            else
                return set_error(line_of(t, "rights", t), ConfigError::BadValue, prefix + "rights",
                                 "'" + rights + "' is not one of none, r, rw");
            config_.access.push_back(std::move(rule));
        }
        return true;
    }

    std::string file_;
    PlatformConfig config_;
    std::optional<Error> error_;
};

}  // namespace

std::error_code make_error_code(ConfigError e) {
    static const ConfigErrorCategory category;
    return {static_cast<int>(e), category};
}

std::string_view to_string(GuestKind kind) { return kind == GuestKind::Rt ? "rt" : "linux"; }
std::string_view to_string(SchedClass sched) { return sched == SchedClass::Rt ? "rt" : "general"; }
std::string_view to_string(Rights rights) {
    switch (rights) {
        case Rights::None: return "none";
        case Rights::Read: return "r";
        case Rights::ReadWrite: return "rw";
    }
    return "none";
}

const GuestConfig* PlatformConfig::find_guest(std::string_view guest_name) const {
    for (const auto& g : guests)
        if (g.name == guest_name) return &g;
    return nullptr;
}

const GuestConfig* PlatformConfig::find_guest(std::uint16_t guest_id) const {
    for (const auto& g : guests)
        if (g.id == guest_id) return &g;
    return nullptr;
}

std::string cpu_list_text(const std::vector<std::uint32_t>& cpus) {
    std::string out;
    for (std::size_t i = 0; i < cpus.size();) {
        std::size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
        if (!out.empty()) out += ',';
        out += std::to_string(cpus[i]);
        if (j > i) out += "-" + std::to_string(cpus[j]);
        i = j + 1;
    }
    return out;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    auto trim = [](std::string_view s) {
        while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
        while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
        return s;
    };
    text = trim(text);
    std::uint64_t number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc{} || end == text.data()) return std::nullopt;
    std::string unit(trim(std::string_view(end, static_cast<std::size_t>(text.data() + text.size() - end))));
    std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::uint64_t scale = 1;
    if (unit.empty() || unit == "b") scale = 1;
    else if (unit == "k" || unit == "kib" || unit == "kb") scale = 1ULL << 10;
    else if (unit == "m" || unit == "mib" || unit == "mb") scale = 1ULL << 20;
    else if (unit == "g" || unit == "gib" || unit == "gb") scale = 1ULL << 30;
    else return std::nullopt;
    if (number > UINT64_MAX / scale) return std::nullopt;
    return number * scale;
}

Result<PlatformConfig> parse_platform_config(std::string_view toml_text, std::string_view source_name) {
    const std::string file(source_name);
    try {
        toml::table root = toml::parse(toml_text, file);
        Parser parser(file);
        return parser.parse(root);
    } catch (const toml::parse_error& e) {
        const auto& at = e.source().begin;
        return fail(ConfigError::Syntax, file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) +
                                             ": syntax error: " + std::string(e.description()));
    } catch (const std::exception& e) {
        return fail(ConfigError::Syntax, file + ": " + e.what());
    }
}

Result<PlatformConfig> load_platform_config(const std::string& path) {
    std::ifstream in(path);
    if (!in) return fail(ConfigError::Unreadable, path + ": cannot read: " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return parse_platform_config(text.str(), path);
}

}  // namespace nk
