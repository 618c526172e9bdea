// The HadamRNN / Block-HadamRNN recurrence, forward and backward, fused into one C++ time loop.
//
//   a_t = U x_t + b          (direct mode: x (B, T, d), U (n, d), b (n), computed inside the loop)
//   a_t given                (pre-activation mode: a (T, B, n), e.g. after an embedding)
//   h_t = σ(sc ⊙ (H h_{t-1}) + a_t),   h_0 = 0,   sc = s/√m,   H = I_{n/m} ⊗ H_m,   σ ∈ {id, relu, tanh}
//   y_t = V ReLU(h_t) + c    (optional fused readout at every step, V (o, n): the logits (T, B, o); then
//                             no (T, B, n) tensor exists at all for a linear recurrence)
//
// Layout. The batch goes into the SIMD lanes: a chunk of L consecutive batch rows (L = 16 floats with
// AVX-512, 8 with AVX2; half as many doubles) holds its state as n vectors of L lanes, state[i][l] =
// h[b0 + l][i]. A butterfly of the fast Walsh–Hadamard transform (FWHT) then adds and subtracts whole
// vectors, whatever n and m are, and a chunk's state (n·L numbers: 32 KB at n = 512) stays in L1/L2 for
// all T steps: each thread takes whole chunks and runs every step of one chunk before the next. Nothing
// is allocated per step. The batch's last rows go in a half-width chunk when they fit (a vector
// instruction costs about its width here), rows past B in the last chunk are zero-padded lanes whose
// gradient is zero, and the threads share out consecutive chunks of about equal cost (share_out).
//
// Backward, with δ_t = ∂L/∂h_t (the readout's gradient g_t plus what flows back from t+1) and
// δ̃_t = δ_t ⊙ σ'(pre_t):
//   ∂L/∂a_t = δ̃_t  ->  ∂L/∂b = Σ_t Σ_batch δ̃_t,  ∂L/∂U = Σ_t δ̃_t x_tᵀ,  ∂L/∂x_t = Uᵀ δ̃_t   (direct mode)
//   ∂L/∂s   = Σ_t Σ_batch δ̃_t ⊙ (H h_{t-1})/√m;  for σ = id: (H h_{t-1})/√m = s ⊙ (h_t − a_t)
//   δ_{t-1} = H(sc ⊙ δ̃_t) + g_{t-1},  with the readout: g_t += Vᵀ(∂L/∂y_t) ⊙ 1[h_t > 0],
//   ∂L/∂V = Σ_t (∂L/∂y_t) ReLU(h_t)ᵀ,  ∂L/∂c = Σ_t Σ_batch ∂L/∂y_t
// The states come either from the stored (T, B, n) tensor, or (linear recurrence, "reversible") are
// rebuilt backwards from the last one, since W is orthogonal: h_{t-1} = H(sc ⊙ (h_t − a_t)). Then the
// memory is O(B·n) instead of O(T·B·n), for one more FWHT per step.
// Gradients are summed per lane in the working precision and flushed to double every 32 steps; the
// threads' sums are added in a fixed order, so a thread count always gives the same numbers.

#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <type_traits>
#include <vector>

