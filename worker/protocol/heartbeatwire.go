package protocol

// unmarshalHeartbeat reads a full heartbeat's JSON as json.Unmarshal
// does, on the hand-written path where it can (wireDecoder): at 10,000
// workers an orchestrator reads up to 50,000 a second, and encoding/json
// took a fifth of its CPU on them.
func unmarshalHeartbeat(data []byte, hb *Heartbeat) error {
	return decodeWire(data, hb, (*wireDecoder).heartbeat)
}

func (d *wireDecoder) heartbeat(h *Heartbeat) error {
	return d.object(func(key []byte) (err error) {
		switch string(key) {
		case "workerId":
			h.WorkerID, err = d.string()
		case "runtime":
			h.Runtime, err = d.string()
		case "cpuMilli":
			h.CPUMilli, err = d.int()
		case "memoryBytes":
			h.MemoryBytes, err = d.int()
		case "cpuAllocationRatio":
			h.CPUAllocationRatio, err = d.float()
		case "allocatedCpuMilli":
			h.AllocatedCPUMilli, err = d.int()
		case "allocatedMemoryBytes":
			h.AllocatedMemoryBytes, err = d.int()
		case "sandboxes":
			var n int64
			n, err = d.int()
			h.Sandboxes = int(n)
		case "images":
			h.Images, err = d.strings()
		case "sent":
			err = d.time(&h.Sent)
		case "interval":
			h.Interval, err = d.duration()
		case "incarnation":
			h.Incarnation, err = d.string()
		case "machine":
			h.Machine, err = d.string()
		case "reclaimed":
			h.Reclaimed, err = d.strings()
		default:
			err = errNotPlain
		}
		return err
	})
}
