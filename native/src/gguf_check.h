// Structural checks on a GGUF file before llama.cpp loads it. llama.cpp
// rejects most bad files with an error, but a few defects end in an assertion
// that aborts the whole process. Those are caught here: duplicate token
// strings, short per-token arrays, and tensor data past the end of the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace specexit {

struct GgufSummary {
    std::string architecture;  // general.architecture
    uint64_t n_tensors = 0;
    uint64_t n_tokens = 0;     // tokenizer.ggml.tokens length, 0 when absent
};

// Validates the file at `path` and returns its summary. `role` names the file
// in messages ("target model", "draft model"). Throws std::runtime_error with
// a message that names the path, the defect and the fix.
GgufSummary gguf_check_file(const std::string & path, const std::string & role);

} // namespace specexit