namespace {

#if defined(__AVX512F__)
constexpr int VEC_BYTES = 64;
#else
constexpr int VEC_BYTES = 32;
#endif

// A vector of W lanes of T. A chunk is W = lanes<T>() rows wide (the widest vector), or half that for
// the batch's last rows when they fit: on this kind of CPU a vector instruction's cost grows with its
// width, so a half-width chunk costs about half a full one (benchmarks/hadamrnn_step.py).
template <typename T, int W> struct VecOf { typedef T type __attribute__((vector_size(W * sizeof(T)))); };
template <typename T, int W> using V = typename VecOf<T, W>::type;
template <typename T> constexpr int lanes() { return VEC_BYTES / sizeof(T); }

enum Nonlinearity : int64_t { LINEAR = 0, RELU = 1, TANH = 2 };
constexpr int FLUSH_EVERY = 32;

// One pass of radix 2^K over n vectors: groups (i, i+h, ..., i+(R-1)h) get K butterfly stages
// (spans h, 2h, ..., 2^(K-1)h) in registers.
template <typename T, int W, int K> inline void fwht_pass(V<T, W>* x, int64_t n, int64_t h) {
  constexpr int R = 1 << K;
  for (int64_t j = 0; j < n; j += R * h)
    for (int64_t i = j; i < j + h; ++i) {
      V<T, W> v[R];
#pragma GCC unroll 8
      for (int q = 0; q < R; ++q) v[q] = x[i + q * h];
#pragma GCC unroll 8
      for (int st = 1; st < R; st *= 2)
#pragma GCC unroll 8
        for (int q = 0; q < R; q += 2 * st)
#pragma GCC unroll 8
          for (int p = q; p < q + st; ++p) {
            V<T, W> a = v[p], b = v[p + st];
            v[p] = a + b;
            v[p + st] = a - b;
          }
#pragma GCC unroll 8
      for (int q = 0; q < R; ++q) x[i + q * h] = v[q];
    }
}

// Unnormalised FWHT of size m on each block of m consecutive vectors of x[0:n], in place.
template <typename T, int W> void fwht(V<T, W>* x, int64_t n, int64_t m) {
  int64_t h = 1;
  while (h < m) {
    int k = 0;
    while (k < 3 && (h << (k + 1)) <= m) ++k;
    switch (k) {
      case 1: fwht_pass<T, W, 1>(x, n, h); break;
      case 2: fwht_pass<T, W, 2>(x, n, h); break;
      default: fwht_pass<T, W, 3>(x, n, h); break;
    }
    h <<= k;
  }
}

// rows[i] (lane l) <- src[(b0 + l) * row_stride + i] for the chunk's real lanes, 0 for padded ones.
template <typename T, int W>
inline void gather(V<T, W>* rows, const T* src, int64_t row_stride, int64_t n, int64_t valid) {
    T* out = reinterpret_cast<T*>(rows);
  if (valid < W) std::memset(out, 0, sizeof(V<T, W>) * n);
  for (int64_t l = 0; l < valid; ++l) {
    const T* s = src + l * row_stride;
    for (int64_t i = 0; i < n; ++i) out[i * W + l] = s[i];
  }
}

// dst[(b0 + l) * row_stride + i] <- rows[i] (lane l) for the chunk's real lanes.
template <typename T, int W>
inline void scatter(const V<T, W>* rows, T* dst, int64_t row_stride, int64_t n, int64_t valid) {
    const T* in = reinterpret_cast<const T*>(rows);
  for (int64_t l = 0; l < valid; ++l) {
    T* d = dst + l * row_stride;
    for (int64_t i = 0; i < n; ++i) d[i] = in[i * W + l];
  }
}

template <typename T, int W> inline V<T, W> splat(T v) {
  V<T, W> out;
  for (int l = 0; l < W; ++l) out[l] = v;
  return out;
}

// Everything one call needs, with raw pointers (the tensors are checked before).
template <typename T> struct Problem {
  int64_t T_, B, n, m, d;
  bool direct;         // a_t = U x_t + b inside the loop (else a is read)
  int64_t nonlin;
  const T* x;          // direct: (B, T, d); else a: (T, B, n)
  const T* U;          // (n, d)
  const T* b;          // (n)
  const T* sc;         // (n), s/√m
  // where x_t of batch row r starts, and the stride between rows
  const T* input_row(int64_t t, int64_t r) const {
    return direct ? x + (r * T_ + t) * d : x + (t * B + r) * n;
  }
  int64_t input_row_stride() const { return direct ? T_ * d : n; }
};

// a_t for one chunk: acc = a_t (direct: b + U x_t, with xt the chunk's x_t as d vectors).
template <typename T, int W>
inline void preactivation(const Problem<T>& P, int64_t t, int64_t b0, int64_t valid, V<T, W>* at, V<T, W>* xt) {
  if (P.direct) {
    gather<T, W>(xt, P.input_row(t, b0), P.input_row_stride(), P.d, valid);
    for (int64_t i = 0; i < P.n; ++i) {
      V<T, W> v = splat<T, W>(P.b[i]);
      const T* u = P.U + i * P.d;
      for (int64_t k = 0; k < P.d; ++k) v += u[k] * xt[k];
      at[i] = v;
    }
  } else {
    gather<T, W>(at, P.input_row(t, b0), P.input_row_stride(), P.n, valid);
  }
}

// tanh of W float lanes at once (std::tanh is scalar and took ~3/4 of a tanh recurrence's step).
// tanh is odd, and for z = −2|x| ≤ 0:  tanh|x| = −expm1(z) / (2 + expm1(z)),  which keeps tanh's
// relative accuracy near 0 (no 1 − 2/(e^{2|x|}+1) cancellation). expm1 by range reduction:
// z = k ln2 + r, k = nearest integer to z/ln2 (|r| ≤ ln2/2; ln2 split in a 9-bit head, so k·head is
// exact, and a tail), expm1(z) = 2^k expm1(r) + (2^k − 1), expm1(r) by its Taylor series to r^8 (the
// first term left out, r^9/9!, is below 2^-30 of r). z is clamped at −87 (tanh|x| = 1 in float
// from |x| ≈ 9.01 on), so 2^k is a normal float built from its exponent bits. NaN stays NaN.
// Within a few ulp of the exact tanh (tests/test_fast_hadamard.py measures it).
template <int W> inline V<float, W> tanh_lanes(V<float, W> x) {
  typedef V<int32_t, W> VI;
  const VI sign_bit = (VI)splat<float, W>(-0.0f);
  VI bits = (VI)x;
  V<float, W> z = (V<float, W>)(bits & ~sign_bit);  // |x|
  z = -2.0f * z;
  const V<float, W> lowest = splat<float, W>(-87.0f);
  z = z < lowest ? lowest : z;
  const V<float, W> k = __builtin_convertvector(__builtin_convertvector(z * 1.44269504088896341f - 0.5f, VI),
                                                 V<float, W>);  // ceil(z/ln2 − 1/2): z ≤ 0
  const V<float, W> r = (z - k * 0.693359375f) - k * -2.12194440e-4f;
  V<float, W> p = splat<float, W>(1.0f / 40320);
  p = p * r + 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  const V<float, W> e = r + r * r * p;  // expm1(r)
  const V<float, W> scale = (V<float, W>)((__builtin_convertvector(k, VI) + 127) << 23);  // 2^k
  const V<float, W> u = scale * e + (scale - 1.0f);  // expm1(z), in (−1, 0]
  const V<float, W> t = -u / (2.0f + u);  // tanh|x|
  return (V<float, W>)(((VI)t & ~sign_bit) | (bits & sign_bit));
}

template <typename T, int W> inline void apply_nonlinearity(V<T, W>* h, int64_t n, int64_t nonlin) {
  if (nonlin == RELU) {
    const V<T, W> zero = splat<T, W>(0);
    for (int64_t i = 0; i < n; ++i) h[i] = h[i] > zero ? h[i] : zero;
  } else if (nonlin == TANH) {
    if constexpr (std::is_same<T, float>::value) {
      for (int64_t i = 0; i < n; ++i) h[i] = tanh_lanes<W>(h[i]);
    } else {  // double: the reference precision, kept on the library's tanh
      T* p = reinterpret_cast<T*>(h);
      for (int64_t i = 0; i < n * W; ++i) p[i] = std::tanh(p[i]);
    }
  }
}

template <typename T, int W> using Buf = std::vector<V<T, W>>;

void check_common(const torch::Tensor& input, const torch::Tensor& U, const torch::Tensor& b,
                  const torch::Tensor& sc, int64_t block, bool direct, int64_t nonlin) {
  TORCH_CHECK(input.device().is_cpu() && sc.device().is_cpu(), "hadamard_rnn: CPU tensors only");
  TORCH_CHECK(input.dim() == 3 && input.is_contiguous() && sc.is_contiguous(),
              "hadamard_rnn: input must be a contiguous 3-d tensor");
  TORCH_CHECK(input.scalar_type() == sc.scalar_type(), "hadamard_rnn: input and scale dtypes differ");
  const int64_t n = sc.size(0);
  TORCH_CHECK(sc.dim() == 1, "hadamard_rnn: scale must be 1-d");
  TORCH_CHECK(block >= 1 && (block & (block - 1)) == 0 && n % block == 0,
              "hadamard_rnn: block must be a power of two dividing n, got block=", block, " n=", n);
  TORCH_CHECK(nonlin >= LINEAR && nonlin <= TANH, "hadamard_rnn: unknown nonlinearity code ", nonlin);
  if (direct) {
    TORCH_CHECK(U.dim() == 2 && U.size(0) == n && U.size(1) == input.size(2) && U.is_contiguous() &&
                    U.scalar_type() == input.scalar_type(),
                "hadamard_rnn: U must be a contiguous (n, d) tensor of the input's dtype");
    TORCH_CHECK(b.dim() == 1 && b.size(0) == n && b.is_contiguous() && b.scalar_type() == input.scalar_type(),
                "hadamard_rnn: b must be a contiguous (n,) tensor of the input's dtype");
  } else {
    TORCH_CHECK(input.size(2) == n, "hadamard_rnn: pre-activations must be (T, B, n) with n = ", n);
  }
}

template <typename T>
Problem<T> make_problem(const torch::Tensor& input, const torch::Tensor& U, const torch::Tensor& b,
                        const torch::Tensor& sc, int64_t block, bool direct, int64_t nonlin) {
  Problem<T> P;
  P.n = sc.size(0);
  P.m = block;
  P.direct = direct;
  P.nonlin = nonlin;
  P.x = input.data_ptr<T>();
  P.sc = sc.data_ptr<T>();
  if (direct) {
    P.B = input.size(0);
    P.T_ = input.size(1);
    P.d = input.size(2);
    P.U = U.data_ptr<T>();
    P.b = b.data_ptr<T>();
  } else {
    P.T_ = input.size(0);
    P.B = input.size(1);
    P.d = 0;
    P.U = nullptr;
    P.b = nullptr;
  }
  return P;
}

}  // namespace

