#include "generation.h"

#include "llama_log.h"
#include "trace.h"
#include "utf8_stream.h"

#include "common.h"
#include "llama-ext.h"
#include "speculative.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <stdexcept>

namespace specexit {

Mode mode_from_name(const std::string & name) {
    if (name == "vanilla") return Mode::Vanilla;
    if (name == "eagle3") return Mode::Eagle3;
    if (name == "specexit") return Mode::SpecExit;
    if (name == "probe") return Mode::Probe;
    if (name == "trace") return Mode::Trace;
    throw std::invalid_argument("unknown mode \"" + name + "\"; expected vanilla, eagle3, specexit, probe or trace");
}

const char * mode_name(Mode mode) {
    switch (mode) {
        case Mode::Vanilla: return "vanilla";
        case Mode::Eagle3: return "eagle3";
        case Mode::SpecExit: return "specexit";
        case Mode::Probe: return "probe";
        case Mode::Trace: return "trace";
    }
    return "?";
}

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct SamplerDeleter {
    void operator()(llama_sampler * s) const { llama_sampler_free(s); }
};
using SamplerPtr = std::unique_ptr<llama_sampler, SamplerDeleter>;

struct SpeculativeDeleter {
    void operator()(common_speculative * s) const { common_speculative_free(s); }
};
using SpeculativePtr = std::unique_ptr<common_speculative, SpeculativeDeleter>;

struct BatchHolder {
    llama_batch batch;
    explicit BatchHolder(int32_t n) : batch(llama_batch_init(n, 0, 1)) {}
    ~BatchHolder() { llama_batch_free(batch); }
    BatchHolder(const BatchHolder &) = delete;
    BatchHolder & operator=(const BatchHolder &) = delete;
};

// The greedy continuation after a forced </think>, as probes and trace mode's
// forced answers decode it.
struct ForcedContinuation {
    bool decoded = false;             // false: it did not fit, or a decode failed
    std::vector<llama_token> tokens;  // greedy tokens after the answer prefix, end-of-generation excluded
    double mean_probability = 0.0;    // mean probability of the greedy choices, end-of-generation included
};

// Thrown inside the loop to end the generation with a finish reason that is
// not an error (abort, full context).
struct Finish {
    std::string reason;
};

class Generation {
public:
    Generation(const GenerationContext & gc, const std::vector<llama_token> & prompt, const GenerateOptions & options,
               const std::atomic<bool> & abort_flag, const EventSink & sink)
        : gc_(gc), prompt_(prompt), opt_(options), abort_(abort_flag), sink_(sink),
          vocab_(llama_model_get_vocab(gc.model_tgt)), n_ctx_((int32_t) llama_n_ctx(gc.ctx_tgt)),
          n_batch_((int32_t) llama_n_batch(gc.ctx_tgt)), batch_(n_batch_),
          boundaries_(options.boundary_tokens.begin(), options.boundary_tokens.end()) {}

    void run();

    // Flushes held-back text and fills the final statistics. `reason` keeps
    // a finish reason already set by an abort or an error.
    void finish(std::string & reason, GenerationStats & stats);

private:
    // ---- setup ----
    void init_sampler();
    void init_speculative();
    void set_layer_extraction(bool spec_on);
    void prefill();

    // ---- one step ----
    void draft(std::vector<llama_token> & draft_tokens);
    void decode_target(const std::vector<llama_token> & tokens, bool want_logits);
    void trim_draft_cache();
    size_t walk(const std::vector<llama_token> & ids, bool forced);
    void force_exit(const char * reason, const std::vector<llama_token> & before_end, float probe_score = 0.0f);
    void fold_signals(int32_t n_rows);
    bool run_probe();
    ForcedContinuation decode_after_think_end(const std::vector<llama_token> & answer_prefix, int32_t n_tokens,
                                              const char * what);
    void record_trace_row();
    void run_forced_answer();
    void drop_speculative(const std::string & reason);

