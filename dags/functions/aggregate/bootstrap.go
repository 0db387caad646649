package main

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"

	"baton.dev/baton/dags/functions/fnkit"
)

// Bootstrap settings: resamples are drawn in fixed-size chunks, each from
// its own generator, so the result does not depend on how many goroutines
// draw them.
const (
	bootstrapChunks    = 400
	bootstrapChunkSize = 1024
)

// bootstrapIntervals resamples the objects with replacement and returns,
// for every shape and texture seen, the 2.5th and 97.5th percentiles of its
// share of the objects.
func bootstrapIntervals(ctx context.Context, seed uint64, objects []object) (map[string][2]float64, error) {
	intervals := map[string][2]float64{}
	if len(objects) == 0 {
		return intervals, nil
	}
	var categories []string
	for _, o := range objects {
		for _, c := range [...]string{o.Shape, o.Texture} {
			if !slices.Contains(categories, c) {
				categories = append(categories, c)
			}
		}
	}
	// member[i] lists the categories object i counts towards.
	member := make([][2]int, len(objects))
	for i, o := range objects {
		member[i] = [2]int{slices.Index(categories, o.Shape), slices.Index(categories, o.Texture)}
	}
	n := bootstrapChunks * bootstrapChunkSize
	shares := make([][]float64, len(categories))
	for c := range shares {
		shares[c] = make([]float64, n)
	}
	err := fnkit.ForEach(ctx, bootstrapChunks, func(chunk int) {
		rng := rand.New(rand.NewPCG(seed, uint64(chunk)))
		tally := make([]int, len(categories))
		for r := chunk * bootstrapChunkSize; r < (chunk+1)*bootstrapChunkSize; r++ {
			clear(tally)
			for range objects {
				m := member[rng.IntN(len(objects))]
				tally[m[0]]++
				tally[m[1]]++
			}
			for c, k := range tally {
				shares[c][r] = float64(k) / float64(len(objects))
			}
		}
	})
	if err != nil {
		return nil, err
	}
	err = fnkit.ForEach(ctx, len(categories), func(c int) {
		slices.Sort(shares[c])
	})
	if err != nil {
		return nil, err
	}
	for c, name := range categories {
		lo := shares[c][int(math.Floor(0.025*float64(n-1)))]
		hi := shares[c][int(math.Ceil(0.975*float64(n-1)))]
		intervals[name] = [2]float64{math.Round(lo*1e4) / 1e4, math.Round(hi*1e4) / 1e4}
	}
	return intervals, nil
}
