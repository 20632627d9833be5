// What the download paths of peer-client share: writes, deadlines and
// putting a finished .part in place.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace p2pshare::pclient {

// A deadline that grows with the bytes still to move (at >= 256 KiB/s).
std::chrono::system_clock::time_point DeadlineFor(int64_t bytes, int64_t limit_rate);

// pwrite of all `n` bytes at `offset`; ResourceExhausted when the disk is full.
Status WriteAll(int fd, const char* data, size_t n, int64_t offset);

// fsyncs `fd` (the .part at `part_path`) and renames it to `final_path`
// without replacing anything there.
Status PlaceDownload(int fd, const std::string& part_path, const std::string& final_path);

}  // namespace p2pshare::pclient
