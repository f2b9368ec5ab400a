{
  "targets": [
    {
      "target_name": "mrl_native",
      "sources": ["src/addon.cc", "src/memory.cc", "src/nested_knn.cc", "src/rerank.cc", "src/locality.cc", "src/lock.cc", "src/merge.cc", "src/fileadvice.cc", "src/readahead.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "/usr/include/x86_64-linux-gnu/openblas-pthread"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-ffp-contract=off", "-fexceptions"],
      "libraries": ["-lopenblas", "-lpthread"]
    }
  ]
}
