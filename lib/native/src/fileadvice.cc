// Page-cache advice for one file range (posix_fadvise): WILLNEED starts reading the next database block in the
// background while the engine computes on this one (the out-of-core search's read-ahead); DONTNEED evicts a
// file's cached pages so a benchmark can measure a cold read without dropping every cache on the machine.
#include "common.h"
#include <cstring>
#include <fcntl.h>

namespace mrl {

// fileAdvice(fd, offset, length, advice): advice "willneed" | "dontneed" | "sequential"; length 0 is "to the end".
Napi::Value FileAdvice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = static_cast<int>(intArg(info, 0, "fd"));
  const int64_t offset = intArg(info, 1, "offset"), length = intArg(info, 2, "length");
  require(info[3].IsString(), env, "fileAdvice: advice must be a string");
  const std::string name = info[3].As<Napi::String>().Utf8Value();
  int advice;
  if (name == "willneed") advice = POSIX_FADV_WILLNEED;
  else if (name == "dontneed") advice = POSIX_FADV_DONTNEED;
  else if (name == "sequential") advice = POSIX_FADV_SEQUENTIAL;
  else throw Napi::RangeError::New(env, "fileAdvice: advice must be willneed, dontneed or sequential, got " + name);
  require(offset >= 0 && length >= 0, env, "fileAdvice: offset and length must be non-negative");
  int rc = posix_fadvise(fd, offset, length, advice);
  if (rc != 0) throw Napi::Error::New(env, std::string("posix_fadvise: ") + std::strerror(rc));
  return env.Undefined();
}

}  // namespace mrl