    // ---- output ----
    void emit_token_text(llama_token token);
    void emit_text(bool thinking, const std::string & bytes, int32_t phase_tokens);
    void emit_delta(bool thinking, std::string && text, int32_t phase_tokens);
    void flush_text();
    void emit(Event && event) { sink_(std::move(event)); }
    void check_abort() const {
        if (abort_.load()) throw Finish{ "aborted" };
    }

    const GenerationContext & gc_;
    const std::vector<llama_token> & prompt_;
    const GenerateOptions & opt_;
    const std::atomic<bool> & abort_;
    const EventSink & sink_;

    const llama_vocab * vocab_;
    const int32_t n_ctx_;
    const int32_t n_batch_;
    BatchHolder batch_;
    std::unordered_set<llama_token> boundaries_;

    SamplerPtr sampler_;
    SpeculativePtr spec_;
    std::vector<llama_token> history_;  // tokens in the target KV cache, for the drafter

    llama_pos n_past_ = 0;              // position where id_last_ goes
    llama_token id_last_ = LLAMA_TOKEN_NULL; // sampled, emitted, not yet decoded
    std::vector<llama_token> forced_;   // tokens to force instead of sampling

    bool thinking_ = false;
    bool think_closed_ = false;         // a </think> has been emitted or forced
    bool exit_taken_ = false;           // an exit or budget wrap-up was already forced
    std::string finish_;                // set when the loop must stop after this step

    SignalSmoother smoother_;
    std::unique_ptr<TraceRecorder> trace_; // trace mode only

    // Whether the last walked token was a thinking token, and its index among them.
    bool walked_thinking_ = false;
    int32_t walked_thinking_position_ = 0;
    // The same for id_last_, which the next step decodes.
    bool id_last_thinking_ = false;
    int32_t id_last_thinking_position_ = 0;
    Utf8Stream text_[2];                // [0] answer, [1] thinking

