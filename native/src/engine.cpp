#include "engine.h"

#include "event_js.h"
#include "llama_log.h"
#include "options.h"

#include <mutex>
#include <set>
#include <vector>

namespace specexit {

namespace {

// ---- loading, off the JavaScript thread ----

// Per-environment state: a worker thread or a second module instance has its
// own JavaScript environment, and references must not cross environments.
struct AddonData {
    Napi::FunctionReference constructor;
};

std::mutex g_engines_mutex;
std::set<Engine *> g_engines;

class LoadWorker : public Napi::AsyncWorker {
public:
    LoadWorker(Napi::Env env, LoadOptions options, Napi::FunctionReference & constructor)
        : Napi::AsyncWorker(env, "specexit.load"), options_(std::move(options)), constructor_(constructor),
          deferred_(Napi::Promise::Deferred::New(env)) {}

    Napi::Promise promise() { return deferred_.Promise(); }

protected:
    void Execute() override {
        try {
            models_ = load_models(options_);
        } catch (const std::exception & e) {
            SetError(e.what());
        }
    }

    void OnOK() override {
        Napi::Object engine = constructor_.New({});
        Engine * unwrapped = Engine::Unwrap(engine);
        unwrapped->adopt(std::move(models_));
        deferred_.Resolve(engine);
    }

    void OnError(const Napi::Error & error) override { deferred_.Reject(error.Value()); }

private:
    LoadOptions options_;
    Napi::FunctionReference & constructor_;
    Napi::Promise::Deferred deferred_;
    std::unique_ptr<LoadedModels> models_;
};

// ---- event delivery: worker thread -> JavaScript ----

// Events wait here until the JavaScript thread takes them. At most one call
// is queued on the thread-safe function at a time, so a burst of steps
// reaches JavaScript as one array and adjacent text deltas merge.
struct EventQueue {
    std::mutex mutex;
    std::vector<Event> events;
    bool call_pending = false;
    Engine * engine = nullptr;
    Napi::ObjectReference engine_ref; // keeps the engine alive while generating
};

// The queue is shared by the worker thread and the thread-safe function, and
// lives until both are done with it: during environment teardown the function
// can be finalized while the thread still runs.
using QueueRef = std::shared_ptr<EventQueue>;

void deliver(Napi::Env env, Napi::Function callback, QueueRef * queue_ref, std::nullptr_t *) {
    // A null env means the environment is shutting down and drains calls
    // still queued after the finalizer has already freed `queue_ref`.
    if (env == nullptr) {
        return;
    }
    EventQueue * queue = queue_ref->get();
    std::vector<Event> events;
    {
        std::lock_guard<std::mutex> lock(queue->mutex);
        events.swap(queue->events);
        queue->call_pending = false;
    }
    if (events.empty()) {
        return;
    }
    for (const Event & event : events) {
        if (event.kind == Event::Kind::Done) {
            // The loop is over and touches no llama.cpp state any more, so the
            // callback may start the next generation right away.
            queue->engine->generation_finished();
        }
    }
    try {
        Napi::Array array = Napi::Array::New(env, events.size());
        for (size_t i = 0; i < events.size(); ++i) {
            array.Set((uint32_t) i, event_to_js(env, events[i]));
        }
        callback.Call({ array });
    } catch (const Napi::Error & error) {
        // An exception from the callback is the caller's bug: hand it to
        // Node's uncaught-exception handling. While the environment shuts
        // down, N-API calls fail and nothing can be reported.
        try {
            error.ThrowAsJavaScriptException();
        } catch (const Napi::Error &) {
        }
    }
}

using EventFunction = Napi::TypedThreadSafeFunction<QueueRef, std::nullptr_t, deliver>;

} // namespace

// ---- the class ----

Napi::Function Engine::define(Napi::Env env) {
    Napi::Function cls = DefineClass(env, "Engine",
                                     {
                                         StaticMethod("load", &Engine::load),
                                         InstanceMethod("tokenize", &Engine::tokenize),
                                         InstanceMethod("detokenize", &Engine::detokenize),
                                         InstanceMethod("describe", &Engine::describe),
                                         InstanceMethod("generate", &Engine::generate),
                                         InstanceMethod("abort", &Engine::abort),
                                         InstanceMethod("dispose", &Engine::dispose),
                                     });
    auto * data = new AddonData();
    data->constructor = Napi::Persistent(cls);
    env.SetInstanceData(data);
    env.AddCleanupHook([env]() { Engine::stop_all(env); });
    return cls;
}

Engine::Engine(const Napi::CallbackInfo & info) : Napi::ObjectWrap<Engine>(info), env_(info.Env()) {
    std::lock_guard<std::mutex> lock(g_engines_mutex);
    g_engines.insert(this);
}

Engine::~Engine() {
    {
        std::lock_guard<std::mutex> lock(g_engines_mutex);
        g_engines.erase(this);
    }
    stop_generation();
}

void Engine::stop_generation() {
    if (models_) {
        models_->abort.store(true);
    }
    join_worker();
}

void Engine::stop_all(napi_env env) {
    std::lock_guard<std::mutex> lock(g_engines_mutex);
    for (Engine * engine : g_engines) {
        if (env == nullptr || engine->env_ == env) {
            engine->stop_generation();
        }
    }
}

void Engine::join_worker() {
    if (worker_.joinable()) {
        worker_.join();
    }
}

LoadedModels & Engine::models(const Napi::Env & env, const char * method) {
    if (!models_) {
        throw Napi::Error::New(env, std::string("Engine.") + method +
                                        " was called after dispose(); load a new engine with Engine.load()");
    }
    return *models_;
}

Napi::Value Engine::load(const Napi::CallbackInfo & info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
        throw Napi::TypeError::New(env, "Expected `options` to be an object with targetPath");
    }
    LoadOptions options = read_load_options(info[0].As<Napi::Object>());
    auto * worker = new LoadWorker(env, std::move(options), env.GetInstanceData<AddonData>()->constructor);
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
}