// y = V ReLU(h) + c for one chunk: y[o] (vectors over the lanes).
template <typename T, int W>
inline void readout(const T* vw, const T* c, int64_t o, int64_t n, const V<T, W>* h, V<T, W>* y, V<T, W>* r) {
  const V<T, W> zero = splat<T, W>(0);
  for (int64_t i = 0; i < n; ++i) r[i] = h[i] > zero ? h[i] : zero;
  for (int64_t k = 0; k < o; ++k) {
    const T* v = vw + k * n;
    V<T, W> acc = splat<T, W>(c[k]);
    for (int64_t i = 0; i < n; ++i) acc += v[i] * r[i];
    y[k] = acc;
  }
}

// A chunk of the batch: rows b0 .. min(b0 + width, B) − 1 in the lanes of width-wide vectors.
struct Chunk {
  int64_t b0, width;
};

// The batch's chunks, in order: full ones of L rows, then the rows left over in one chunk, half-width
// when they fit in half. (At one thread, a run of the chunks gives the same numbers, bit for bit, as
// full-width chunks only: a row's arithmetic does not depend on the width, and the padded lanes of a
// wider chunk add exact zeros to the gradients' sums.)
std::vector<Chunk> plan_chunks(int64_t B, int64_t L) {
  std::vector<Chunk> chunks;
  int64_t b0 = 0;
  for (; b0 + L <= B; b0 += L) chunks.push_back({b0, L});
  if (b0 < B) chunks.push_back({b0, B - b0 <= L / 2 ? L / 2 : L});
  return chunks;
}

