// Reading JavaScript option objects into C++ structs. Every invalid value
// becomes a TypeError or RangeError that names the option, the value and the
// accepted range.
#pragma once

#include "generation.h"
#include "models.h"

#include <napi.h>

namespace specexit {

LoadOptions read_load_options(const Napi::Object & options);

GenerateOptions read_generate_options(const Napi::Object & options, const LoadedModels & models);

// Reads an Int32Array or an array of numbers as token ids below `n_vocab`.
std::vector<llama_token> read_tokens(const Napi::Value & value, const std::string & name, int32_t n_vocab);

} // namespace specexit
