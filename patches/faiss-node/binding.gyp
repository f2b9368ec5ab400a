{
  "targets": [
    {
      "target_name": "faiss-node",
      "sources": ["src/faiss.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fopenmp", "-fexceptions", "-O3", "-include", "<(module_root_dir)/faiss_compat.h"],
      "libraries": ["-lfaiss", "-lgomp", "-lopenblas"]
    }
  ]
}
