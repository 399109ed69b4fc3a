// Trace mode's recording: the hidden-state rows a signal head reads, taken at
// every step boundary inside the thinking, for fitting signal heads offline.
#pragma once

#include "generation.h"

#include "llama.h"

#include <cstdint>
#include <vector>

namespace specexit {

class TraceRecorder {
public:
    TraceRecorder(const TraceOptions & options, int32_t hidden_size);

    // Adds the rows of one thinking token: batch row `row` of the last decode
    // on `ctx`, for each of the three trace layers. For a boundary token it
    // fills `out` with a Features event, starts a new segment and returns true.
    bool add_token(llama_context * ctx, int32_t row, llama_token token, bool boundary, int32_t thinking_position,
                   Event & out);

private:
    std::array<int32_t, 3> layers_;
    size_t hidden_size_;
    std::vector<double> segment_sum_; // [3][hidden_size], rows of the thinking tokens since the last boundary
    int32_t segment_tokens_ = 0;
};

} // namespace specexit
