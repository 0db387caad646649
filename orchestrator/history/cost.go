package history

import "time"

// Prices are the rates of the cost model: a stage execution costs
// cores × seconds × CPUSecond + GiB × seconds × GiBSecond; an idle warm
// sandbox costs the same rates for its idle time, reported apart.
type Prices struct {
	CPUSecond float64 `json:"cpuSecond"` // dollars per vCPU-second
	GiBSecond float64 `json:"gibSecond"` // dollars per GiB-second
}

// DefaultPrices are a public cloud's list prices.
func DefaultPrices() Prices { return Prices{CPUSecond: 0.000024, GiBSecond: 0.0000025} }

// Cost is what d of a sandbox with cpuMilli and memoryBytes costs.
func (p Prices) Cost(cpuMilli, memoryBytes int64, d time.Duration) float64 {
	return p.Rate(cpuMilli, memoryBytes) * d.Seconds()
}

// Rate is what one second of such a sandbox costs.
func (p Prices) Rate(cpuMilli, memoryBytes int64) float64 {
	return float64(cpuMilli)/1000*p.CPUSecond + float64(memoryBytes)/(1<<30)*p.GiBSecond
}
