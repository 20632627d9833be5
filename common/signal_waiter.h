// Graceful stop on SIGINT/SIGTERM: the signals are blocked in every thread
// and one waiting thread runs a callback, so a signal never interrupts
// arbitrary code. SIGPIPE is ignored (a peer closing a socket is an error
// to handle, not a reason to die).
#pragma once

#include <functional>

namespace p2pshare {

// Call from main before starting any thread. `on_signal` gets the signal's
// name ("SIGINT"/"SIGTERM") and runs on the waiting thread, once.
void StopOnSignals(std::function<void(const char* name)> on_signal);

// Call before destroying what the callback uses: waits for a callback that
// is running, and no callback runs after it returns.
void StopHandlingSignals();

}  // namespace p2pshare
