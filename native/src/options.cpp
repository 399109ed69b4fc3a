#include "options.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace specexit {

namespace {

// Formats a number as written: integers in full, others with up to 17 digits.
std::string format_number(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    char buf[64];
    if (std::floor(d) == d && std::fabs(d) < 1e15) {
        snprintf(buf, sizeof(buf), "%.0f", d);
    } else {
        snprintf(buf, sizeof(buf), "%.17g", d);
    }
    return buf;
}

std::string describe_value(const Napi::Value & value) {
    if (value.IsUndefined()) return "undefined";
    if (value.IsNull()) return "null";
    if (value.IsNumber()) return format_number(value.As<Napi::Number>().DoubleValue());
    if (value.IsString()) return "\"" + value.As<Napi::String>().Utf8Value() + "\"";
    if (value.IsBoolean()) return value.As<Napi::Boolean>().Value() ? "true" : "false";
    return value.IsArray() ? "an array" : "an object";
}

[[noreturn]] void throw_type(const Napi::Env & env, const std::string & name, const std::string & expected,
                             const Napi::Value & got) {
    throw Napi::TypeError::New(env, "Expected `" + name + "` to be " + expected + ", got " + describe_value(got));
}

[[noreturn]] void throw_range(const Napi::Env & env, const std::string & name, const std::string & expected,
                              const Napi::Value & got) {
    throw Napi::RangeError::New(env, "Expected `" + name + "` to be " + expected + ", got " + describe_value(got));
}

double get_number(const Napi::Object & obj, const char * key, const std::string & prefix, double fallback, double min,
                  double max, bool integer) {
    const Napi::Value value = obj.Get(key);
    if (value.IsUndefined()) {
        return fallback;
    }
    const std::string name = prefix + key;
    if (!value.IsNumber()) {
        throw_type(obj.Env(), name, integer ? "an integer" : "a number", value);
    }
    const double d = value.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || (integer && std::floor(d) != d) || d < min || d > max) {
        throw_range(obj.Env(), name,
                    std::string(integer ? "an integer" : "a number") + " from " + format_number(min) + " to " +
                        format_number(max),
                    value);
    }
    return d;
}

bool get_bool(const Napi::Object & obj, const char * key, const std::string & prefix, bool fallback) {
    const Napi::Value value = obj.Get(key);
    if (value.IsUndefined()) {
        return fallback;
    }
    if (!value.IsBoolean()) {
        throw_type(obj.Env(), prefix + key, "a boolean", value);
    }
    return value.As<Napi::Boolean>().Value();
}

std::string get_string(const Napi::Object & obj, const char * key, const std::string & prefix, const std::string & fallback) {
    const Napi::Value value = obj.Get(key);
    if (value.IsUndefined()) {
        return fallback;
    }
    if (!value.IsString()) {
        throw_type(obj.Env(), prefix + key, "a string", value);
    }
    return value.As<Napi::String>().Utf8Value();
}

Napi::Object get_object(const Napi::Object & obj, const char * key, const std::string & prefix) {
    const Napi::Value value = obj.Get(key);
    if (value.IsUndefined()) {
        return Napi::Object::New(obj.Env());
    }
    if (!value.IsObject() || value.IsArray()) {
        throw_type(obj.Env(), prefix + key, "an object", value);
    }
    return value.As<Napi::Object>();
}

constexpr double kMaxInt = 2147483647.0;

} // namespace

