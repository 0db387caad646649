// Package bayes is Baton's numerics for Bayesian optimisation: Gaussian-process
// regression with a Matérn 5/2 ARD kernel, hyper-parameters fitted by
// maximising the log marginal likelihood, expected-improvement acquisitions
// with a probabilistic constraint, an optimiser of acquisitions over a mixed
// continuous/stepped space, and a leave-one-out outlier check.
//
// Everything here is pure: no I/O, no clocks, no package-level mutable state.
// Randomness comes only from a *rand.Rand the caller passes, so a result is a
// deterministic function of its inputs and that generator's seed. The package
// builds on gonum (gonum.org/v1/gonum/mat for factorisations,
// gonum.org/v1/gonum/optimize for the likelihood) and imports nothing of Baton.
package bayes
