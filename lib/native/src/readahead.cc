// Background reads of one file range into a typed array: the out-of-core search reads its next database block
// on its own thread while the engine computes on this one (io/database.ts BlockReader). readStart returns a
// ticket, readWait joins that read; the target array is kept alive until then.
#include "common.h"
#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <unistd.h>
#include <vector>

namespace mrl {

struct PendingRead {
  std::thread thread;
  int error = 0;
  int64_t done = 0;
  Napi::Reference<Napi::Value> keep;
};

// Touched only on the JavaScript thread (start and wait); each reader thread writes only its own entry.
static std::unordered_map<int64_t, std::unique_ptr<PendingRead>> pending;
static int64_t nextTicket = 1;

// Reads rows first..first+rows-1 of a row-major file (rowBytes each, from fileOffset) into target, keeping each
// row's first prefixBytes: whole rows are read straight into target; prefixes go through a small buffer of whole
// rows. Stops at the end of the file (done: the bytes of target written).
static void readRows(PendingRead* p, int fd, char* out, int64_t offset, int64_t rows, int64_t rowBytes, int64_t prefixBytes) {
  auto preadAll = [&](char* to, int64_t bytes, int64_t at) -> int64_t {
    int64_t got = 0;
    while (got < bytes) {
      ssize_t n = pread(fd, to + got, static_cast<size_t>(std::min<int64_t>(bytes - got, int64_t(1) << 30)), at + got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        p->error = errno;
        return -1;
      }
      if (n == 0) break;
      got += n;
    }
    return got;
  };
  if (prefixBytes == rowBytes) {
    p->done = std::max<int64_t>(0, preadAll(out, rows * rowBytes, offset));
    return;
  }
  const int64_t stageRows = std::max<int64_t>(1, (int64_t(4) << 20) / rowBytes);
  std::vector<char> stage(stageRows * rowBytes);
  for (int64_t r = 0; r < rows; r += stageRows) {
    const int64_t n = std::min(stageRows, rows - r);
    const int64_t got = preadAll(stage.data(), n * rowBytes, offset + r * rowBytes);
    if (got < 0) return;
    const int64_t whole = got / rowBytes;
    for (int64_t i = 0; i < whole; i++) std::memcpy(out + (r + i) * prefixBytes, stage.data() + i * rowBytes, prefixBytes);
    p->done += whole * prefixBytes;
    if (whole < n) return;
  }
}

// readStart(fd, target: Float32Array, fileOffset, rows, rowBytes, prefixBytes) -> ticket: reads `rows` rows of
// rowBytes bytes at fileOffset into target, prefixBytes of each (rows x prefixBytes), on a new thread.
Napi::Value ReadStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = static_cast<int>(intArg(info, 0, "fd"));
  auto target = viewOf<float>(info[1], napi_float32_array, "target");
  const int64_t offset = intArg(info, 2, "fileOffset"), rows = intArg(info, 3, "rows");
  const int64_t rowBytes = intArg(info, 4, "rowBytes"), prefixBytes = intArg(info, 5, "prefixBytes");
  require(offset >= 0 && rows >= 0 && prefixBytes > 0 && prefixBytes <= rowBytes && static_cast<size_t>(rows * prefixBytes) <= target.length * 4, env,
          "readStart: the rows do not fit the target");
  auto job = std::make_unique<PendingRead>();
  job->keep = Napi::Persistent(info[1]);
  PendingRead* p = job.get();
  char* out = reinterpret_cast<char*>(target.data);
  p->thread = std::thread(readRows, p, fd, out, offset, rows, rowBytes, prefixBytes);
  const int64_t ticket = nextTicket++;
  pending.emplace(ticket, std::move(job));
  return Napi::Number::New(env, static_cast<double>(ticket));
}

// readWait(ticket) -> bytes read (fewer than asked at the end of the file); throws the read's error.
Napi::Value ReadWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto it = pending.find(intArg(info, 0, "ticket"));
  require(it != pending.end(), env, "readWait: no such read");
  std::unique_ptr<PendingRead> job = std::move(it->second);
  pending.erase(it);
  job->thread.join();
  job->keep.Reset();
  if (job->error != 0) throw Napi::Error::New(env, std::string("pread: ") + std::strerror(job->error));
  return Napi::Number::New(env, static_cast<double>(job->done));
}

}  // namespace mrl
