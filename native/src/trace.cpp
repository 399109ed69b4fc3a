#include "trace.h"

#include "llama-ext.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace specexit {

TraceRecorder::TraceRecorder(const TraceOptions & options, int32_t hidden_size)
    : layers_(options.layers), hidden_size_((size_t) hidden_size), segment_sum_(3 * (size_t) hidden_size, 0.0) {}

bool TraceRecorder::add_token(llama_context * ctx, int32_t row, llama_token token, bool boundary,
                              int32_t thinking_position, Event & out) {
    const size_t h = hidden_size_;
    std::vector<float> rows(3 * h);
    for (size_t k = 0; k < 3; ++k) {
        const float * layer = llama_get_embeddings_layer_inp(ctx, (uint32_t) layers_[k]);
        if (!layer) {
            throw std::runtime_error("the target returned no hidden state for layer " + std::to_string(layers_[k]));
        }
        const float * src = layer + (size_t) row * h;
        std::copy(src, src + h, rows.begin() + (std::ptrdiff_t) (k * h));
    }
    for (size_t i = 0; i < rows.size(); ++i) {
        segment_sum_[i] += rows[i];
    }
    segment_tokens_++;
    if (!boundary) {
        return false;
    }

    out = Event{ Event::Kind::Features };
    out.thinking_position = thinking_position;
    out.boundary_token = token;
    out.features = std::move(rows);
    out.segment_tokens = segment_tokens_;
    out.segment_mean.resize(segment_sum_.size());
    for (size_t i = 0; i < segment_sum_.size(); ++i) {
        out.segment_mean[i] = (float) (segment_sum_[i] / segment_tokens_);
        segment_sum_[i] = 0.0;
    }
    segment_tokens_ = 0;
    return true;
}

} // namespace specexit
