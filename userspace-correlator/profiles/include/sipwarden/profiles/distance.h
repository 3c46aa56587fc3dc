// SPDX-License-Identifier: BSD-2-Clause
// The distance functions between a short-term and a long-term profile
// (docs/profiles.md). Pure functions over plain arrays, so the tests can
// check them against hand-computed values.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace sw::profiles {

enum Distance : int { kEuclidean = 0, kQuadratic = 1, kMahalanobis = 2, kHellinger = 3 };
constexpr int kDistances = 4;
std::string_view DistanceName(int d);
std::optional<int> DistanceByName(std::string_view name);

// Squared Euclidean distance between x and mu (n values).
double EuclideanSq(const float* x, const float* mu, int n);
// Squared quadratic (weighted) distance: sum of w[i] (x[i] - mu[i])^2.
double QuadraticSq(const float* x, const float* mu, const float* w, int n);
// Squared Mahalanobis distance with the covariance written as
// diag(sd) R diag(sd): z = (x - mu) / sd, then z' Rinv z, Rinv the inverse
// of the correlation matrix R (n x n, row-major).
double MahalanobisSq(const float* x, const float* mu, const float* sd, const float* rinv, int n);
// The same with the symmetric Rinv given as its upper triangle, row by row
// (n (n + 1) / 2 values), as profiles keep it.
double MahalanobisSqPacked(const float* x, const float* mu, const float* sd, const float* rinv,
                           int n);
// Hellinger distance between two distributions over n outcomes, each given
// as non-negative weights (normalised here): sqrt(1 - sum sqrt(p q)), in
// [0, 1]. 0 when either has no mass, and below about 1e-7 (what rounding
// leaves of equal distributions).
double Hellinger(const double* p, const double* q, int n);
// Inverts the symmetric positive definite n x n matrix a (row-major) into
// inv by Gauss-Jordan elimination with partial pivoting; false when it is
// singular.
bool Invert(const double* a, double* inv, int n);

}  // namespace sw::profiles
