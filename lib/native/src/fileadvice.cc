// The page cache and one file: advice (posix_fadvise: DONTNEED evicts a file's cached pages so a benchmark can
// measure a cold read without dropping every cache on the machine; SEQUENTIAL for the out-of-core search's reads),
// and how much of the file is cached now (mincore), which decides what reading it costs (rerank/access.ts).
#include "common.h"
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

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

// residentBytes(fd, length) -> bytes of the file's first `length` bytes whose pages are in the page cache now
// (mmap without touching, then mincore: no page is read).
Napi::Value ResidentBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = static_cast<int>(intArg(info, 0, "fd"));
  const int64_t length = intArg(info, 1, "length");
  require(length >= 0, env, "residentBytes: negative length");
  if (length == 0) return Napi::Number::New(env, 0);
  void* map = mmap(nullptr, static_cast<size_t>(length), PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) throw Napi::Error::New(env, std::string("mmap: ") + std::strerror(errno));
  const int64_t page = sysconf(_SC_PAGESIZE), pages = (length + page - 1) / page;
  std::vector<unsigned char> resident(static_cast<size_t>(pages));
  const int rc = mincore(map, static_cast<size_t>(length), resident.data());
  const int err = errno;
  munmap(map, static_cast<size_t>(length));
  if (rc != 0) throw Napi::Error::New(env, std::string("mincore: ") + std::strerror(err));
  int64_t count = 0;
  for (unsigned char r : resident) count += r & 1;
  return Napi::Number::New(env, static_cast<double>(std::min(length, count * page)));
}

}  // namespace mrl