// Splits the chunks into ``parts`` runs of consecutive chunks of about equal cost (a chunk costs its
// width): the parts + 1 boundaries. Whole chunks of 16 rows split 100 rows 64/48, one thread's share
// being at most 1.75× faster than the whole; with the half-width tail, 48/56 (at most 1.86×).
std::vector<int64_t> share_out(const std::vector<Chunk>& chunks, int64_t parts) {
  int64_t total = 0;
  for (const Chunk& c : chunks) total += c.width;
  std::vector<int64_t> bounds(parts + 1, static_cast<int64_t>(chunks.size()));
  bounds[0] = 0;
  int64_t next = 0, done = 0;
  for (int64_t p = 1; p < parts; ++p) {
    const double target = static_cast<double>(total) * p / parts;
    // take the next chunk while that brings this part's end closer to its target
    while (next < static_cast<int64_t>(chunks.size()) &&
           std::abs(done + chunks[next].width - target) <= std::abs(done - target))
      done += chunks[next++].width;
    bounds[p] = next;
  }
  return bounds;
}

// Which chunks each of ``parts`` threads runs: part p runs chunks[bounds[p]] .. chunks[bounds[p + 1] − 1].
struct Schedule {
  std::vector<Chunk> chunks;
  std::vector<int64_t> bounds;
  int64_t parts() const { return static_cast<int64_t>(bounds.size()) - 1; }
};

// The schedule of a batch of B rows in chunks of L lanes over the threads torch may use.
Schedule schedule(int64_t B, int64_t L) {
  Schedule plan;
  plan.chunks = plan_chunks(B, L);
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), plan.chunks.size()));
  plan.bounds = share_out(plan.chunks, parts);
  return plan;
}

// Runs body(chunk, part, width) over the schedule's chunks, each part on its own thread; ``width`` is
// std::integral_constant<int, W> with the chunk's width W (L or L/2), which picks the vector type.
template <typename S, typename Body>
void run_schedule(const Schedule& plan, Body body) {
  constexpr int L = lanes<S>();
  at::parallel_for(0, plan.parts(), 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t k = plan.bounds[p]; k < plan.bounds[p + 1]; ++k) {
        if (plan.chunks[k].width == L)
          body(plan.chunks[k], p, std::integral_constant<int, L>());
        else
          body(plan.chunks[k], p, std::integral_constant<int, L / 2>());
      }
  });
}

// The forward time loop of one chunk (see forward).
template <typename S, int W>
void forward_chunk(const Problem<S>& P, const Chunk& chunk, int64_t block, bool all_states, S* op, S* yp,
                   const S* vp, const S* cp, int64_t o) {
  const int64_t n = P.n, T = P.T_, B = P.B;
  const int64_t b0 = chunk.b0, valid = std::min<int64_t>(W, B - b0);
  const bool has_readout = vp != nullptr;
  Buf<S, W> h(n), at(n), xt(std::max<int64_t>(P.d, 1)), y(std::max<int64_t>(o, 1)), r(has_readout ? n : 0);
  for (int64_t t = 0; t < T; ++t) {
    preactivation<S, W>(P, t, b0, valid, at.data(), xt.data());
    if (t == 0) {
      for (int64_t i = 0; i < n; ++i) h[i] = at[i];
    } else {
      fwht<S, W>(h.data(), n, block);
      for (int64_t i = 0; i < n; ++i) h[i] = P.sc[i] * h[i] + at[i];
    }
    apply_nonlinearity<S, W>(h.data(), n, P.nonlin);
    if (all_states) scatter<S, W>(h.data(), op + (t * B + b0) * n, n, n, valid);
    if (has_readout) {
      readout<S, W>(vp, cp, o, n, h.data(), y.data(), r.data());
      scatter<S, W>(y.data(), yp + (t * B + b0) * o, o, o, valid);
    }
  }
  if (!all_states) scatter<S, W>(h.data(), op + b0 * n, n, n, valid);
}

