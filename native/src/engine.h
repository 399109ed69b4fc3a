// The JavaScript-facing engine: one target (with an optional draft and signal
// head) and at most one generation at a time on its own thread.
#pragma once

#include "generation.h"
#include "models.h"

#include <napi.h>

#include <atomic>
#include <memory>
#include <thread>

namespace specexit {

class Engine : public Napi::ObjectWrap<Engine> {
public:
    static Napi::Function define(Napi::Env env);

    Engine(const Napi::CallbackInfo & info);
    ~Engine() override;

    // Aborts and joins the generations of every engine created in `env`, or
    // of every engine when `env` is null. Run at environment teardown and at
    // process exit: a generation thread left running then would decode while
    // llama.cpp's globals are destroyed.
    static void stop_all(napi_env env);

    // Called by the load worker on the JavaScript thread.
    void adopt(std::unique_ptr<LoadedModels> models) { models_ = std::move(models); }
    void generation_finished() { generating_ = false; }

private:
    static Napi::Value load(const Napi::CallbackInfo & info);

    Napi::Value tokenize(const Napi::CallbackInfo & info);
    Napi::Value detokenize(const Napi::CallbackInfo & info);
    Napi::Value describe(const Napi::CallbackInfo & info);
    Napi::Value generate(const Napi::CallbackInfo & info);
    Napi::Value abort(const Napi::CallbackInfo & info);
    Napi::Value dispose(const Napi::CallbackInfo & info);

    // Throws a JavaScript error naming `method` when the engine was disposed.
    LoadedModels & models(const Napi::Env & env, const char * method);
    void join_worker();
    void stop_generation();

    std::unique_ptr<LoadedModels> models_;
    std::thread worker_;
    bool generating_ = false;
    napi_env env_;
};

} // namespace specexit
