// What the API layers need to keep secrets (bearer tokens, gateway keys):
// the hex SHA-256 that is stored in place of a secret, and random bytes from
// the system's CSPRNG to make one. OpenSSL's libcrypto underneath.
//
// Thread-safety: free functions, safe from any thread.
#ifndef POLYCLOUD_HTTP_SECRET_H_
#define POLYCLOUD_HTTP_SECRET_H_

#include <string>
#include <string_view>

namespace polycloud::http {

// 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);
// `n` bytes from the CSPRNG (a check fails if it cannot deliver).
std::string RandomBytes(size_t n);

}  // namespace polycloud::http

#endif  // POLYCLOUD_HTTP_SECRET_H_