// Forward. Returns {states, logits}: states are all states (T, B, n) when ``all_states``, else the last
// state (B, n); logits (T, B, o) when a readout V (o, n), c (o) is given (V empty: no readout).
std::vector<torch::Tensor> forward(torch::Tensor input, torch::Tensor U, torch::Tensor b, torch::Tensor sc,
                                   torch::Tensor Vw, torch::Tensor c, int64_t block, int64_t nonlin, bool direct,
                                   bool all_states) {
  check_common(input, U, b, sc, block, direct, nonlin);
  const int64_t n = sc.size(0);
  const int64_t T = direct ? input.size(1) : input.size(0);
  const int64_t B = direct ? input.size(0) : input.size(1);
  const bool has_readout = Vw.numel() > 0;
  const int64_t o = has_readout ? Vw.size(0) : 0;
  if (has_readout)
    TORCH_CHECK(Vw.dim() == 2 && Vw.size(1) == n && Vw.is_contiguous() && c.dim() == 1 && c.size(0) == o &&
                    c.is_contiguous() && Vw.scalar_type() == input.scalar_type() &&
                    c.scalar_type() == input.scalar_type(),
                "hadamard_rnn: the readout must be contiguous V (o, n) and c (o,) of the input's dtype");
  auto out = all_states ? torch::empty({T, B, n}, input.options()) : torch::empty({B, n}, input.options());
  auto logits = torch::empty({has_readout ? T : 0, B, o}, input.options());
  if (T == 0 || B == 0 || n == 0) return {out, logits};
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "qornn_hadamard_rnn_forward", [&] {
    using S = scalar_t;
    const Problem<S> P = make_problem<S>(input, U, b, sc, block, direct, nonlin);
    S* op = out.data_ptr<S>();
    S* yp = has_readout ? logits.data_ptr<S>() : nullptr;
    const S* vp = has_readout ? Vw.data_ptr<S>() : nullptr;
    const S* cp = has_readout ? c.data_ptr<S>() : nullptr;
    run_schedule<S>(schedule(B, lanes<S>()), [&](const Chunk& chunk, int64_t, auto width) {
      forward_chunk<S, decltype(width)::value>(P, chunk, block, all_states, op, yp, vp, cp, o);
    });
  });
  return {out, logits};
}

// One thread's gradient sums, in double (see backward).
struct Totals {
  std::vector<double> s, b, U, V, c;
  Totals(int64_t n, bool direct, int64_t d, int64_t o)
      : s(n, 0.0), b(direct ? n : 0, 0.0), U(direct ? n * d : 0, 0.0), V(o * n, 0.0), c(o, 0.0) {}
};

// What backward_chunk reads besides the problem.
template <typename S> struct BackwardInputs {
  const S* grad;    // ∂L/∂states or nullptr
  bool grad_all;    // grad is (T, B, n) (else (B, n))
  const S* grad_y;  // ∂L/∂logits (T, B, o) or nullptr
  const S* vw;      // V (o, n) or nullptr
  int64_t o;
  const S* states;  // all states (T, B, n) when ``stored``, else the last (B, n)
  bool stored;
  S* grad_input;    // ∂L/∂input or nullptr
  int64_t block;
};

