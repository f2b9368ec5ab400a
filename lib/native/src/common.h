// Shared helpers of the native kernels: typed-array access without copies, and a small thread fan-out.
#pragma once
#include <napi.h>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <algorithm>
#include <vector>

namespace mrl {

template <typename T> struct View {
  T* data;
  size_t length;
};

// The elements of a typed array argument (no copy); throws a TypeError naming the argument otherwise.
template <typename T> View<T> viewOf(const Napi::Value& v, napi_typedarray_type type, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(v.Env(), std::string(name) + " has the wrong typed-array type");
  }
  // napi_get_typedarray_info gives the data pointer for ArrayBuffers and SharedArrayBuffers alike
  napi_typedarray_type t;
  size_t length;
  void* data;
  if (napi_get_typedarray_info(v.Env(), v, &t, &length, &data, nullptr, nullptr) != napi_ok) {
    throw Napi::TypeError::New(v.Env(), std::string(name) + ": cannot read the typed array");
  }
  return {static_cast<T*>(data), length};
}

inline int64_t intArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().Int64Value();
}

inline void require(bool ok, const Napi::Env& env, const std::string& message) {
  if (!ok) throw Napi::RangeError::New(env, message);
}

// Runs work(t) for t in [0, threads) on threads - 1 new threads plus this one.
inline void fanOut(int threads, const std::function<void(int)>& work) {
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; t++) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
}

Napi::Value Allocate(const Napi::CallbackInfo& info);
Napi::Value MapFile(const Napi::CallbackInfo& info);
Napi::Value FirstNonFinite(const Napi::CallbackInfo& info);
Napi::Value NestedKnnBlock(const Napi::CallbackInfo& info);
Napi::Value NestedKnnFinish(const Napi::CallbackInfo& info);
Napi::Value SgemmSeconds(const Napi::CallbackInfo& info);
Napi::Value PrefixInvNorms(const Napi::CallbackInfo& info);
Napi::Value SelectPass(const Napi::CallbackInfo& info);
Napi::Value Rerank(const Napi::CallbackInfo& info);
Napi::Value LocalityOrder(const Napi::CallbackInfo& info);
Napi::Value FlockTry(const Napi::CallbackInfo& info);
Napi::Value MergeRuns(const Napi::CallbackInfo& info);
Napi::Value FileAdvice(const Napi::CallbackInfo& info);
Napi::Value ResidentBytes(const Napi::CallbackInfo& info);
Napi::Value ReadStart(const Napi::CallbackInfo& info);
Napi::Value ReadWait(const Napi::CallbackInfo& info);

}  // namespace mrl
