#include "models.h"

#include "gguf_check.h"
#include "llama_log.h"

#include "ggml-backend.h"
#include "llama-ext.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

namespace specexit {

namespace {

// Architectures whose graphs expose the hidden state entering each layer
// (llama_get_embeddings_layer_inp); on others, reading it aborts the process.
// Checked against llama.cpp v0.4.0 as pinned by node-llama-cpp 3.21.1.
const char * const kLayerInputArchitectures[] = { "qwen3", "qwen2", "llama", "qwen3moe" };

// A step boundary ends a paragraph: a token whose text ends with a blank line
// and holds nothing else but punctuation and spaces. This covers the
// reference implementation's list ("\n\n", ".\n\n", " \n\n" and the
// three-newline forms) and the tokens into which a BPE merges other closing
// punctuation, such as ").\n\n" or "'.\n\n", which the list would miss.
bool is_boundary_text(const std::string & piece) {
    const size_t end = piece.find_last_not_of('\n');
    const size_t newlines = end == std::string::npos ? piece.size() : piece.size() - end - 1;
    if (newlines < 2) {
        return false;
    }
    return std::all_of(piece.begin(), piece.begin() + (std::ptrdiff_t) (piece.size() - newlines), [](char c) {
        const auto u = (unsigned char) c;
        return u < 0x80 && (std::ispunct(u) || c == ' ');
    });
}

bool exposes_layer_inputs(const std::string & arch) {
    return std::any_of(std::begin(kLayerInputArchitectures), std::end(kLayerInputArchitectures),
                       [&](const char * name) { return arch == name; });
}

std::string meta_string(const llama_model * model, const char * key) {
    const int32_t n = llama_model_meta_val_str(model, key, nullptr, 0);
    if (n < 0) {
        return "";
    }
    std::string value((size_t) n + 1, '\0');
    llama_model_meta_val_str(model, key, value.data(), value.size());
    value.resize((size_t) n);
    return value;
}

std::string token_piece(const llama_vocab * vocab, llama_token token) {
    char buf[64];
    const int32_t n = llama_token_to_piece(vocab, token, buf, sizeof(buf), 0, true);
    return n > 0 ? std::string(buf, (size_t) n) : std::string();
}

// Returns the id of `text` when the vocabulary has it as one token.
llama_token single_token(const llama_vocab * vocab, const std::string & text) {
    llama_token out[4];
    const int32_t n = llama_tokenize(vocab, text.c_str(), (int32_t) text.size(), out, 4, false, true);
    return n == 1 ? out[0] : LLAMA_TOKEN_NULL;
}

ModelInfo describe(const llama_model * model, const std::string & path) {
    ModelInfo info;
    info.path = path;
    info.architecture = meta_string(model, "general.architecture");
    info.n_layer = llama_model_n_layer(model);
    info.n_embd = llama_model_n_embd(model);
    info.n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    info.train_context = llama_model_n_ctx_train(model);
    info.size_bytes = llama_model_size(model);
    info.n_params = llama_model_n_params(model);
    return info;
}

llama_model * load_model_file(const std::string & path, const std::string & role, int32_t gpu_layers) {
    llama_model_params params = llama_model_default_params();
    params.n_gpu_layers = gpu_layers;
    log_clear_recent_errors();
    llama_model * model = llama_model_load_from_file(path.c_str(), params);
    if (!model) {
        const std::string log_errors = log_recent_errors();
        throw std::runtime_error("failed to load the " + role + " " + path + (log_errors.empty() ? "" : ": " + log_errors) +
                                 ". Check that it is a complete GGUF of a supported architecture");
    }
    return model;
}

void check_draft_fits_target(const LoadedModels & m, const std::string & path) {
    const int32_t n_ids = (int32_t) llama_model_target_layer_ids_n(m.model_dft);
    if (n_ids != 3) {
        throw std::runtime_error("draft " + path + " names " + std::to_string(n_ids) +
                                 " target layers; an EAGLE-3 draft fuses exactly 3. Re-convert the draft");
    }
    for (int32_t layer : m.draft_layers) {
        if (layer < 0 || layer >= m.target.n_layer) {
            throw std::runtime_error("draft " + path + " reads target layer " + std::to_string(layer) +
                                     " but the target " + m.target.path + " has layers 0.." +
                                     std::to_string(m.target.n_layer - 1) +
                                     ". The draft was made for another target; use the draft trained for this one");
        }
    }
    const std::string hidden = meta_string(m.model_dft, "eagle3.target_hidden_size");
    if (hidden.empty() || std::stol(hidden) != m.target.n_embd) {
        throw std::runtime_error("draft " + path + " expects target hidden size " + (hidden.empty() ? "(missing)" : hidden) +
                                 " but the target " + m.target.path + " has " + std::to_string(m.target.n_embd) +
                                 ". The draft was made for another target; use the draft trained for this one");
    }
    if (m.draft.n_vocab != m.target.n_vocab) {
        throw std::runtime_error("draft " + path + " has a vocabulary of " + std::to_string(m.draft.n_vocab) +
                                 " tokens but the target " + m.target.path + " has " + std::to_string(m.target.n_vocab) +
                                 ". The draft must be converted with the target's tokenizer");
    }
}

void check_signal_head(const LoadedModels & m, const SignalHead & head) {
    if (head.hidden_size != m.target.n_embd) {
        throw std::runtime_error("signal head has hidden size " + std::to_string(head.hidden_size) + " but the target " +
                                 m.target.path + " has " + std::to_string(m.target.n_embd) +
                                 ". Use the sidecar calibrated for this target");
    }
    if (head.weight.size() != (size_t) 9 * head.hidden_size) {
        throw std::runtime_error("signal head weight has " + std::to_string(head.weight.size()) +
                                 " values; expected 3 x 3 x " + std::to_string(head.hidden_size));
    }
    for (int32_t layer : head.layers) {
        if (layer < 0 || layer >= m.target.n_layer) {
            throw std::runtime_error("signal head reads target layer " + std::to_string(layer) + " but the target " +
                                     m.target.path + " has layers 0.." + std::to_string(m.target.n_layer - 1) +
                                     ". Use the sidecar calibrated for this target");
        }
    }
    for (float w : head.weight) {
        if (!std::isfinite(w)) {
            throw std::runtime_error("signal head weight contains a non-finite value; recalibrate the sidecar");
        }
    }
    for (float b : head.bias) {
        if (!std::isfinite(b)) {
            throw std::runtime_error("signal head bias contains a non-finite value; recalibrate the sidecar");
        }
    }
}

void find_special_tokens(LoadedModels & m) {
    const llama_vocab * vocab = llama_model_get_vocab(m.model_tgt);
    m.think_start = single_token(vocab, "<think>");
    m.think_end = single_token(vocab, "</think>");

    for (llama_token id = 0; id < m.target.n_vocab; ++id) {
        if (is_boundary_text(token_piece(vocab, id))) {
            m.boundary_tokens.push_back(id);
        }
    }
}

} // namespace

LoadedModels::~LoadedModels() {
    if (ctx_dft) llama_free(ctx_dft);
    if (model_dft) llama_model_free(model_dft);
    if (ctx_tgt) llama_free(ctx_tgt);
    if (model_tgt) llama_model_free(model_tgt);
}

bool gpu_backend_available() {
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        const enum ggml_backend_dev_type type = ggml_backend_dev_type(ggml_backend_dev_get(i));
        if (type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU) {
            return true;
        }
    }
    return false;
}

