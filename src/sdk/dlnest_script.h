// Precompiled once by the DLNest build and included first in every analysis script, so that a
// script compiles in seconds (docs/analyzer.md).
#include <torch/torch.h>

#include <dlnest/experiment.h>