// The backward time loop of one chunk (see backward); adds the chunk's gradient sums to ``tot``.
template <typename S, int W>
void backward_chunk(const Problem<S>& P, const BackwardInputs<S>& in, const Chunk& chunk, Totals& tot) {
  const int64_t n = P.n, T = P.T_, B = P.B, d = P.d, o = in.o, block = in.block, nonlin = P.nonlin;
  const bool direct = P.direct, has_readout = in.grad_y != nullptr, stored = in.stored;
  const int64_t dd = std::max<int64_t>(d, 1);
  const int64_t b0 = chunk.b0, valid = std::min<int64_t>(W, B - b0);
  const S* gp = in.grad;
  const S* gyp = in.grad_y;
  const S* vp = in.vw;
  const S* hp = in.states;
  S* gip = in.grad_input;
  const V<S, W> zero = splat<S, W>(0), one = splat<S, W>(1);
  // δ, the state h_t, the previous state (or its rebuild), a_t, x_t, per-lane sums of ∂s, ∂b, ∂U, ∂V, ∂c
  Buf<S, W> delta(n), ht(n), hprev(n), at(n), xt(dd), gx(dd), acc_s(n, zero), acc_b(direct ? n : 0, zero),
      acc_U(direct ? n * d : 0, zero), tmp(n), gy(std::max<int64_t>(o, 1)), acc_V(o * n, zero), acc_c(o, zero);
  // total[j] += the sum of acc[j]'s lanes (in double, lane by lane), and acc[j] = 0, for every j
  auto flush_into = [&](Buf<S, W>& acc, std::vector<double>& total) {
    for (size_t j = 0; j < acc.size(); ++j) {
      double sum = 0;
      for (int l = 0; l < W; ++l) sum += acc[j][l];
      total[j] += sum;
      acc[j] = zero;
    }
  };
  auto flush = [&] {
    flush_into(acc_s, tot.s);
    flush_into(acc_b, tot.b);
    flush_into(acc_U, tot.U);
    flush_into(acc_c, tot.c);
    flush_into(acc_V, tot.V);
  };
  if (gp != nullptr)
    gather<S, W>(delta.data(), in.grad_all ? gp + ((T - 1) * B + b0) * n : gp + b0 * n, n, n, valid);
  else
    std::fill(delta.begin(), delta.end(), zero);
  gather<S, W>(ht.data(), stored ? hp + ((T - 1) * B + b0) * n : hp + b0 * n, n, n, valid);
  for (int64_t t = T - 1; t >= 0; --t) {
    preactivation<S, W>(P, t, b0, valid, at.data(), xt.data());
    if (has_readout) {  // δ_t += Vᵀ ∂y_t ⊙ 1[h_t > 0];  ∂V += ∂y_t ReLU(h_t)ᵀ;  ∂c += ∂y_t
      gather<S, W>(gy.data(), gyp + (t * B + b0) * o, o, o, valid);
      for (int64_t i = 0; i < n; ++i) {
        const V<S, W> r = ht[i] > zero ? ht[i] : zero;
        V<S, W> back = zero;
        for (int64_t k = 0; k < o; ++k) {
          back += vp[k * n + i] * gy[k];
          acc_V[k * n + i] += gy[k] * r;
        }
        delta[i] += ht[i] > zero ? back : zero;
      }
      for (int64_t k = 0; k < o; ++k) acc_c[k] += gy[k];
    }
    // δ̃_t = δ_t ⊙ σ'(pre_t), from h_t = σ(pre_t)
    if (nonlin == RELU) {
      for (int64_t i = 0; i < n; ++i) delta[i] = ht[i] > zero ? delta[i] : zero;
    } else if (nonlin == TANH) {
      for (int64_t i = 0; i < n; ++i) delta[i] *= one - ht[i] * ht[i];
    }
    // the previous state: stored, or rebuilt (linear) as H(sc ⊙ (h_t − a_t))
    if (t > 0) {
      if (stored) {
        gather<S, W>(hprev.data(), hp + ((t - 1) * B + b0) * n, n, n, valid);
      } else {
        for (int64_t i = 0; i < n; ++i) hprev[i] = P.sc[i] * (ht[i] - at[i]);
        fwht<S, W>(hprev.data(), n, block);
      }
    }
    // ∂s: accumulate δ̃ ⊙ (pre_t − a_t) = δ̃ ⊙ sc ⊙ H h_{t-1} (see the end of backward for the factor s).
    // Linear: pre_t − a_t = h_t − a_t; otherwise H h_{t-1} is recomputed (zero at t = 0).
    if (nonlin == LINEAR) {
      for (int64_t i = 0; i < n; ++i) acc_s[i] += delta[i] * (ht[i] - at[i]);
    } else if (t > 0) {
      for (int64_t i = 0; i < n; ++i) tmp[i] = hprev[i];
      fwht<S, W>(tmp.data(), n, block);
      for (int64_t i = 0; i < n; ++i) acc_s[i] += delta[i] * (P.sc[i] * tmp[i]);
    }
    // ∂a_t = δ̃_t
    if (direct) {
      for (int64_t i = 0; i < n; ++i) acc_b[i] += delta[i];
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < d; ++k) acc_U[i * d + k] += delta[i] * xt[k];
      if (gip != nullptr) {
        for (int64_t k = 0; k < d; ++k) gx[k] = zero;
        for (int64_t i = 0; i < n; ++i) {
          const S* u = P.U + i * d;
          for (int64_t k = 0; k < d; ++k) gx[k] += u[k] * delta[i];
        }
        scatter<S, W>(gx.data(), gip + (b0 * T + t) * d, T * d, d, valid);
      }
    } else if (gip != nullptr) {
      scatter<S, W>(delta.data(), gip + (t * B + b0) * n, n, n, valid);
    }
    if ((T - t) % FLUSH_EVERY == 0) flush();
    if (t == 0) break;
    // δ_{t-1} = H(sc ⊙ δ̃_t) + g_{t-1}
    for (int64_t i = 0; i < n; ++i) delta[i] *= P.sc[i];
    fwht<S, W>(delta.data(), n, block);
    if (gp != nullptr && in.grad_all) {
      gather<S, W>(tmp.data(), gp + ((t - 1) * B + b0) * n, n, n, valid);
      for (int64_t i = 0; i < n; ++i) delta[i] += tmp[i];
    }
    std::swap(ht, hprev);
  }
  flush();
}

