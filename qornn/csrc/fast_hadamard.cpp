// Linear Hadamard recurrence h_t = diag(s)·(I ⊗ H_m)/√m · h_{t-1} + a_t with the whole time loop in C++.
//
// Layout: a, h, grad are time-major (T, B, n), contiguous, exactly what qornn's RecurrentNet produces and
// reads, so no transpose is ever needed. Every batch row is an independent recurrence: each thread takes a
// contiguous slice of the batch and runs all T steps of each of its rows with the state (n numbers) kept
// in a private, aligned, L1-resident buffer. No synchronisation per step; the only shared result is ∂L/∂s,
// reduced once per thread at the end.
//
// The FWHT of a row works on 32-byte vectors (8 floats or 4 doubles, GCC/Clang vector extensions, so the
// compiler emits AVX2 / SSE / NEON as available): butterflies of span h < lanes are in-register shuffles,
// wider ones are vector add/sub on pairs (radix 2) or quadruples (radix 4) of vectors.
//
// Forward:   z_t = H h_{t-1},  h_t = sc ⊙ z_t + a_t,  sc = s/√m.
// Backward:  ∂L/∂a_t = δ_t,  δ_{t-1} = H(sc ⊙ δ_t) + g_{t-1},
//            ∂L/∂s = s ⊙ Σ_t Σ_b δ_t ⊙ (h_t − a_t)        (since z_t/√m = s ⊙ (h_t − a_t), s ∈ {±1}).
// Reversible backward rebuilds h_{t-1} = H(sc ⊙ (h_t − a_t)) instead of reading the stored states.

#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

