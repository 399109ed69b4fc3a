#include "event_js.h"

#include <algorithm>

namespace specexit {

static Napi::Object triple_to_js(Napi::Env env, const SignalTriple & s) {
    Napi::Object out = Napi::Object::New(env);
    out.Set("confidence", s.confidence);
    out.Set("progress", s.progress);
    out.Set("remain", s.remain);
    return out;
}

static Napi::Float32Array floats_to_js(Napi::Env env, const std::vector<float> & values) {
    Napi::Float32Array out = Napi::Float32Array::New(env, values.size());
    std::copy(values.begin(), values.end(), out.Data());
    return out;
}

static Napi::Object stats_to_js(Napi::Env env, const GenerationStats & s) {
    Napi::Object out = Napi::Object::New(env);
    out.Set("promptTokens", s.prompt_tokens);
    out.Set("prefillMs", s.prefill_ms);
    out.Set("timeToFirstTokenMs", s.time_to_first_token_ms);
    out.Set("decodeMs", s.decode_ms);
    out.Set("decodeTokensPerSecond", s.decode_tokens_per_second);
    out.Set("steps", s.steps);
    out.Set("draftedTokens", s.drafted_tokens);
    out.Set("acceptedDraftTokens", s.accepted_draft_tokens);
    out.Set("meanAcceptedPerStep", s.mean_accepted_per_step);
    out.Set("thinkingTokens", s.thinking_tokens);
    out.Set("answerTokens", s.answer_tokens);
    out.Set("generatedTokens", s.generated_tokens);
    out.Set("probes", s.probes);
    out.Set("probeMs", s.probe_ms);
    return out;
}

Napi::Object event_to_js(Napi::Env env, const Event & event) {
    Napi::Object out = Napi::Object::New(env);
    switch (event.kind) {
        case Event::Kind::Delta:
            out.Set("type", "delta");
            out.Set("phase", event.thinking ? "thinking" : "answer");
            out.Set("text", event.text);
            out.Set("tokens", event.phase_tokens);
            break;
        case Event::Kind::Tokens: {
            out.Set("type", "tokens");
            Napi::Array ids = Napi::Array::New(env, event.tokens.size());
            for (size_t i = 0; i < event.tokens.size(); ++i) {
                ids.Set((uint32_t) i, event.tokens[i]);
            }
            out.Set("tokens", ids);
            break;
        }
        case Event::Kind::Prefill:
            out.Set("type", "prefill");
            out.Set("processed", event.processed);
            out.Set("total", event.total);
            break;
        case Event::Kind::Signals:
            out.Set("type", "signals");
            out.Set("step", event.step);
            out.Set("position", event.position);
            out.Set("raw", triple_to_js(env, event.raw));
            out.Set("smoothed", triple_to_js(env, event.smoothed));
            break;
        case Event::Kind::Probe:
            out.Set("type", "probe");
            out.Set("step", event.step);
            out.Set("position", event.position);
            out.Set("score", event.score);
            break;
        case Event::Kind::Exit:
            out.Set("type", "exit");
            out.Set("reason", event.text);
            out.Set("step", event.step);
            out.Set("position", event.position);
            out.Set("signals", triple_to_js(env, event.smoothed));
            out.Set("predictedRemainingTokens", event.smoothed.remain);
            out.Set("probeScore", event.score);
            break;
        case Event::Kind::Notice:
            out.Set("type", "notice");
            out.Set("message", event.text);
            break;
        case Event::Kind::Stats:
            out.Set("type", "stats");
            out.Set("stats", stats_to_js(env, event.stats));
            break;
        case Event::Kind::Features:
            out.Set("type", "features");
            out.Set("thinkingPosition", event.thinking_position);
            out.Set("token", event.boundary_token);
            out.Set("features", floats_to_js(env, event.features));
            out.Set("segmentMean", floats_to_js(env, event.segment_mean));
            out.Set("segmentTokens", event.segment_tokens);
            break;
        case Event::Kind::ForcedAnswer: {
            out.Set("type", "forcedAnswer");
            out.Set("thinkingPosition", event.thinking_position);
            out.Set("text", event.text);
            Napi::Array ids = Napi::Array::New(env, event.tokens.size());
            for (size_t i = 0; i < event.tokens.size(); ++i) {
                ids.Set((uint32_t) i, event.tokens[i]);
            }
            out.Set("tokens", ids);
            break;
        }
        case Event::Kind::Done:
            out.Set("type", "done");
            out.Set("reason", event.text);
            if (!event.error.empty()) {
                out.Set("error", event.error);
            }
            break;
    }
    return out;
}

Napi::Object model_info_to_js(Napi::Env env, const ModelInfo & info) {
    Napi::Object out = Napi::Object::New(env);
    out.Set("path", info.path);
    out.Set("architecture", info.architecture);
    out.Set("layers", info.n_layer);
    out.Set("hiddenSize", info.n_embd);
    out.Set("vocabularySize", info.n_vocab);
    out.Set("trainContextSize", info.train_context);
    out.Set("sizeBytes", (double) info.size_bytes);
    out.Set("parameters", (double) info.n_params);
    return out;
}

} // namespace specexit
