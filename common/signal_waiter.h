// Graceful stop on SIGINT/SIGTERM: the signals are blocked in every thread
// and one waiting thread runs a callback, so a signal never interrupts
// arbitrary code. SIGPIPE is ignored (a peer closing a socket is an error
// to handle, not a reason to die).
#pragma once

#include <functional>

namespace p2pshare {

// Call from main before starting any thread. `on_signal` gets the signal's
// name ("SIGINT"/"SIGTERM") and runs on a detached thread, once.
void StopOnSignals(std::function<void(const char* name)> on_signal);

}  // namespace p2pshare
