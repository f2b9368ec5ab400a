// Large buffers for the library's matrices. A fresh page costs a fault on first touch, and on some
// virtual machines (gVisor here) that makes a new 500 MB array take ~2 s to fill. Mapping with transparent
// huge pages and populating it up front in one call costs ~0.03 s once the host has backed the memory.
#include "common.h"
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace mrl {

static void unmap(Napi::Env env, void* data, size_t* bytes) {
  munmap(data, *bytes);
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(*bytes));
  delete bytes;
}

// allocate(bytes) -> a zeroed ArrayBuffer backed by huge pages (plain pages where they are not available).
Napi::Value Allocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t bytes = intArg(info, 0, "bytes");
  require(bytes >= 0, env, "allocate: negative size");
  size_t size = bytes > 0 ? static_cast<size_t>(bytes) : 1;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw Napi::Error::New(env, "allocate: out of memory for " + std::to_string(bytes) + " bytes");
  if (size >= (2u << 20)) {
    madvise(p, size, MADV_HUGEPAGE);
    madvise(p, size, MADV_POPULATE_WRITE);  // older kernels: EINVAL, pages then fault in on first touch
  }
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(size));
  return Napi::ArrayBuffer::New(env, p, static_cast<size_t>(bytes), unmap, new size_t(size));
}

}  // namespace mrl
