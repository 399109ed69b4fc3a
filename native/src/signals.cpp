#include "signals.h"

#include <cmath>
#include <stdexcept>

namespace specexit {

Activation activation_from_name(const std::string & name) {
    if (name == "sigmoid") {
        return Activation::Sigmoid;
    }
    if (name == "exp") {
        return Activation::Exp;
    }
    if (name == "identity") {
        return Activation::Identity;
    }
    throw std::invalid_argument("unknown signal activation \"" + name + "\"; expected sigmoid, exp or identity");
}

static float activate(Activation activation, float x) {
    switch (activation) {
        case Activation::Sigmoid: return 1.0f / (1.0f + std::exp(-x));
        // Clamped so that a wild logit gives a large finite remain, not inf.
        case Activation::Exp: return std::exp(std::fmin(x, 30.0f));
        case Activation::Identity: return x;
    }
    return x;
}

SignalTriple SignalHead::read(const float * h0, const float * h1, const float * h2) const {
    const size_t n = (size_t) hidden_size;
    const float * parts[3] = { h0, h1, h2 };
    float raw[3];
    for (size_t row = 0; row < 3; ++row) {
        const float * w = weight.data() + row * 3 * n;
        double sum = bias[row];
        for (size_t k = 0; k < 3; ++k) {
            const float * h = parts[k];
            const float * wk = w + k * n;
            for (size_t i = 0; i < n; ++i) {
                sum += (double) wk[i] * h[i];
            }
        }
        raw[row] = (float) sum;
    }
    return { activate(activations[0], raw[0]), activate(activations[1], raw[1]), activate(activations[2], raw[2]) };
}

void SignalSmoother::fold(const SignalTriple & step, float alpha) {
    if (!has_value_) {
        value_ = step;
        has_value_ = true;
        return;
    }
    value_.confidence = alpha * step.confidence + (1.0f - alpha) * value_.confidence;
    value_.progress = alpha * step.progress + (1.0f - alpha) * value_.progress;
    value_.remain = alpha * step.remain + (1.0f - alpha) * value_.remain;
}

bool exit_rule_met(const SignalSmoother & smoother, const ExitPolicy & policy) {
    if (!policy.enabled || !smoother.has_value()) {
        return false;
    }
    const SignalTriple & s = smoother.value();
    return s.confidence > policy.confidence_threshold && s.progress > policy.progress_threshold &&
           s.remain < policy.remain_threshold;
}

} // namespace specexit