std::vector<llama_token> read_tokens(const Napi::Value & value, const std::string & name, int32_t n_vocab) {
    const Napi::Env env = value.Env();
    std::vector<llama_token> tokens;
    if (value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
        const Napi::Int32Array array = value.As<Napi::Int32Array>();
        tokens.assign(array.Data(), array.Data() + array.ElementLength());
    } else if (value.IsArray()) {
        const Napi::Array array = value.As<Napi::Array>();
        tokens.reserve(array.Length());
        for (uint32_t i = 0; i < array.Length(); ++i) {
            const Napi::Value item = array.Get(i);
            if (!item.IsNumber()) {
                throw_type(env, name + "[" + std::to_string(i) + "]", "a token id", item);
            }
            const double d = item.As<Napi::Number>().DoubleValue();
            if (std::floor(d) != d || d < 0 || d > kMaxInt) {
                throw_range(env, name + "[" + std::to_string(i) + "]", "a token id", item);
            }
            tokens.push_back((llama_token) d);
        }
    } else {
        throw_type(env, name, "an Int32Array or an array of token ids", value);
    }
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= n_vocab) {
            throw Napi::RangeError::New(env, "Expected `" + name + "[" + std::to_string(i) + "]` to be a token id below " +
                                                 std::to_string(n_vocab) + ", got " + std::to_string(tokens[i]));
        }
    }
    return tokens;
}

LoadOptions read_load_options(const Napi::Object & options) {
    const Napi::Env env = options.Env();
    const std::string p = "options.";
    LoadOptions out;

    out.target_path = get_string(options, "targetPath", p, "");
    if (out.target_path.empty()) {
        throw_type(env, "options.targetPath", "the path of a target GGUF", options.Get("targetPath"));
    }
    out.draft_path = get_string(options, "draftPath", p, "");
    out.threads = (int32_t) get_number(options, "threads", p, 1, 1, 512, true);
    out.threads_batch = (int32_t) get_number(options, "threadsBatch", p, out.threads, 1, 512, true);
    out.context_size = (uint32_t) get_number(options, "contextSize", p, 4096, 16, 1 << 20, true);
    out.batch_size = (uint32_t) get_number(options, "batchSize", p, 512, 8, 1 << 16, true);
    out.gpu_layers = (int32_t) get_number(options, "gpuLayers", p, -1, -1, 100000, true);
    out.flash_attention_set = !options.Get("flashAttention").IsUndefined();
    const std::string flash = get_string(options, "flashAttention", p, "auto");
    if (flash == "auto") {
        out.flash_attention = LLAMA_FLASH_ATTN_TYPE_AUTO;
    } else if (flash == "on") {
        out.flash_attention = LLAMA_FLASH_ATTN_TYPE_ENABLED;
    } else if (flash == "off") {
        out.flash_attention = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    } else {
        throw_type(env, "options.flashAttention", "\"auto\", \"on\" or \"off\"", options.Get("flashAttention"));
    }

    const Napi::Value head = options.Get("signalHead");
    if (!head.IsUndefined()) {
        if (!head.IsObject()) {
            throw_type(env, "options.signalHead", "an object", head);
        }
        const Napi::Object h = head.As<Napi::Object>();
        const std::string hp = "options.signalHead.";
        out.has_signal_head = true;
        out.signal_head.hidden_size = (int32_t) get_number(h, "hiddenSize", hp, 0, 1, 1 << 20, true);

        const Napi::Value weight = h.Get("weight");
        if (!weight.IsTypedArray() || weight.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
            throw_type(env, hp + "weight", "a Float32Array", weight);
        }
        const Napi::Float32Array w = weight.As<Napi::Float32Array>();
        out.signal_head.weight.assign(w.Data(), w.Data() + w.ElementLength());

        const Napi::Value layers = h.Get("targetLayers");
        if (!layers.IsArray() || layers.As<Napi::Array>().Length() != 3) {
            throw_type(env, hp + "targetLayers", "an array of 3 layer indices", layers);
        }
        for (uint32_t k = 0; k < 3; ++k) {
            const Napi::Value layer = layers.As<Napi::Array>().Get(k);
            if (!layer.IsNumber()) {
                throw_type(env, hp + "targetLayers[" + std::to_string(k) + "]", "a layer index", layer);
            }
            out.signal_head.layers[k] = layer.As<Napi::Number>().Int32Value();
        }

        const Napi::Value bias = h.Get("bias");
        if (!bias.IsUndefined()) {
            if (!bias.IsTypedArray() || bias.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
                bias.As<Napi::Float32Array>().ElementLength() != 3) {
                throw_type(env, hp + "bias", "a Float32Array of 3 values", bias);
            }
            const Napi::Float32Array b = bias.As<Napi::Float32Array>();
            std::copy(b.Data(), b.Data() + 3, out.signal_head.bias.begin());
        }

        const Napi::Value activations = h.Get("activations");
        if (!activations.IsUndefined()) {
            if (!activations.IsArray() || activations.As<Napi::Array>().Length() != 3) {
                throw_type(env, hp + "activations", "an array of 3 activation names", activations);
            }
            for (uint32_t k = 0; k < 3; ++k) {
                const Napi::Value name = activations.As<Napi::Array>().Get(k);
                try {
                    out.signal_head.activations[k] = activation_from_name(name.ToString().Utf8Value());
                } catch (const std::invalid_argument & e) {
                    throw Napi::TypeError::New(env, hp + "activations[" + std::to_string(k) + "]: " + e.what());
                }
            }
        }
    }
    return out;
}

