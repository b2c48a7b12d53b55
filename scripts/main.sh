#!/usr/bin/env bash
# The main job: build DLNest, merge a project config and create a save package with checkpoints.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
demo=examples/config_demo
echo "== dlnest --help"
build/bin/dlnest --help
echo "== merged arguments of $demo (root_config.json + child_jsons + freq_config.json)"
build/bin/dlnest config -c $demo/root_config.json -f $demo/freq_config.json
echo "== a save package, checkpoints through the fast / slow / consistent tracks"
build/bin/save_package_demo $demo/root_config.json $demo/freq_config.json | tee build/demo.log
package=$(sed -n 's/^created //p' build/demo.log)
echo "== dlnest package show $package"
build/bin/dlnest package show "$package"
ls -la "$package" "$package/Checkpoints"
