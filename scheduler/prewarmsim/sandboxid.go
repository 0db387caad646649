package prewarmsim

// sandboxIDWidth is the width of a sandbox ID: its number's decimal
// digits, zero-padded so that IDs sort as the numbers do (the autoscaler
// orders idle sandboxes of the same age by ID, see addView).
const sandboxIDWidth = 12

// sandboxIDBatch is how many IDs sandboxIDs makes at a time.
const sandboxIDBatch = 64

// sandboxIDs hands out a pool's sandbox IDs, made a batch at a time: one
// string holds sandboxIDBatch IDs from first on, each a substring of it,
// so that a creation (one a request under no pre-warming) allocates
// nothing. A batch stays in memory as long as one of its sandboxes does.
type sandboxIDs struct {
	batch string
	first int
}

// id is the ID of the pool's sandbox number n.
func (s *sandboxIDs) id(n int) string {
	if s.batch == "" || n < s.first || n >= s.first+sandboxIDBatch {
		var b [sandboxIDBatch * sandboxIDWidth]byte
		m := n
		for d := sandboxIDWidth - 1; d >= 0; d-- {
			b[d] = byte('0' + m%10)
			m /= 10
		}
		// Each next ID is the last one plus one, carried.
		for k := sandboxIDWidth; k < len(b); k += sandboxIDWidth {
			id := b[k : k+sandboxIDWidth]
			copy(id, b[k-sandboxIDWidth:k])
			for d := sandboxIDWidth - 1; d >= 0; d-- {
				if id[d] != '9' {
					id[d]++
					break
				}
				id[d] = '0'
			}
		}
		s.batch, s.first = string(b[:]), n
	}
	k := (n - s.first) * sandboxIDWidth
	return s.batch[k : k+sandboxIDWidth]
}