namespace {

// Trace mode records hidden states, so the target must expose them. The layers
// default to the draft's, then to the signal head's.
void read_trace_options(const Napi::Object & trace, const LoadedModels & models, TraceOptions & out) {
    const Napi::Env env = trace.Env();
    const std::string tp = "options.trace.";
    if (!models.target_exposes_layer_inputs) {
        throw Napi::Error::New(env, "mode trace records hidden states, which llama.cpp does not expose for the target's "
                                    "architecture " + models.target.architecture +
                                    "; it needs qwen3, qwen2, qwen3moe or llama");
    }

    const Napi::Value layers = trace.Get("layers");
    if (!layers.IsUndefined()) {
        if (!layers.IsArray() || layers.As<Napi::Array>().Length() != 3) {
            throw_type(env, tp + "layers", "an array of 3 layer indices", layers);
        }
        for (uint32_t k = 0; k < 3; ++k) {
            const std::string name = tp + "layers[" + std::to_string(k) + "]";
            const Napi::Value layer = layers.As<Napi::Array>().Get(k);
            if (!layer.IsNumber()) {
                throw_type(env, name, "a layer index", layer);
            }
            const double d = layer.As<Napi::Number>().DoubleValue();
            if (std::floor(d) != d || d < 0 || d >= models.target.n_layer) {
                throw_range(env, name, "an integer from 0 to " + std::to_string(models.target.n_layer - 1), layer);
            }
            out.layers[k] = (int32_t) d;
        }
    } else if (models.draft_layers.size() == 3) {
        std::copy(models.draft_layers.begin(), models.draft_layers.end(), out.layers.begin());
    } else if (models.has_signal_head) {
        out.layers = models.signal_head.layers;
    } else {
        throw Napi::Error::New(env, "mode trace needs options.trace.layers (three target layer indices) when the "
                                    "engine has neither a draft nor a signal head to take them from");
    }

    out.answer_tokens = (int32_t) get_number(trace, "answerTokens", tp, 0, 0, 4096, true);
    if (out.answer_tokens > 0 && models.think_end == LLAMA_TOKEN_NULL) {
        throw Napi::Error::New(env, "options.trace.answerTokens needs a </think> token, and the target's vocabulary has none");
    }
    const Napi::Value prefix = trace.Get("answerPrefixTokens");
    if (!prefix.IsUndefined()) {
        out.answer_prefix = read_tokens(prefix, tp + "answerPrefixTokens", models.target.n_vocab);
    }
}

} // namespace

