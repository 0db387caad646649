package scheduler

// Prices are the per-second resource rates of the cost model (DESIGN.md):
// a stage execution costs cores × seconds × CPUSecondUSD + GiB × seconds × GiBSecondUSD.
type Prices struct {
	CPUSecondUSD float64
	GiBSecondUSD float64
}

// DefaultPrices are a public cloud's list prices: $0.000024 per vCPU-second
// and $0.0000025 per GiB-second.
func DefaultPrices() Prices {
	return Prices{CPUSecondUSD: 0.000024, GiBSecondUSD: 0.0000025}
}

// CallUSD is the cost of running one call with setting s for ms milliseconds.
func (p Prices) CallUSD(s Setting, ms float64) float64 {
	sec := ms / 1000
	return float64(s.CPUMilli)/1000*sec*p.CPUSecondUSD + float64(s.MemoryBytes)/(1<<30)*sec*p.GiBSecondUSD
}