namespace {

template <typename T> struct VecOf;
template <> struct VecOf<float> {
  typedef float type __attribute__((vector_size(32)));
  static constexpr int lanes = 8;
};
template <> struct VecOf<double> {
  typedef double type __attribute__((vector_size(32)));
  static constexpr int lanes = 4;
};

template <typename T> using V = typename VecOf<T>::type;

template <typename T> inline V<T> load(const T* p) {
  V<T> v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
template <typename T> inline void store(T* p, V<T> v) { __builtin_memcpy(p, &v, sizeof(v)); }

#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
#define QORNN_SHUFFLE(v, ...) __builtin_shufflevector(v, v, __VA_ARGS__)
#define QORNN_HAVE_SHUFFLE 1
#endif

// Butterflies of span 1, 2, 4 (float) or 1, 2 (double) inside one vector: out = swap(v) + sign ⊙ v.
inline V<float> small_stages(V<float> v, int stages) {
#ifdef QORNN_HAVE_SHUFFLE
  const V<float> s1 = {1, -1, 1, -1, 1, -1, 1, -1};
  const V<float> s2 = {1, 1, -1, -1, 1, 1, -1, -1};
  const V<float> s4 = {1, 1, 1, 1, -1, -1, -1, -1};
  v = QORNN_SHUFFLE(v, 1, 0, 3, 2, 5, 4, 7, 6) + s1 * v;
  if (stages > 1) v = QORNN_SHUFFLE(v, 2, 3, 0, 1, 6, 7, 4, 5) + s2 * v;
  if (stages > 2) v = QORNN_SHUFFLE(v, 4, 5, 6, 7, 0, 1, 2, 3) + s4 * v;
  return v;
#else
  float x[8];
  store(x, v);
  for (int h = 1, k = 0; k < stages; h *= 2, ++k)
    for (int j = 0; j < 8; j += 2 * h)
      for (int i = j; i < j + h; ++i) {
        float p = x[i], q = x[i + h];
        x[i] = p + q;
        x[i + h] = p - q;
      }
  return load(x);
#endif
}

inline V<double> small_stages(V<double> v, int stages) {
#ifdef QORNN_HAVE_SHUFFLE
  const V<double> s1 = {1, -1, 1, -1};
  const V<double> s2 = {1, 1, -1, -1};
  v = QORNN_SHUFFLE(v, 1, 0, 3, 2) + s1 * v;
  if (stages > 1) v = QORNN_SHUFFLE(v, 2, 3, 0, 1) + s2 * v;
  return v;
#else
  double x[4];
  store(x, v);
  for (int h = 1, k = 0; k < stages; h *= 2, ++k)
    for (int j = 0; j < 4; j += 2 * h)
      for (int i = j; i < j + h; ++i) {
        double p = x[i], q = x[i + h];
        x[i] = p + q;
        x[i + h] = p - q;
      }
  return load(x);
#endif
}

// One pass over the row: groups of R = 2^K vectors at span h (offsets i, i+h, ..., i+(R-1)h) are loaded,
// get K butterfly stages (spans h, 2h, ..., 2^(K-1)h) in registers (after the in-vector stages when
// SMALL), and are stored back. Fewer passes = fewer loads and stores of the row.
template <typename T, int K, bool SMALL> inline void fwht_pass(T* x, int64_t n, int64_t h) {
  constexpr int L = VecOf<T>::lanes;
  constexpr int R = 1 << K;
  constexpr int LOG_L = (L == 8) ? 3 : 2;
  for (int64_t j = 0; j < n; j += R * h)
    for (int64_t i = j; i < j + h; i += L) {
      V<T> v[R];
#pragma GCC unroll 8
      for (int q = 0; q < R; ++q) {
        v[q] = load(x + i + q * h);
        if (SMALL) v[q] = small_stages(v[q], LOG_L);
      }
#pragma GCC unroll 8
      for (int st = 1; st < R; st *= 2)
#pragma GCC unroll 8
        for (int q = 0; q < R; q += 2 * st)
#pragma GCC unroll 8
          for (int p = q; p < q + st; ++p) {
            V<T> a = v[p], b = v[p + st];
            v[p] = a + b;
            v[p + st] = a - b;
          }
#pragma GCC unroll 8
      for (int q = 0; q < R; ++q) store(x + i + q * h, v[q]);
    }
}

template <typename T, bool SMALL> inline void fwht_pass_k(T* x, int64_t n, int64_t h, int k) {
  switch (k) {
    case 0: fwht_pass<T, 0, SMALL>(x, n, h); break;
    case 1: fwht_pass<T, 1, SMALL>(x, n, h); break;
    case 2: fwht_pass<T, 2, SMALL>(x, n, h); break;
    default: fwht_pass<T, 3, SMALL>(x, n, h); break;
  }
}

// Unnormalised FWHT of size m on each consecutive block of m entries of x[0:n], in place.
template <typename T> void fwht_row(T* x, int64_t n, int64_t m) {
  constexpr int L = VecOf<T>::lanes;
  if (m < L) {  // tiny blocks (n or m below one vector): scalar butterflies
    for (int64_t h = 1; h < m; h *= 2)
      for (int64_t j = 0; j < n; j += 2 * h)
        for (int64_t i = j; i < j + h; ++i) {
          T p = x[i], q = x[i + h];
          x[i] = p + q;
          x[i + h] = p - q;
        }
    return;
  }
  int remaining = 0;  // vector stages: spans L, 2L, ..., m/2
  while ((int64_t(L) << remaining) < m) ++remaining;
  int k = remaining < 3 ? remaining : 3;
  fwht_pass_k<T, true>(x, n, L, k);  // in-vector stages + up to 3 vector stages in one pass
  int64_t h = int64_t(L) << k;
  remaining -= k;
  while (remaining > 0) {
    k = remaining < 3 ? remaining : 3;
    fwht_pass_k<T, false>(x, n, h, k);
    h <<= k;
    remaining -= k;
  }
}

// Elementwise helpers over a row of n entries (vectorised when n is a multiple of the lanes).
template <typename T> struct Row {
  static constexpr int L = VecOf<T>::lanes;
  // x = sc ⊙ x + a; out = x
  static void scale_add_store(T* x, const T* sc, const T* a, T* out, int64_t n) {
    int64_t i = 0;
    for (; i + L <= n; i += L) {
      V<T> v = load(sc + i) * load(x + i) + load(a + i);
      store(x + i, v);
      store(out + i, v);
    }
    for (; i < n; ++i) out[i] = x[i] = sc[i] * x[i] + a[i];
  }
  // ga = d; acc += d ⊙ (h − a); x = sc ⊙ (h − a) (when rebuild) ; d stays.
  static void grad_step(const T* d, const T* h, const T* a, T* ga, T* acc, int64_t n) {
    int64_t i = 0;
    for (; i + L <= n; i += L) {
      V<T> dv = load(d + i);
      store(ga + i, dv);
      store(acc + i, load(acc + i) + dv * (load(h + i) - load(a + i)));
    }
    for (; i < n; ++i) {
      ga[i] = d[i];
      acc[i] += d[i] * (h[i] - a[i]);
    }
  }
  static void scale(T* x, const T* sc, const T* src, int64_t n) {  // x = sc ⊙ src
    int64_t i = 0;
    for (; i + L <= n; i += L) store(x + i, load(sc + i) * load(src + i));
    for (; i < n; ++i) x[i] = sc[i] * src[i];
  }
  static void scale_diff(T* x, const T* sc, const T* h, const T* a, int64_t n) {  // x = sc ⊙ (h − a)
    int64_t i = 0;
    for (; i + L <= n; i += L) store(x + i, load(sc + i) * (load(h + i) - load(a + i)));
    for (; i < n; ++i) x[i] = sc[i] * (h[i] - a[i]);
  }
  static void add(T* x, const T* g, int64_t n) {  // x += g
    int64_t i = 0;
    for (; i + L <= n; i += L) store(x + i, load(x + i) + load(g + i));
    for (; i < n; ++i) x[i] += g[i];
  }
};

// Aligned scratch row(s), padded to whole vectors.
template <typename T> struct Scratch {
  std::vector<T, std::allocator<T>> raw;
  T* p;
  Scratch(int64_t n) : raw(n + 64 / sizeof(T) + 8, T(0)) {
    auto addr = reinterpret_cast<std::uintptr_t>(raw.data());
    p = reinterpret_cast<T*>((addr + 63) & ~std::uintptr_t(63));
  }
};

void check_inputs(const torch::Tensor& a, const torch::Tensor& sc, int64_t block) {
  TORCH_CHECK(a.device().is_cpu() && sc.device().is_cpu(), "fast Hadamard recurrence: CPU tensors only");
  TORCH_CHECK(a.dim() == 3, "a must be time-major (T, B, n), got ", a.dim(), " dimensions");
  TORCH_CHECK(a.is_contiguous() && sc.is_contiguous(), "a and scale must be contiguous");
  TORCH_CHECK(a.scalar_type() == sc.scalar_type(), "a and scale must have the same dtype");
  const int64_t n = a.size(2);
  TORCH_CHECK(sc.dim() == 1 && sc.size(0) == n, "scale must have shape (n,) with n = ", n);
  TORCH_CHECK(block >= 1 && (block & (block - 1)) == 0 && n % block == 0,
              "block must be a power of two dividing n, got block=", block, " n=", n);
}

int64_t grain(int64_t B) {
  const int64_t threads = std::max<int64_t>(1, at::get_num_threads());
  return std::max<int64_t>(1, (B + threads - 1) / threads);
}

}  // namespace

// Loop orders: ROW_MAJOR runs all T steps of one batch row before the next (state in L1, but every step
// reads and writes rows B·n apart); TIME_MAJOR runs one step for all rows of the thread's slice before the
// next step (reads and writes stream through contiguous memory; the slice's states stay in L2).
enum Order : int64_t { ROW_MAJOR = 0, TIME_MAJOR = 1 };

torch::Tensor forward(torch::Tensor a, torch::Tensor sc, int64_t block, int64_t order) {
  check_inputs(a, sc, block);
  const int64_t T = a.size(0), B = a.size(1), n = a.size(2);
  auto out = torch::empty_like(a);
  if (T == 0 || B == 0 || n == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "qornn_hadamard_forward", [&] {
    using T_ = scalar_t;
    const T_* ap = a.data_ptr<T_>();
    const T_* scp = sc.data_ptr<T_>();
    T_* op = out.data_ptr<T_>();
    const int64_t stride = B * n;
    at::parallel_for(0, B, grain(B), [&](int64_t b0, int64_t b1) {
      Scratch<T_> st(n), scs(n);
      std::memcpy(scs.p, scp, n * sizeof(T_));
      std::memcpy(op + b0 * n, ap + b0 * n, (b1 - b0) * n * sizeof(T_));  // h_1 = a_1 (h_0 = 0)
      if (order == ROW_MAJOR) {
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t row = b * n;
          std::memcpy(st.p, ap + row, n * sizeof(T_));
          for (int64_t t = 1; t < T; ++t) {
            fwht_row(st.p, n, block);
            Row<T_>::scale_add_store(st.p, scs.p, ap + t * stride + row, op + t * stride + row, n);
          }
        }
      } else {
        for (int64_t t = 1; t < T; ++t)
          for (int64_t b = b0; b < b1; ++b) {
            const int64_t row = b * n;
            std::memcpy(st.p, op + (t - 1) * stride + row, n * sizeof(T_));
            fwht_row(st.p, n, block);
            Row<T_>::scale_add_store(st.p, scs.p, ap + t * stride + row, op + t * stride + row, n);
          }
      }
    });
  });
  return out;
}