// Backward. ``grad`` is ∂L/∂(all states) (T, B, n), ∂L/∂h_T (B, n), or empty (no gradient reaches the
// states but through the readout); ``grad_y`` is ∂L/∂logits (T, B, o) with a readout (V non-empty);
// ``states`` holds all states (T, B, n) or, reversible (linear only), the last one (B, n).
// Returns {∂L/∂input (empty unless need_input_grad), ∂L/∂U (n, d), ∂L/∂b (n), ∂L/∂s (n), ∂L/∂V (o, n),
// ∂L/∂c (o)} (the gradients of U and b mean something in direct mode only, those of V and c with a readout).
// Gradients are summed per lane in the working precision, flushed to one double sum per thread every
// FLUSH_EVERY steps and at the end of each chunk, and the threads' sums are added at the end.
std::vector<torch::Tensor> backward(torch::Tensor grad, torch::Tensor grad_y, torch::Tensor input,
                                    torch::Tensor U, torch::Tensor b, torch::Tensor sc, torch::Tensor Vw,
                                    torch::Tensor states, int64_t block, int64_t nonlin, bool direct,
                                    bool need_input_grad) {
  check_common(input, U, b, sc, block, direct, nonlin);
  const int64_t n = sc.size(0);
  const int64_t T = direct ? input.size(1) : input.size(0);
  const int64_t B = direct ? input.size(0) : input.size(1);
  const bool has_grad = grad.numel() > 0, grad_all = grad.dim() == 3, stored = states.dim() == 3;
  const bool has_readout = Vw.numel() > 0;
  const int64_t o = has_readout ? Vw.size(0) : 0;
  TORCH_CHECK(grad.is_contiguous() && states.is_contiguous() && grad.scalar_type() == input.scalar_type() &&
                  states.scalar_type() == input.scalar_type(),
              "hadamard_rnn: grad and states must be contiguous, of the input's dtype");
  TORCH_CHECK(!has_grad || (grad_all ? grad.sizes() == torch::IntArrayRef({T, B, n})
                                     : grad.sizes() == torch::IntArrayRef({B, n})),
              "hadamard_rnn: grad must be (T, B, n) or (B, n)");
  TORCH_CHECK(!has_readout || (grad_y.is_contiguous() && grad_y.sizes() == torch::IntArrayRef({T, B, o}) &&
                               Vw.is_contiguous() && Vw.size(1) == n && grad_y.scalar_type() == input.scalar_type()),
              "hadamard_rnn: grad_y must be a contiguous (T, B, o) tensor and V (o, n)");
  TORCH_CHECK(stored ? states.sizes() == torch::IntArrayRef({T, B, n}) : states.sizes() == torch::IntArrayRef({B, n}),
              "hadamard_rnn: states must be (T, B, n) or the last state (B, n)");
  TORCH_CHECK(stored || nonlin == LINEAR, "hadamard_rnn: only the linear recurrence is reversible");
  const int64_t d = direct ? input.size(2) : 0;
  auto dopts = input.options().dtype(torch::kFloat64);
  auto grad_input = need_input_grad ? torch::empty_like(input) : torch::empty({0}, input.options());
  auto gU = torch::zeros({n, std::max<int64_t>(d, 1)}, dopts), gb = torch::zeros({n}, dopts),
       gs = torch::zeros({n}, dopts), gV = torch::zeros({std::max<int64_t>(o, 1), n}, dopts),
       gc = torch::zeros({std::max<int64_t>(o, 1)}, dopts);
  if (T > 0 && B > 0 && n > 0) {
    AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "qornn_hadamard_rnn_backward", [&] {
      using S = scalar_t;
      const Problem<S> P = make_problem<S>(input, U, b, sc, block, direct, nonlin);
      const BackwardInputs<S> in{has_grad ? grad.data_ptr<S>() : nullptr, grad_all,
                                 has_readout ? grad_y.data_ptr<S>() : nullptr,
                                 has_readout ? Vw.data_ptr<S>() : nullptr, o, states.data_ptr<S>(), stored,
                                 need_input_grad ? grad_input.data_ptr<S>() : nullptr, block};
      const Schedule plan = schedule(B, lanes<S>());
      std::vector<Totals> totals(plan.parts(), Totals(n, direct, d, o));
      run_schedule<S>(plan, [&](const Chunk& chunk, int64_t part, auto width) {
        backward_chunk<S, decltype(width)::value>(P, in, chunk, totals[part]);
      });
      // the threads' sums, added in the parts' order (the same numbers whichever thread ends first)
      double* s = gs.data_ptr<double>();
      double* bb = gb.data_ptr<double>();
      double* uu = gU.data_ptr<double>();
      double* vv = gV.data_ptr<double>();
      double* cc = gc.data_ptr<double>();
      for (const Totals& tot : totals) {
        for (int64_t i = 0; i < n; ++i) s[i] += tot.s[i];
        if (direct) {
          for (int64_t i = 0; i < n; ++i) bb[i] += tot.b[i];
          for (int64_t i = 0; i < n * d; ++i) uu[i] += tot.U[i];
        }
        for (int64_t i = 0; i < o * n; ++i) vv[i] += tot.V[i];
        for (int64_t k = 0; k < o; ++k) cc[k] += tot.c[k];
      }
    });
  }
  // pre − a = sc ⊙ z with z = H h_{t-1}, and ∂pre/∂s = z/√m = (pre − a)/s: ∂L/∂s = (the sum) ⊙ s, s = ±1.
  auto grad_s = (gs * sc.to(torch::kFloat64).sign()).to(input.scalar_type());
  const auto dt = input.scalar_type();
  return {grad_input, gU.to(dt), gb.to(dt), grad_s, gV.to(dt), gc.to(dt)};
}

