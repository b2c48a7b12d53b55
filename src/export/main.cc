// dlnest-export: writes the registered modules of one checkpoint as safetensors. `dlnest export`
// finds the checkpoint in a save package and runs this program (it needs libtorch, dlnest
// does not).
#include <CLI/CLI.hpp>
#include <iostream>

#include "export/module_export.h"

namespace {

/// "KEY=VALUE" pairs into the metadata map; an entry without '=' is an error naming it.
dlnest::Status parse_metadata(const std::vector<std::string>& pairs,
                              std::map<std::string, std::string>& out) {
  for (const std::string& pair : pairs) {
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return dlnest::Status::invalid_argument("--meta '" + pair + "': expected KEY=VALUE");
    }
    out[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return dlnest::Status::ok();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Writes the registered modules of a DLNest checkpoint as safetensors");
  dlnest::ExportOptions options;
  std::vector<std::string> metadata;
  app.add_option("--checkpoint", options.checkpoint, "checkpoint file")->required();
  app.add_option("--output", options.output, "the .safetensors file to write")->required();
  app.add_option("--module", options.module, "only this registered module, names unprefixed");
  app.add_option("--meta", metadata, "KEY=VALUE stored in the file's metadata");
  CLI11_PARSE(app, argc, argv);
  options.metadata["format"] = "pt";
  dlnest::Status status = parse_metadata(metadata, options.metadata);
  if (status.is_ok()) status = dlnest::export_safetensors(options);
  if (!status.is_ok()) {
    std::cerr << "dlnest export: error: " << status.message() << "\n";
    return 1;
  }
  std::cout << "exported " << options.checkpoint << " to " << options.output << "\n";
  return 0;
}
