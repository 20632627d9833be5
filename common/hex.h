// Hex text for bytes (hashes, salts, tokens, query ids), and random bytes.
// The one hex encoder and decoder of the project.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace p2pshare {

// Lowercase hex, two digits a byte.
std::string HexEncode(std::span<const uint8_t> bytes);
inline std::string HexEncode(const void* data, size_t size) {
  return HexEncode(std::span<const uint8_t>(static_cast<const uint8_t*>(data), size));
}

// Fills `out` from exactly 2 * out.size() hex digits (either case); false
// (and `out` unspecified) for any other length or a non-hex character.
bool HexDecode(std::string_view hex, std::span<uint8_t> out);
// Decodes any even number of hex digits; nullopt when `hex` is not that.
std::optional<std::vector<uint8_t>> HexDecode(std::string_view hex);

// `bytes` bytes from OpenSSL's CSPRNG (salts, tokens, query ids). Throws
// std::runtime_error if the generator fails (it does not on Linux).
std::vector<uint8_t> RandomBytes(size_t bytes);
// RandomBytes(bytes) as 2 * bytes hex digits.
inline std::string RandomHex(size_t bytes) { return HexEncode(RandomBytes(bytes)); }

}  // namespace p2pshare
