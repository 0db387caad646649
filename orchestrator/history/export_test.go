package history

// SeriesWorkMem is the work_mem a series' queries run with.
const SeriesWorkMem = seriesWorkMem

// SeriesSQL names the series' queries, for the benchmark's EXPLAIN.
func SeriesSQL() map[string]string {
	return map[string]string{"invocations": seriesInvocationsSQL(), "stage runs": seriesStagesSQL(), "sandboxes": seriesPoolsSQL()}
}