GenerateOptions read_generate_options(const Napi::Object & options, const LoadedModels & models) {
    const Napi::Env env = options.Env();
    const std::string p = "options.";
    const int32_t n_vocab = models.target.n_vocab;
    GenerateOptions out;

    try {
        out.mode = mode_from_name(get_string(options, "mode", p, "vanilla"));
    } catch (const std::invalid_argument & e) {
        throw Napi::TypeError::New(env, std::string("options.mode: ") + e.what());
    }
    if ((out.mode == Mode::Eagle3 || out.mode == Mode::SpecExit) && !models.ctx_dft) {
        throw Napi::Error::New(env, std::string("mode ") + mode_name(out.mode) +
                                        " needs an EAGLE-3 draft; load the engine with draftPath or use mode vanilla");
    }
    if (out.mode == Mode::SpecExit && !models.has_signal_head) {
        throw Napi::Error::New(env, "mode specexit needs a signal head; load the engine with signalsPath (a SpecExit "
                                    "sidecar) or use mode probe");
    }
    if (out.mode == Mode::Probe && models.think_end == LLAMA_TOKEN_NULL) {
        throw Napi::Error::New(env, "mode probe needs a </think> token, and the target's vocabulary has none");
    }

    out.max_tokens = (int32_t) get_number(options, "maxTokens", p, 512, 1, kMaxInt, true);
    out.thinking_budget = (int32_t) get_number(options, "thinkingBudget", p, -1, -1, kMaxInt, true);
    if (out.thinking_budget >= 0 && models.think_end == LLAMA_TOKEN_NULL) {
        throw Napi::Error::New(env, "options.thinkingBudget needs a </think> token, and the target's vocabulary has none");
    }
    out.start_in_thinking = get_bool(options, "startInThinking", p, false);
    out.n_draft = (int32_t) get_number(options, "draftTokens", p, 4, 0, 64, true);
    out.report_tokens = get_bool(options, "reportTokens", p, false);
    if (out.mode == Mode::SpecExit && out.n_draft == 0) {
        throw Napi::RangeError::New(env, "mode specexit reads its signals at verification steps and needs "
                                         "options.draftTokens of at least 1, got 0; use mode vanilla for plain decoding");
    }

    const Napi::Value wrapup = options.Get("budgetWrapupTokens");
    if (!wrapup.IsUndefined()) {
        out.budget_wrapup = read_tokens(wrapup, "options.budgetWrapupTokens", n_vocab);
    }

    const Napi::Object sampling = get_object(options, "sampling", p);
    const std::string sp = "options.sampling.";
    out.sampling.greedy = get_bool(sampling, "greedy", sp, true);
    out.sampling.temperature = (float) get_number(sampling, "temperature", sp, 0.8, 0.0, 100.0, false);
    out.sampling.top_p = (float) get_number(sampling, "topP", sp, 0.95, 0.0, 1.0, false);
    out.sampling.seed = (uint32_t) get_number(sampling, "seed", sp, 0, 0, 4294967295.0, true);

    const Napi::Object exit = get_object(options, "exit", p);
    const std::string ep = "options.exit.";
    out.exit.enabled = get_bool(exit, "enabled", ep, true);
    out.exit.alpha = (float) get_number(exit, "alpha", ep, out.exit.alpha, 0.0, 1.0, false);
    out.exit.confidence_threshold = (float) get_number(exit, "confidenceThreshold", ep, out.exit.confidence_threshold, 0.0, 1.0, false);
    out.exit.progress_threshold = (float) get_number(exit, "progressThreshold", ep, out.exit.progress_threshold, 0.0, 1.0, false);
    out.exit.remain_threshold = (float) get_number(exit, "remainThreshold", ep, out.exit.remain_threshold, 0.0, 1e12, false);
    const Napi::Value boundaries = exit.Get("boundaryTokens");
    out.boundary_tokens = boundaries.IsUndefined() ? models.boundary_tokens
                                                   : read_tokens(boundaries, "options.exit.boundaryTokens", n_vocab);

    const Napi::Object probe = get_object(options, "probe", p);
    const std::string pp = "options.probe.";
    out.probe.n_tokens = (int32_t) get_number(probe, "tokens", pp, out.probe.n_tokens, 1, 64, true);
    out.probe.threshold = (float) get_number(probe, "threshold", pp, out.probe.threshold, 0.0, 2.0, false);
    const Napi::Value prefix = probe.Get("answerPrefixTokens");
    if (!prefix.IsUndefined()) {
        out.probe.answer_prefix = read_tokens(prefix, "options.probe.answerPrefixTokens", n_vocab);
    }

    if (out.mode == Mode::Trace) {
        read_trace_options(get_object(options, "trace", p), models, out.trace);
    }
    return out;
}

} // namespace specexit