namespace {

std::vector<llama_token> tokenize_raw(const llama_vocab * vocab, const std::string & text, bool add_special,
                                      bool parse_special) {
    std::vector<llama_token> tokens(text.size() + 8);
    int32_t n = llama_tokenize(vocab, text.data(), (int32_t) text.size(), tokens.data(), (int32_t) tokens.size(),
                               add_special, parse_special);
    if (n < 0) {
        tokens.resize((size_t) -n);
        n = llama_tokenize(vocab, text.data(), (int32_t) text.size(), tokens.data(), (int32_t) tokens.size(),
                           add_special, parse_special);
    }
    if (n < 0) {
        throw std::runtime_error("llama_tokenize failed on a text of " + std::to_string(text.size()) + " bytes");
    }
    tokens.resize((size_t) n);
    return tokens;
}

// llama.cpp matches user-defined tokens (Qwen3's <think> and </think>) even
// when special tokens are not parsed, so text that contains "</think>" would
// end the thinking phase. Such tokens are re-tokenized one character at a
// time, which keeps the text and yields only ordinary tokens.
std::vector<llama_token> tokenize_as_text(const llama_vocab * vocab, const std::string & text, bool add_special) {
    std::vector<llama_token> tokens = tokenize_raw(vocab, text, add_special, false);
    std::vector<llama_token> out;
    out.reserve(tokens.size());
    for (llama_token token : tokens) {
        if ((llama_vocab_get_attr(vocab, token) & LLAMA_TOKEN_ATTR_USER_DEFINED) == 0) {
            out.push_back(token);
            continue;
        }
        char buf[256];
        const int32_t n = llama_token_to_piece(vocab, token, buf, sizeof(buf), 0, true);
        const std::string piece(buf, n > 0 ? (size_t) n : 0);
        for (size_t i = 0; i < piece.size();) {
            size_t len = 1;
            while (i + len < piece.size() && ((unsigned char) piece[i + len] & 0xC0) == 0x80) {
                ++len;
            }
            for (llama_token part : tokenize_raw(vocab, piece.substr(i, len), false, false)) {
                out.push_back(part);
            }
            i += len;
        }
    }
    return out;
}

} // namespace