// Unnormalised blockwise FWHT of each row of a contiguous (rows, n) tensor (a test hook for the kernel).
torch::Tensor fwht_rows(torch::Tensor x, int64_t block) {
  TORCH_CHECK(x.device().is_cpu() && x.dim() == 2 && x.is_contiguous(), "x must be a contiguous CPU matrix");
  const int64_t rows = x.size(0), n = x.size(1);
  TORCH_CHECK(block >= 1 && (block & (block - 1)) == 0 && n % block == 0, "bad block size");
  auto out = torch::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "qornn_fwht_rows", [&] {
    using S = scalar_t;
    constexpr int L = lanes<S>();
    Buf<S, L> buf(n);
    for (int64_t r0 = 0; r0 < rows; r0 += L) {
      const int64_t valid = std::min<int64_t>(L, rows - r0);
      gather<S, L>(buf.data(), x.data_ptr<S>() + r0 * n, n, n, valid);
      fwht<S, L>(buf.data(), n, block);
      scatter<S, L>(buf.data(), out.data_ptr<S>() + r0 * n, n, n, valid);
    }
  });
  return out;
}

int64_t vector_bytes() { return VEC_BYTES; }

// How many threads one at::parallel_for over ``items`` really ran on: 1 whatever torch.set_num_threads
// says when this file is compiled without OpenMP (ATen's parallel_for is then a serial loop).
int64_t threads_used(int64_t items) {
  std::mutex lock;
  std::vector<int64_t> seen;
  at::parallel_for(0, items, 1, [&](int64_t, int64_t) {
    std::lock_guard<std::mutex> guard(lock);
    const int64_t id = at::get_thread_num();
    if (std::find(seen.begin(), seen.end(), id) == seen.end()) seen.push_back(id);
  });
  return static_cast<int64_t>(seen.size());
}

// The rate of float32 vector additions one thread reaches here (additions per second, counting each
// lane), for the roofline of benchmarks/hadamrnn_step.py: 12 independent chains of vector adds, enough to
// hide the adder's latency on current x86 and ARM cores, for about ``seconds``.
double peak_add_rate(double seconds) {
  constexpr int CHAINS = 12, L = lanes<float>();
  V<float, L> acc[CHAINS];
  for (int k = 0; k < CHAINS; ++k) acc[k] = splat<float, L>(1e-3f * k);
  const V<float, L> inc = splat<float, L>(1e-9f);
  int64_t rounds = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  do {
    for (int it = 0; it < (1 << 16); ++it) {
#pragma GCC unroll 12
      for (int k = 0; k < CHAINS; ++k) {
        acc[k] += inc;
        asm volatile("" : "+x"(acc[k]));  // in a register, and every addition kept
      }
    }
    rounds += 1 << 16;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < seconds);
  volatile float sink = 0;
  for (int k = 0; k < CHAINS; ++k) sink = sink + acc[k][0];
  return double(rounds) * CHAINS * L / elapsed;
}

// The recurrence's float tanh (tanh_lanes) on every element of a contiguous float32 tensor: for its test.
torch::Tensor tanh_float(torch::Tensor x) {
  TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && x.is_contiguous(),
              "tanh_float: a contiguous float32 CPU tensor");
  constexpr int L = lanes<float>();
  torch::Tensor out = torch::empty_like(x);
  const float* in = x.data_ptr<float>();
  float* o = out.data_ptr<float>();
  const int64_t size = x.numel();
  for (int64_t i0 = 0; i0 < size; i0 += L) {
    V<float, L> v = splat<float, L>(0);
    const int64_t valid = std::min<int64_t>(L, size - i0);
    for (int64_t l = 0; l < valid; ++l) v[l] = in[i0 + l];
    v = tanh_lanes<L>(v);
    for (int64_t l = 0; l < valid; ++l) o[i0 + l] = v[l];
  }
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("tanh_float", &tanh_float, "the recurrence's float32 tanh, elementwise (for its test)");
  m.def("forward", &forward, "states of the (Block-)HadamRNN recurrence: all (T, B, n) or the last (B, n)");
  m.def("backward", &backward, "(∂input, ∂U, ∂b, ∂s, ∂V, ∂c) of the (Block-)HadamRNN recurrence");
  m.def("fwht_rows", &fwht_rows, "blockwise unnormalised FWHT of each row");
  m.def("vector_bytes", &vector_bytes, "the SIMD vector width the kernel was built with");
  m.def("threads_used", &threads_used, "how many threads one parallel loop over the chunks ran on");
  m.def("peak_add_rate", &peak_add_rate, "float32 vector additions per second of one thread (roofline)");
}