std::unique_ptr<LoadedModels> load_models(const LoadOptions & options) {
    auto m = std::make_unique<LoadedModels>();

    // ---- target ----
    const GgufSummary target_summary = gguf_check_file(options.target_path, "target model");
    if (target_summary.architecture == "eagle3") {
        throw std::runtime_error("target model " + options.target_path +
                                 " is an EAGLE-3 draft, which cannot generate on its own. Give it as draftPath and "
                                 "the model it was trained for as targetPath");
    }
    m->target_exposes_layer_inputs = exposes_layer_inputs(target_summary.architecture);
    const bool needs_layer_inputs = !options.draft_path.empty() || options.has_signal_head;
    if (needs_layer_inputs && !m->target_exposes_layer_inputs) {
        throw std::runtime_error("target model " + options.target_path + " has architecture " +
                                 target_summary.architecture +
                                 ", whose hidden states llama.cpp does not expose; EAGLE-3 drafts and SpecExit signals "
                                 "need qwen3, qwen2, qwen3moe or llama. Load it without a draft and sidecar");
    }

    // NOTE: offloading has only run with no GPU present (gpu_layers 0); the
    // CUDA and Vulkan paths are untested on real devices so far.
    m->gpu_layers = options.gpu_layers >= 0 ? options.gpu_layers : (gpu_backend_available() ? 999 : 0);
    m->model_tgt = load_model_file(options.target_path, "target model", m->gpu_layers);
    m->target = describe(m->model_tgt, options.target_path);
    m->gpu_layers = std::min(m->gpu_layers, m->target.n_layer + 1);
    m->chat_template = meta_string(m->model_tgt, "tokenizer.chat_template");

    llama_context_params cparams = llama_context_default_params();
    cparams.n_ctx = options.context_size;
    cparams.n_batch = std::min(options.batch_size, options.context_size);
    cparams.n_ubatch = cparams.n_batch;
    cparams.n_seq_max = 1;
    cparams.n_threads = options.threads;
    cparams.n_threads_batch = options.threads_batch;
    cparams.no_perf = true;
    cparams.flash_attn_type = options.flash_attention;
    if (!options.flash_attention_set) {
        cparams.flash_attn_type = m->gpu_layers > 0 ? LLAMA_FLASH_ATTN_TYPE_AUTO : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    }
    cparams.abort_callback = [](void * data) { return static_cast<const std::atomic<bool> *>(data)->load(); };
    cparams.abort_callback_data = &m->abort;

    log_clear_recent_errors();
    m->ctx_tgt = llama_init_from_model(m->model_tgt, cparams);
    if (!m->ctx_tgt) {
        throw std::runtime_error("failed to create a context of " + std::to_string(options.context_size) +
                                 " tokens for " + options.target_path + ": " + log_recent_errors() +
                                 ". Try a smaller contextSize");
    }
    find_special_tokens(*m);
    m->layer_inputs_on.assign((size_t) m->target.n_layer, false);

    // ---- draft ----
    if (!options.draft_path.empty()) {
        const GgufSummary draft_summary = gguf_check_file(options.draft_path, "draft model");
        if (draft_summary.architecture != "eagle3") {
            throw std::runtime_error("draft model " + options.draft_path + " has architecture " +
                                     draft_summary.architecture + "; expected an EAGLE-3 draft (eagle3)");
        }
        m->model_dft = load_model_file(options.draft_path, "draft model", m->gpu_layers > 0 ? 999 : 0);
        m->draft = describe(m->model_dft, options.draft_path);
        const int32_t * ids = llama_model_target_layer_ids(m->model_dft);
        m->draft_layers.assign(ids, ids + llama_model_target_layer_ids_n(m->model_dft));
        check_draft_fits_target(*m, options.draft_path);

        llama_context_params dparams = cparams;
        dparams.ctx_other = m->ctx_tgt; // the draft borrows the target's embeddings and output head
        log_clear_recent_errors();
        m->ctx_dft = llama_init_from_model(m->model_dft, dparams);
        if (!m->ctx_dft) {
            throw std::runtime_error("failed to create the draft context for " + options.draft_path + ": " +
                                     log_recent_errors());
        }
    }

    // ---- signal head ----
    if (options.has_signal_head) {
        check_signal_head(*m, options.signal_head);
        m->signal_head = options.signal_head;
        m->has_signal_head = true;
    }

    return m;
}

} // namespace specexit
