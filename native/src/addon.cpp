// Module entry: backend loading, log capture, and the Engine class.
#include "engine.h"
#include "gguf_check.h"
#include "llama_log.h"
#include "utf8_stream.h"

#include "ggml-backend.h"
#include "ggml.h"
#include "llama.h"

#include "log.h"

#include <napi.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace specexit {

namespace {

// ggml reports a failed internal assertion through this callback and then
// calls abort(). Throwing here unwinds to the nearest C++ handler instead (the
// load worker, the generation loop), which turns it into a JavaScript error.
// NOTE: this is a last resort for defects that the checks before each
// llama.cpp call missed. An assertion inside a noexcept function or a ggml
// worker thread still ends the process.
void throw_on_ggml_abort(const char * message) {
    log_line(GGML_LOG_LEVEL_ERROR, std::string("ggml assertion: ") + (message ? message : ""));
    throw std::runtime_error(std::string("llama.cpp internal check failed: ") + (message ? message : ""));
}

// Backends are registered once per process; each environment gets its own
// copy of the report.
struct BackendDevice {
    std::string name;
    std::string description;
    std::string type;
};
struct BackendFailure {
    std::string library;
    std::string reason;
};
std::mutex g_backends_mutex;
bool g_backends_loaded = false;
std::vector<BackendDevice> g_devices;
std::vector<BackendFailure> g_failures;

Napi::Object backend_report(Napi::Env env) {
    Napi::Array devices = Napi::Array::New(env, g_devices.size());
    for (size_t i = 0; i < g_devices.size(); ++i) {
        Napi::Object device = Napi::Object::New(env);
        device.Set("name", g_devices[i].name);
        device.Set("description", g_devices[i].description);
        device.Set("type", g_devices[i].type);
        devices.Set((uint32_t) i, device);
    }
    Napi::Array failures = Napi::Array::New(env, g_failures.size());
    for (size_t i = 0; i < g_failures.size(); ++i) {
        Napi::Object failure = Napi::Object::New(env);
        failure.Set("library", g_failures[i].library);
        failure.Set("reason", g_failures[i].reason);
        failures.Set((uint32_t) i, failure);
    }
    Napi::Object report = Napi::Object::New(env);
    report.Set("devices", devices);
    report.Set("failures", failures);
    return report;
}

std::string device_type_name(enum ggml_backend_dev_type type) {
    switch (type) {
        case GGML_BACKEND_DEVICE_TYPE_CPU: return "cpu";
        case GGML_BACKEND_DEVICE_TYPE_GPU: return "gpu";
        case GGML_BACKEND_DEVICE_TYPE_IGPU: return "igpu";
        case GGML_BACKEND_DEVICE_TYPE_ACCEL: return "accel";
        default: return "other";
    }
}

// loadBackends(cpuDir, gpuLibraries): registers the best CPU variant found in
// cpuDir and tries each GPU backend library in turn. Returns the devices and,
// for each GPU library that failed, why. Later calls return the first report.
// stopAll(): aborts and joins every running generation of this environment.
// The TypeScript layer calls it from process.on('exit'), which runs before
// exit() starts destroying llama.cpp's and ggml's static objects. A C atexit
// handler would run after some of them, because ggml creates several lazily.
Napi::Value stop_all(const Napi::CallbackInfo & info) {
    Engine::stop_all(info.Env());
    return info.Env().Undefined();
}

Napi::Value load_backends(const Napi::CallbackInfo & info) {
    const Napi::Env env = info.Env();
    std::lock_guard<std::mutex> lock(g_backends_mutex);
    if (g_backends_loaded) {
        return backend_report(env);
    }
    if (info.Length() < 1 || !info[0].IsString()) {
        throw Napi::TypeError::New(env, "Expected `cpuDir` to be the folder of the prebuilt llama.cpp libraries");
    }
    const std::string cpu_dir = info[0].As<Napi::String>().Utf8Value();

    if (info.Length() > 1 && info[1].IsArray()) {
        const Napi::Array libs = info[1].As<Napi::Array>();
        for (uint32_t i = 0; i < libs.Length(); ++i) {
            const std::string path = libs.Get(i).ToString().Utf8Value();
            log_clear_recent_errors();
            if (ggml_backend_load(path.c_str()) == nullptr) {
                const std::string log_errors = log_recent_errors();
                g_failures.push_back({ path, log_errors.empty() ? "the library did not load" : log_errors });
            }
        }
    }
    ggml_backend_load_all_from_path(cpu_dir.c_str());
    llama_backend_init();

    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        g_devices.push_back({ ggml_backend_dev_name(dev), ggml_backend_dev_description(dev),
                              device_type_name(ggml_backend_dev_type(dev)) });
    }
    g_backends_loaded = true;
    return backend_report(env);
}

