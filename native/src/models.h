// Loading the target, the EAGLE-3 draft and the signal head, with every check
// that must happen before llama.cpp sees a mismatched pair (a mismatch there
// ends in an assertion that aborts the process).
#pragma once

#include "signals.h"

#include "llama.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace specexit {

struct LoadOptions {
    std::string target_path;
    std::string draft_path;      // empty: no draft
    int32_t threads = 1;         // threads for single-token decoding
    int32_t threads_batch = 1;   // threads for prompt and verification batches
    uint32_t context_size = 4096;
    uint32_t batch_size = 512;
    int32_t gpu_layers = -1;     // -1: every layer when a GPU backend is loaded, else 0
    // Unset: off on CPU, where it makes small batches (drafts, probes) several
    // times slower in this llama.cpp release, and llama.cpp's choice on a GPU.
    bool flash_attention_set = false;
    llama_flash_attn_type flash_attention = LLAMA_FLASH_ATTN_TYPE_AUTO;
    bool has_signal_head = false;
    SignalHead signal_head;
};

struct ModelInfo {
    std::string path;
    std::string architecture;
    int32_t n_layer = 0;
    int32_t n_embd = 0;
    int32_t n_vocab = 0;
    int32_t train_context = 0;
    uint64_t size_bytes = 0;
    uint64_t n_params = 0;
};

struct LoadedModels {
    llama_model * model_tgt = nullptr;
    llama_context * ctx_tgt = nullptr;
    llama_model * model_dft = nullptr;
    llama_context * ctx_dft = nullptr;
    bool has_signal_head = false;
    SignalHead signal_head;

    ModelInfo target;
    ModelInfo draft;
    std::vector<int32_t> draft_layers;  // eagle3.target_layers of the draft
    int32_t gpu_layers = 0;             // layers actually offloaded
    std::string chat_template;          // tokenizer.chat_template, "" when absent
    llama_token think_start = LLAMA_TOKEN_NULL;
    llama_token think_end = LLAMA_TOKEN_NULL;
    std::vector<llama_token> boundary_tokens; // default step boundaries found in the vocabulary
    bool target_exposes_layer_inputs = false; // the target's architecture exposes the hidden state entering each layer

    // Per target layer, whether the context extracts its input now. Each
    // change makes llama.cpp reserve its compute graphs again, so callers
    // change only what differs.
    std::vector<bool> layer_inputs_on;

    // Set to stop the running generation; both contexts' abort callbacks read
    // it, so a decode stops between graph nodes.
    std::atomic<bool> abort{ false };

    LoadedModels() = default;
    LoadedModels(const LoadedModels &) = delete;
    LoadedModels & operator=(const LoadedModels &) = delete;
    ~LoadedModels();
};

// Loads everything `options` names. Throws std::runtime_error with a message
// naming the file, the defect and the fix.
std::unique_ptr<LoadedModels> load_models(const LoadOptions & options);

// Returns true when some GPU backend device is registered.
bool gpu_backend_available();

} // namespace specexit
