#include "gguf_check.h"

#include "ggml.h"
#include "gguf.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <sys/stat.h>
#include <unordered_set>

namespace specexit {

namespace {

struct GgufDeleter {
    void operator()(gguf_context * ctx) const { gguf_free(ctx); }
};
struct GgmlDeleter {
    void operator()(ggml_context * ctx) const { ggml_free(ctx); }
};

[[noreturn]] void fail(const std::string & role, const std::string & path, const std::string & defect) {
    throw std::runtime_error(role + " " + path + ": " + defect +
                             ". Re-download or re-convert the file; a GGUF from llama.cpp's converter loads as is");
}

// Checks that a per-token array, when present, has one entry per token.
void check_per_token_array(gguf_context * ctx, const char * key, uint64_t n_tokens,
                           const std::string & role, const std::string & path) {
    const int64_t id = gguf_find_key(ctx, key);
    if (id < 0) {
        return;
    }
    if (gguf_get_kv_type(ctx, id) != GGUF_TYPE_ARRAY) {
        fail(role, path, std::string("metadata ") + key + " is not an array");
    }
    const uint64_t n = gguf_get_arr_n(ctx, id);
    if (n != n_tokens) {
        fail(role, path, std::string("metadata ") + key + " has " + std::to_string(n) + " entries but the vocabulary has " +
                             std::to_string(n_tokens) + " tokens");
    }
}

void check_token_id(gguf_context * ctx, const char * key, uint64_t n_tokens,
                    const std::string & role, const std::string & path) {
    const int64_t id = gguf_find_key(ctx, key);
    if (id < 0) {
        return;
    }
    const gguf_type type = gguf_get_kv_type(ctx, id);
    int64_t value = -1;
    if (type == GGUF_TYPE_UINT32) {
        value = gguf_get_val_u32(ctx, id);
    } else if (type == GGUF_TYPE_INT32) {
        value = gguf_get_val_i32(ctx, id);
    } else {
        fail(role, path, std::string("metadata ") + key + " is not a 32-bit integer");
    }
    if (value >= (int64_t) n_tokens) {
        fail(role, path, std::string("metadata ") + key + " = " + std::to_string(value) +
                             " is outside the vocabulary of " + std::to_string(n_tokens) + " tokens");
    }
}

} // namespace

GgufSummary gguf_check_file(const std::string & path, const std::string & role) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
        throw std::runtime_error(role + " " + path + " cannot be read: " + std::strerror(errno) +
                                 ". Check the path in the model settings");
    }
    if (!S_ISREG(st.st_mode)) {
        throw std::runtime_error(role + " " + path + " is not a regular file. Give the path of a .gguf file");
    }
    const uint64_t file_size = (uint64_t) st.st_size;

    ggml_context * meta_raw = nullptr;
    gguf_init_params params = { /*no_alloc =*/ true, /*ctx =*/ &meta_raw };
    std::unique_ptr<gguf_context, GgufDeleter> ctx(gguf_init_from_file(path.c_str(), params));
    std::unique_ptr<ggml_context, GgmlDeleter> meta(meta_raw);
    if (!ctx) {
        fail(role, path, "not a valid GGUF file (bad magic, version, metadata or tensor table; the file may be truncated)");
    }

    GgufSummary summary;

    const int64_t arch_id = gguf_find_key(ctx.get(), "general.architecture");
    if (arch_id < 0 || gguf_get_kv_type(ctx.get(), arch_id) != GGUF_TYPE_STRING) {
        fail(role, path, "metadata general.architecture is missing");
    }
    summary.architecture = gguf_get_val_str(ctx.get(), arch_id);

    // Tensor data must lie inside the file: llama.cpp maps it without checking
    // every tensor against the file size.
    const uint64_t data_offset = gguf_get_data_offset(ctx.get());
    summary.n_tensors = (uint64_t) gguf_get_n_tensors(ctx.get());
    for (int64_t i = 0; i < (int64_t) summary.n_tensors; ++i) {
        const uint64_t begin = data_offset + gguf_get_tensor_offset(ctx.get(), i);
        const uint64_t size = gguf_get_tensor_size(ctx.get(), i);
        if (begin > file_size || size > file_size - begin) {
            fail(role, path, std::string("tensor ") + gguf_get_tensor_name(ctx.get(), i) + " ends at byte " +
                                 std::to_string(begin + size) + " but the file has " + std::to_string(file_size) +
                                 " bytes (truncated file)");
        }
    }

    // The vocabulary: llama.cpp asserts that token strings are unique and
    // indexes the per-token arrays by token id.
    const int64_t tokens_id = gguf_find_key(ctx.get(), "tokenizer.ggml.tokens");
    if (tokens_id >= 0) {
        if (gguf_get_kv_type(ctx.get(), tokens_id) != GGUF_TYPE_ARRAY ||
            gguf_get_arr_type(ctx.get(), tokens_id) != GGUF_TYPE_STRING) {
            fail(role, path, "metadata tokenizer.ggml.tokens is not an array of strings");
        }
        summary.n_tokens = gguf_get_arr_n(ctx.get(), tokens_id);
        std::unordered_set<std::string> seen;
        seen.reserve(summary.n_tokens);
        for (uint64_t i = 0; i < summary.n_tokens; ++i) {
            const char * text = gguf_get_arr_str(ctx.get(), tokens_id, i);
            if (!seen.insert(text).second) {
                fail(role, path, "token " + std::to_string(i) + " repeats the string of an earlier token");
            }
        }
        check_per_token_array(ctx.get(), "tokenizer.ggml.scores", summary.n_tokens, role, path);
        check_per_token_array(ctx.get(), "tokenizer.ggml.token_type", summary.n_tokens, role, path);
        for (const char * key : { "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                  "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
                                  "tokenizer.ggml.eot_token_id", "tokenizer.ggml.seperator_token_id" }) {
            check_token_id(ctx.get(), key, summary.n_tokens, role, path);
        }
    }

    return summary;
}

} // namespace specexit
