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

// Node 20 makes an external ArrayBuffer through a node::Buffer, whose limit is 4 GiB; over it Node frees the data
// and node-addon-api frees its finalizer data a second time (a double free, abort). Larger buffers are V8's own.
static const size_t kExternalMaxBytes = (size_t(1) << 32) - 1;

// Advises the whole 2 MiB huge pages inside [p, p + size) and populates them now.
static void hugeAndPopulated(void* p, size_t size) {
  const uintptr_t huge = uintptr_t(2) << 20, begin = (reinterpret_cast<uintptr_t>(p) + huge - 1) & ~(huge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + size) & ~(huge - 1);
  if (end <= begin) return;
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);  // older kernels: EINVAL, pages then fault in on first touch
}

// allocate(bytes) -> a zeroed ArrayBuffer backed by huge pages (plain pages where they are not available).
Napi::Value Allocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t bytes = intArg(info, 0, "bytes");
  require(bytes >= 0, env, "allocate: negative size");
  if (static_cast<uint64_t>(bytes) > kExternalMaxBytes) {
    // V8's zeroed allocation (calloc: fresh anonymous pages) advised the same way
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, static_cast<size_t>(bytes));
    hugeAndPopulated(buffer.Data(), static_cast<size_t>(bytes));
    return buffer;
  }
  size_t size = bytes > 0 ? static_cast<size_t>(bytes) : 1;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw Napi::Error::New(env, "allocate: out of memory for " + std::to_string(bytes) + " bytes");
  if (size >= (2u << 20)) hugeAndPopulated(p, size);
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(size));
  return Napi::ArrayBuffer::New(env, p, static_cast<size_t>(bytes), unmap, new size_t(size));
}

}  // namespace mrl
