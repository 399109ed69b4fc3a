// Captures llama.cpp and ggml log output so that errors can quote it and the
// daemon can route it through its own logger. llama_log_set is process-wide,
// so one capture serves every engine in the process.
#pragma once

#include <string>
#include <vector>

namespace specexit {

struct LogLine {
    int level;        // ggml_log_level
    std::string text; // one line, without the trailing newline
};

// Installs the capture as llama.cpp's and ggml's log callback. Idempotent.
void log_capture_install();

// Removes and returns the captured lines, oldest first (at most the last 2000).
std::vector<LogLine> log_take();

// Returns the most recent warning and error lines joined by "; ", for error
// messages ("" when there are none). Does not remove them.
std::string log_recent_errors(size_t max_lines = 4);

// Forgets the recent errors so that the next failure quotes only its own.
void log_clear_recent_errors();

// Writes one line from our own code into the same capture.
void log_line(int level, const std::string & text);

} // namespace specexit
