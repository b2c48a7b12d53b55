#include "sdk/plugin_loader.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <torch/version.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "dlnest/plugin.h"
#include "env/unique_fd.h"

namespace dlnest {

namespace {

/// Limits of what is read from a plugin file before it is trusted.
constexpr size_t kMaxSections = 1 << 16;
constexpr size_t kMaxSectionNames = 1 << 20;
constexpr size_t kMaxNote = 4096;

/// `size` bytes at `offset` of `fd`; false when the file is shorter.
bool read_at(int fd, uint64_t offset, size_t size, void* out) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, static_cast<char*>(out) + done, size - done,
                              static_cast<off_t>(offset + done));
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

/// The contents of the section named `name` of the 64-bit ELF file `fd`: nullopt when the file
/// has no such section, an error when it is not such a file.
Result<std::optional<std::string>> elf_section(int fd, const std::string& name) {
  Elf64_Ehdr header;
  if (!read_at(fd, 0, sizeof header, &header) || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 ||
      header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_shentsize != sizeof(Elf64_Shdr) ||
      header.e_shnum > kMaxSections || header.e_shstrndx >= header.e_shnum) {
    return Status::invalid_argument("not a 64-bit ELF shared object");
  }
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  if (!read_at(fd, header.e_shoff, sections.size() * sizeof(Elf64_Shdr), sections.data())) {
    return Status::invalid_argument("truncated ELF section table");
  }
  const Elf64_Shdr& names_header = sections[header.e_shstrndx];
  if (names_header.sh_size > kMaxSectionNames) return Status::invalid_argument("bad ELF names");
  std::string names(names_header.sh_size, '\0');
  if (!read_at(fd, names_header.sh_offset, names.size(), names.data())) {
    return Status::invalid_argument("truncated ELF section names");
  }
  for (const Elf64_Shdr& section : sections) {
    if (section.sh_name >= names.size() || names.c_str() + section.sh_name != name) continue;
    if (section.sh_type == SHT_NOBITS || section.sh_size > kMaxNote) break;
    std::string contents(section.sh_size, '\0');
    if (!read_at(fd, section.sh_offset, contents.size(), contents.data())) break;
    return std::optional<std::string>(contents.c_str());  // up to its terminating NUL
  }
  return std::optional<std::string>();
}

/// The identity card's "key=value" words.
std::map<std::string, std::string> parse_note(const std::string& note) {
  std::map<std::string, std::string> out;
  std::istringstream words(note);
  for (std::string word; words >> word;) {
    const auto eq = word.find('=');
    if (eq != std::string::npos) out[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return out;
}

std::string describe(const std::string& sdk_abi, const std::string& sdk, const std::string& torch) {
  return "SDK " + sdk + " (ABI " + sdk_abi + "), libtorch " + torch;
}

/// Refuses a plugin whose identity card names another SDK ABI or libtorch version.
Status check_identity(const std::string& file, const std::string& note) {
  std::map<std::string, std::string> card = parse_note(note);
  const std::string series =
      DLNEST_PLUGIN_STR(TORCH_VERSION_MAJOR) "." DLNEST_PLUGIN_STR(TORCH_VERSION_MINOR);
  const std::string torch = series + "." DLNEST_PLUGIN_STR(TORCH_VERSION_PATCH);
  const std::string theirs = card["torch"];
  // The patch level may differ, as libtorch keeps its ABI within a minor release.
  const bool same = card["sdk_abi"] == DLNEST_PLUGIN_STR(DLNEST_SDK_ABI) &&
                    theirs.substr(0, theirs.rfind('.')) == series;
  if (same) return Status::ok();
  return Status::invalid_argument(
      "plugin " + file + " was built against " +
      describe(card["sdk_abi"], card["sdk"], card["torch"]) + ", but this worker has " +
      describe(DLNEST_PLUGIN_STR(DLNEST_SDK_ABI), DLNEST_SDK_VERSION, torch) +
      "; rebuild the project against this SDK");
}

/// Reads the plugin's identity card from its file, without loading it.
Status check_plugin_file(const std::string& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return Status::invalid_argument("cannot load plugin " + file + ": " + std::strerror(errno));
  }
  auto note = elf_section(fd.get(), DLNEST_PLUGIN_ABI_SECTION);
  if (!note.is_ok()) {
    return Status::invalid_argument("cannot load plugin " + file + ": " + note.status().message());
  }
  if (!note->has_value()) {
    return Status::invalid_argument(file + " is not a DLNest plugin of this SDK (no section " +
                                    std::string(DLNEST_PLUGIN_ABI_SECTION) +
                                    "); rebuild the project with dlnest_add_project");
  }
  return check_identity(file, **note);
}

}  // namespace

Status load_plugin(const std::string& file) {
  DLNEST_RETURN_IF_ERROR(check_plugin_file(file));
  void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = ::dlerror();
    return Status::invalid_argument("cannot load plugin " + file + ": " +
                                    (error != nullptr ? error : "unknown error"));
  }
  return Status::ok();
}

}  // namespace dlnest
