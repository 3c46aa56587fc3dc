// SPDX-License-Identifier: BSD-2-Clause
#include "sipwarden/profiles/distance.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace sw::profiles {

std::string_view DistanceName(int d) {
  switch (d) {
    case kEuclidean: return "euclidean";
    case kQuadratic: return "quadratic";
    case kMahalanobis: return "mahalanobis";
    case kHellinger: return "hellinger";
  }
  return "?";
}

std::optional<int> DistanceByName(std::string_view name) {
  for (int d = 0; d < kDistances; ++d) {
    if (DistanceName(d) == name) return d;
  }
  return std::nullopt;
}

double EuclideanSq(const float* x, const float* mu, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) {
    const double e = static_cast<double>(x[i]) - mu[i];
    s += e * e;
  }
  return s;
}

double QuadraticSq(const float* x, const float* mu, const float* w, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) {
    const double e = static_cast<double>(x[i]) - mu[i];
    s += w[i] * e * e;
  }
  return s;
}

double MahalanobisSq(const float* x, const float* mu, const float* sd, const float* rinv, int n) {
  double z[32];
  for (int i = 0; i < n; ++i) z[i] = (static_cast<double>(x[i]) - mu[i]) / sd[i];
  double s = 0;
  for (int i = 0; i < n; ++i) {
    double row = 0;
    for (int j = 0; j < n; ++j) row += rinv[i * n + j] * z[j];
    s += z[i] * row;
  }
  return s < 0 ? 0 : s;
}

double MahalanobisSqPacked(const float* x, const float* mu, const float* sd, const float* rinv,
                           int n) {
  double z[32];
  for (int i = 0; i < n; ++i) z[i] = (static_cast<double>(x[i]) - mu[i]) / sd[i];
  double s = 0;
  for (int i = 0, k = 0; i < n; ++i) {
    double row = 0.5 * rinv[k++] * z[i];  // the diagonal once, the rest twice
    for (int j = i + 1; j < n; ++j) row += rinv[k++] * z[j];
    s += 2 * z[i] * row;
  }
  return s < 0 ? 0 : s;
}

double Hellinger(const double* p, const double* q, int n) {
  double sp = 0, sq = 0;
  for (int i = 0; i < n; ++i) sp += p[i], sq += q[i];
  if (sp <= 0 || sq <= 0) return 0;
  // 1 - Bhattacharyya's coefficient, normalised once; equal distributions
  // come out as rounding (a few ulp), taken for 0.
  double bc = 0;
  for (int i = 0; i < n; ++i) bc += std::sqrt(p[i] * q[i]);
  double h2 = 1 - bc / std::sqrt(sp * sq);
  if (h2 < 8 * n * std::numeric_limits<double>::epsilon()) h2 = 0;
  return h2 <= 0 ? 0 : std::sqrt(h2);
}

bool Invert(const double* a, double* inv, int n) {
  double small[16 * 16];
  std::vector<double> big;
  double* m = small;
  if (n > 16) big.resize(n * n), m = big.data();
  std::copy(a, a + n * n, m);
  for (int i = 0; i < n * n; ++i) inv[i] = 0;
  for (int i = 0; i < n; ++i) inv[i * n + i] = 1;
  for (int c = 0; c < n; ++c) {
    int piv = c;
    for (int r = c + 1; r < n; ++r) {
      if (std::fabs(m[r * n + c]) > std::fabs(m[piv * n + c])) piv = r;
    }
    if (std::fabs(m[piv * n + c]) < 1e-12) return false;
    if (piv != c) {
      for (int k = 0; k < n; ++k) {
        std::swap(m[c * n + k], m[piv * n + k]);
        std::swap(inv[c * n + k], inv[piv * n + k]);
      }
    }
    const double d = m[c * n + c];
    for (int k = 0; k < n; ++k) m[c * n + k] /= d, inv[c * n + k] /= d;
    for (int r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = m[r * n + c];
      if (f == 0) continue;
      for (int k = 0; k < n; ++k) {
        m[r * n + k] -= f * m[c * n + k];
        inv[r * n + k] -= f * inv[c * n + k];
      }
    }
  }
  return true;
}

}  // namespace sw::profiles
