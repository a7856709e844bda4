// Registers every protocol's message decoders (idempotent). Both runtimes call it before decoding.
#pragma once

namespace pbfs {
void register_all_messages();
}
