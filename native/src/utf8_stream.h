// Splits a byte stream into UTF-8 text deltas that never end inside a
// character: the bytes of an incomplete character wait for the next piece.
#pragma once

#include <string>

namespace specexit {

class Utf8Stream {
public:
    // Appends `bytes` and returns the longest prefix of the buffered bytes
    // that ends on a character boundary, removing it from the buffer.
    std::string push(const std::string & bytes);

    // Returns whatever is buffered, complete or not, and empties the buffer.
    std::string flush();

private:
    std::string pending_;
};

} // namespace specexit
