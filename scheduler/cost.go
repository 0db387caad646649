package scheduler

import "time"

// Prices are the per-second resource rates of the cost model (DESIGN.md),
// the one definition the orchestrator's costs and reports and the
// scheduler's decisions share: a stage execution costs cores × seconds ×
// CPUSecondUSD + GiB × seconds × GiBSecondUSD; an idle warm sandbox costs
// the same rates for its idle time, reported apart.
type Prices struct {
	CPUSecondUSD float64
	GiBSecondUSD float64
}

// DefaultPrices are a public cloud's list prices: $0.000024 per vCPU-second
// and $0.0000025 per GiB-second.
func DefaultPrices() Prices {
	return Prices{CPUSecondUSD: 0.000024, GiBSecondUSD: 0.0000025}
}

// Rate is what one second of a sandbox with cpuMilli and memoryBytes costs.
func (p Prices) Rate(cpuMilli, memoryBytes int64) float64 {
	return float64(cpuMilli)/1000*p.CPUSecondUSD + float64(memoryBytes)/(1<<30)*p.GiBSecondUSD
}

// Cost is what d of a sandbox with cpuMilli and memoryBytes costs.
func (p Prices) Cost(cpuMilli, memoryBytes int64, d time.Duration) float64 {
	return p.Rate(cpuMilli, memoryBytes) * d.Seconds()
}

// CallUSD is the cost of running one call with setting s for ms milliseconds.
func (p Prices) CallUSD(s Setting, ms float64) float64 {
	return p.Rate(s.CPUMilli, s.MemoryBytes) * ms / 1000
}
