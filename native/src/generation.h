// One generation: prefill, then the per-step loop (draft, verify, accept, read
// signals, decide) on a worker thread. Pure C++ over llama.cpp; the N-API side
// only receives the events.
#pragma once

#include "signals.h"

#include "llama.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

struct common_speculative;

namespace specexit {

// Trace is plain target decoding that also records, at every step boundary
// inside the thinking, the hidden states the signal head reads and,
// optionally, the answer that forcing </think> there would give.
enum class Mode { Vanilla, Eagle3, SpecExit, Probe, Trace };

Mode mode_from_name(const std::string & name); // throws on an unknown name
const char * mode_name(Mode mode);

struct SamplingOptions {
    bool greedy = true;
    float temperature = 0.8f;
    float top_p = 0.95f;
    uint32_t seed = 0;
};

struct ProbeOptions {
    std::vector<llama_token> answer_prefix; // appended after </think> for each probe
    int32_t n_tokens = 4;                   // greedy tokens decoded per probe
    float threshold = 0.9f;                 // exit when their mean probability exceeds this
};

struct TraceOptions {
    std::array<int32_t, 3> layers = {};     // target layer inputs whose rows are recorded
    int32_t answer_tokens = 0;               // greedy tokens per forced answer; 0: no forced answers
    std::vector<llama_token> answer_prefix;  // forced after </think> before each forced answer
};

struct GenerateOptions {
    Mode mode = Mode::Vanilla;
    SamplingOptions sampling;
    int32_t max_tokens = 512;
    int32_t thinking_budget = -1;            // thinking tokens before the wrap-up is forced; -1: none
    std::vector<llama_token> budget_wrapup;  // forced before </think> when the budget runs out
    ExitPolicy exit;
    std::vector<llama_token> boundary_tokens; // step-boundary token ids
    bool start_in_thinking = false;          // the prompt already opened <think>
    int32_t n_draft = 4;                     // maximum draft tokens per step
    ProbeOptions probe;
    TraceOptions trace;
    bool report_tokens = false;              // emit the generated token ids (Tokens events)
};

struct GenerationStats {
    int32_t prompt_tokens = 0;
    double prefill_ms = 0.0;
    double time_to_first_token_ms = 0.0;
    double decode_ms = 0.0;
    double decode_tokens_per_second = 0.0;
    int32_t steps = 0;                  // target verification passes, forced ones excluded
    int32_t drafted_tokens = 0;
    int32_t accepted_draft_tokens = 0;
    double mean_accepted_per_step = 0.0; // tokens gained per verification pass, the target's own included
    int32_t thinking_tokens = 0;
    int32_t answer_tokens = 0;
    int32_t generated_tokens = 0;
    int32_t probes = 0;                 // probes, or forced answers in trace mode
    double probe_ms = 0.0;
};

struct Event {
    enum class Kind { Delta, Tokens, Prefill, Signals, Probe, Exit, Notice, Stats, Done, Features, ForcedAnswer };
    Kind kind;

    bool thinking = false;      // Delta: which phase the text belongs to
    std::string text;           // Delta: text; Notice: message; Exit: reason; Done: finish reason
    int32_t phase_tokens = 0;   // Delta: tokens of its phase generated so far, those of this text included
    std::string error;          // Done: error message when the generation failed

    int32_t processed = 0;      // Prefill: prompt tokens done
    int32_t total = 0;          // Prefill: prompt tokens in all

    int32_t step = 0;           // Signals, Probe, Exit: verification step
    int32_t position = 0;       // Signals, Probe, Exit: generated tokens so far
    SignalTriple raw;           // Signals: this step's mean over its accepted tokens
    SignalTriple smoothed;      // Signals: after folding this step in; Exit: the values that fired
    float score = 0.0f;         // Probe and probe exits: mean probability of the probe tokens

    GenerationStats stats;      // Stats
    std::vector<llama_token> tokens; // Tokens: generated ids in order, forced ones included; ForcedAnswer: its ids

    // Features and ForcedAnswer: thinking tokens up to and including the boundary token.
    int32_t thinking_position = 0;
    llama_token boundary_token = LLAMA_TOKEN_NULL; // Features: the boundary token
    std::vector<float> features;     // Features: the boundary token's rows, [3][hidden_size]
    std::vector<float> segment_mean; // Features: mean rows of the thinking tokens since the previous boundary, this one included, [3][hidden_size]
    int32_t segment_tokens = 0;      // Features: tokens in that mean
};

using EventSink = std::function<void(Event &&)>;

// Models and contexts a generation borrows from its engine, which outlives it.
struct GenerationContext {
    llama_model * model_tgt = nullptr;
    llama_context * ctx_tgt = nullptr;
    llama_context * ctx_dft = nullptr;    // null without a draft
    const SignalHead * signal_head = nullptr; // null without a sidecar
    std::vector<bool> * layer_inputs_on = nullptr; // the target context's extraction state, owned by the engine
    llama_token think_start = LLAMA_TOKEN_NULL;
    llama_token think_end = LLAMA_TOKEN_NULL;
};

// Runs one generation to its end, emitting events through `sink`. Never
// throws: failures end with a Done event that carries the error.
void run_generation(const GenerationContext & gc, const std::vector<llama_token> & prompt,
                    const GenerateOptions & options, const std::atomic<bool> & abort_flag, const EventSink & sink);

} // namespace specexit