Napi::Value Engine::tokenize(const Napi::CallbackInfo & info) {
    const Napi::Env env = info.Env();
    const LoadedModels & m = models(env, "tokenize");
    if (info.Length() < 1 || !info[0].IsString()) {
        throw Napi::TypeError::New(env, "Expected `text` to be a string");
    }
    const std::string text = info[0].As<Napi::String>().Utf8Value();
    const bool add_special = info.Length() > 1 && info[1].ToBoolean().Value();
    const bool parse_special = info.Length() > 2 && info[2].ToBoolean().Value();

    const llama_vocab * vocab = llama_model_get_vocab(m.model_tgt);
    std::vector<llama_token> tokens;
    try {
        tokens = parse_special ? tokenize_raw(vocab, text, add_special, true) : tokenize_as_text(vocab, text, add_special);
    } catch (const std::runtime_error & e) {
        throw Napi::Error::New(env, e.what());
    }
    Napi::Int32Array out = Napi::Int32Array::New(env, tokens.size());
    std::copy(tokens.begin(), tokens.end(), out.Data());
    return out;
}

Napi::Value Engine::detokenize(const Napi::CallbackInfo & info) {
    const Napi::Env env = info.Env();
    const LoadedModels & m = models(env, "detokenize");
    if (info.Length() < 1) {
        throw Napi::TypeError::New(env, "Expected `tokens` to be an Int32Array or an array of token ids");
    }
    const std::vector<llama_token> tokens = read_tokens(info[0], "tokens", m.target.n_vocab);
    const bool special = info.Length() > 1 && info[1].ToBoolean().Value();

    const llama_vocab * vocab = llama_model_get_vocab(m.model_tgt);
    std::string text(tokens.size() * 8 + 16, '\0');
    int32_t n = llama_detokenize(vocab, tokens.data(), (int32_t) tokens.size(), text.data(), (int32_t) text.size(),
                                 false, special);
    if (n < 0) {
        text.resize((size_t) -n);
        n = llama_detokenize(vocab, tokens.data(), (int32_t) tokens.size(), text.data(), (int32_t) text.size(), false,
                             special);
    }
    text.resize(n > 0 ? (size_t) n : 0);
    return Napi::String::New(env, text);
}

Napi::Value Engine::describe(const Napi::CallbackInfo & info) {
    const Napi::Env env = info.Env();
    const LoadedModels & m = models(env, "describe");
    Napi::Object out = Napi::Object::New(env);
    out.Set("target", model_info_to_js(env, m.target));
    if (m.model_dft) {
        Napi::Object draft = model_info_to_js(env, m.draft);
        Napi::Array layers = Napi::Array::New(env, m.draft_layers.size());
        for (size_t i = 0; i < m.draft_layers.size(); ++i) {
            layers.Set((uint32_t) i, m.draft_layers[i]);
        }
        draft.Set("targetLayers", layers);
        out.Set("draft", draft);
    }
    out.Set("hasSignalHead", m.has_signal_head);
    out.Set("contextSize", (double) llama_n_ctx(m.ctx_tgt));
    out.Set("batchSize", (double) llama_n_batch(m.ctx_tgt));
    out.Set("gpuLayers", m.gpu_layers);
    out.Set("chatTemplate", m.chat_template);
    const llama_vocab * vocab = llama_model_get_vocab(m.model_tgt);
    out.Set("eosToken", llama_vocab_eos(vocab));
    out.Set("bosToken", llama_vocab_bos(vocab));
    out.Set("thinkStartToken", m.think_start);
    out.Set("thinkEndToken", m.think_end);
    Napi::Array boundaries = Napi::Array::New(env, m.boundary_tokens.size());
    for (size_t i = 0; i < m.boundary_tokens.size(); ++i) {
        boundaries.Set((uint32_t) i, m.boundary_tokens[i]);
    }
    out.Set("boundaryTokens", boundaries);
    return out;
}