    GenerationStats stats_;
    Clock::time_point t_start_;
    Clock::time_point t_decode_start_;
    bool decode_started_ = false;
    bool first_token_seen_ = false;
    int32_t step_tokens_ = 0;           // tokens gained in verification steps, for the mean
    float last_probe_score_ = 0.0f;
    bool probe_skip_noticed_ = false;
};

void Generation::init_sampler() {
    llama_sampler_chain_params params = llama_sampler_chain_default_params();
    params.no_perf = true;
    sampler_.reset(llama_sampler_chain_init(params));
    if (opt_.sampling.greedy) {
        llama_sampler_chain_add(sampler_.get(), llama_sampler_init_greedy());
    } else {
        llama_sampler_chain_add(sampler_.get(), llama_sampler_init_top_p(opt_.sampling.top_p, 1));
        llama_sampler_chain_add(sampler_.get(), llama_sampler_init_temp(opt_.sampling.temperature));
        llama_sampler_chain_add(sampler_.get(), llama_sampler_init_dist(opt_.sampling.seed));
    }
}

// The hidden-state read-out costs a copy per layer and token, so only the
// layers the drafter or the signal head read this time are on.
void Generation::set_layer_extraction(bool spec_on) {
    std::vector<bool> wanted(gc_.layer_inputs_on->size(), false);
    if (spec_on && gc_.ctx_dft) {
        const llama_model * model_dft = llama_get_model(gc_.ctx_dft);
        const int32_t * ids = llama_model_target_layer_ids(model_dft);
        for (uint32_t k = 0; k < llama_model_target_layer_ids_n(model_dft); ++k) {
            wanted[(size_t) ids[k]] = true;
        }
    }
    if (spec_on && gc_.signal_head && opt_.mode == Mode::SpecExit) {
        for (int32_t layer : gc_.signal_head->layers) {
            wanted[(size_t) layer] = true;
        }
    }
    if (opt_.mode == Mode::Trace) {
        for (int32_t layer : opt_.trace.layers) {
            wanted[(size_t) layer] = true;
        }
    }
    std::vector<bool> & current = *gc_.layer_inputs_on;
    for (size_t layer = 0; layer < wanted.size(); ++layer) {
        if (wanted[layer] != current[layer]) {
            llama_set_embeddings_layer_inp(gc_.ctx_tgt, (uint32_t) layer, wanted[layer]);
            current[layer] = wanted[layer];
        }
    }
}

void Generation::init_speculative() {
    const bool wants_draft = opt_.mode == Mode::Eagle3 || opt_.mode == Mode::SpecExit ||
                             (opt_.mode == Mode::Probe && gc_.ctx_dft != nullptr);
    if (!wants_draft || opt_.n_draft <= 0) {
        set_layer_extraction(false);
        return;
    }

    common_params_speculative params;
    params.types = { COMMON_SPECULATIVE_TYPE_DRAFT_EAGLE3 };
    params.draft.ctx_tgt = gc_.ctx_tgt;
    params.draft.ctx_dft = gc_.ctx_dft;
    params.draft.n_max = opt_.n_draft;
    params.draft.n_min = 0;
    params.draft.p_min = 0.0f;
    // The CPU sampler keeps drafting identical on every backend.
    params.draft.backend_sampling = false;

    try {
        spec_.reset(common_speculative_init(params, 1));
        // NOTE: the drafter switches its layers on by itself at every start.
        // That costs one graph reservation per speculative generation (a few
        // ms on CPU here), and the state below records the change.
        const llama_model * model_dft = llama_get_model(gc_.ctx_dft);
        const int32_t * ids = llama_model_target_layer_ids(model_dft);
        for (uint32_t k = 0; k < llama_model_target_layer_ids_n(model_dft); ++k) {
            (*gc_.layer_inputs_on)[(size_t) ids[k]] = true;
        }
    } catch (const std::exception & e) {
        spec_.reset();
        emit({ Event::Kind::Notice, false, std::string("the draft could not start (") + e.what() +
                                               "); continuing with plain decoding" });
    }
    set_layer_extraction(spec_ != nullptr);
}

void Generation::drop_speculative(const std::string & reason) {
    spec_.reset();
    set_layer_extraction(false);
    log_line(GGML_LOG_LEVEL_WARN, "specexit: " + reason + "; continuing with plain decoding");
    emit({ Event::Kind::Notice, false, reason + "; continuing with plain decoding" });
}

// Decodes every prompt token but the last; the last becomes id_last_, so the
// first step treats prompt and generation alike.
void Generation::prefill() {
    const int32_t n_prefill = (int32_t) prompt_.size() - 1;
    llama_batch & batch = batch_.batch;

    for (int32_t start = 0; start < n_prefill; start += n_batch_) {
        check_abort();
        const int32_t n = std::min(n_batch_, n_prefill - start);
        common_batch_clear(batch);
        for (int32_t i = 0; i < n; ++i) {
            common_batch_add(batch, prompt_[start + i], start + i, { 0 }, false);
        }
        const int32_t rc = llama_decode(gc_.ctx_tgt, batch);
        if (rc == 2) {
            throw Finish{ "aborted" };
        }
        if (rc != 0) {
            throw std::runtime_error("llama_decode failed on the prompt at token " + std::to_string(start) +
                                     " (code " + std::to_string(rc) + "): " + log_recent_errors());
        }
        if (spec_ && !common_speculative_process(spec_.get(), batch)) {
            drop_speculative("the draft failed on the prompt");
        }
        Event progress{ Event::Kind::Prefill };
        progress.processed = start + n;
        progress.total = n_prefill;
        emit(std::move(progress));
    }

    history_.assign(prompt_.begin(), prompt_.end() - 1);
    n_past_ = n_prefill;
    id_last_ = prompt_.back();
    if (spec_) {
        common_speculative_begin(spec_.get(), 0, history_);
    }
}

void Generation::draft(std::vector<llama_token> & draft_tokens) {
    draft_tokens.clear();
    if (!spec_) {
        return;
    }
    // A draft never exceeds the free context, the batch, or the tokens still allowed.
    int32_t n_max = std::min(opt_.n_draft, n_ctx_ - n_past_ - 2);
    n_max = std::min(n_max, n_batch_ - 1);
    n_max = std::min(n_max, opt_.max_tokens - stats_.generated_tokens - 1);
    if (n_max <= 0) {
        return;
    }

    common_speculative_get_draft_params(spec_.get(), 0) = {
        /* .drafting = */ true,
        /* .n_max    = */ n_max,
        /* .n_past   = */ n_past_,
        /* .id_last  = */ id_last_,
        /* .prompt   = */ &history_,
        /* .result   = */ &draft_tokens,
    };
    common_speculative_draft(spec_.get());
    stats_.drafted_tokens += (int32_t) draft_tokens.size();
}

// Decodes `tokens` at n_past_ onwards and lets the drafter see each batch.
// Forced tokens (no logits) may exceed the batch size and go in pieces.
void Generation::decode_target(const std::vector<llama_token> & tokens, bool want_logits) {
    if (n_past_ + (llama_pos) tokens.size() > n_ctx_) {
        throw Finish{ "context" };
    }
    if (spec_) {
        trim_draft_cache();
    }
    llama_batch & batch = batch_.batch;
    for (size_t start = 0; start < tokens.size(); start += (size_t) n_batch_) {
        const size_t n = std::min(tokens.size() - start, (size_t) n_batch_);
        common_batch_clear(batch);
        for (size_t i = 0; i < n; ++i) {
            common_batch_add(batch, tokens[start + i], n_past_ + (llama_pos) (start + i), { 0 }, want_logits);
        }
        const int32_t rc = llama_decode(gc_.ctx_tgt, batch);
        if (rc == 1) {
            throw Finish{ "context" };
        }
        if (rc == 2) {
            throw Finish{ "aborted" };
        }
        if (rc != 0) {
            throw std::runtime_error("llama_decode failed at position " + std::to_string(n_past_ + (llama_pos) start) +
                                     " (code " + std::to_string(rc) + "): " + log_recent_errors());
        }
        if (spec_ && !common_speculative_process(spec_.get(), batch)) {
            drop_speculative("the draft failed to process a verification batch");
        }
    }
}

// The EAGLE-3 drafter (draft-eagle3 in llama.cpp's common/speculative.cpp)
// stores at position p the pair (token at p + 1, target features at p), so
// the pair at n_past_ - 1 waits for id_last_. Its cache may also still
// contain draft tokens and pairs of rows that the last step rejected or cut
// off. Removing everything from n_past_ - 1 on makes
// common_speculative_process write the waiting pair with id_last_, the first
// token of the batch, and then the batch's own pairs at consecutive
// positions. Verified and forced batches take this same path. After a draft,
// this writes again the pair that common_speculative_draft already wrote,
// one extra drafter row per step.
void Generation::trim_draft_cache() {
    llama_memory_seq_rm(llama_get_memory(gc_.ctx_dft), 0, std::max<llama_pos>(n_past_ - 1, 0), -1);
}

// `phase_tokens` counts the tokens of that phase up to and including the one
// whose bytes these are.
void Generation::emit_text(bool thinking, const std::string & bytes, int32_t phase_tokens) {
    std::string ready = text_[thinking ? 1 : 0].push(bytes);
    if (!ready.empty()) {
        emit_delta(thinking, std::move(ready), phase_tokens);
    }
}

void Generation::emit_delta(bool thinking, std::string && text, int32_t phase_tokens) {
    Event delta{ Event::Kind::Delta, thinking, std::move(text) };
    delta.phase_tokens = phase_tokens;
    emit(std::move(delta));
}

void Generation::flush_text() {
    for (int phase = 1; phase >= 0; --phase) {
        std::string rest = text_[phase].flush();
        if (!rest.empty()) {
            const int32_t phase_tokens = phase == 1 ? stats_.thinking_tokens : stats_.answer_tokens;
            emit_delta(phase == 1, std::move(rest), phase_tokens);
        }
    }
}

// Classifies one generated token: phase markers switch the phase and are not
// shown; everything else is text of the current phase.
void Generation::emit_token_text(llama_token token) {
    if (token == gc_.think_end && gc_.think_end != LLAMA_TOKEN_NULL) {
        if (thinking_) {
            std::string rest = text_[1].flush();
            if (!rest.empty()) {
                emit_delta(true, std::move(rest), stats_.thinking_tokens);
            }
            thinking_ = false;
        }
        // A second </think> after the boundary is dropped from the answer.
        think_closed_ = true;
        return;
    }
    if (token == gc_.think_start && gc_.think_start != LLAMA_TOKEN_NULL && !thinking_ && !think_closed_ &&
        stats_.answer_tokens == 0) {
        thinking_ = true;
        return;
    }

    char buf[256];
    int32_t n = llama_token_to_piece(vocab_, token, buf, sizeof(buf), 0, false);
    std::string piece;
    if (n < 0) {
        piece.resize((size_t) -n);
        n = llama_token_to_piece(vocab_, token, piece.data(), (int32_t) piece.size(), 0, false);
        piece.resize(n > 0 ? (size_t) n : 0);
    } else {
        piece.assign(buf, (size_t) n);
    }
    // walk() adds this token to the phase's count after this call returns.
    const int32_t phase_tokens = (thinking_ ? stats_.thinking_tokens : stats_.answer_tokens) + 1;
    emit_text(thinking_, piece, phase_tokens);
}

// Goes through the tokens of one step in order and returns how many to keep.
// Sets finish_ or forced_ when a stop, an exit or the budget falls inside.
size_t Generation::walk(const std::vector<llama_token> & ids, bool forced) {
    const bool exit_allowed = opt_.mode == Mode::SpecExit && !forced && !exit_taken_ && gc_.signal_head != nullptr &&
                              exit_rule_met(smoother_, opt_.exit);

    for (size_t k = 0; k < ids.size(); ++k) {
        const llama_token token = ids[k];

        if (llama_vocab_is_eog(vocab_, token) && token != gc_.think_end) {
            finish_ = "eos";
            return k;
        }

        if (!first_token_seen_) {
            first_token_seen_ = true;
            stats_.time_to_first_token_ms = ms_since(t_start_);
        }
        const bool was_thinking = thinking_;
        emit_token_text(token);
        if (opt_.report_tokens) {
            Event ids_event{ Event::Kind::Tokens };
            ids_event.tokens.push_back(token);
            emit(std::move(ids_event));
        }
        stats_.generated_tokens++;
        // The phase markers count as generated tokens but belong to neither phase.
        const bool marker = token == gc_.think_end || (!was_thinking && thinking_);
        if (!marker) {
            (was_thinking ? stats_.thinking_tokens : stats_.answer_tokens)++;
        }
        walked_thinking_ = was_thinking && !marker;
        walked_thinking_position_ = stats_.thinking_tokens;

        if (stats_.generated_tokens >= opt_.max_tokens) {
            finish_ = "max_tokens";
            return k + 1;
        }
        if (!thinking_ || forced || exit_taken_) {
            continue;
        }

        // The thinking budget: Qwen's wrap-up sentence, then </think>.
        if (opt_.thinking_budget >= 0 && stats_.thinking_tokens >= opt_.thinking_budget) {
            force_exit("budget", opt_.budget_wrapup);
            return k + 1;
        }

        if (boundaries_.count(token) == 0) {
            continue;
        }
        if (exit_allowed) {
            force_exit("specexit", {});
            return k + 1;
        }
        if (opt_.mode == Mode::Probe) {
            // Acceptance stops at the boundary so that the probe sees exactly
            // the thinking up to it; the next step decodes the rest again.
            return k + 1;
        }
    }
    return ids.size();
}

// Ends thinking: queues `before_end` and </think> for the next step and
// reports the exit with the signals and probe score that led to it.
void Generation::force_exit(const char * reason, const std::vector<llama_token> & before_end, float probe_score) {
    forced_ = before_end;
    forced_.push_back(gc_.think_end);
    exit_taken_ = true;
    Event exit{ Event::Kind::Exit };
    exit.text = reason;
    exit.step = stats_.steps;
    exit.position = stats_.generated_tokens;
    exit.smoothed = smoother_.value();
    exit.score = probe_score;
    emit(std::move(exit));
}

// Folds the mean signal triple of the first `n_rows` rows of the last target
// batch (the tokens this step committed) into the smoother.
void Generation::fold_signals(int32_t n_rows) {
    const SignalHead & head = *gc_.signal_head;
    const float * layers[3];
    for (size_t k = 0; k < 3; ++k) {
        layers[k] = llama_get_embeddings_layer_inp(gc_.ctx_tgt, (uint32_t) head.layers[k]);
        if (!layers[k]) {
            throw std::runtime_error("the target returned no hidden state for layer " + std::to_string(head.layers[k]));
        }
    }

    SignalTriple mean;
    const size_t h = (size_t) head.hidden_size;
    for (int32_t r = 0; r < n_rows; ++r) {
        const SignalTriple s = head.read(layers[0] + r * h, layers[1] + r * h, layers[2] + r * h);
        mean.confidence += s.confidence / n_rows;
        mean.progress += s.progress / n_rows;
        mean.remain += s.remain / n_rows;
    }
    smoother_.fold(mean, opt_.exit.alpha);

    Event signals{ Event::Kind::Signals };
    signals.step = stats_.steps;
    signals.position = stats_.generated_tokens;
    signals.raw = mean;
    signals.smoothed = smoother_.value();
    emit(std::move(signals));
}

// DEER-style probe at a step boundary: append </think> and the answer prefix
// after the thinking so far, decode a few tokens greedily, and average their
// probabilities.
bool Generation::run_probe() {
    const ForcedContinuation probe_result = decode_after_think_end(opt_.probe.answer_prefix, opt_.probe.n_tokens, "probe");
    if (!probe_result.decoded) {
        return false;
    }

    const float score = (float) probe_result.mean_probability;
    Event probe{ Event::Kind::Probe };
    probe.step = stats_.steps;
    probe.position = stats_.generated_tokens;
    probe.score = score;
    emit(std::move(probe));
    last_probe_score_ = score;
    return score > opt_.probe.threshold;
}

// Decodes [id_last, </think>, answer prefix] after the thinking so far, then
// up to `n_tokens` tokens greedily. Everything it decodes is removed from the
// KV cache again, so the generation goes on as if it never ran. The drafter
// never sees these batches. Counts as a probe in the statistics.
ForcedContinuation Generation::decode_after_think_end(const std::vector<llama_token> & answer_prefix, int32_t n_tokens,
                                                      const char * what) {
    ForcedContinuation result;
    const Clock::time_point t_probe = Clock::now();
    std::vector<llama_token> tokens = { id_last_, gc_.think_end };
    tokens.insert(tokens.end(), answer_prefix.begin(), answer_prefix.end());
    if (n_past_ + (llama_pos) tokens.size() + n_tokens > n_ctx_ || (int32_t) tokens.size() > n_batch_) {
        if (!probe_skip_noticed_) {
            probe_skip_noticed_ = true;
            emit({ Event::Kind::Notice, false,
                   std::string("a ") + what + " of " + std::to_string(tokens.size()) +
                       " tokens does not fit the batch of " + std::to_string(n_batch_) +
                       " or the free context; thinking goes on without them" });
        }
        return result;
    }

    llama_memory_t mem = llama_get_memory(gc_.ctx_tgt);
    llama_batch & batch = batch_.batch;
    common_batch_clear(batch);
    for (size_t i = 0; i < tokens.size(); ++i) {
        common_batch_add(batch, tokens[i], n_past_ + (llama_pos) i, { 0 }, i + 1 == tokens.size());
    }
    llama_pos pos = n_past_ + (llama_pos) tokens.size();

    const int32_t n_vocab = llama_vocab_n_tokens(vocab_);
    double sum_p = 0.0;
    int32_t n_scored = 0;
    int32_t rc = llama_decode(gc_.ctx_tgt, batch);
    while (rc == 0) {
        const float * logits = llama_get_logits_ith(gc_.ctx_tgt, -1);
        int32_t best = 0;
        for (int32_t i = 1; i < n_vocab; ++i) {
            if (logits[i] > logits[best]) best = i;
        }
        double z = 0.0;
        for (int32_t i = 0; i < n_vocab; ++i) {
            z += std::exp((double) logits[i] - logits[best]);
        }
        sum_p += 1.0 / z;
        n_scored++;
        const bool end = llama_vocab_is_eog(vocab_, best);
        if (!end) {
            result.tokens.push_back(best);
        }
        if (n_scored >= n_tokens || end) {
            break;
        }
        common_batch_clear(batch);
        common_batch_add(batch, best, pos++, { 0 }, true);
        rc = llama_decode(gc_.ctx_tgt, batch);
    }
    llama_memory_seq_rm(mem, 0, n_past_, -1);

    stats_.probes++;
    stats_.probe_ms += ms_since(t_probe);
    if (rc == 2) {
        throw Finish{ "aborted" };
    }
    result.decoded = rc == 0 && n_scored > 0;
    result.mean_probability = n_scored > 0 ? sum_p / n_scored : 0.0;
    return result;
}

// Trace mode: records the hidden-state rows of id_last_, just decoded as row
// 0 of a one-token batch, when it is a thinking token.
void Generation::record_trace_row() {
    if (!id_last_thinking_) {
        return;
    }
    Event features;
    if (trace_->add_token(gc_.ctx_tgt, 0, id_last_, boundaries_.count(id_last_) > 0, id_last_thinking_position_,
                          features)) {
        emit(std::move(features));
    }
}

// Trace mode: the answer the model would give if </think> were forced right
// after the boundary token id_last_.
void Generation::run_forced_answer() {
    const ForcedContinuation answer = decode_after_think_end(opt_.trace.answer_prefix, opt_.trace.answer_tokens,
                                                             "forced answer");
    if (!answer.decoded) {
        return;
    }
    Event event{ Event::Kind::ForcedAnswer };
    event.thinking_position = id_last_thinking_position_;
    event.tokens = answer.tokens;
    event.text = common_detokenize(vocab_, answer.tokens, false);
    emit(std::move(event));
}

void Generation::finish(std::string & reason, GenerationStats & stats) {
    flush_text();
    if (reason.empty()) {
        reason = finish_.empty() ? "eos" : finish_;
    }
    if (decode_started_) {
        stats_.decode_ms = ms_since(t_decode_start_);
        if (stats_.decode_ms > 0.0) {
            stats_.decode_tokens_per_second = stats_.generated_tokens * 1000.0 / stats_.decode_ms;
        }
    } else {
        stats_.prefill_ms = ms_since(t_start_);
    }
    if (stats_.steps > 0) {
        stats_.mean_accepted_per_step = (double) step_tokens_ / stats_.steps;
    }
    stats = stats_;
}

void Generation::run() {
    t_start_ = Clock::now();
    stats_.prompt_tokens = (int32_t) prompt_.size();
    thinking_ = opt_.start_in_thinking;

    llama_memory_clear(llama_get_memory(gc_.ctx_tgt), true);
    if (gc_.ctx_dft) {
        llama_memory_clear(llama_get_memory(gc_.ctx_dft), true);
    }
    init_sampler();
    init_speculative();
    if (opt_.mode == Mode::Trace) {
        trace_ = std::make_unique<TraceRecorder>(opt_.trace, llama_model_n_embd(gc_.model_tgt));
    }

    // ---- prefill ----
    prefill();
    stats_.prefill_ms = ms_since(t_start_);
    t_decode_start_ = Clock::now();
    decode_started_ = true;

    // A budget of 0 with the prompt already thinking: wrap up at once.
    if (thinking_ && opt_.thinking_budget == 0) {
        force_exit("budget", opt_.budget_wrapup);
    }

    // ---- decode: draft, verify, accept, read signals, decide ----
    std::vector<llama_token> draft_tokens;
    std::vector<llama_token> ids;
    while (finish_.empty()) {
        check_abort();

        if (!forced_.empty()) {
            // Forced tokens (</think>, the budget wrap-up) replace sampling:
            // decode id_last and all forced tokens but the last, which
            // becomes the new id_last. The drafter processes the batch like a
            // verification batch. No common_speculative_accept follows,
            // because every row is kept and the drafter already stores the
            // last row's features for its pair with the new id_last.
            std::vector<llama_token> tokens = { id_last_ };
            tokens.insert(tokens.end(), forced_.begin(), forced_.end() - 1);
            decode_target(tokens, false);
            ids.swap(forced_);
            forced_.clear();

            const size_t n_keep = walk(ids, true);
            history_.insert(history_.end(), tokens.begin(), tokens.end());
            n_past_ += (llama_pos) tokens.size();
            id_last_ = ids[n_keep > 0 ? n_keep - 1 : 0];
            id_last_thinking_ = walked_thinking_;
            id_last_thinking_position_ = walked_thinking_position_;
            llama_memory_seq_rm(llama_get_memory(gc_.ctx_tgt), 0, n_past_, -1);
            continue;
        }

        // draft
        draft(draft_tokens);

        // verify: id_last and the draft in one target pass
        std::vector<llama_token> tokens = { id_last_ };
        tokens.insert(tokens.end(), draft_tokens.begin(), draft_tokens.end());
        decode_target(tokens, true);
        stats_.steps++;
        if (trace_) {
            record_trace_row();
        }

        // accept: the target samples at every position, and each draft
        // token is kept while it equals the sample
        ids.clear();
        for (size_t i = 0; i <= draft_tokens.size(); ++i) {
            const llama_token sampled = llama_sampler_sample(sampler_.get(), gc_.ctx_tgt, (int32_t) i);
            ids.push_back(sampled);
            if (i == draft_tokens.size() || sampled != draft_tokens[i]) {
                break;
            }
        }

        // read signals, decide: the walk checks the exit rule against the
        // smoothed signals of earlier steps; this step is folded in after.
        const bool was_thinking = thinking_;
        const size_t n_keep = walk(ids, false);
        if (n_keep == 0) {
            break; // the first sampled token ends the generation
        }
        const int32_t n_accepted = (int32_t) n_keep - 1; // draft tokens kept
        stats_.accepted_draft_tokens += n_accepted;
        step_tokens_ += (int32_t) n_keep;

        if (was_thinking && opt_.mode == Mode::SpecExit && gc_.signal_head && spec_) {
            fold_signals(n_accepted + 1);
        }

        // commit: id_last and the kept draft tokens stay in the KV cache; the
        // last kept token is the new id_last and is decoded next step.
        if (spec_) {
            common_speculative_accept(spec_.get(), 0, (uint16_t) n_accepted);
        }
        history_.push_back(id_last_);
        history_.insert(history_.end(), ids.begin(), ids.begin() + n_accepted);
        n_past_ += 1 + n_accepted;
        id_last_ = ids[n_keep - 1];
        id_last_thinking_ = walked_thinking_;
        id_last_thinking_position_ = walked_thinking_position_;
        llama_memory_seq_rm(llama_get_memory(gc_.ctx_tgt), 0, n_past_, -1);

        if (finish_.empty() && opt_.mode == Mode::Probe && thinking_ && !exit_taken_ &&
            boundaries_.count(id_last_) > 0 && run_probe()) {
            force_exit("probe", {}, last_probe_score_);
        }
        if (finish_.empty() && trace_ && opt_.trace.answer_tokens > 0 && thinking_ && !exit_taken_ &&
            boundaries_.count(id_last_) > 0) {
            run_forced_answer();
        }
        if (n_past_ + 1 >= n_ctx_ && finish_.empty()) {
            finish_ = "context";
        }
    }
}

} // namespace

void run_generation(const GenerationContext & gc, const std::vector<llama_token> & prompt,
                    const GenerateOptions & options, const std::atomic<bool> & abort_flag, const EventSink & sink) {
    std::string reason;
    std::string error;
    GenerationStats stats;
    {
        Generation generation(gc, prompt, options, abort_flag, sink);
        try {
            generation.run();
        } catch (const Finish & finish) {
            reason = finish.reason;
        } catch (const std::exception & e) {
            reason = "error";
            error = e.what();
        }
        generation.finish(reason, stats);
    }
    Event stats_event{ Event::Kind::Stats };
    stats_event.stats = stats;
    sink(std::move(stats_event));

    Event done{ Event::Kind::Done };
    done.text = reason;
    done.error = error;
    sink(std::move(done));
}

} // namespace specexit
