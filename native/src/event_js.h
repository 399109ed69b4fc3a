// Conversion of engine events and model descriptions to JavaScript objects.
// The field names are the ones daemon/engine/events.ts declares.
#pragma once

#include "generation.h"
#include "models.h"

#include <napi.h>

namespace specexit {

Napi::Object event_to_js(Napi::Env env, const Event & event);
Napi::Object model_info_to_js(Napi::Env env, const ModelInfo & info);

} // namespace specexit
