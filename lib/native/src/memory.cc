// Large buffers for the library's matrices. A fresh page costs a fault on first touch, and on some
// virtual machines (gVisor here) that makes a new 500 MB array take ~2 s to fill. Mapping with transparent
// huge pages and populating it up front in one call costs ~0.03 s once the host has backed the memory.
#include "common.h"
#include <sys/mman.h>
#include <cerrno>
#include <cstring>
#include <v8.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
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

// mapFile(fd, bytes) -> an ArrayBuffer over the file's first `bytes` (the caller checked the file holds them),
// mapped private (writes stay in this process) and read in now. It shares the page cache's pages: a file there
// already costs no copy and no new memory, where reading it into an allocation costs a copy into as much fresh
// memory again (on this VM, huge pages found by compacting memory the cache holds: 6-13 s for 10.5 GB, where
// mapping the cached file is immediate and the finite check's pass brings loading to 3.4 s). Node's external ArrayBuffers stop at 4 GiB (see kExternalMaxBytes), so the buffer is made with
// V8's own API around the mapping; the mapping is unmapped when the buffer is collected.
Napi::Value MapFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(intArg(info, 0, "fd"));
  int64_t bytes = intArg(info, 1, "bytes");
  require(bytes > 0, env, "mapFile: size must be positive");
  size_t size = static_cast<size_t>(bytes);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) throw Napi::Error::New(env, std::string("mapping the file: ") + strerror(errno));
  if (madvise(p, size, MADV_POPULATE_READ) != 0) {
    int err = errno;
    if (err != EINVAL) {  // EINVAL: a kernel before 5.14, pages then fault in on first touch
      munmap(p, size);
      throw Napi::Error::New(env, std::string("reading the file: ") + strerror(err));
    }
    madvise(p, size, MADV_WILLNEED);
  }
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(
      p, size, [](void* data, size_t length, void*) { munmap(data, length); }, nullptr);
  v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(isolate, std::move(store));
  // a napi_value is the address of a V8 handle (node's v8impl::JsValueFromV8LocalValue)
  return Napi::Value(env, reinterpret_cast<napi_value>(*buffer));
}

// firstNonFinite(x, threads): the index of the first NaN or Inf in x, or -1. Each thread scans a contiguous
// part in blocks with a branch-free exponent test (vectorized); only a block that holds one is searched value by
// value. On a freshly mapped file the first touch of each page is the cost (1.2-1.5 us per 4 KiB page measured
// on this VM when the host had not mapped them, 3-4 s for 10.5 GB), so two threads touch it in half the time.
Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = viewOf<float>(info[0], napi_float32_array, "x");
  int threads = static_cast<int>(intArg(info, 1, "threads"));
  require(threads > 0, env, "firstNonFinite: threads must be positive");
  const uint32_t* bits = reinterpret_cast<const uint32_t*>(x.data);
  const int64_t n = static_cast<int64_t>(x.length), block = 1 << 14;
  threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, n / (1 << 20))));
  std::vector<int64_t> found(threads, -1);
  fanOut(threads, [&](int t) {
    const int64_t lo = n / threads * t, hi = t == threads - 1 ? n : n / threads * (t + 1);
    for (int64_t b = lo; b < hi; b += block) {
      const int64_t e = std::min(hi, b + block);
      uint32_t any = 0;
      for (int64_t i = b; i < e; i++) any |= static_cast<uint32_t>((bits[i] & 0x7f800000u) == 0x7f800000u);
      if (!any) continue;
      for (int64_t i = b; i < e; i++) {
        if ((bits[i] & 0x7f800000u) == 0x7f800000u) { found[t] = i; return; }
      }
    }
  });
  for (int64_t at : found) if (at >= 0) return Napi::Number::New(env, static_cast<double>(at));
  return Napi::Number::New(env, -1);
}

}  // namespace mrl
