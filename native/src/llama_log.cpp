#include "llama_log.h"

#include "ggml.h"
#include "llama.h"

#include <deque>
#include <mutex>

namespace specexit {

namespace {

constexpr size_t kMaxLines = 2000;
constexpr size_t kMaxRecentErrors = 16;

std::mutex g_mutex;
std::deque<LogLine> g_lines;
std::deque<std::string> g_recent_errors;
std::string g_partial;   // text of a line not yet ended by '\n'
int g_partial_level = GGML_LOG_LEVEL_INFO;

void push_line_locked(int level, std::string text) {
    if (text.empty()) {
        return;
    }
    if (level == GGML_LOG_LEVEL_WARN || level == GGML_LOG_LEVEL_ERROR) {
        g_recent_errors.push_back(text);
        if (g_recent_errors.size() > kMaxRecentErrors) {
            g_recent_errors.pop_front();
        }
    }
    g_lines.push_back({level, std::move(text)});
    if (g_lines.size() > kMaxLines) {
        g_lines.pop_front();
    }
}

// llama.cpp logs in pieces: GGML_LOG_LEVEL_CONT continues the previous
// message, and a message ends at '\n'.
void on_log(ggml_log_level level, const char * text, void * /*user_data*/) {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (level != GGML_LOG_LEVEL_CONT) {
        g_partial_level = level;
    }
    g_partial += text ? text : "";
    size_t newline;
    while ((newline = g_partial.find('\n')) != std::string::npos) {
        push_line_locked(g_partial_level, g_partial.substr(0, newline));
        g_partial.erase(0, newline + 1);
    }
}

} // namespace

void log_capture_install() {
    llama_log_set(on_log, nullptr);
    ggml_log_set(on_log, nullptr);
}

std::vector<LogLine> log_take() {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::vector<LogLine> out(g_lines.begin(), g_lines.end());
    g_lines.clear();
    return out;
}

std::string log_recent_errors(size_t max_lines) {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::string out;
    const size_t n = g_recent_errors.size();
    for (size_t i = n > max_lines ? n - max_lines : 0; i < n; ++i) {
        if (!out.empty()) {
            out += "; ";
        }
        out += g_recent_errors[i];
    }
    return out;
}

void log_clear_recent_errors() {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_recent_errors.clear();
}

void log_line(int level, const std::string & text) {
    std::lock_guard<std::mutex> lock(g_mutex);
    push_line_locked(level, text);
}

} // namespace specexit