// Returns (grad_a, grad_s). ``h`` holds all states (T, B, n), or only the last one (B, n) when reversible.
std::vector<torch::Tensor> backward(torch::Tensor grad, torch::Tensor a, torch::Tensor sc, torch::Tensor h,
                                    int64_t block, bool reversible, int64_t order) {
  check_inputs(a, sc, block);
  const int64_t T = a.size(0), B = a.size(1), n = a.size(2);
  TORCH_CHECK(grad.sizes() == a.sizes() && grad.is_contiguous() && grad.scalar_type() == a.scalar_type(),
              "grad must be a contiguous tensor shaped and typed like a");
  TORCH_CHECK(h.is_contiguous() && h.scalar_type() == a.scalar_type(), "states must be contiguous");
  if (reversible) {
    TORCH_CHECK(h.dim() == 2 && h.size(0) == B && h.size(1) == n, "reversible: pass the last state (B, n)");
  } else {
    TORCH_CHECK(h.sizes() == a.sizes(), "states must be shaped like a");
  }
  auto grad_a = torch::empty_like(a);
  auto acc_total = torch::zeros({n}, a.options().dtype(torch::kFloat64));
  if (T == 0 || B == 0 || n == 0) return {grad_a, acc_total.to(a.scalar_type())};
  std::mutex lock;
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "qornn_hadamard_backward", [&] {
    using T_ = scalar_t;
    const T_* gp = grad.data_ptr<T_>();
    const T_* ap = a.data_ptr<T_>();
    const T_* scp = sc.data_ptr<T_>();
    const T_* hp = h.data_ptr<T_>();
    T_* gap = grad_a.data_ptr<T_>();
    double* totp = acc_total.data_ptr<double>();
    const int64_t stride = B * n;
    at::parallel_for(0, B, grain(B), [&](int64_t b0, int64_t b1) {
      const int64_t rows = (order == ROW_MAJOR) ? 1 : b1 - b0;  // rows whose δ (and h) are held at once
      Scratch<T_> d(rows * n), hs(reversible ? rows * n : 0), acc(n), scs(n);
      std::memcpy(scs.p, scp, n * sizeof(T_));
      std::vector<double> local(n, 0.0);
      // One backward step for row b (its δ at dr, its rebuilt state at hr), accumulating into acc.
      auto step = [&](int64_t t, int64_t b, T_* dr, T_* hr) {
        const int64_t row = b * n;
        const T_* at_ = ap + t * stride + row;
        const T_* ht = reversible ? hr : hp + t * stride + row;
        Row<T_>::grad_step(dr, ht, at_, gap + t * stride + row, acc.p, n);
        if (t == 0) return;
        if (reversible) {  // h_{t-1} = H(sc ⊙ (h_t − a_t))
          Row<T_>::scale_diff(hr, scs.p, hr, at_, n);
          fwht_row(hr, n, block);
        }
        Row<T_>::scale(dr, scs.p, dr, n);  // δ_{t-1} = H(sc ⊙ δ_t) + g_{t-1}
        fwht_row(dr, n, block);
        Row<T_>::add(dr, gp + (t - 1) * stride + row, n);
      };
      auto flush = [&] {
        for (int64_t i = 0; i < n; ++i) local[i] += static_cast<double>(acc.p[i]);
        std::memset(acc.p, 0, n * sizeof(T_));
      };
      std::memset(acc.p, 0, n * sizeof(T_));
      if (order == ROW_MAJOR) {
        for (int64_t b = b0; b < b1; ++b) {
          std::memcpy(d.p, gp + (T - 1) * stride + b * n, n * sizeof(T_));  // δ_T = g_T
          if (reversible) std::memcpy(hs.p, hp + b * n, n * sizeof(T_));
          for (int64_t t = T - 1; t >= 0; --t) step(t, b, d.p, hs.p);
          flush();
        }
      } else {
        std::memcpy(d.p, gp + (T - 1) * stride + b0 * n, rows * n * sizeof(T_));
        if (reversible) std::memcpy(hs.p, hp + b0 * n, rows * n * sizeof(T_));
        for (int64_t t = T - 1; t >= 0; --t) {
          for (int64_t r = 0; r < rows; ++r) step(t, b0 + r, d.p + r * n, reversible ? hs.p + r * n : nullptr);
          flush();
        }
      }
      std::lock_guard<std::mutex> guard(lock);
      for (int64_t i = 0; i < n; ++i) totp[i] += local[i];
    });
  });
  // ∂L/∂s = s ⊙ Σ δ ⊙ (h − a); s = sign(sc).
  auto grad_s = (acc_total * sc.to(torch::kFloat64).sign()).to(a.scalar_type());
  return {grad_a, grad_s};
}

// Unnormalised blockwise FWHT of each row of a contiguous (rows, n) tensor (a test hook for the kernel).
torch::Tensor fwht_rows(torch::Tensor x, int64_t block) {
  TORCH_CHECK(x.device().is_cpu() && x.dim() == 2 && x.is_contiguous(), "x must be a contiguous CPU matrix");
  const int64_t rows = x.size(0), n = x.size(1);
  TORCH_CHECK(block >= 1 && (block & (block - 1)) == 0 && n % block == 0, "bad block size");
  auto out = x.clone();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "qornn_fwht_rows", [&] {
    scalar_t* p = out.data_ptr<scalar_t>();
    Scratch<scalar_t> st(n);
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(st.p, p + r * n, n * sizeof(scalar_t));
      fwht_row(st.p, n, block);
      std::memcpy(p + r * n, st.p, n * sizeof(scalar_t));
    }
  });
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward, "all states of the linear Hadamard recurrence (T, B, n)");
  m.def("backward", &backward, "(grad_a, grad_s) of the linear Hadamard recurrence");
  m.def("fwht_rows", &fwht_rows, "blockwise unnormalised FWHT of each row");
}