Napi::Value take_log(const Napi::CallbackInfo & info) {
    const Napi::Env env = info.Env();
    const std::vector<LogLine> lines = log_take();
    Napi::Array out = Napi::Array::New(env, lines.size());
    for (size_t i = 0; i < lines.size(); ++i) {
        Napi::Object line = Napi::Object::New(env);
        line.Set("level", lines[i].level);
        line.Set("text", lines[i].text);
        out.Set((uint32_t) i, line);
    }
    return out;
}

// checkGguf(path, role): the structural checks that run before every load.
Napi::Value check_gguf(const Napi::CallbackInfo & info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
        throw Napi::TypeError::New(env, "Expected `path` to be a string");
    }
    const std::string role = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "model";
    try {
        const GgufSummary summary = gguf_check_file(info[0].As<Napi::String>().Utf8Value(), role);
        Napi::Object out = Napi::Object::New(env);
        out.Set("architecture", summary.architecture);
        out.Set("tensors", (double) summary.n_tensors);
        out.Set("tokens", (double) summary.n_tokens);
        return out;
    } catch (const std::runtime_error & e) {
        throw Napi::Error::New(env, e.what());
    }
}

// utf8Deltas(pieces): runs byte pieces through the stream that splits
// generated text into deltas, then flushes it. For tests of that splitting,
// which the fixture models, writing ASCII only, never exercise.
Napi::Value utf8_deltas(const Napi::CallbackInfo & info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) {
        throw Napi::TypeError::New(env, "Expected `pieces` to be an array of Uint8Array");
    }
    const Napi::Array pieces = info[0].As<Napi::Array>();
    Utf8Stream stream;
    Napi::Array out = Napi::Array::New(env);
    for (uint32_t i = 0; i <= pieces.Length(); ++i) {
        std::string delta;
        if (i < pieces.Length()) {
            const Napi::Value piece = pieces.Get(i);
            if (!piece.IsTypedArray() || piece.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
                throw Napi::TypeError::New(env, "Expected `pieces[" + std::to_string(i) + "]` to be a Uint8Array");
            }
            const Napi::Uint8Array bytes = piece.As<Napi::Uint8Array>();
            delta = stream.push(std::string((const char *) bytes.Data(), bytes.ByteLength()));
        } else {
            delta = stream.flush();
        }
        out.Set(i, Napi::String::New(env, delta));
    }
    return out;
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
    static std::once_flag process_setup;
    std::call_once(process_setup, []() {
        log_capture_install();
        ggml_set_abort_callback(throw_on_ggml_abort);
        // The drafter logs through llama.cpp's common logger straight to
        // stderr; its failures reach the caller as notices instead.
        common_log_pause(common_log_main());
    });
    exports.Set("Engine", Engine::define(env));
    exports.Set("loadBackends", Napi::Function::New(env, load_backends, "loadBackends"));
    exports.Set("takeLog", Napi::Function::New(env, take_log, "takeLog"));
    exports.Set("checkGguf", Napi::Function::New(env, check_gguf, "checkGguf"));
    exports.Set("utf8Deltas", Napi::Function::New(env, utf8_deltas, "utf8Deltas"));
    exports.Set("stopAll", Napi::Function::New(env, stop_all, "stopAll"));
    return exports;
}

} // namespace

} // namespace specexit

static Napi::Object init_module(Napi::Env env, Napi::Object exports) {
    return specexit::init(env, exports);
}

NODE_API_MODULE(NODE_GYP_MODULE_NAME, init_module)
