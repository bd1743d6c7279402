// Plan execution over row chunks (see executor.h).
//
// Each chunk binds every value to a row block: graph inputs and outputs to
// the caller's buffers (offset to the chunk's first row), intermediates to a
// thread-local arena (value v at scratch_offset[v] * rows, row stride = its
// width). Steps then run in order on that block; nothing is shared between
// chunks except the read-only plan.
#include "exec/executor.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "exec/thread_pool.h"

namespace infera {
namespace exec {
namespace {

struct Block {
  float* p = nullptr;
  size_t ld = 0;
};

void Activate(Activation act, float* p, size_t ld, int rows, int width) {
  if (act == Activation::kNone) return;
  for (int r = 0; r < rows; ++r) {
    float* x = p + r * ld;
    switch (act) {
      case Activation::kRelu:
        for (int j = 0; j < width; ++j) x[j] = x[j] > 0.0f ? x[j] : 0.0f;
        break;
      case Activation::kSigmoid:
        for (int j = 0; j < width; ++j) x[j] = 1.0f / (1.0f + std::exp(-x[j]));
        break;
      case Activation::kTanh:
        for (int j = 0; j < width; ++j) x[j] = std::tanh(x[j]);
        break;
      case Activation::kNone:
        break;
    }
  }
}

void Softmax(const Block& in, const Block& out, int rows, int width, int group) {
  for (int r = 0; r < rows; ++r) {
    for (int g0 = 0; g0 < width; g0 += group) {
      const float* x = in.p + r * in.ld + g0;
      float* y = out.p + r * out.ld + g0;
      float mx = x[0];
      for (int j = 1; j < group; ++j) mx = std::max(mx, x[j]);
      float sum = 0.0f;
      for (int j = 0; j < group; ++j) {
        y[j] = std::exp(x[j] - mx);
        sum += y[j];
      }
      const float inv = 1.0f / sum;
      for (int j = 0; j < group; ++j) y[j] *= inv;
    }
  }
}

// Sparse-input path: worth it from this K on, below this density.
constexpr int kSparseMinK = 64;  // plan_parse.cc packs PackedI8::qf from here on
constexpr int kSparseMaxDensityDiv = 8;  // nnz <= rows * K / 8

// Tries the sparse kernels (one-hot heavy inputs); false when the block is
// too dense, after at most a partial scan.
bool TrySparse(const Plan& plan, const GemmWeights& w, const float* bias,
               const Block& in, const Block& out, int rows) {
  if (w.K < kSparseMinK || !w.finite) return false;
  thread_local quant::SparseRows csr;
  const size_t max_nnz = static_cast<size_t>(rows) * w.K / kSparseMaxDensityDiv;
  const quant::ScanRowsFn scan = w.int8 ? plan.i8_kernel.scan : plan.f32_kernel.scan;
  if (scan(rows, w.K, in.p, in.ld, max_nnz, &csr) > max_nnz) return false;
  if (w.int8) {
    plan.i8_kernel.spmm(w.N, csr, w.i8, bias, out.p, out.ld);
  } else {
    plan.f32_kernel.spmm(w.N, csr, w.alpha, w.f32, bias, out.p, out.ld);
  }
  return true;
}

void RunGemm(const Plan& plan, const Step& s, const Block& in, const Block& out,
             int rows) {
  const GemmWeights& w = *s.gemm;
  const float* bias = w.bias.empty() ? nullptr : w.bias.data();
  if (plan.sparse_inputs && TrySparse(plan, w, bias, in, out, rows)) {
    // done: bit-identical to the dense kernels below
  } else if (!w.int8) {
    plan.f32_kernel.gemm(rows, w.N, w.K, w.alpha, in.p, in.ld, w.f32, bias,
                         out.p, out.ld);
  } else {
    thread_local std::vector<int8_t> q;
    thread_local std::vector<float> scales;
    const size_t need = static_cast<size_t>(rows) * w.i8.Kp + 64;
    if (q.size() < need) q.resize(need);
    if (scales.size() < static_cast<size_t>(rows)) scales.resize(rows);
    plan.i8_kernel.quantize(rows, w.K, in.p, in.ld, q.data(), w.i8.Kp,
                            scales.data());
    plan.i8_kernel.gemm(rows, w.N, q.data(), w.i8.Kp, scales.data(), w.i8,
                        bias, out.p, out.ld);
  }
  Activate(s.act, out.p, out.ld, rows, w.N);
}

void RunStep(const Plan& plan, const Step& s, const std::vector<Block>& v,
             int rows) {
  const Block& in = v[s.in];
  const Block& out = v[s.out];
  const int width = plan.widths[s.out];
  switch (s.kind) {
    case OpKind::kGemm:
      RunGemm(plan, s, in, out, rows);
      return;
    case OpKind::kAddConst:
      for (int r = 0; r < rows; ++r) {
        const float* x = in.p + r * in.ld;
        float* y = out.p + r * out.ld;
        if (s.constant.size() == 1) {
          for (int j = 0; j < width; ++j) y[j] = x[j] + s.constant[0];
        } else {
          for (int j = 0; j < width; ++j) y[j] = x[j] + s.constant[j];
        }
      }
      return;
    case OpKind::kAdd:
      for (int r = 0; r < rows; ++r) {
        const float* x = in.p + r * in.ld;
        const float* x2 = v[s.in2].p + r * v[s.in2].ld;
        float* y = out.p + r * out.ld;
        for (int j = 0; j < width; ++j) y[j] = x[j] + x2[j];
      }
      return;
    case OpKind::kRelu:
    case OpKind::kSigmoid:
    case OpKind::kTanh:
    case OpKind::kCopy:
      for (int r = 0; r < rows; ++r) {
        std::memcpy(out.p + r * out.ld, in.p + r * in.ld, sizeof(float) * width);
      }
      Activate(s.kind == OpKind::kRelu      ? Activation::kRelu
               : s.kind == OpKind::kSigmoid ? Activation::kSigmoid
               : s.kind == OpKind::kTanh    ? Activation::kTanh
                                            : Activation::kNone,
               out.p, out.ld, rows, width);
      return;
    case OpKind::kSoftmax:
      Softmax(in, out, rows, width, s.group);
      return;
  }
}

void RunChunk(const Plan& plan, int r0, int rows,
              const std::vector<const float*>& inputs,
              const std::vector<float*>& outputs) {
  thread_local std::vector<float> arena;
  const size_t need = plan.scratch_floats_per_row * rows;
  if (arena.size() < need) arena.resize(need);
  std::vector<Block> v(plan.widths.size());
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    const int id = plan.inputs[i].value;
    const size_t w = plan.widths[id];
    v[id] = {const_cast<float*>(inputs[i]) + static_cast<size_t>(r0) * w, w};
  }
  for (size_t i = 0; i < plan.outputs.size(); ++i) {
    const int id = plan.outputs[i].value;
    const size_t w = plan.widths[id];
    v[id] = {outputs[i] + static_cast<size_t>(r0) * w, w};
  }
  for (size_t id = 0; id < v.size(); ++id) {
    if (plan.scratch_offset[id] >= 0) {
      v[id] = {arena.data() + plan.scratch_offset[id] * rows,
               static_cast<size_t>(plan.widths[id])};
    }
  }
  for (const Step& s : plan.steps) RunStep(plan, s, v, rows);
}

}  // namespace

int ChunkCount(const Plan& plan, int rows, const RunOptions& opts) {
  if (opts.max_threads <= 1 || rows <= 1) return 1;
  long min_rows = opts.min_rows_per_chunk;
  if (min_rows <= 0) {
    min_rows = plan.flops_per_row > 0
                   ? static_cast<long>(std::ceil(kMinFlopsPerChunk / plan.flops_per_row))
                   : rows;
  }
  min_rows = std::max(1L, min_rows);
  const long by_rows = rows / min_rows;
  const long limit = std::min<long>(opts.max_threads, ThreadPool::Instance().Concurrency());
  return static_cast<int>(std::max(1L, std::min(by_rows, limit)));
}

Status Run(const Plan& plan, int rows, const std::vector<const float*>& inputs,
           const std::vector<float*>& outputs, const RunOptions& opts) {
  if (inputs.size() != plan.inputs.size() || outputs.size() != plan.outputs.size()) {
    return Status::Error("run: wrong number of input or output buffers");
  }
  if (rows <= 0) return Status::Ok();
  const int chunks = ChunkCount(plan, rows, opts);
  if (chunks == 1) {
    RunChunk(plan, 0, rows, inputs, outputs);
    return Status::Ok();
  }
  ThreadPool::Instance().ParallelFor(chunks, [&](int c) {
    const int r0 = static_cast<int>(static_cast<long>(rows) * c / chunks);
    const int r1 = static_cast<int>(static_cast<long>(rows) * (c + 1) / chunks);
    RunChunk(plan, r0, r1 - r0, inputs, outputs);
  });
  return Status::Ok();
}

}  // namespace exec
}  // namespace infera
