// Package forecast predicts a function's arrivals per fixed interval (one
// minute for traces, shorter live) as a predictive distribution over counts,
// not a point, so that a pre-warm policy can size a warm pool from an upper
// quantile and know how sure it is.
//
// Two forecasters are here, compared by measurement (see Score):
// BayesLinear, a conjugate normal-inverse-gamma Bayesian linear regression
// of variance-stabilised counts on lagged counts and time-of-day and
// day-of-week Fourier features with exponential forgetting; and
// GammaPoisson, a discounted gamma-Poisson local level whose predictive is
// negative binomial. Both update online in O(d²) or O(1) per interval.
//
// Everything here is pure numerics on gonum: no I/O, no clocks, no
// package-level mutable state, and nothing of Baton is imported.
package forecast
