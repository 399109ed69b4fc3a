{
  "targets": [
    {
      "target_name": "specexit",
      "sources": [
        "src/addon.cpp",
        "src/event_js.cpp",
        "src/llama_log.cpp",
        "src/models.cpp",
        "src/options.cpp",
        "src/utf8_stream.cpp",
        "src/engine.cpp",
        "src/generation.cpp",
        "src/gguf_check.cpp",
        "src/signals.cpp",
        "src/trace.cpp"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"process.env.SPECEXIT_LLAMA_SRC\")/include",
        "<!(node -p \"process.env.SPECEXIT_LLAMA_SRC\")/ggml/include",
        "<!(node -p \"process.env.SPECEXIT_LLAMA_SRC\")/common",
        "<!(node -p \"process.env.SPECEXIT_LLAMA_SRC\")/src",
        "<!(node -p \"process.env.SPECEXIT_LLAMA_SRC\")/vendor"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": [
        "-L<!(node -p \"process.env.SPECEXIT_LLAMA_BINS\")",
        "<!@(node -p \"process.env.SPECEXIT_LLAMA_LIBS\")",
        "-Wl,-rpath,'$$ORIGIN/<!(node -p \"process.env.SPECEXIT_LLAMA_RPATH\")'",
        "-pthread"
      ]
    }
  ]
}
