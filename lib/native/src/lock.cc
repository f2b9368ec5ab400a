// Advisory file locks (flock) for the one-writer-per-output-folder rule: the kernel drops a lock when its holder
// exits or is killed, so a lock can never outlive its process (no stale locks to guess about).
#include "common.h"
#include <cerrno>
#include <cstring>
#include <sys/file.h>

namespace mrl {

// flockTry(fd, exclusive) -> true when locked now, false when another open file holds a conflicting lock.
Napi::Value FlockTry(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = static_cast<int>(intArg(info, 0, "fd"));
  const bool exclusive = info[1].ToBoolean().Value();
  int rc;
  do rc = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc == 0) return Napi::Boolean::New(env, true);
  if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
  throw Napi::Error::New(env, std::string("flock: ") + std::strerror(errno));
}

}  // namespace mrl