Napi::Value Engine::generate(const Napi::CallbackInfo & info) {
    const Napi::Env env = info.Env();
    LoadedModels & m = models(env, "generate");
    if (generating_) {
        throw Napi::Error::New(env, "the engine is busy with another generation; wait for its done event or abort it");
    }
    if (info.Length() < 3 || !info[1].IsObject() || !info[2].IsFunction()) {
        throw Napi::TypeError::New(env, "Expected generate(promptTokens, options, onEvents)");
    }

    // Checked here, before a thread starts, so that bad input throws.
    auto prompt = std::make_shared<std::vector<llama_token>>(read_tokens(info[0], "promptTokens", m.target.n_vocab));
    if (prompt->empty()) {
        throw Napi::RangeError::New(env, "Expected `promptTokens` to hold at least one token, got none");
    }
    const uint32_t n_ctx = llama_n_ctx(m.ctx_tgt);
    if (prompt->size() + 1 > n_ctx) {
        throw Napi::RangeError::New(env, "the prompt exceeds the context size (" + std::to_string(prompt->size()) +
                                             " tokens, context " + std::to_string(n_ctx) +
                                             "); shorten the prompt or load the engine with a larger contextSize");
    }
    auto options = std::make_shared<GenerateOptions>(read_generate_options(info[1].As<Napi::Object>(), m));

    join_worker(); // the previous generation has sent its done event; its thread is ending

    auto queue = std::make_shared<EventQueue>();
    queue->engine = this;
    queue->engine_ref = Napi::Persistent(Value());
    EventFunction tsfn = EventFunction::New(env, info[2].As<Napi::Function>(), "specexit.generate", 0, 1,
                                            new QueueRef(queue), [](Napi::Env, void *, QueueRef * ref) {
                                                (*ref)->engine_ref.Reset();
                                                delete ref;
                                            });

    generating_ = true;
    m.abort.store(false);

    GenerationContext gc;
    gc.model_tgt = m.model_tgt;
    gc.ctx_tgt = m.ctx_tgt;
    gc.ctx_dft = m.ctx_dft;
    gc.signal_head = m.has_signal_head ? &m.signal_head : nullptr;
    gc.layer_inputs_on = &m.layer_inputs_on;
    gc.think_start = m.think_start;
    gc.think_end = m.think_end;

    std::atomic<bool> * abort_flag = &m.abort;
    worker_ = std::thread([gc, prompt, options, queue, tsfn, abort_flag]() mutable {
        const EventSink sink = [&queue, &tsfn](Event && event) {
            bool schedule = false;
            {
                std::lock_guard<std::mutex> lock(queue->mutex);
                Event * last = queue->events.empty() ? nullptr : &queue->events.back();
                if (event.kind == Event::Kind::Delta && last && last->kind == Event::Kind::Delta &&
                    last->thinking == event.thinking) {
                    last->text += event.text;
                    last->phase_tokens = event.phase_tokens;
                } else if (event.kind == Event::Kind::Tokens && last && last->kind == Event::Kind::Tokens) {
                    last->tokens.insert(last->tokens.end(), event.tokens.begin(), event.tokens.end());
                } else {
                    queue->events.push_back(std::move(event));
                }
                if (!queue->call_pending) {
                    queue->call_pending = true;
                    schedule = true;
                }
            }
            if (schedule) {
                tsfn.BlockingCall(nullptr);
            }
        };
        run_generation(gc, *prompt, *options, *abort_flag, sink);
        tsfn.Release();
    });
    return env.Undefined();
}

Napi::Value Engine::abort(const Napi::CallbackInfo & info) {
    if (models_) {
        models_->abort.store(true);
    }
    return info.Env().Undefined();
}

Napi::Value Engine::dispose(const Napi::CallbackInfo & info) {
    stop_generation(); // the loop checks the flag between steps and inside decodes
    models_.reset();
    return info.Env().Undefined();
}

} // namespace specexit
