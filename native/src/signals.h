// SpecExit exit signals: a linear read-out of the target's hidden states at
// three layers, smoothed over verification steps, and the rule that ends
// thinking at a step boundary.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace specexit {

struct SignalTriple {
    float confidence = 0.0f; // probability that the answer is settled, in [0, 1]
    float progress = 0.0f;   // fraction of the thinking done, in [0, 1]
    float remain = 0.0f;     // predicted thinking tokens still to come
};

enum class Activation { Sigmoid, Exp, Identity };

Activation activation_from_name(const std::string & name); // throws on an unknown name

struct SignalHead {
    int32_t hidden_size = 0;               // H of the target
    std::array<int32_t, 3> layers = {};    // layer-input indices, as eagle3.target_layers
    std::vector<float> weight;             // [3][3 * hidden_size], row-major
    std::array<float, 3> bias = { 0.0f, 0.0f, 0.0f }; // added to each raw signal before its activation
    std::array<Activation, 3> activations = { Activation::Sigmoid, Activation::Sigmoid, Activation::Exp };

    // Computes the activated triple for one token from the hidden states
    // entering the three layers (each `hidden_size` floats).
    SignalTriple read(const float * h0, const float * h1, const float * h2) const;
};

struct ExitPolicy {
    bool enabled = true;
    float alpha = 0.1f;                 // EWMA weight of the newest step
    float confidence_threshold = 0.8f;  // exit needs confidence above this
    float progress_threshold = 0.3f;    // and progress above this
    float remain_threshold = 200.0f;    // and fewer predicted remaining tokens than this
};

// Exponentially weighted moving average of the per-step triples. The first
// step initialises the average.
class SignalSmoother {
public:
    bool has_value() const { return has_value_; }
    const SignalTriple & value() const { return value_; }
    void fold(const SignalTriple & step, float alpha);

private:
    bool has_value_ = false;
    SignalTriple value_;
};

// True when the smoothed signals of earlier steps allow an exit.
bool exit_rule_met(const SignalSmoother & smoother, const ExitPolicy & policy);

} // namespace specexit
