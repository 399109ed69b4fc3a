#include "utf8_stream.h"

namespace specexit {

// Length of the sequence a UTF-8 lead byte starts; 1 for ASCII and for bytes
// that cannot start a sequence (they pass through and become U+FFFD later).
static size_t sequence_length(unsigned char lead) {
    if (lead >= 0xF0 && lead <= 0xF4) {
        return 4;
    }
    if (lead >= 0xE0) {
        return lead <= 0xEF ? 3 : 1;
    }
    if (lead >= 0xC2) {
        return 2;
    }
    return 1;
}

std::string Utf8Stream::push(const std::string & bytes) {
    pending_ += bytes;

    // Look back at most three bytes for the lead byte of the last character.
    size_t cut = pending_.size();
    for (size_t back = 1; back <= 4 && back <= pending_.size(); ++back) {
        const unsigned char c = (unsigned char) pending_[pending_.size() - back];
        if ((c & 0xC0) == 0x80) {
            continue; // continuation byte
        }
        if (sequence_length(c) > back) {
            cut = pending_.size() - back;
        }
        break;
    }

    std::string ready = pending_.substr(0, cut);
    pending_.erase(0, cut);
    return ready;
}

std::string Utf8Stream::flush() {
    std::string rest;
    rest.swap(pending_);
    return rest;
}

} // namespace specexit
