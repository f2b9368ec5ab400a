// mrl_native: the kernels that need native speed (see lib/src/kernels/native.ts for the typed interface).
#include "common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("allocate", Napi::Function::New(env, mrl::Allocate));
  exports.Set("mapFile", Napi::Function::New(env, mrl::MapFile));
  exports.Set("firstNonFinite", Napi::Function::New(env, mrl::FirstNonFinite));
  exports.Set("nestedKnnBlock", Napi::Function::New(env, mrl::NestedKnnBlock));
  exports.Set("nestedKnnFinish", Napi::Function::New(env, mrl::NestedKnnFinish));
  exports.Set("prefixInvNorms", Napi::Function::New(env, mrl::PrefixInvNorms));
  exports.Set("sgemmSeconds", Napi::Function::New(env, mrl::SgemmSeconds));
  exports.Set("selectPass", Napi::Function::New(env, mrl::SelectPass));
  exports.Set("rerank", Napi::Function::New(env, mrl::Rerank));
  exports.Set("localityOrder", Napi::Function::New(env, mrl::LocalityOrder));
  exports.Set("flockTry", Napi::Function::New(env, mrl::FlockTry));
  exports.Set("mergeRuns", Napi::Function::New(env, mrl::MergeRuns));
  exports.Set("fileAdvice", Napi::Function::New(env, mrl::FileAdvice));
  exports.Set("residentBytes", Napi::Function::New(env, mrl::ResidentBytes));
  exports.Set("readStart", Napi::Function::New(env, mrl::ReadStart));
  exports.Set("readWait", Napi::Function::New(env, mrl::ReadWait));
  return exports;
}

NODE_API_MODULE(mrl_native, Init)
