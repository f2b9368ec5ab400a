// Debian's FAISS 1.7.3 declares idx_t inside faiss::Index; faiss-node 0.5.1 expects faiss::idx_t (FAISS >= 1.7.4).
#pragma once
#include <faiss/Index.h>
namespace faiss {
using idx_t = Index::idx_t;
}
